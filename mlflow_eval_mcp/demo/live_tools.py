"""The sample store's tools as real functions over its rebuilt back office (`live_world`), traced as the
recorded agent's were: a TOOL span per call, named and with the arguments of the corpus, and a
RETRIEVER span for the knowledge-base search. A missing record gets the store's not-found payload."""

from __future__ import annotations

import hashlib
from typing import Any

import mlflow
from mlflow.entities import SpanType

from mlflow_eval_mcp.demo.catalog import PRODUCTS
from mlflow_eval_mcp.demo.knowledge_base import KNOWLEDGE_BASE
from mlflow_eval_mcp.demo.live_reading import content_words
from mlflow_eval_mcp.demo.live_world import world
from mlflow_eval_mcp.demo.tool_text import NOT_FOUND_ERRORS

_RETRIEVED_CHUNKS = 3


@mlflow.trace(name="lookup_order", span_type=SpanType.TOOL)
def lookup_order(order_id: str) -> dict[str, Any]:
    return _read("lookup_order", order_id, order_id=order_id)


@mlflow.trace(name="check_shipping_status", span_type=SpanType.TOOL)
def check_shipping_status(order_id: str) -> dict[str, Any]:
    return _read("check_shipping_status", order_id, order_id=order_id)


@mlflow.trace(name="get_invoice", span_type=SpanType.TOOL)
def get_invoice(invoice_id: str) -> dict[str, Any]:
    return _read("get_invoice", invoice_id, invoice_id=invoice_id)


@mlflow.trace(name="check_inventory", span_type=SpanType.TOOL)
def check_inventory(sku: str) -> dict[str, Any]:
    return _read("check_inventory", sku, sku=sku)


@mlflow.trace(name="get_account", span_type=SpanType.TOOL)
def get_account(customer_id: str | None) -> dict[str, Any]:
    account = world().record("get_account", customer_id or "")
    if account is not None:
        return account
    # Every customer who wrote in has an account; only its lock state was ever worth reporting.
    if customer_id and world().is_customer(customer_id):
        return {"customer_id": customer_id, "status": "active"}
    return {"error": NOT_FOUND_ERRORS["get_account"].format(customer_id=customer_id)}


@mlflow.trace(name="reset_password", span_type=SpanType.TOOL)
def reset_password(customer_id: str | None) -> dict[str, Any]:
    if not (customer_id and world().is_customer(customer_id)):
        return {"error": NOT_FOUND_ERRORS["reset_password"].format(customer_id=customer_id)}
    account = world().record("get_account", customer_id)
    # A reset link also unlocks a locked account.
    return {
        "reset_link_sent": True,
        "expires_in_minutes": 30,
        "unlocked": account is not None and account["status"] == "locked",
    }


@mlflow.trace(name="issue_refund", span_type=SpanType.TOOL)
def issue_refund(order_id: str, amount: float, reason: str) -> dict[str, Any]:
    issued = world().record("issue_refund", order_id)
    if issued is not None:
        return issued
    if world().record("lookup_order", order_id) is None:
        return {"error": NOT_FOUND_ERRORS["issue_refund"].format(order_id=order_id, amount=amount)}
    return {"refund_id": _refund_id(order_id), "status": "submitted", "amount": amount, "currency": "USD"}


@mlflow.trace(name="search_knowledge_base", span_type=SpanType.RETRIEVER)
def search_knowledge_base(query: str) -> list[dict[str, Any]]:
    """The chunks sharing the most words with the query, best first."""
    # A product sheet's address ends in the product's SKU, so naming a product finds its sheet.
    named = {product.sku.lower() for product in PRODUCTS if product.name.lower() in query.lower()}
    asked = content_words(query) | named
    chunks = [chunk for topic in KNOWLEDGE_BASE.values() for chunk in topic]
    ranked = sorted(
        chunks, key=lambda chunk: -len(asked & (content_words(chunk.text) | {chunk.doc_uri.rsplit("/", 1)[-1]}))
    )
    return [chunk.as_document() for chunk in ranked[:_RETRIEVED_CHUNKS]]


def _read(tool: str, key: str, **arguments: Any) -> dict[str, Any]:
    found = world().record(tool, key)
    return found if found is not None else {"error": NOT_FOUND_ERRORS[tool].format(**arguments)}


def _refund_id(order_id: str) -> str:
    # A refund the recording never issued gets a stable reference, so that reruns agree.
    return f"RF-{int(hashlib.sha256(order_id.encode()).hexdigest(), 16) % 90_000 + 10_000}"
