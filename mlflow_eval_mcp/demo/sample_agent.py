"""A built-in sample customer-support agent whose traces look like production traffic.

`generate_corpus` synthesises what MLflow would have recorded for "Nova", the support assistant of a
fictional online store: 40 customers (three of them often writing in Spanish or German) ask about
orders, refunds, shipping, accounts, products and billing over two weeks, often in multi-turn
sessions. Each trace is a `support_agent` AGENT span over an intent classifier (small chat model),
usually a knowledge-base retriever, 0-3 tool calls and an answering chat model, with token usage,
model names, tags, user and session metadata, and realistic latencies and gaps between requests.

About a third of the traces carry planted failure modes (`FAILURE_MODES`). Each mode gets a fixed
share of the corpus (exact counts, randomly placed), so an analyser run on the demo always has
something to find, and `DemoTrace.planted` lets tests check that it finds exactly that. Healthy
traces show no failure signature: no errors, no error payloads, no slow steps, no repeated calls,
no empty, refused, truncated or oversized generations, no personal data in answers.

Everything is drawn from one `random.Random(seed)`, so a corpus is reproducible exactly. The store's
fixed text lives beside this module (`world`, `catalog`, `knowledge_base`, `customer_messages`,
`agent_text`, `tool_text`); this module only makes the choices over it.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mlflow_eval_mcp.demo.agent_text import (
    ANSWER_PROMPT,
    BILLING_ANSWERS,
    CLASSIFIER_PROMPT,
    IN_STOCK_ANSWER,
    LEAKS,
    LOCKED_ACCOUNT_RESET_ANSWER,
    ORDER_ANSWERS,
    OUT_OF_STOCK_ANSWER,
    PASSWORD_RESET_ANSWER,
    RAMBLE,
    REFUND_ISSUED_ANSWER,
    REFUND_WINDOW_CLOSED_ANSWER,
    REFUSALS,
    SHIPPING_DELAY_ANSWER,
    TOOL_ERROR_ANSWER,
    TOOL_EXCEPTION_ANSWER,
)
from mlflow_eval_mcp.demo.catalog import PRODUCTS, Product
from mlflow_eval_mcp.demo.customer_messages import (
    BILLING_FOLLOW_UPS,
    BILLING_QUESTIONS,
    EMAIL_WRAPPERS,
    ORDER_FOLLOW_UPS,
    ORDER_QUESTIONS,
    PASSWORD_FOLLOW_UPS,
    PASSWORD_QUESTIONS,
    REFUND_QUESTIONS,
    SHIPPING_FOLLOW_UPS,
    SHIPPING_QUESTIONS,
    STOCK_QUESTIONS,
)
from mlflow_eval_mcp.demo.knowledge_base import KNOWLEDGE_BASE, POLICY_QAS, Chunk
from mlflow_eval_mcp.demo.tool_text import (
    NOT_FOUND_ERRORS,
    RATE_LIMIT_ERROR,
    TOOL_ACTIONS,
    TOOL_EXCEPTIONS,
    TOOL_SERVICES,
)
from mlflow_eval_mcp.demo.world import (
    AREA_CODES,
    CARDS,
    CARRIERS,
    CITIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    PEOPLE,
    spoken_date,
)
from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, span_id_for, stable_trace_id

FAILURE_MODES: tuple[str, ...] = (
    "tool_exception",
    "tool_error_output",
    "slow_span",
    "repeated_tool_calls",
    "empty_answer",
    "refusal",
    "oversized_prompt",
    "truncated_answer",
    "pii_in_output",
)


@dataclass(frozen=True)
class DemoTrace:
    """One generated trace and the failure modes planted in it (empty when healthy)."""

    record: TraceRecord
    planted: frozenset[str]


_MODE_SHARES: dict[str, float] = {
    "tool_exception": 0.06,
    "tool_error_output": 0.06,
    "slow_span": 0.05,
    "repeated_tool_calls": 0.04,
    "empty_answer": 0.03,
    "refusal": 0.03,
    "oversized_prompt": 0.03,
    "truncated_answer": 0.03,
    "pii_in_output": 0.02,
}
# Two modes share a trace only when they break different stages, so both stay recognisable.
_MODE_STAGE: dict[str, str] = {
    "tool_exception": "tools",
    "tool_error_output": "tools",
    "slow_span": "tools",
    "repeated_tool_calls": "tools",
    "oversized_prompt": "prompt",
    "empty_answer": "answer",
    "refusal": "answer",
    "truncated_answer": "answer",
    "pii_in_output": "answer",
}
_PAIRING_CHANCE = 0.1
_TOOL_MODES = frozenset({"tool_exception", "tool_error_output", "repeated_tool_calls"})
# The canned apologies, hedges, refusals and leaks are English; a Spanish question answered with
# them would add a language-mismatch failure nobody planted.
_ENGLISH_ONLY_MODES = frozenset({"tool_exception", "tool_error_output", "refusal", "truncated_answer", "pii_in_output"})
_PROPAGATION_CHANCE = 0.35

_CLASSIFIER_MODEL = "gpt-4o-mini-2024-07-18"
_ANSWER_MODEL = "gpt-4o-2024-08-06"
_MAX_ANSWER_TOKENS = 300
# Tool definitions are sent with every answer call but are not part of the logged messages.
_TOOL_SCHEMA_TOKENS = 640
_ROOT_ID = span_id_for(0)
_DAY_MS = 86_400_000
_WINDOW_DAYS = 14
_ROLLOUT_DAY = 9
_CANARY_DAY = 8
# UTC request volume: quiet at night, peaking during US and European business hours.
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 11, 12, 12, 11, 10, 9, 8, 6, 5, 4, 3)

_CHANNELS = ("web", "chat", "email")
_CHANNEL_WEIGHTS = (50, 35, 15)
_INTENTS = ("order_status", "shipping", "refund", "account_password", "product_question", "billing")
_INTENT_WEIGHTS = (24, 16, 16, 14, 16, 14)


@dataclass(frozen=True)
class _Customer:
    customer_id: str
    user: str
    first_name: str
    name: str
    email: str
    phone: str
    language: str
    activity: float


@dataclass(frozen=True)
class _Order:
    order_id: str
    product: Product
    quantity: int
    status: str
    placed: date
    carrier: str
    tracking: str
    shipped: date | None
    eta: date | None
    delivered: date | None
    last_scan_city: str
    last_scan: date

    @property
    def total(self) -> float:
        return round(self.product.price * self.quantity, 2)

    @property
    def items(self) -> str:
        return self.product.name if self.quantity == 1 else f"{self.quantity} x {self.product.name}"


@dataclass(frozen=True)
class _Invoice:
    invoice_id: str
    amount: float
    status: str
    day: date
    card: str


@dataclass(frozen=True)
class _Session:
    session_id: str
    customer: _Customer
    channel: str
    language: str
    intent: str
    order: _Order
    product: Product
    invoice: _Invoice
    today: date
    uses_tools: bool
    """Whether this conversation is about the customer's own records or a general policy."""


@dataclass(frozen=True)
class _Turn:
    session: _Session
    number: int
    at_ms: int


@dataclass(frozen=True)
class _ToolCall:
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class _Exchange:
    """What the agent does for one question when nothing goes wrong."""

    question: str
    retrieved: tuple[Chunk, ...] | None
    calls: tuple[_ToolCall, ...]
    answer: str


@dataclass(frozen=True)
class _Step:
    name: str
    span_type: str
    inputs: Any
    outputs: Any
    duration_ms: float
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exception_type: str | None = None


@dataclass(frozen=True)
class _ToolTrouble:
    """The tool call a planted tool failure broke, and how."""

    call: _ToolCall
    raised: bool
    error: str | None = None
    exception_type: str | None = None


def generate_corpus(n_traces: int, *, seed: int = 7, start_ms: int = 1_793_491_200_000) -> Iterator[DemoTrace]:
    """Deterministic: same args -> identical records (ids, timestamps, contents)."""
    if n_traces < 0:
        raise ValueError(f"n_traces must be >= 0, got {n_traces}")
    rng = random.Random(seed)
    # The whole corpus is planned up front, so trace i depends on n_traces too: the id says so,
    # and corpora of different sizes never share (or collide on) trace ids.
    corpus_key = f"demo:{seed}:{n_traces}"
    customers = _customers(rng)
    turns = _schedule_turns(n_traces, customers, start_ms, rng)
    plans = _schedule_modes(turns, rng)
    histories: dict[str, list[tuple[str, str]]] = {}
    for index, (turn, planted) in enumerate(zip(turns, plans, strict=True)):
        history = histories.setdefault(turn.session.session_id, [])
        record = _build_trace(index, turn, planted, history, customers, start_ms, corpus_key, rng)
        answer = record.spans[0].outputs
        if answer:
            history.append((record.spans[0].inputs["question"], answer))
        yield DemoTrace(record=record, planted=planted)


def _customers(rng: random.Random) -> tuple[_Customer, ...]:
    numbers = rng.sample(range(1000, 10000), len(PEOPLE))
    return tuple(
        _Customer(
            customer_id=f"C-{number}",
            user=f"{first}.{last}".lower(),
            first_name=first,
            name=f"{first} {last}",
            email=f"{first}.{last}@{rng.choice(EMAIL_DOMAINS)}".lower(),
            phone=f"{rng.choice(AREA_CODES)}-555-01{rng.randrange(100):02d}",
            language=language,
            activity=rng.uniform(0.2, 1.6),
        )
        for (first, last, language), number in zip(PEOPLE, numbers, strict=True)
    )


def _schedule_turns(n_traces: int, customers: Sequence[_Customer], start_ms: int, rng: random.Random) -> list[_Turn]:
    day_weights = [_day_weight(start_ms + day * _DAY_MS) for day in range(_WINDOW_DAYS)]
    turns: list[_Turn] = []
    while len(turns) < n_traces:
        offset_ms = (
            rng.choices(range(_WINDOW_DAYS), weights=day_weights)[0] * _DAY_MS
            + rng.choices(range(24), weights=_HOUR_WEIGHTS)[0] * 3_600_000
            + rng.randrange(3_600_000)
        )
        turns.extend(_session_turns(customers, start_ms + offset_ms, rng))
    # Sessions overlap in time; requests are emitted in arrival order and the latest spill-over dropped.
    turns.sort(key=lambda turn: turn.at_ms)
    return turns[:n_traces]


def _day_weight(day_start_ms: int) -> float:
    weekday = datetime.fromtimestamp(day_start_ms / 1000, tz=UTC).weekday()
    return 0.6 if weekday >= 5 else 1.0


def _session_turns(customers: Sequence[_Customer], at_ms: int, rng: random.Random) -> list[_Turn]:
    session = _new_session(customers, at_ms, rng)
    if session.channel == "email":
        count = rng.choices((1, 2), weights=(80, 20))[0]
    else:
        count = rng.choices((1, 2, 3, 4), weights=(55, 25, 13, 7))[0]
    turns = []
    for number in range(count):
        turns.append(_Turn(session, number, at_ms))
        # Time to read the answer and reply: seconds in a chat, hours by email.
        at_ms += rng.randint(1_800, 21_600) * 1000 if session.channel == "email" else rng.randint(25, 300) * 1000
    return turns


def _new_session(customers: Sequence[_Customer], at_ms: int, rng: random.Random) -> _Session:
    customer = rng.choices(customers, weights=[customer.activity for customer in customers])[0]
    native = customer.language != "en" and rng.random() < 0.8
    intent = "order_status" if native else rng.choices(_INTENTS, weights=_INTENT_WEIGHTS)[0]
    today = _day(at_ms)
    return _Session(
        session_id=f"sess-{rng.getrandbits(48):012x}",
        customer=customer,
        channel=rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
        language=customer.language if native else "en",
        intent=intent,
        order=_new_order(intent, today, rng),
        product=rng.choice(PRODUCTS),
        invoice=_new_invoice(today, rng),
        today=today,
        uses_tools=rng.random() < 0.65,
    )


def _new_order(intent: str, today: date, rng: random.Random) -> _Order:
    if intent == "order_status":
        status = rng.choices(("processing", "in_transit", "out_for_delivery", "delivered"), weights=(25, 40, 15, 20))[0]
    else:
        status = "in_transit" if intent == "shipping" else "delivered"
    carrier = rng.choice(CARRIERS)
    shipped = eta = delivered = None
    if status == "processing":
        placed = today - timedelta(days=rng.randint(0, 2))
        last_scan = placed
    elif status == "delivered":
        # Refund requests span the 30-day return window so that some are refused by policy.
        delivered = today - timedelta(days=rng.randint(3, 60) if intent == "refund" else rng.randint(1, 20))
        shipped = delivered - timedelta(days=rng.randint(2, 5))
        placed = shipped - timedelta(days=1)
        last_scan = delivered
    else:
        placed = today - timedelta(days=rng.randint(4, 9))
        shipped = placed + timedelta(days=1)
        stale_days = rng.randint(3, 6) if intent == "shipping" else rng.randint(0, 1)
        last_scan = max(shipped, today - timedelta(days=stale_days))
        eta = today if status == "out_for_delivery" else today + timedelta(days=rng.randint(1, 4))
    return _Order(
        order_id=f"ORD-{rng.randint(10000, 99999)}",
        product=rng.choice(PRODUCTS),
        quantity=rng.choices((1, 2), weights=(85, 15))[0],
        status=status,
        placed=placed,
        carrier=carrier,
        tracking=_tracking_number(carrier, rng),
        shipped=shipped,
        eta=eta,
        delivered=delivered,
        last_scan_city=rng.choice(CITIES),
        last_scan=last_scan,
    )


def _tracking_number(carrier: str, rng: random.Random) -> str:
    def digits(count: int) -> str:
        return "".join(rng.choices(string.digits, k=count))

    if carrier == "UPS":
        return "1Z" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=6)) + digits(10)
    return digits(12) if carrier == "FedEx" else "9400" + digits(18)


def _new_invoice(today: date, rng: random.Random) -> _Invoice:
    return _Invoice(
        invoice_id=f"INV-{rng.randint(100000, 999999)}",
        amount=rng.choice((19.99, 29.00, 49.00, 89.00, 129.99, 249.00)),
        status=rng.choices(("paid", "payment_failed"), weights=(70, 30))[0],
        day=today - timedelta(days=rng.randint(1, 12)),
        card=rng.choice(CARDS),
    )


def _day(at_ms: int) -> date:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).date()


def _schedule_modes(turns: Sequence[_Turn], rng: random.Random) -> list[frozenset[str]]:
    """Exact per-mode counts at random places, so that small corpora still show every mode."""
    tokens = [mode for mode in FAILURE_MODES for _ in range(round(_MODE_SHARES[mode] * len(turns)))]
    rng.shuffle(tokens)
    slots: list[frozenset[str]] = []
    for mode in tokens:
        if slots and _can_pair(slots[-1], mode) and rng.random() < _PAIRING_CHANCE:
            slots[-1] = slots[-1] | {mode}
        else:
            slots.append(frozenset({mode}))
    slots += [frozenset()] * (len(turns) - len(slots))
    rng.shuffle(slots)
    slots = slots[: len(turns)]
    _keep_canned_text_in_english(turns, slots, rng)
    return slots


def _can_pair(slot: frozenset[str], mode: str) -> bool:
    return len(slot) == 1 and all(_MODE_STAGE[other] != _MODE_STAGE[mode] for other in slot)


def _keep_canned_text_in_english(turns: Sequence[_Turn], slots: list[frozenset[str]], rng: random.Random) -> None:
    spare = [index for index, turn in enumerate(turns) if turn.session.language == "en" and not slots[index]]
    for index, turn in enumerate(turns):
        if turn.session.language != "en" and slots[index] & _ENGLISH_ONLY_MODES and spare:
            other = spare.pop(rng.randrange(len(spare)))
            slots[index], slots[other] = slots[other], slots[index]


def _build_trace(
    index: int,
    turn: _Turn,
    planted: frozenset[str],
    history: Sequence[tuple[str, str]],
    customers: Sequence[_Customer],
    start_ms: int,
    corpus_key: str,
    rng: random.Random,
) -> TraceRecord:
    session = turn.session
    exchange = _exchange(session, turn.number > 0, bool(planted & _TOOL_MODES), rng)
    question = _as_sent(exchange.question, session, rng)
    steps, trouble = _work_steps(exchange, planted, rng)
    timeline = _Timeline(turn.at_ms * 1_000_000 + rng.randrange(1_000_000), rng)
    timeline.add(_classify_step(question, session.intent, rng))
    for step in steps:
        timeline.add(step)
    raised = trouble if planted == {"tool_exception"} and rng.random() < _PROPAGATION_CHANCE else None
    answer: str | None = None
    if raised is None:
        answer = _final_answer(exchange, planted, trouble, session, customers, rng)
        messages = _answer_messages(session, history, exchange, question, steps, planted, rng)
        timeline.add(_answer_step(messages, answer, planted, rng))
    root = SpanRecord(
        span_id=_ROOT_ID,
        parent_id=None,
        name="support_agent",
        span_type="AGENT",
        start_ns=timeline.start_ns,
        end_ns=timeline.cursor_ns + _ns(rng.uniform(3, 25)),
        inputs={"question": question, "customer_id": session.customer.customer_id},
        outputs=answer,
        error=raised.error if raised else None,
        exception_type=raised.exception_type if raised else None,
    )
    return TraceRecord(
        trace_id=stable_trace_id(f"{corpus_key}:{index}"),
        spans=[root, *timeline.spans],
        tags={
            "env": "production",
            "agent_version": _agent_version(turn.at_ms - start_ms, rng),
            "channel": session.channel,
        },
        metadata={"mlflow.trace.user": session.customer.user, "mlflow.trace.session": session.session_id},
        client_request_id=f"req-{index + 1:06d}",
    )


def _agent_version(elapsed_ms: int, rng: random.Random) -> str:
    # v1.4.0 ran as a canary for a day before the full rollout.
    day = elapsed_ms / _DAY_MS
    if day >= _ROLLOUT_DAY or (day >= _CANARY_DAY and rng.random() < 0.3):
        return "v1.4.0"
    return "v1.3.0"


def _as_sent(question: str, session: _Session, rng: random.Random) -> str:
    if session.channel == "email":
        return EMAIL_WRAPPERS[session.language].format(body=question, first=session.customer.first_name)
    if session.language == "en" and rng.random() < 0.2:
        return _casual(question, rng)
    return question


def _casual(question: str, rng: random.Random) -> str:
    # Chat users retype the same things sloppily; these near-duplicates should cluster together.
    variants: tuple[Callable[[str], str], ...] = (
        str.lower,
        lambda text: text.rstrip("?.!"),
        lambda text: "hi, " + text[0].lower() + text[1:],
        lambda text: text.rstrip("?.!") + "??",
        lambda text: text + " thanks",
    )
    return rng.choice(variants)(question)


def _exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    handlers: dict[str, Callable[[_Session, bool, bool, random.Random], _Exchange]] = {
        "order_status": _order_status_exchange,
        "shipping": _shipping_exchange,
        "refund": _refund_exchange,
        "account_password": _account_exchange,
        "product_question": _product_exchange,
        "billing": _billing_exchange,
    }
    return handlers[session.intent](session, follow_up, need_tool, rng)


def _order_status_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    order, language = session.order, session.language
    templates = ORDER_FOLLOW_UPS if follow_up else ORDER_QUESTIONS
    question = rng.choice(templates[language]).format(order_id=order.order_id, product=order.product.name)
    calls = [_ToolCall("lookup_order", {"order_id": order.order_id}, _order_view(order))]
    if order.status in ("in_transit", "out_for_delivery"):
        calls.append(_ToolCall("check_shipping_status", {"order_id": order.order_id}, _shipment_view(order)))
    answer = ORDER_ANSWERS[language][order.status].format(
        order_id=order.order_id,
        items=order.items,
        placed=spoken_date(order.placed, language),
        shipped=spoken_date(order.shipped, language),
        carrier=order.carrier,
        city=order.last_scan_city,
        eta=spoken_date(order.eta, language),
        delivered=spoken_date(order.delivered, language),
        tracking=order.tracking,
    )
    return _Exchange(question, None, tuple(calls), answer)


def _shipping_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    if not (session.uses_tools or need_tool):
        return _policy_exchange("shipping", rng)
    order = session.order
    # A forced tool call in a policy conversation starts a new topic rather than following up.
    templates = SHIPPING_FOLLOW_UPS if follow_up and session.uses_tools else SHIPPING_QUESTIONS
    question = rng.choice(templates).format(
        order_id=order.order_id,
        carrier=order.carrier,
        city=order.last_scan_city,
        stale=(session.today - order.last_scan).days,
        last_scan=spoken_date(order.last_scan, "en"),
    )
    calls = [_ToolCall("check_shipping_status", {"order_id": order.order_id}, _shipment_view(order))]
    if rng.random() < 0.4:
        calls.insert(0, _ToolCall("lookup_order", {"order_id": order.order_id}, _order_view(order)))
    answer = SHIPPING_DELAY_ANSWER.format(
        carrier=order.carrier,
        order_id=order.order_id,
        city=order.last_scan_city,
        last_scan=spoken_date(order.last_scan, "en"),
        eta=spoken_date(order.eta, "en"),
    )
    return _Exchange(question, _retrieve("shipping", None, rng), tuple(calls), answer)


def _refund_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    # Follow-ups ask about the process; repeating the refund request would issue a second refund.
    if not need_tool and (follow_up or not session.uses_tools):
        return _policy_exchange("refund", rng)
    order = session.order
    template, reason = rng.choice(REFUND_QUESTIONS)
    question = template.format(order_id=order.order_id, product=order.product.name)
    calls = [_ToolCall("lookup_order", {"order_id": order.order_id}, _order_view(order))]
    assert order.delivered is not None
    if (session.today - order.delivered).days > 30:
        answer = REFUND_WINDOW_CLOSED_ANSWER.format(
            order_id=order.order_id, delivered=spoken_date(order.delivered, "en"), product=order.product.name
        )
        return _Exchange(question, _retrieve("refund", KNOWLEDGE_BASE["refund"][0], rng), tuple(calls), answer)
    refund_id = f"RF-{rng.randint(10000, 99999)}"
    calls.append(
        _ToolCall(
            "issue_refund",
            {"order_id": order.order_id, "amount": order.total, "reason": reason},
            {"refund_id": refund_id, "status": "submitted", "amount": order.total, "currency": "USD"},
        )
    )
    answer = REFUND_ISSUED_ANSWER.format(
        total=order.total, product=order.product.name, order_id=order.order_id, refund_id=refund_id
    )
    return _Exchange(question, _retrieve("refund", KNOWLEDGE_BASE["refund"][0], rng), tuple(calls), answer)


def _account_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    if not (session.uses_tools or need_tool):
        return _policy_exchange("account_password", rng)
    customer_id = session.customer.customer_id
    templates = PASSWORD_FOLLOW_UPS if follow_up and session.uses_tools else PASSWORD_QUESTIONS
    locked = rng.random() < 0.3
    account = {
        "customer_id": customer_id,
        "status": "locked" if locked else "active",
        "email": session.customer.email[0] + "***@" + session.customer.email.split("@")[1],
        "email_verified": True,
        "two_factor_enabled": rng.random() < 0.4,
        "failed_logins_24h": rng.randint(5, 9) if locked else rng.randint(0, 2),
    }
    calls = (
        _ToolCall("get_account", {"customer_id": customer_id}, account),
        _ToolCall(
            "reset_password",
            {"customer_id": customer_id},
            {"reset_link_sent": True, "expires_in_minutes": 30, "unlocked": locked},
        ),
    )
    answer = LOCKED_ACCOUNT_RESET_ANSWER if locked else PASSWORD_RESET_ANSWER
    chunk = KNOWLEDGE_BASE["account_password"][0]
    return _Exchange(rng.choice(templates), _retrieve("account_password", chunk, rng), calls, answer)


def _product_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    product = session.product
    sheet = next(chunk for chunk in KNOWLEDGE_BASE["product_question"] if chunk.doc_uri.endswith(product.sku.lower()))
    retrieved = _retrieve("product_question", sheet, rng)
    if not (need_tool or rng.random() < 0.35):
        template, answer = rng.choice(product.facts)
        return _Exchange(template.format(p=product.name), retrieved, (), answer.format(p=product.name))
    in_stock = rng.random() < 0.7
    restock = session.today + timedelta(days=rng.randint(5, 21))
    stock = {
        "sku": product.sku,
        "in_stock": in_stock,
        "quantity": rng.randint(3, 140) if in_stock else 0,
        "restock_date": None if in_stock else restock.isoformat(),
        "warehouse": rng.choice(("RNO-1", "CMH-2", "EWR-1")),
    }
    if in_stock:
        answer = IN_STOCK_ANSWER.format(product=product.name, quantity=stock["quantity"])
    else:
        answer = OUT_OF_STOCK_ANSWER.format(product=product.name, restock=spoken_date(restock, "en"))
    question = rng.choice(STOCK_QUESTIONS).format(product=product.name)
    return _Exchange(question, retrieved, (_ToolCall("check_inventory", {"sku": product.sku}, stock),), answer)


def _billing_exchange(session: _Session, follow_up: bool, need_tool: bool, rng: random.Random) -> _Exchange:
    if not (session.uses_tools or need_tool):
        return _policy_exchange("billing", rng)
    invoice, customer = session.invoice, session.customer
    topic = "payment_failed" if invoice.status == "payment_failed" else rng.choice(("double_charge", "copy"))
    templates = BILLING_FOLLOW_UPS if follow_up and session.uses_tools else BILLING_QUESTIONS[topic]
    slots = {
        "invoice_id": invoice.invoice_id,
        "amount": f"{invoice.amount:.2f}",
        "day": spoken_date(invoice.day, "en"),
        "card": invoice.card,
    }
    calls = (
        _ToolCall(
            "get_account",
            {"customer_id": customer.customer_id},
            {"customer_id": customer.customer_id, "status": "active", "default_payment_method": invoice.card},
        ),
        _ToolCall(
            "get_invoice",
            {"invoice_id": invoice.invoice_id},
            {
                "invoice_id": invoice.invoice_id,
                "amount": invoice.amount,
                "currency": "USD",
                "status": invoice.status,
                "date": invoice.day.isoformat(),
                "payment_method": invoice.card,
                "charges": 1,
            },
        ),
    )
    lead = KNOWLEDGE_BASE["billing"][2 if topic == "payment_failed" else 0]
    return _Exchange(
        rng.choice(templates).format(**slots),
        _retrieve("billing", lead, rng),
        calls,
        BILLING_ANSWERS[topic].format(**slots),
    )


def _policy_exchange(topic: str, rng: random.Random) -> _Exchange:
    qa = rng.choice(POLICY_QAS[topic])
    country = rng.choice(COUNTRIES)
    return _Exchange(
        qa.question.format(country=country),
        _retrieve(topic, KNOWLEDGE_BASE[topic][qa.chunk], rng),
        (),
        qa.answer.format(country=country),
    )


def _retrieve(topic: str, lead: Chunk | None, rng: random.Random) -> tuple[Chunk, ...]:
    others = [chunk for chunk in KNOWLEDGE_BASE[topic] if chunk is not lead]
    picked = rng.sample(others, 2 if lead else 3)
    return (lead, *picked) if lead else tuple(picked)


def _order_view(order: _Order) -> dict[str, Any]:
    shipped = order.status != "processing"
    return {
        "order_id": order.order_id,
        "status": order.status,
        "placed_at": order.placed.isoformat(),
        "items": [
            {"sku": order.product.sku, "name": order.product.name, "qty": order.quantity, "price": order.product.price}
        ],
        "total": order.total,
        "currency": "USD",
        "carrier": order.carrier if shipped else None,
        "tracking_number": order.tracking if shipped else None,
        "delivered_at": order.delivered.isoformat() if order.delivered else None,
    }


def _shipment_view(order: _Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "carrier": order.carrier,
        "tracking_number": order.tracking,
        "status": order.status,
        "last_scan": {"location": order.last_scan_city, "date": order.last_scan.isoformat()},
        "estimated_delivery": order.eta.isoformat() if order.eta else None,
    }


def _work_steps(
    exchange: _Exchange, planted: frozenset[str], rng: random.Random
) -> tuple[list[_Step], _ToolTrouble | None]:
    """Retrieval and tool steps, with the planted tool-stage failures applied."""
    steps: list[_Step] = []
    if exchange.retrieved is not None:
        steps.append(_retrieval_step(exchange.question, exchange.retrieved, rng))
    tool_steps, trouble = _tool_steps(exchange.calls, planted, rng)
    steps.extend(tool_steps)
    if "slow_span" in planted:
        slow = rng.randrange(len(steps))
        steps[slow] = replace(steps[slow], duration_ms=rng.uniform(5_000, 15_000))
    return steps, trouble


def _tool_steps(
    calls: Sequence[_ToolCall], planted: frozenset[str], rng: random.Random
) -> tuple[list[_Step], _ToolTrouble | None]:
    if not planted & _TOOL_MODES:
        return [_tool_step(call, rng) for call in calls], None
    broken = rng.randrange(len(calls))
    before = [_tool_step(call, rng) for call in calls[:broken]]
    call = calls[broken]
    if "repeated_tool_calls" in planted:
        # The agent loop re-issues a call whose result it failed to register.
        repeats = [_tool_step(call, rng) for _ in range(rng.randint(3, 4))]
        return before + repeats + [_tool_step(later, rng) for later in calls[broken + 1 :]], None
    # After a failed call the agent answers with what it has instead of calling further tools.
    if "tool_exception" in planted:
        trouble, duration_ms = _exception_for(call, rng)
        step = replace(
            _tool_step(call, rng),
            outputs=None,
            duration_ms=duration_ms,
            error=trouble.error,
            exception_type=trouble.exception_type,
        )
        return [*before, step], trouble
    return [*before, replace(_tool_step(call, rng), outputs=_error_payload(call, rng))], _ToolTrouble(call, False)


def _tool_step(call: _ToolCall, rng: random.Random) -> _Step:
    return _Step(call.name, "TOOL", call.inputs, call.outputs, rng.triangular(30, 400, 120))


def _retrieval_step(query: str, chunks: Sequence[Chunk], rng: random.Random) -> _Step:
    return _Step(
        "search_knowledge_base",
        "RETRIEVER",
        {"query": query},
        [chunk.as_document() for chunk in chunks],
        rng.triangular(40, 300, 90),
    )


def _exception_for(call: _ToolCall, rng: random.Random) -> tuple[_ToolTrouble, float]:
    """The raised error and how long the call ran before raising it."""
    service = TOOL_SERVICES[call.name]
    subject = next(iter(call.inputs.values()))
    kind = rng.choice(tuple(TOOL_EXCEPTIONS))
    if kind == "TimeoutError":
        # Client timeouts stay under 5 s so that a timeout is not also a slow span.
        seconds = rng.randint(2, 4)
        message = TOOL_EXCEPTIONS[kind].format(service=service, subject=subject, seconds=seconds)
        duration_ms = seconds * 1000 + rng.uniform(2, 30)
    else:
        message = TOOL_EXCEPTIONS[kind].format(service=service, subject=subject)
        duration_ms = rng.uniform(15, 250)
    return _ToolTrouble(call, True, f"{kind}: {message}", kind), duration_ms


def _error_payload(call: _ToolCall, rng: random.Random) -> dict[str, str] | str:
    if rng.random() < 0.5:
        return {"error": NOT_FOUND_ERRORS[call.name].format(**call.inputs)}
    return RATE_LIMIT_ERROR.format(service=TOOL_SERVICES[call.name], seconds=rng.randint(5, 60))


def _final_answer(
    exchange: _Exchange,
    planted: frozenset[str],
    trouble: _ToolTrouble | None,
    session: _Session,
    customers: Sequence[_Customer],
    rng: random.Random,
) -> str:
    if "empty_answer" in planted:
        return ""
    if "refusal" in planted:
        return rng.choice(REFUSALS)
    answer = exchange.answer if trouble is None else _recovery_answer(trouble)
    if "pii_in_output" in planted:
        other = rng.choice([customer for customer in customers if customer != session.customer])
        answer += " " + rng.choice(LEAKS).format(name=other.name, email=other.email, phone=other.phone)
    if "truncated_answer" in planted:
        answer = _cut_mid_sentence(answer + " " + RAMBLE, _MAX_ANSWER_TOKENS * 4 - rng.randint(0, 80))
    return answer


def _recovery_answer(trouble: _ToolTrouble) -> str:
    action = TOOL_ACTIONS[trouble.call.name].format(**trouble.call.inputs)
    return (TOOL_EXCEPTION_ANSWER if trouble.raised else TOOL_ERROR_ANSWER).format(action=action)


def _cut_mid_sentence(text: str, limit: int) -> str:
    cut = text[:limit]
    cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.!?")


def _answer_messages(
    session: _Session,
    history: Sequence[tuple[str, str]],
    exchange: _Exchange,
    question: str,
    steps: Sequence[_Step],
    planted: frozenset[str],
    rng: random.Random,
) -> list[dict[str, Any]]:
    customer = session.customer
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": ANSWER_PROMPT},
        {
            "role": "system",
            "content": f"Customer: {customer.customer_id}, channel: {session.channel}, "
            f"language: {session.language}, date: {session.today.isoformat()}",
        },
    ]
    for asked, answered in history:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    messages.append({"role": "user", "content": question})
    if exchange.retrieved is not None:
        excerpts = "\n".join(
            f"[{number}] ({chunk.doc_uri}) {chunk.text}" for number, chunk in enumerate(exchange.retrieved, 1)
        )
        messages.append({"role": "system", "content": "Knowledge base excerpts:\n" + excerpts})
    for step in steps:
        if step.span_type == "TOOL":
            result = f"Tool call failed: {step.error}" if step.error else json.dumps(step.outputs)
            messages.append({"role": "tool", "name": step.name, "content": result})
    if "oversized_prompt" in planted:
        messages.append({"role": "system", "content": _order_history_dump(customer, rng)})
    return messages


def _order_history_dump(customer: _Customer, rng: random.Random) -> str:
    """The context builder pastes a customer's whole order history; only its head is logged."""
    total = rng.randint(900, 1800)
    shown = 40
    rows = [
        f"ORD-{rng.randint(10000, 99999)} | {date(2024, 1, 1) + timedelta(days=rng.randrange(900))} | "
        f"{product.name} | ${product.price:.2f} | delivered"
        for product in rng.choices(PRODUCTS, k=shown)
    ]
    return (
        f"Complete order history for {customer.customer_id} ({total} orders):\n"
        + "\n".join(rows)
        + f"\n[... {total - shown} more rows omitted from this trace log ...]"
    )


def _classify_step(question: str, intent: str, rng: random.Random) -> _Step:
    messages = [
        {"role": "system", "content": CLASSIFIER_PROMPT},
        {"role": "user", "content": question},
    ]
    content = json.dumps({"intent": intent, "confidence": round(rng.uniform(0.78, 0.99), 2)})
    input_tokens, output_tokens = _prompt_tokens(messages), _tokens(content)
    duration = 280 + rng.uniform(0, 450) + output_tokens * rng.uniform(6, 10)
    return _chat_step(
        "classify_intent", _CLASSIFIER_MODEL, messages, content, "stop", input_tokens, output_tokens, duration, rng
    )


def _answer_step(messages: list[dict[str, Any]], answer: str, planted: frozenset[str], rng: random.Random) -> _Step:
    truncated = "truncated_answer" in planted
    if "oversized_prompt" in planted:
        # The logged dump is abridged; the tokens billed are those of the full history.
        input_tokens = rng.randint(30_000, 60_000)
    else:
        input_tokens = _prompt_tokens(messages) + _TOOL_SCHEMA_TOKENS
    output_tokens = _MAX_ANSWER_TOKENS if truncated else (_tokens(answer) if answer else 0)
    duration = 350 + input_tokens * 0.08 + output_tokens * rng.uniform(6, 12) + rng.uniform(0, 400)
    finish_reason = "length" if truncated else "stop"
    return _chat_step(
        "generate_answer", _ANSWER_MODEL, messages, answer, finish_reason, input_tokens, output_tokens, duration, rng
    )


def _chat_step(
    name: str,
    model: str,
    messages: list[dict[str, Any]],
    content: str,
    finish_reason: str,
    input_tokens: int,
    output_tokens: int,
    duration_ms: float,
    rng: random.Random,
) -> _Step:
    total = input_tokens + output_tokens
    inputs: dict[str, Any] = {"model": model, "messages": messages, "temperature": 0.2}
    if name == "generate_answer":
        inputs["max_tokens"] = _MAX_ANSWER_TOKENS
    outputs = {
        "id": f"chatcmpl-{rng.getrandbits(96):024x}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens, "total_tokens": total},
    }
    attributes = {
        "mlflow.chat.tokenUsage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": total,
        },
        "mlflow.llm.model": model,
    }
    return _Step(name, "CHAT_MODEL", inputs, outputs, duration_ms, attributes)


def _tokens(text: str) -> int:
    # About four characters per token for English text, as with OpenAI tokenizers.
    return max(1, (len(text) + 3) // 4)


def _prompt_tokens(messages: Sequence[dict[str, Any]]) -> int:
    # Every chat message carries a few tokens of role and separator overhead.
    return sum(_tokens(message["content"]) + 4 for message in messages) + 3


class _Timeline:
    """Lays child spans end to end under the root, with the short gaps an agent loop leaves."""

    def __init__(self, start_ns: int, rng: random.Random) -> None:
        self.start_ns = start_ns
        self.cursor_ns = start_ns
        self.spans: list[SpanRecord] = []
        self._rng = rng

    def add(self, step: _Step) -> None:
        start = self.cursor_ns + _ns(self._rng.uniform(1, 12))
        end = start + _ns(step.duration_ms)
        self.spans.append(
            SpanRecord(
                span_id=span_id_for(len(self.spans) + 1),
                parent_id=_ROOT_ID,
                name=step.name,
                span_type=step.span_type,
                start_ns=start,
                end_ns=end,
                inputs=step.inputs,
                outputs=step.outputs,
                attributes=step.attributes,
                error=step.error,
                exception_type=step.exception_type,
            )
        )
        self.cursor_ns = end


def _ns(milliseconds: float) -> int:
    return round(milliseconds * 1_000_000)
