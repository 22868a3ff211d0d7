"""Nova, the demo's support agent, as a real program to run a suite's cases through (`--predict-fn
mlflow_eval_mcp.demo.live_agent:answer`), offline: no model and no network.

Where the recorded agent used models, it reads a message by fixed rules (`live_reading`) and writes the
recorded agent's templates (`agent_text`); in between it calls the store's tools (`live_tools`) over the
data of the default demo (`live_world`), traced with MLflow as the corpus is: a `support_agent` AGENT
span, a RETRIEVER span for the knowledge-base search and a TOOL span per tool call. Replayed at the
moment they were recorded (`live_world.as_of`), the demo's healthy requests get the recorded answers.
Called plainly, as an evaluation does, it reads the store's latest state and a follow-up refers to
what the customer last named, so where stock, an account's lock or the conversation moved on, it
answers as the store stands at the end of the recorded fortnight.

`answer_regressed` is the next release, plausible but worse: to save the carrier-gateway call it
never calls check_shipping_status, so it has no last scan and no carrier estimate. Asked where a
parcel in transit is, it makes a delivery date up (five days after the order was placed); asked
about a delayed parcel, it gives no date at all, only the usual 3-5 business days.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import mlflow
from mlflow.entities import SpanType

from mlflow_eval_mcp.demo.agent_text import (
    BILLING_ANSWERS,
    IN_STOCK_ANSWER,
    LOCKED_ACCOUNT_RESET_ANSWER,
    ORDER_ANSWERS,
    OUT_OF_STOCK_ANSWER,
    PASSWORD_RESET_ANSWER,
    REFUND_ISSUED_ANSWER,
    REFUND_WINDOW_CLOSED_ANSWER,
    SHIPPING_DELAY_ANSWER,
    TOOL_ERROR_ANSWER,
)
from mlflow_eval_mcp.demo.live_reading import (
    BILLING_TOPIC,
    INVOICE_ID,
    ORDER_ID,
    OUT_OF_SCOPE,
    Request,
    asks_about_own_account,
    asks_about_stock,
    billing_topic,
    closest_policy_answer,
    policy_answer,
    product_fact,
    read_request,
    refund_reason,
)
from mlflow_eval_mcp.demo.live_text import (
    ASK_FOR_INVOICE,
    ASK_FOR_ORDER,
    ASK_FOR_PRODUCT,
    GUESSED_IN_TRANSIT_ANSWERS,
    OUT_OF_SCOPE_ANSWERS,
    VAGUE_DELAY_ANSWER,
)
from mlflow_eval_mcp.demo.live_tools import (
    check_inventory,
    check_shipping_status,
    get_account,
    get_invoice,
    issue_refund,
    lookup_order,
    reset_password,
    search_knowledge_base,
)
from mlflow_eval_mcp.demo.live_world import world
from mlflow_eval_mcp.demo.tool_text import TOOL_ACTIONS
from mlflow_eval_mcp.demo.world import spoken_date

_ON_ITS_WAY = ("in_transit", "out_for_delivery")
_GUESSED_DAYS_TO_DELIVER = 5


class Nova:
    """Reads a message, gathers what it needs with the tools, answers in the message's language (or
    `language`, to answer in another one)."""

    def reply(self, question: str, customer_id: str | None, *, language: str | None = None) -> str:
        request = read_request(question)
        handlers: dict[str, Callable[[Request, str | None, str], str]] = {
            "order_status": self.order_status,
            "shipping": self.shipping,
            "refund": self.refund,
            "account_password": self.account,
            "product_question": self.product,
            "billing": self.billing,
            OUT_OF_SCOPE: self.out_of_scope,
        }
        return handlers[request.intent](request, customer_id, language or request.language)

    def order_status(self, request: Request, customer_id: str | None, language: str) -> str:
        order_id = request.order_id or recall_named(customer_id, ORDER_ID)
        return ASK_FOR_ORDER[language] if order_id is None else self.order_answer(order_id, language)

    def order_answer(self, order_id: str, language: str) -> str:
        order = lookup_order(order_id)
        if "error" in order:
            return _tool_failed("lookup_order", order_id=order_id)
        shipment: dict[str, Any] = {}
        if order["status"] in _ON_ITS_WAY:
            shipment = check_shipping_status(order_id)
            if "error" in shipment:
                return _tool_failed("check_shipping_status", order_id=order_id)
        return _order_text(order, shipment, language)

    def shipping(self, request: Request, customer_id: str | None, language: str) -> str:
        search_knowledge_base(request.text)
        if request.order_id is None and (policy := policy_answer(request)):
            return policy
        order_id = request.order_id or recall_named(customer_id, ORDER_ID)
        return ASK_FOR_ORDER[language] if order_id is None else self.delay_answer(order_id)

    def delay_answer(self, order_id: str) -> str:
        # The recorded agent looked some delayed orders up first (by chance): doing it always makes every call it made.
        lookup_order(order_id)
        shipment = check_shipping_status(order_id)
        if "error" in shipment:
            return _tool_failed("check_shipping_status", order_id=order_id)
        return SHIPPING_DELAY_ANSWER.format(
            carrier=shipment["carrier"],
            order_id=order_id,
            city=shipment["last_scan"]["location"],
            last_scan=spoken_date(shipment["last_scan"]["date"], "en"),
            eta=spoken_date(shipment["estimated_delivery"], "en"),
        )

    def refund(self, request: Request, customer_id: str | None, language: str) -> str:
        search_knowledge_base(request.text)
        if request.order_id is None:
            return closest_policy_answer(request)
        order = lookup_order(request.order_id)
        if "error" in order:
            return _tool_failed("lookup_order", order_id=request.order_id)
        product = order["items"][0]["name"]
        if not order["return_eligible"]:
            return REFUND_WINDOW_CLOSED_ANSWER.format(
                order_id=order["order_id"], delivered=spoken_date(order["delivered_at"], "en"), product=product
            )
        refund = issue_refund(order["order_id"], order["total"], refund_reason(request))
        if "error" in refund:
            return _tool_failed("issue_refund", order_id=order["order_id"])
        return REFUND_ISSUED_ANSWER.format(
            total=order["total"], product=product, order_id=order["order_id"], refund_id=refund["refund_id"]
        )

    def account(self, request: Request, customer_id: str | None, language: str) -> str:
        search_knowledge_base(request.text)
        if not asks_about_own_account(request):
            return closest_policy_answer(request)
        account = get_account(customer_id)
        if "error" in account:
            return _tool_failed("get_account")
        if "error" in reset_password(customer_id):
            return _tool_failed("reset_password")
        return LOCKED_ACCOUNT_RESET_ANSWER if account["status"] == "locked" else PASSWORD_RESET_ANSWER

    def product(self, request: Request, customer_id: str | None, language: str) -> str:
        search_knowledge_base(request.text)
        product = request.product
        if product is None:
            return ASK_FOR_PRODUCT
        if not asks_about_stock(request):
            return product_fact(request, product)
        stock = check_inventory(product.sku)
        if "error" in stock:
            return _tool_failed("check_inventory")
        if stock["in_stock"]:
            return IN_STOCK_ANSWER.format(product=product.name, quantity=stock["quantity"])
        return OUT_OF_STOCK_ANSWER.format(product=product.name, restock=spoken_date(stock["restock_date"], "en"))

    def out_of_scope(self, request: Request, customer_id: str | None, language: str) -> str:
        return OUT_OF_SCOPE_ANSWERS[language]

    def billing(self, request: Request, customer_id: str | None, language: str) -> str:
        search_knowledge_base(request.text)
        if request.invoice_id is None and (policy := policy_answer(request)):
            return policy
        invoice_id = request.invoice_id or recall_named(customer_id, INVOICE_ID)
        if invoice_id is None:
            return ASK_FOR_INVOICE
        if "error" in get_account(customer_id):
            return _tool_failed("get_account")
        invoice = get_invoice(invoice_id)
        if "error" in invoice:
            return _tool_failed("get_invoice", invoice_id=invoice_id)
        topic = "payment_failed" if invoice["status"] == "payment_failed" else _paid_invoice_topic(request, customer_id)
        return BILLING_ANSWERS[topic].format(
            invoice_id=invoice_id,
            amount=f"{invoice['amount']:.2f}",
            day=spoken_date(invoice["date"], "en"),
            card=invoice["payment_method"],
        )


class RegressedNova(Nova):
    """Never calls check_shipping_status: guesses a parcel's delivery date, or gives none for a delayed one."""

    def order_answer(self, order_id: str, language: str) -> str:
        order = lookup_order(order_id)
        if "error" in order:
            return _tool_failed("lookup_order", order_id=order_id)
        if order["status"] != "in_transit":
            return _order_text(order, {}, language)
        return GUESSED_IN_TRANSIT_ANSWERS[language].format(
            order_id=order_id,
            items=_items(order),
            carrier=order["carrier"],
            eta=spoken_date(_guessed_delivery(order), language),
            tracking=order["tracking_number"],
        )

    def delay_answer(self, order_id: str) -> str:
        return VAGUE_DELAY_ANSWER.format(order_id=order_id)


NOVA = Nova()
_REGRESSED = RegressedNova()


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def answer(question: str, customer_id: str | None = None) -> str:
    """The demo agent's answer to one customer message."""
    return NOVA.reply(question, customer_id)


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def answer_regressed(question: str, customer_id: str | None = None) -> str:
    """The regressed release's answer: no carrier, so made-up or missing delivery dates (see the module)."""
    return _REGRESSED.reply(question, customer_id)


def _order_text(order: dict[str, Any], shipment: dict[str, Any], language: str) -> str:
    last_scan = shipment.get("last_scan") or {}
    return ORDER_ANSWERS[language][order["status"]].format(
        order_id=order["order_id"],
        items=_items(order),
        placed=spoken_date(order["placed_at"], language),
        shipped=spoken_date(order["shipped_at"], language),
        carrier=order["carrier"],
        city=last_scan.get("location"),
        eta=spoken_date(shipment.get("estimated_delivery"), language),
        delivered=spoken_date(order["delivered_at"], language),
        tracking=order["tracking_number"],
    )


def _items(order: dict[str, Any]) -> str:
    item = order["items"][0]
    return item["name"] if item["qty"] == 1 else f"{item['qty']} x {item['name']}"


def _guessed_delivery(order: dict[str, Any]) -> str:
    return (date.fromisoformat(order["placed_at"]) + timedelta(days=_GUESSED_DAYS_TO_DELIVER)).isoformat()


def _paid_invoice_topic(request: Request, customer_id: str | None) -> str:
    # "So I don't need to do anything?" goes on with what the customer asked before.
    earlier = world().last_mentioned(customer_id, BILLING_TOPIC) if customer_id else None
    return billing_topic(request.text) or billing_topic(earlier or "") or "double_charge"


def recall_named(customer_id: str | None, pattern: re.Pattern[str]) -> str | None:
    """The id the customer last named, for a follow-up that names none ("When exactly will it arrive?")."""
    named = world().last_mentioned(customer_id, pattern) if customer_id else None
    return named.upper() if named else None


def _tool_failed(tool: str, **arguments: str) -> str:
    return TOOL_ERROR_ANSWER.format(action=TOOL_ACTIONS[tool].format(**arguments))
