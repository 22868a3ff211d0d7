"""Hand-built agent traces for the architecture review: an agent loop over tools, a RAG agent, a supervisor
over sub-agents, written to a real store with the project's writer and read back as `Conversation`s."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, span_id_for, stable_trace_id, write_traces
from tests.trace_factory import BASE_NS, MS

ORDER_TOOLS = ("get_order_status", "get_weather", "cancel_order")


@dataclass(frozen=True)
class Step:
    """One span below the root, at `start_ms`..`end_ms` from the trace's start; `parent` is the index of
    the step it runs in (None: the root)."""

    name: str
    span_type: str
    start_ms: int
    end_ms: int
    inputs: Any = None
    outputs: Any = None
    parent: int | None = None
    error: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def agent_trace(key: str, request: str, answer: str, steps: list[Step], *, root: str = "agent") -> TraceRecord:
    """A trace whose root AGENT `root` was asked `request`, ran `steps` and answered `answer`."""
    start = BASE_NS + int(hashlib.blake2b(key.encode(), digest_size=2).hexdigest(), 16) * 60_000 * MS
    end_ms = max((step.end_ms for step in steps), default=0) + 10
    spans = [SpanRecord(span_id_for(0), None, root, "AGENT", start, start + end_ms * MS, {"question": request}, answer)]
    for index, step in enumerate(steps, start=1):
        parent = span_id_for(0 if step.parent is None else step.parent + 1)
        spans.append(
            SpanRecord(
                span_id_for(index),
                parent,
                step.name,
                step.span_type,
                start + step.start_ms * MS,
                start + step.end_ms * MS,
                step.inputs,
                step.outputs,
                attributes=step.attributes,
                error=step.error,
            )
        )
    return TraceRecord(trace_id=stable_trace_id(f"architecture:{key}"), spans=spans)


def model(start_ms: int, end_ms: int, messages: list[dict[str, Any]], says: str = "", **parent: int) -> Step:
    """A chat model call that was given `messages` (and offered the order tools) and said `says`."""
    definitions = [{"type": "function", "function": {"name": name, "parameters": {}}} for name in ORDER_TOOLS]
    return Step(
        "chat",
        "CHAT_MODEL",
        start_ms,
        end_ms,
        {"messages": messages, "tools": definitions},
        {"choices": [{"message": {"role": "assistant", "content": says}, "finish_reason": "stop"}]},
        **parent,
    )


def tool(name: str, start_ms: int, end_ms: int, inputs: Any, outputs: Any, **extra: Any) -> Step:
    return Step(name, "TOOL", start_ms, end_ms, inputs, outputs, **extra)


def tool_message(result: Any) -> dict[str, str]:
    return {"role": "tool", "content": json.dumps(result)}


def order_and_weather(key: str, *, weather_needs_the_order: bool = False, overlapping: bool = False) -> TraceRecord:
    """An agent loop: a model call, the order tool (100 ms), the weather tool (300 ms), the answering model
    call seeing both results. The city is the user's, or (`weather_needs_the_order`) where the order went."""
    city = "Lyon" if weather_needs_the_order else "Paris"
    request = f"Where is order A-1, and what's the weather {'there' if weather_needs_the_order else 'in Paris'}?"
    order = {"order_id": "A-1", "status": "shipped", "carrier": "Speedpost", "city": "Lyon"}
    weather = {"city": city, "conditions": "drizzle", "temperature_c": 14}
    weather_start = 100 if overlapping else 170
    answer = f"Order A-1 shipped with Speedpost; {city} has drizzle."
    question = {"role": "user", "content": request}
    return agent_trace(
        key,
        request,
        answer,
        [
            model(0, 50, [question]),
            tool("get_order_status", 60, 160, {"order_id": "A-1"}, order),
            tool("get_weather", weather_start, weather_start + 300, {"city": city}, weather),
            model(480, 600, [question, tool_message(order), tool_message(weather)], answer),
        ],
    )


REFUND_DOCUMENTS = [
    {"page_content": "Refunds reach the original card within 5-7 business days.", "metadata": {"doc_uri": "kb://1"}},
    {"page_content": "Store credit is issued instantly for gift purchases.", "metadata": {"doc_uri": "kb://2"}},
]


def rag(
    key: str,
    *,
    documents_reach_the_model: bool = True,
    model_after: bool = True,
    answer: str = "Refunds usually arrive within a week.",
) -> TraceRecord:
    """A retrieval, then (`model_after`) the answering model call, with or without the documents."""
    request = "How long does a refund take?"
    context = "\n".join(document["page_content"] for document in REFUND_DOCUMENTS)
    messages = [{"role": "user", "content": request}]
    if documents_reach_the_model:
        messages.insert(0, {"role": "system", "content": f"Answer from these excerpts:\n{context}"})
    steps = [Step("search_docs", "RETRIEVER", 0, 80, {"query": request}, REFUND_DOCUMENTS)]
    if model_after:
        steps.append(model(90, 400, messages, answer))
    return agent_trace(key, request, answer, steps)


def retrievals(key: str, *searches: tuple[str, str, list[dict[str, Any]]], failed_first: bool = False) -> TraceRecord:
    """Retrievals one after another, each (retriever, query, documents); the first failing if asked."""
    steps = [
        Step(
            name,
            "RETRIEVER",
            index * 100,
            index * 100 + 80,
            {"query": query},
            None if failed_first and index == 0 else documents,
            error="TimeoutError: index unavailable" if failed_first and index == 0 else None,
        )
        for index, (name, query, documents) in enumerate(searches)
    ]
    return agent_trace(key, searches[0][1], "Refunds take 5-7 business days.", steps)


BILLING = "Invoice INV-88 was paid on March 3 with the card ending 4242."
SHIPPING = "Parcel A-1 left the Rotterdam depot and arrives Friday."
RETURNS = "The return window for A-1 closes April 30; a prepaid label is available."


def supervisor(key: str, answer: str, agents: dict[str, str] | None = None) -> TraceRecord:
    """A supervisor that dispatched the request to each sub-agent (name -> what it said), then answered."""
    agents = (
        agents
        if agents is not None
        else {"billing_agent": BILLING, "shipping_agent": SHIPPING, "returns_agent": RETURNS}
    )
    request = "Where is my parcel A-1?"
    steps = [model(0, 40, [{"role": "user", "content": request}])]
    for index, (name, said) in enumerate(agents.items()):
        start = 50 + index * 200
        steps.append(Step(name, "AGENT", start, start + 150, {"task": request}, said))
        steps.append(
            model(start + 10, start + 140, [{"role": "user", "content": request}], said, parent=len(steps) - 1)
        )
    return agent_trace(key, request, answer, steps, root="supervisor")


def read_back(store_uri: str, records: list[TraceRecord]) -> list[tuple[str, Conversation]]:
    """`records` written to a new experiment and read back, in the order given, as (trace id, conversation)."""
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment(f"architecture-{len(client.search_experiments())}")
    report = write_traces(store_uri, experiment_id, records)
    assert report.written == len(records)
    stored = {
        trace.info.trace_id: trace
        for trace in client.search_traces(locations=[experiment_id], max_results=len(records) + 1)
    }
    return [(record.trace_id, Conversation.of_trace(stored[record.trace_id])) for record in records]
