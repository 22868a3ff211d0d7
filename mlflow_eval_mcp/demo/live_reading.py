"""How the live agent reads a customer's message, by fixed rules over the wording the store's customers
use (customer_messages, knowledge_base) where the recorded agent used a model: the message's language,
its intent, the order, invoice or product it names, and which policy question it asks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow_eval_mcp.demo.catalog import PRODUCTS, Product
from mlflow_eval_mcp.demo.knowledge_base import POLICY_QAS, PolicyQA
from mlflow_eval_mcp.demo.live_text import SHIPPING_COUNTRIES_ANSWER
from mlflow_eval_mcp.demo.world import COUNTRIES

ORDER_ID = re.compile(r"\bORD-\d+\b", re.IGNORECASE)
INVOICE_ID = re.compile(r"\bINV-\d+\b", re.IGNORECASE)
_EMAIL = re.compile(
    r"^(?:hi|hola|hallo),\n\n(?P<body>.*)\n\n(?:thanks|gracias|danke),\n[^\n]+$", re.IGNORECASE | re.DOTALL
)
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
# Words too common to tell one question from another.
_COMMON_WORDS = (
    "a an and any are as at be can do does for from have how i i'm in is it me my of on "
    "or so that the there this to was what when where which why will with you your"
)
_STOP_WORDS = frozenset(_COMMON_WORDS.split())
_LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "es": frozenset({"hola", "gracias", "pedido", "dónde", "cuándo", "cuál", "llega", "llegará", "seguimiento"}),
    "de": frozenset({"hallo", "danke", "bestellung", "wo", "wann", "kommt", "sendungsnummer", "können", "genau"}),
}
# First match wins: a billing question may mention an order, a refund question shipping costs.
_INTENT_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("billing", ("invoice", "charged", "charges", "payment", "declined", "double check", "need to do anything")),
    (
        "account_password",
        (
            "password",
            "log in",
            "locked out",
            "two-factor",
            "email address",
            "delete my account",
            "send it again",
            "resend",
        ),
    ),
    ("refund", ("refund", "return", "money back")),
    (
        "shipping",
        ("lost", "stuck", "delay", "hasn't updated", "hasn't moved", "expect it", "package", "ship to", "shipping"),
    ),
    ("product_question", ("in stock", "available")),
)
# What is left after the other intents: a message about an order, or none of the store's business.
_ORDER_CUES = (
    "order",
    "arrive",
    "tracking",
    "carrier",
    "pedido",
    "llegar",
    "seguimiento",
    "bestellung",
    "kommt",
    "sendungsnummer",
)
OUT_OF_SCOPE = "out_of_scope"
_OWN_ACCOUNT_CUES = ("password", "log in", "locked out", "send it again", "resend")
_STOCK_CUES = ("in stock", "available")
_REFUND_REASONS: tuple[tuple[str, str], ...] = (
    ("damaged", "damaged"),
    ("not what i expected", "not_as_described"),
    ("stopped working", "defective"),
)
_BILLING_TOPICS: dict[str, str] = {
    "charged twice": "double_charge",
    "two charges": "double_charge",
    "copy": "copy",
    "expense report": "copy",
}
BILLING_TOPIC = re.compile("|".join(_BILLING_TOPICS), re.IGNORECASE)
# A policy question shares most of its words with one of the store's FAQ entries; "Is it lost?" shares none.
_FAQ_MATCH = 0.5


@dataclass(frozen=True)
class Request:
    text: str
    """The message without an email's greeting and sign-off."""
    language: str
    intent: str
    order_id: str | None
    invoice_id: str | None
    product: Product | None


def read_request(message: str) -> Request:
    email = _EMAIL.match(message.strip())
    text = email.group("body") if email else message.strip()
    lowered = text.lower()
    order_id, invoice_id = _named(ORDER_ID, text), _named(INVOICE_ID, text)
    product = next((product for product in PRODUCTS if product.name.lower() in lowered), None)
    return Request(
        text=text,
        language=_language(message),
        intent=_intent(lowered, order_id, product),
        order_id=order_id,
        invoice_id=invoice_id,
        product=product,
    )


def content_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS}


def asks_about_own_account(request: Request) -> bool:
    return _has_cue(request.text, _OWN_ACCOUNT_CUES)


def asks_about_stock(request: Request) -> bool:
    return _has_cue(request.text, _STOCK_CUES)


def refund_reason(request: Request) -> str:
    return next((reason for cue, reason in _REFUND_REASONS if cue in request.text.lower()), "changed_mind")


def billing_topic(text: str) -> str | None:
    """What a message asks about a paid invoice, when it says so (a follow-up may not)."""
    found = BILLING_TOPIC.search(text)
    return _BILLING_TOPICS[found.group(0).lower()] if found else None


def policy_answer(request: Request) -> str | None:
    """The store's answer to the policy question the message clearly asks, if it asks one: a follow-up
    about the customer's own parcel or invoice ("Is it lost?") asks none."""
    entry, share = _closest_policy(request)
    return _with_country(entry, request) if share >= _FAQ_MATCH else None


def closest_policy_answer(request: Request) -> str:
    """The store's answer to the policy question of the message's intent closest to the message."""
    entry, _ = _closest_policy(request)
    return _with_country(entry, request)


def product_fact(request: Request, product: Product) -> str:
    """The answer to the question about `product` the message asks, from the product's fact sheet."""
    asked = content_words(request.text) - content_words(product.name)
    _, fact = max(product.facts, key=lambda pair: len(asked & content_words(pair[0].format(p=""))))
    return fact.format(p=product.name)


def _closest_policy(request: Request) -> tuple[PolicyQA, float]:
    asked = content_words(request.text)

    def share(entry: PolicyQA) -> float:
        expected = content_words(entry.question.format(country=""))
        return len(asked & expected) / len(expected)

    best = max(POLICY_QAS[request.intent], key=share)
    return best, share(best)


def _with_country(entry: PolicyQA, request: Request) -> str:
    lowered = request.text.lower()
    country = next((country for country in COUNTRIES if country.lower() in lowered), None)
    if country is None and "{country}" in entry.answer:
        return SHIPPING_COUNTRIES_ANSWER
    return entry.answer.format(country=country)


def _named(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0).upper() if found else None


def _language(message: str) -> str:
    words = set(_WORD.findall(message.lower()))
    hits = {language: len(words & cues) for language, cues in _LANGUAGE_WORDS.items()}
    best = max(hits, key=lambda language: hits[language])
    return best if hits[best] else "en"


def _intent(lowered: str, order_id: str | None, product: Product | None) -> str:
    for intent, cues in _INTENT_CUES:
        if any(cue in lowered for cue in cues):
            return intent
    if product is not None and order_id is None:
        return "product_question"
    return "order_status" if order_id is not None or any(cue in lowered for cue in _ORDER_CUES) else OUT_OF_SCOPE


def _has_cue(text: str, cues: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(cue in lowered for cue in cues)
