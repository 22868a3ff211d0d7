"""The sample store's knowledge base, as the agent's retriever returns it, and the policy
questions answered from it without tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlflow_eval_mcp.demo.catalog import PRODUCTS


@dataclass(frozen=True)
class Chunk:
    doc_uri: str
    chunk_id: str
    text: str

    def as_document(self) -> dict[str, Any]:
        return {"page_content": self.text, "metadata": {"doc_uri": self.doc_uri, "chunk_id": self.chunk_id}}


def _chunks(*entries: tuple[str, str]) -> tuple[Chunk, ...]:
    numbered: list[Chunk] = []
    for doc_uri, text in entries:
        slug = doc_uri.removeprefix("kb://").replace("/", "-")
        number = sum(chunk.doc_uri == doc_uri for chunk in numbered)
        numbered.append(Chunk(doc_uri, f"{slug}-{number:03d}", text))
    return tuple(numbered)


KNOWLEDGE_BASE: dict[str, tuple[Chunk, ...]] = {
    "refund": _chunks(
        (
            "kb://policies/returns",
            "Returns and refunds: most items can be returned within 30 days of delivery for a full "
            "refund to the original payment method. Items must be unused and in their original "
            "packaging. Refunds are issued within 2 business days of approval and take 5-7 business "
            "days to appear on the customer's statement.",
        ),
        (
            "kb://policies/returns",
            "Return shipping: return labels are free for damaged, defective or incorrect items. For "
            "other returns a $6.95 label fee is deducted from the refund. Original shipping charges "
            "are refunded only for damaged or incorrect items.",
        ),
        (
            "kb://policies/warranty",
            "Warranty: all electronics carry a 1-year limited warranty from the delivery date covering "
            "manufacturing defects. Support agents can open a warranty claim once the 30-day return "
            "window has passed.",
        ),
        (
            "kb://how-to/refund-status",
            "Refund status: customers see refund status under Orders > Returns. Refund references "
            "start with RF-. Debit card refunds may take 2-3 extra days to clear.",
        ),
    ),
    "shipping": _chunks(
        (
            "kb://policies/shipping",
            "Shipping options: standard shipping (3-5 business days) is free on US orders over $50, "
            "otherwise $5.95. Express shipping (1-2 business days) costs $14.95 for orders placed "
            "before 2 pm ET.",
        ),
        (
            "kb://policies/international-shipping",
            "International shipping: we ship to Canada, Mexico, the UK, the EU and Australia. "
            "Delivery takes 7-14 business days. Duties and taxes are calculated at checkout.",
        ),
        (
            "kb://how-to/delayed-packages",
            "Delayed packages: if tracking has not updated for 5 business days, agents may open a "
            "carrier trace. Packages marked delivered but not received can be claimed after 48 hours.",
        ),
        (
            "kb://carriers/overview",
            "Carriers: we ship with UPS, FedEx and USPS. Tracking numbers are emailed when the order "
            "leaves the warehouse. A carrier exception usually means a weather or address delay.",
        ),
    ),
    "account_password": _chunks(
        (
            "kb://how-to/reset-password",
            "Password reset: agents send a reset link with reset_password. Links expire after 30 "
            "minutes. Accounts lock for 30 minutes after 5 failed sign-in attempts; a reset also "
            "unlocks the account.",
        ),
        (
            "kb://how-to/two-factor",
            "Two-factor authentication: customers enable 2FA under Settings > Security with an "
            "authenticator app or SMS codes. Lost 2FA devices require identity verification by the "
            "security team.",
        ),
        (
            "kb://how-to/change-email",
            "Changing the account email: customers change their email under Settings > Profile. A "
            "confirmation link is sent to both the old and the new address.",
        ),
        (
            "kb://policies/account-deletion",
            "Account deletion: customers delete their account under Settings > Privacy. Profiles and "
            "saved addresses are removed within 30 days; order records are kept for 7 years for tax "
            "purposes.",
        ),
    ),
    "product_question": _chunks(
        *(
            (
                f"kb://products/{product.sku.lower()}",
                f"{product.name} ({product.sku}), ${product.price:.2f}. "
                + " ".join(answer.format(p=product.name) for _, answer in product.facts),
            )
            for product in PRODUCTS
        ),
        (
            "kb://policies/stock",
            "Stock and restocks: live stock levels come from check_inventory. Out-of-stock products "
            "show an expected restock date, and customers can sign up for restock alerts on the "
            "product page.",
        ),
    ),
    "billing": _chunks(
        (
            "kb://policies/billing",
            "Billing: cards are charged when an order ships. A pending authorization may appear at "
            "checkout and drops off within 3-5 business days.",
        ),
        (
            "kb://how-to/invoices",
            "Invoices: customers download invoices as PDF under Settings > Billing > Invoices. Invoice "
            "ids start with INV-.",
        ),
        (
            "kb://how-to/failed-payments",
            "Failed payments: when a payment is declined, the charge is retried automatically within "
            "24 hours after the customer updates their card under Settings > Billing.",
        ),
        (
            "kb://policies/payment-methods",
            "Payment methods: Visa, Mastercard, American Express, PayPal and Apple Pay are accepted. "
            "Cash on delivery is not offered.",
        ),
    ),
}


@dataclass(frozen=True)
class PolicyQA:
    """A policy question answered from one knowledge-base chunk, without tools."""

    question: str
    answer: str
    chunk: int


POLICY_QAS: dict[str, tuple[PolicyQA, ...]] = {
    "refund": (
        PolicyQA(
            "What is your return policy?",
            "You can return most items within 30 days of delivery for a full refund to your original "
            "payment method. Items should be unused and in their original packaging.",
            0,
        ),
        PolicyQA(
            "Do you refund shipping costs?",
            "Original shipping charges are refunded when an item arrives damaged, defective or "
            "incorrect. For other returns, a $6.95 return label fee is deducted from the refund.",
            1,
        ),
        PolicyQA(
            "How long does a refund take to show up?",
            "Once a refund is approved it is issued within 2 business days, and it usually takes 5-7 "
            "business days to appear on your statement.",
            0,
        ),
        PolicyQA(
            "Can I still return something after 30 days?",
            "Returns close 30 days after delivery, but electronics stay covered by our 1-year warranty "
            "against defects, and I can open a warranty claim for you.",
            2,
        ),
    ),
    "shipping": (
        PolicyQA(
            "Do you ship to {country}?",
            "Yes, we ship to {country}. International orders usually arrive in 7-14 business days, and "
            "any duties and taxes are shown at checkout.",
            1,
        ),
        PolicyQA(
            "How much is express shipping?",
            "Express shipping costs $14.95 and arrives in 1-2 business days when you order before 2 pm ET.",
            0,
        ),
        PolicyQA(
            "Do you offer free shipping?",
            "Yes, standard shipping is free on US orders over $50; below that it is a flat $5.95.",
            0,
        ),
        PolicyQA(
            "How long does standard shipping take?",
            "Standard shipping within the US takes 3-5 business days once the order ships.",
            0,
        ),
    ),
    "account_password": (
        PolicyQA(
            "How do I turn on two-factor authentication?",
            "You can turn on two-factor authentication under Settings > Security, using either an "
            "authenticator app or SMS codes.",
            1,
        ),
        PolicyQA(
            "How do I change the email address on my account?",
            "Go to Settings > Profile and enter your new email address. We send a confirmation link to "
            "both the old and the new address, and the change takes effect once you confirm it.",
            2,
        ),
        PolicyQA(
            "Can I delete my account?",
            "Yes. Go to Settings > Privacy and choose Delete account. Your profile and saved addresses "
            "are removed within 30 days; order records are kept for 7 years for tax purposes.",
            3,
        ),
    ),
    "billing": (
        PolicyQA(
            "What payment methods do you accept?",
            "We accept Visa, Mastercard, American Express, PayPal and Apple Pay.",
            3,
        ),
        PolicyQA(
            "When will I be charged for my order?",
            "Your card is charged when your order ships. A pending authorization may show up at checkout "
            "and drops off within 3-5 business days.",
            0,
        ),
    ),
}
