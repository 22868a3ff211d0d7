"""The sample store's back office, rebuilt from the default demo corpus for the live agent's tools.

The corpus has no database behind it: its traces record what the store's services returned to the
agent. Replaying `generate_corpus` with the demo's defaults once (lazily, on the first tool call) and
indexing every successful tool result by its tool and key argument gives back the orders,
shipments, invoices, accounts, refunds and stock levels the recorded agent saw (and only those: an
order the recording saw only through the carrier is unknown to the orders service). Only tool
results and the customers' messages are read, never an answer.

The store changes during the recorded fortnight: items sell out and come back, accounts lock after
failed sign-ins. Each result is therefore kept with the time it was seen, and the tools read the
store as of the demo clock: by default its latest state, or, inside `as_of(moment)`, the state at
that moment of the fortnight, which is how a recorded request is replayed exactly.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# The argument that names the record a tool reads; reset_password's result follows from the account.
KEY_ARGUMENTS: dict[str, str] = {
    "lookup_order": "order_id",
    "check_shipping_status": "order_id",
    "issue_refund": "order_id",
    "get_account": "customer_id",
    "get_invoice": "invoice_id",
    "check_inventory": "sku",
}
RETURN_WINDOW_DAYS = 30
# The generator ships every order the day after it is placed; the orders service did not report it.
_DAYS_TO_SHIP = 1

_NOW_NS: ContextVar[int | None] = ContextVar("demo_now_ns", default=None)
_BUILD_LOCK = threading.Lock()


@contextmanager
def as_of(moment_ns: int) -> Iterator[None]:
    """Read the store as it was at `moment_ns` (epoch nanoseconds), e.g. a recorded request's start."""
    token = _NOW_NS.set(moment_ns)
    try:
        yield
    finally:
        _NOW_NS.reset(token)


@dataclass(frozen=True)
class _Timeline:
    """The states one record was seen in, oldest first."""

    seen_ns: tuple[int, ...]
    states: tuple[dict[str, Any], ...]

    def at(self, now_ns: int | None) -> dict[str, Any]:
        """The latest state seen by `now_ns`; the first one seen when asked about an earlier moment."""
        if now_ns is None:
            return self.states[-1]
        return self.states[max(bisect.bisect_right(self.seen_ns, now_ns) - 1, 0)]


@dataclass(frozen=True)
class DemoWorld:
    records: dict[tuple[str, str], _Timeline]
    messages: dict[str, tuple[tuple[int, str], ...]]
    """Each customer's messages to the agent, oldest first, with when they were sent."""

    def record(self, tool: str, key: str) -> dict[str, Any] | None:
        """What `tool` returns for the record `key` as of the demo clock; None when there is no such record."""
        timeline = self.records.get((tool, key))
        return None if timeline is None else dict(timeline.at(_NOW_NS.get()))

    def is_customer(self, customer_id: str) -> bool:
        return customer_id in self.messages

    def last_mentioned(self, customer_id: str, pattern: re.Pattern[str]) -> str | None:
        """The last match of `pattern` in the customer's messages before the demo clock: what "it" or "that
        order" in a follow-up refers to."""
        now_ns = _NOW_NS.get()
        for sent_ns, text in reversed(self.messages.get(customer_id, ())):
            if now_ns is not None and sent_ns >= now_ns:
                continue
            found = pattern.findall(text)
            if found:
                return found[-1]
        return None


def world() -> DemoWorld:
    """The rebuilt store, built on first use (about half a second) and shared by every thread."""
    with _BUILD_LOCK:
        return _rebuilt()


@functools.cache
def _rebuilt() -> DemoWorld:
    from mlflow_eval_mcp.demo.runner import DEFAULT_SEED, DEFAULT_TRACES
    from mlflow_eval_mcp.demo.sample_agent import generate_corpus

    seen: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    messages: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for demo_trace in generate_corpus(DEFAULT_TRACES, seed=DEFAULT_SEED):
        root, *children = demo_trace.record.spans
        messages[root.inputs["customer_id"]].append((root.start_ns, root.inputs["question"]))
        for span in children:
            if span.span_type == "TOOL" and span.name in KEY_ARGUMENTS and _succeeded(span.error, span.outputs):
                key = span.inputs[KEY_ARGUMENTS[span.name]]
                seen[(span.name, key)].append((root.start_ns, span.outputs))
    _complete_orders(seen)
    return DemoWorld(
        records={key: _timeline(states) for key, states in seen.items()},
        messages={customer: tuple(sorted(sent)) for customer, sent in messages.items()},
    )


def _succeeded(error: str | None, outputs: Any) -> bool:
    # Planted failures left exceptions and error payloads; those say nothing about the store.
    return error is None and isinstance(outputs, dict) and "error" not in outputs


def _complete_orders(seen: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]]) -> None:
    """Adds what the orders service knows but the recorded views left out: the ship date of an order on
    its way, and whether an order could still be returned (or cancelled) on the day it was asked about."""
    for (tool, _), states in seen.items():
        if tool != "lookup_order":
            continue
        first_asked = _day_of(min(seen_ns for seen_ns, _ in states))
        for index, (seen_ns, order) in enumerate(states):
            placed = date.fromisoformat(order["placed_at"])
            on_its_way = order["status"] in ("in_transit", "out_for_delivery")
            delivered = date.fromisoformat(order["delivered_at"]) if order["delivered_at"] else None
            states[index] = (
                seen_ns,
                {
                    **order,
                    "shipped_at": (placed + timedelta(days=_DAYS_TO_SHIP)).isoformat() if on_its_way else None,
                    "return_eligible": delivered is None or (first_asked - delivered).days <= RETURN_WINDOW_DAYS,
                },
            )


def _day_of(moment_ns: int) -> date:
    return datetime.fromtimestamp(moment_ns / 1e9, tz=UTC).date()


def _timeline(states: list[tuple[int, dict[str, Any]]]) -> _Timeline:
    ordered = sorted(states, key=lambda state: state[0])
    return _Timeline(tuple(seen_ns for seen_ns, _ in ordered), tuple(state for _, state in ordered))
