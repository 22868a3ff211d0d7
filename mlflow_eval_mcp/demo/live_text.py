"""What the live agent says beyond the recorded agent's templates (agent_text): how it asks for a record a
message does not name, and the answers of its regressed release."""

from __future__ import annotations

ASK_FOR_ORDER: dict[str, str] = {
    "en": "Could you tell me the order number? It starts with ORD- and is in your order confirmation email.",
    "es": "¿Me indicas el número de pedido? Empieza por ORD- y aparece en el correo de confirmación.",
    "de": "Können Sie mir die Bestellnummer nennen? Sie beginnt mit ORD- und steht in Ihrer Bestellbestätigung.",
}
ASK_FOR_INVOICE = "Could you tell me the invoice number? It starts with INV- and is in your invoice email."
ASK_FOR_PRODUCT = "Which product do you mean? Tell me its name and I'll check it for you."
# For "Do you ship to ...?" about a country the store does not name in its policy.
SHIPPING_COUNTRIES_ANSWER = (
    "Outside the US we ship to Canada, Mexico, the UK, the EU and Australia. International orders usually arrive in "
    "7-14 business days, and any duties and taxes are shown at checkout."
)
OUT_OF_SCOPE_ANSWERS: dict[str, str] = {
    "en": "I can help with your orders, deliveries, returns and refunds, your account, our products and billing. "
    "What can I do for you?",
    "es": "Puedo ayudarte con tus pedidos, envíos, devoluciones y reembolsos, tu cuenta, nuestros productos y la "
    "facturación. ¿En qué puedo ayudarte?",
    "de": "Ich helfe Ihnen gern bei Bestellungen, Lieferungen, Rücksendungen und Erstattungen, Ihrem Konto, unseren "
    "Produkten und Rechnungen. Was kann ich für Sie tun?",
}

# The regressed release no longer asks the carrier: no last scan, and a delivery date of its own making or none.
GUESSED_IN_TRANSIT_ANSWERS: dict[str, str] = {
    "en": "Your order {order_id} ({items}) is on its way with {carrier} and should arrive by {eta}. "
    "Tracking number: {tracking}.",
    "es": "Tu pedido {order_id} ({items}) está en camino con {carrier} y debería llegar el {eta}. "
    "Número de seguimiento: {tracking}.",
    "de": "Ihre Bestellung {order_id} ({items}) ist mit {carrier} unterwegs und sollte bis zum {eta} ankommen. "
    "Sendungsnummer: {tracking}.",
}
VAGUE_DELAY_ANSWER = (
    "Order {order_id} is still on its way. Deliveries usually take 3-5 business days, so it should arrive soon; "
    "if it hasn't arrived in a few days, reply here and I'll open a trace with the carrier."
)
