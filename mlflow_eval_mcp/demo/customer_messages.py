"""What the sample store's customers write, per intent and language; `{...}` slots are filled
from the customer's own records."""

from __future__ import annotations

EMAIL_WRAPPERS = {
    "en": "Hi,\n\n{body}\n\nThanks,\n{first}",
    "es": "Hola,\n\n{body}\n\nGracias,\n{first}",
    "de": "Hallo,\n\n{body}\n\nDanke,\n{first}",
}
ORDER_QUESTIONS: dict[str, tuple[str, ...]] = {
    "en": (
        "Where is my order {order_id}?",
        "Can you tell me the status of order {order_id}?",
        "I placed order {order_id} a few days ago and haven't heard anything. What's going on?",
        "Has my order {order_id} shipped yet?",
        "When will order {order_id} arrive?",
        "Any update on {order_id}?",
        "What's happening with my {product} order ({order_id})?",
        "I'm still waiting for the {product} I ordered ({order_id}). Where is it?",
    ),
    "es": (
        "¿Dónde está mi pedido {order_id}?",
        "¿Cuál es el estado de mi pedido {order_id}?",
        "Hola, ¿cuándo llega mi pedido {order_id}?",
    ),
    "de": (
        "Wo ist meine Bestellung {order_id}?",
        "Wann kommt meine Bestellung {order_id} an?",
        "Können Sie mir den Status der Bestellung {order_id} sagen?",
    ),
}
ORDER_FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "en": (
        "Thanks. When exactly will it arrive?",
        "Can you give me the tracking number again?",
        "ok, and which carrier has it?",
        "Any news on that order?",
    ),
    "es": ("¿Y cuándo llegará exactamente?", "Gracias, ¿me das el número de seguimiento?"),
    "de": ("Und wann genau kommt sie an?", "Danke, wie lautet die Sendungsnummer?"),
}
REFUND_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("I'd like a refund for order {order_id}, the {product} arrived damaged.", "damaged"),
    ("Can I return the {product} from order {order_id}? It's not what I expected.", "not_as_described"),
    ("Please refund order {order_id}.", "changed_mind"),
    ("The {product} from order {order_id} stopped working after a week. I want my money back.", "defective"),
    ("How do I get a refund for {order_id}?", "changed_mind"),
    ("I want to return my {product} ({order_id}).", "changed_mind"),
)
SHIPPING_QUESTIONS: tuple[str, ...] = (
    "My tracking for order {order_id} hasn't updated in {stale} days. Is it lost?",
    "The {carrier} tracking for {order_id} hasn't moved since {last_scan}. What's going on?",
    "Is there a delay with {carrier}? My order {order_id} is late.",
    "My package for order {order_id} is stuck in {city}. Can you check?",
)
SHIPPING_FOLLOW_UPS: tuple[str, ...] = (
    "Is it lost?",
    "When should I expect it now?",
    "Any update on the package?",
)
PASSWORD_QUESTIONS: tuple[str, ...] = (
    "I forgot my password, can you help me reset it?",
    "How do I reset my password?",
    "I can't log in to my account.",
    "The password reset email never arrived.",
    "please reset my password",
    "I'm locked out of my account.",
    "My password isn't working anymore.",
)
PASSWORD_FOLLOW_UPS: tuple[str, ...] = (
    "I didn't get the email, can you send it again?",
    "It still doesn't work, can you resend the link?",
)
STOCK_QUESTIONS: tuple[str, ...] = (
    "Is the {product} in stock?",
    "When will the {product} be back in stock?",
    "Do you have the {product} available right now?",
)
BILLING_QUESTIONS: dict[str, tuple[str, ...]] = {
    "double_charge": (
        "Why was I charged twice for invoice {invoice_id}?",
        "I see two charges of ${amount} for invoice {invoice_id}.",
    ),
    "copy": (
        "Can you send me a copy of invoice {invoice_id}?",
        "I need invoice {invoice_id} for my expense report.",
    ),
    "payment_failed": (
        "My payment for invoice {invoice_id} failed. What should I do?",
        "Why did my card get declined for {invoice_id}?",
    ),
}
BILLING_FOLLOW_UPS: tuple[str, ...] = ("Can you double check that?", "So I don't need to do anything?")
