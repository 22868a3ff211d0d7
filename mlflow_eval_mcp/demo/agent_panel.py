"""A panel of support agents for benchmarking an evaluation suite: the live demo agent and degenerate
variants of it, each wrong in one known way, all called like the live agent (`agent(question,
customer_id)`) and traced like it (a `support_agent` AGENT span over the TOOL and RETRIEVER spans of the
tools they call). A suite that scores them all alike cannot tell a good agent from a broken one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import mlflow
from mlflow.entities import SpanType

from mlflow_eval_mcp.demo.agent_text import TOOL_ERROR_ANSWER
from mlflow_eval_mcp.demo.live_agent import NOVA, answer, recall_named
from mlflow_eval_mcp.demo.live_reading import ORDER_ID, read_request
from mlflow_eval_mcp.demo.live_tools import get_invoice, lookup_order, search_knowledge_base
from mlflow_eval_mcp.demo.tool_text import TOOL_ACTIONS
from mlflow_eval_mcp.demo.world import MONTH_NAMES

CANNED_REPLY = "Your order is on its way."
# What other_language says to an English request it has no translated template for.
SPANISH_REPLY = (
    "Gracias por tu mensaje. Hemos recibido tu consulta sobre tu pedido o tu cuenta y te responderemos por "
    "correo lo antes posible."
)
TRUNCATED_SHARE = 0.4
_ORDER_INTENTS = ("order_status", "shipping", "refund")
_NUMBER = re.compile(r"\d+")
_DAYS_IN_SHORTEST_MONTH = 28
# Ids, tracking numbers and card endings have four digits or more; counts, days and amounts fewer.
_ID_DIGITS = 4
# Dates as the agent speaks them: "Nov 3", "3 de noviembre", "3. November".
_MONTH_BEFORE_DAY = re.compile(r"\b(?:" + "|".join(MONTH_NAMES["en"]) + r") $")
_MONTH_AFTER_DAY = re.compile(r"(?: de |\. )(?:" + "|".join(MONTH_NAMES["es"] + MONTH_NAMES["de"]) + r")\b")


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def empty_answer(question: str, customer_id: str | None = None) -> str:
    """Answers nothing."""
    return ""


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def canned_reply(question: str, customer_id: str | None = None) -> str:
    """Says the same reassuring sentence to everyone, whatever they asked."""
    return CANNED_REPLY


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def echo(question: str, customer_id: str | None = None) -> str:
    """Repeats the message back."""
    return question


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def invented_numbers(question: str, customer_id: str | None = None) -> str:
    """Calls the right tools, then states other ids, amounts, dates and counts than they returned."""
    return invent_numbers(NOVA.reply(question, customer_id))


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def wrong_tool(question: str, customer_id: str | None = None) -> str:
    """Sends what the message names to the wrong service, an order number to the invoices (get_invoice) and
    anything else to the orders (lookup_order), and answers with the failure that comes back: no service
    knows another's ids."""
    request = read_request(question)
    order_id = request.order_id or recall_named(customer_id, ORDER_ID)
    if request.intent in _ORDER_INTENTS and order_id:
        get_invoice(order_id)
        return TOOL_ERROR_ANSWER.format(action=TOOL_ACTIONS["get_invoice"].format(invoice_id=order_id))
    subject = request.invoice_id or (request.product.sku if request.product else customer_id or "")
    lookup_order(subject)
    return TOOL_ERROR_ANSWER.format(action=TOOL_ACTIONS["lookup_order"].format(order_id=subject))


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def skipped_tool(question: str, customer_id: str | None = None) -> str:
    """Calls no tool: answers every message with the knowledge base's best passage for it."""
    return search_knowledge_base(read_request(question).text)[0]["page_content"]


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def truncated(question: str, customer_id: str | None = None) -> str:
    """The live agent's answer, cut off mid-sentence at about 40% of its length."""
    return cut_short(NOVA.reply(question, customer_id))


@mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
def other_language(question: str, customer_id: str | None = None) -> str:
    """Answers English messages in Spanish (order questions with the right facts, others with a fixed
    acknowledgement) and Spanish or German ones in English."""
    request = read_request(question)
    if request.language != "en":
        return NOVA.reply(question, customer_id, language="en")
    if request.intent == "order_status":
        return NOVA.reply(question, customer_id, language="es")
    return SPANISH_REPLY


PANEL: dict[str, Callable[..., str]] = {
    "as_recorded": answer,
    "empty_answer": empty_answer,
    "canned_reply": canned_reply,
    "echo": echo,
    "invented_numbers": invented_numbers,
    "wrong_tool": wrong_tool,
    "skipped_tool": skipped_tool,
    "truncated": truncated,
    "other_language": other_language,
}


def invent_numbers(text: str) -> str:
    """Every number in `text` replaced by another plausible one that `text` does not contain: a day of the
    month by a nearby day, a short number (a count, dollars or cents) by a nearby one of as many digits, a
    long one (an id or a tracking number) by one whose every digit differs."""
    used = set(_NUMBER.findall(text))

    def other(match: re.Match[str]) -> str:
        number = match.group(0)
        if _is_day(text, match):
            candidates = _later_days(int(number))
        elif len(number) < _ID_DIGITS:
            candidates = _nearby(number)
        else:
            candidates = _shifted(number)
        return next(candidate for candidate in candidates if candidate not in used)

    return _NUMBER.sub(other, text)


def cut_short(text: str) -> str:
    """`text` cut at the last word boundary before TRUNCATED_SHARE of its length, as a model stopped by
    its token limit leaves it."""
    cut = text[: round(len(text) * TRUNCATED_SHARE)]
    return cut[: cut.rfind(" ")].rstrip(" ,;:.!?") if " " in cut else cut


def _is_day(text: str, match: re.Match[str]) -> bool:
    return bool(_MONTH_BEFORE_DAY.search(text[: match.start()]) or _MONTH_AFTER_DAY.match(text[match.end() :]))


def _later_days(day: int) -> Iterator[str]:
    for step in range(1, _DAYS_IN_SHORTEST_MONTH):
        yield str((day - 1 + step) % _DAYS_IN_SHORTEST_MONTH + 1)


def _nearby(number: str) -> Iterator[str]:
    """The next numbers of as many digits, wrapping around; none with a leading zero the original lacked."""
    width = len(number)
    for step in range(1, 10**width):
        candidate = f"{(int(number) + step) % 10**width:0{width}d}"
        if candidate[0] != "0" or number[0] == "0":
            yield candidate


def _shifted(number: str) -> Iterator[str]:
    """Each digit moved by the same step; none with a leading zero the original lacked."""
    for step in range(1, 10):
        candidate = "".join(str((int(digit) + step) % 10) for digit in number)
        if candidate[0] != "0" or number[0] == "0":
            yield candidate
