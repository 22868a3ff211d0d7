"""Inspect AI eval logs (the JSON log format): one trace per sample.

A sample's events form a tree: `span_begin`/`span_end` pairs nest by `parent_id`, other events
sit in the span named by their `span_id`. Model calls become CHAT_MODEL spans and tool calls TOOL
spans. Inspect records a tool call twice, as a `tool` event and as a span of type "tool" holding
what the call did (sandbox commands, nested agents); the two become one TOOL span, as in Inspect's
own log viewer. Scores become feedback, the sample target an `expected_response` expectation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import TraceBuilder, parse_time_ns, token_usage
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord

_ATTACHMENT = "attachment://"
_MAPPED_EVENTS = ("model", "tool")
_SPAN_TYPES = {"agent": "AGENT", "tool": "TOOL"}
# Inspect's cache counters, under the names MLflow's token usage uses for them.
_CACHE_COUNTS = {
    "input_tokens_cache_read": "cache_read_input_tokens",
    "input_tokens_cache_write": "cache_creation_input_tokens",
}


class MalformedSample(ValueError):
    """A sample that cannot become a trace; the message says why."""


@dataclass
class _Node:
    """An event in the sample's tree; `end` is the `span_end` of a span (or of a merged tool span)."""

    event: dict[str, Any]
    children: list[_Node] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return str(self.event.get("event"))


def detect(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("eval"), dict):
        return False
    return "task" in value["eval"] and ("samples" in value or "version" in value)


def parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    log = record.value
    samples = log.get("samples")
    if not isinstance(samples, list) or not samples:
        yield Skipped(record.ref, "the eval log holds no samples (a header-only log, or no sample finished)")
        return
    for index, sample in enumerate(samples):
        try:
            yield _sample_trace(log, sample, context)
        except MalformedSample as error:
            yield Skipped(_sample_ref(record.ref, index, sample), str(error))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # One odd sample must not cost the others of the log.
            yield Skipped(_sample_ref(record.ref, index, sample), f"malformed sample: {type(error).__name__}: {error}")


FORMAT = TraceFormat(
    name="inspect_ai",
    description="an Inspect AI eval log: a JSON object with `eval` (task, model) and `samples[].events`",
    detect=detect,
    parse=parse,
)


def _sample_ref(log_ref: str, index: int, sample: Any) -> str:
    if isinstance(sample, dict) and "id" in sample:
        return f"{log_ref} sample {sample['id']} epoch {sample.get('epoch', 1)}"
    return f"{log_ref} sample #{index}"


def _sample_trace(log: dict[str, Any], sample: Any, context: ParseContext) -> ImportedTrace:
    if not isinstance(sample, dict):
        raise MalformedSample(f"the sample is a JSON {type(sample).__name__}, not an object")
    if "id" not in sample:
        raise MalformedSample("the sample has no id")
    events = sample.get("events")
    if not isinstance(events, list) or not events:
        raise MalformedSample("the sample has no events to build spans from")
    if not all(isinstance(event, dict) for event in events):
        raise MalformedSample("the sample's events are not all objects")
    attachments = sample.get("attachments") or {}
    sample = {key: _resolve_attachments(value, attachments) for key, value in sample.items() if key != "attachments"}
    header = log["eval"]
    source_id = f"{header.get('task_id') or header.get('run_id')}:{sample['id']}:{sample.get('epoch', 1)}"
    tree = _event_tree(sample["events"])
    builder = context.builder(source_id)
    root_id = builder.add_span(
        str(header.get("task") or "inspect_sample"),
        "AGENT",
        start_ns=min(_times(sample["events"], "timestamp"), default=None),
        end_ns=max(_times(sample["events"], "timestamp", "completed"), default=None),
        inputs=_sample_inputs(sample.get("input")),
        outputs=_completion_text(sample.get("output")),
        attributes={"inspect.sample_metadata": sample["metadata"]} if sample.get("metadata") else None,
        error=_error_message(sample.get("error")),
    )
    _add_spans(builder, tree, root_id)
    record = builder.build(tags=_tags(log, sample), assessments=_assessments(sample, tree))
    return ImportedTrace(source_id, record)


def _resolve_attachments(value: Any, attachments: dict[str, str]) -> Any:
    # Inspect stores long texts once per sample and refers to them as "attachment://<hash>".
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            return attachments.get(value.removeprefix(_ATTACHMENT), value)
        return value
    if isinstance(value, list):
        return [_resolve_attachments(item, attachments) for item in value]
    if isinstance(value, dict):
        return {key: _resolve_attachments(item, attachments) for key, item in value.items()}
    return value


def _event_tree(events: list[dict[str, Any]]) -> list[_Node]:
    """Inspect's own event tree: spans under their parent span, events under their span.
    A span or event can only join a span that began earlier, so the tree has no cycles."""
    begun: dict[Any, _Node] = {}
    roots: list[_Node] = []

    def siblings(span_id: Any) -> list[_Node]:
        return begun[span_id].children if span_id in begun else roots

    for event in events:
        kind = event.get("event")
        if kind == "span_begin":
            node = _Node(event)
            siblings(event.get("parent_id")).append(node)
            begun[event.get("id")] = node
        elif kind == "span_end" and event.get("id") in begun:
            begun[event["id"]].end = event
        elif kind in _MAPPED_EVENTS:
            siblings(event.get("span_id")).append(_Node(event))
    return _merge_tool_spans(roots)


def _merge_tool_spans(nodes: list[_Node]) -> list[_Node]:
    for node in nodes:
        node.children = _merge_tool_spans(node.children)
    claimed: set[int] = set()
    replacements: dict[int, _Node | None] = {}
    for index, node in enumerate(nodes):
        if not _is_tool_span(node):
            continue
        inside = next((child for child in node.children if child.kind == "tool"), None)
        tool = inside or _nearest_tool_event(nodes, index, claimed)
        if tool is None:
            continue
        claimed.add(id(tool))
        tool.children.extend(child for child in node.children if child is not tool)
        tool.end = node.end
        # A tool event inside its span takes the span's place; a sibling one already has a place.
        replacements[id(node)] = inside
    merged = [replacements.get(id(node), node) for node in nodes]
    return [node for node in merged if node is not None]


def _is_tool_span(node: _Node) -> bool:
    return node.kind == "span_begin" and node.event.get("type") == "tool"


def _nearest_tool_event(siblings: list[_Node], index: int, claimed: set[int]) -> _Node | None:
    """The unclaimed `tool` event for the same function closest to the span among its siblings:
    logs of 2025 record the event beside its span (just after it in the list), not inside it."""
    name = siblings[index].event.get("name")
    candidates = [
        (abs(position - index), position)
        for position, node in enumerate(siblings)
        if node.kind == "tool" and id(node) not in claimed and node.event.get("function") == name
    ]
    return siblings[min(candidates)[1]] if candidates else None


def _add_spans(builder: TraceBuilder, nodes: list[_Node], parent_id: str) -> None:
    for node in nodes:
        if node.kind == "model":
            span_id = _add_model_span(builder, node, parent_id)
        elif node.kind == "tool":
            span_id = _add_tool_span(builder, node, parent_id)
        else:
            span_id = _add_inspect_span(builder, node, parent_id)
        _add_spans(builder, node.children, span_id)


def _add_inspect_span(builder: TraceBuilder, node: _Node, parent_id: str) -> str:
    span_type = node.event.get("type")
    return builder.add_span(
        str(node.event.get("name") or span_type or "span"),
        _SPAN_TYPES.get(str(span_type), "CHAIN"),
        parent_id=parent_id,
        start_ns=parse_time_ns(node.event.get("timestamp")),
        end_ns=parse_time_ns(node.end.get("timestamp")) if node.end else None,
        attributes={"inspect.span_type": span_type} if span_type else None,
    )


def _add_model_span(builder: TraceBuilder, node: _Node, parent_id: str) -> str:
    event = node.event
    output = event.get("output") or {}
    attributes: dict[str, Any] = {MODEL: event.get("model")}
    usage = _usage(output.get("usage"))
    if usage:
        attributes[TOKEN_USAGE] = usage
    if event.get("role"):
        attributes["inspect.model_role"] = event["role"]
    inputs: dict[str, Any] = {"messages": event.get("input")}
    if event.get("tools"):
        inputs["tools"] = event["tools"]
    start_ns, end_ns = _call_window(node)
    return builder.add_span(
        str(event.get("model") or "model"),
        "CHAT_MODEL",
        parent_id=parent_id,
        start_ns=start_ns,
        end_ns=end_ns,
        inputs=inputs,
        outputs=output or None,
        attributes=attributes,
        error=_error_message(event.get("error")),
    )


def _add_tool_span(builder: TraceBuilder, node: _Node, parent_id: str) -> str:
    event = node.event
    error = event.get("error")
    start_ns, end_ns = _call_window(node)
    return builder.add_span(
        str(event.get("function") or "tool"),
        "TOOL",
        parent_id=parent_id,
        start_ns=start_ns,
        end_ns=end_ns,
        inputs=event.get("arguments"),
        outputs=event.get("result"),
        attributes={"inspect.tool_call_id": event["id"]} if event.get("id") else None,
        error=_error_message(error),
        exception_type=str(error["type"]) if isinstance(error, dict) and error.get("type") else None,
    )


def _call_window(node: _Node) -> tuple[int | None, int | None]:
    """When a model or tool call started, and when it ended: its `completed` time, else its start
    plus `working_time`; never before the end of the tool span merged into it."""
    start = parse_time_ns(node.event.get("timestamp"))
    completed = parse_time_ns(node.event.get("completed"))
    working = node.event.get("working_time")
    if completed is None and start is not None and isinstance(working, int | float):
        completed = start + round(working * 1_000_000_000)
    span_end = parse_time_ns(node.end.get("timestamp")) if node.end else None
    ends = [end for end in (completed, span_end) if end is not None]
    return start, (max(ends) if ends else None)


def _usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, dict):
        return None
    counts = token_usage(usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens"))
    if counts is None:
        return None
    for inspect_key, mlflow_key in _CACHE_COUNTS.items():
        if isinstance(usage.get(inspect_key), int) and usage[inspect_key] > 0:
            counts[mlflow_key] = usage[inspect_key]
    return counts


def _times(events: list[dict[str, Any]], *keys: str) -> Iterator[int]:
    for event in events:
        for key in keys:
            moment = parse_time_ns(event.get(key))
            if moment is not None:
                yield moment


def _sample_inputs(sample_input: Any) -> dict[str, Any]:
    if isinstance(sample_input, list):
        return {"messages": sample_input}
    return {"input": sample_input}


def _completion_text(output: Any) -> str | None:
    """The text of the model's final answer, as Inspect's `ModelOutput.completion` gives it."""
    if not isinstance(output, dict):
        return None
    choices = output.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        return "\n".join(text for text in texts if isinstance(text, str)) or None
    return content if isinstance(content, str) else None


def _error_message(error: Any) -> str | None:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error) if error else None


def _tags(log: dict[str, Any], sample: dict[str, Any]) -> dict[str, str]:
    header = log["eval"]
    tags = {
        "inspect.task": header.get("task"),
        "inspect.task_id": header.get("task_id"),
        "inspect.run_id": header.get("run_id"),
        "inspect.eval_id": header.get("eval_id"),
        "inspect.model": header.get("model"),
        "inspect.eval_status": log.get("status"),
        "inspect.sample_id": sample.get("id"),
        "inspect.epoch": sample.get("epoch"),
    }
    return {key: str(value) for key, value in tags.items() if value is not None}


def _assessments(sample: dict[str, Any], tree: list[_Node]) -> list[AssessmentRecord]:
    judges = _judge_models(tree)
    scores = sample.get("scores") or {}
    records = [
        _score_feedback(name, score, judges.get(name)) for name, score in scores.items() if isinstance(score, dict)
    ]
    target = sample.get("target")
    # An empty target means the task has none (e.g. open-ended browsing), not an empty answer.
    if target not in (None, "", []):
        records.append(AssessmentRecord("expected_response", target, source_id="inspect_ai.target"))
    return records


def _score_feedback(scorer: str, score: dict[str, Any], judge_model: str | None) -> AssessmentRecord:
    answer = score.get("answer")
    return AssessmentRecord(
        name=scorer,
        value=score.get("value"),
        kind="feedback",
        source_type="LLM_JUDGE" if judge_model else "CODE",
        source_id=judge_model or scorer,
        rationale=score.get("explanation") if isinstance(score.get("explanation"), str) else None,
        metadata={"answer": answer} if isinstance(answer, str) else {},
    )


def _judge_models(tree: list[_Node]) -> dict[str, str]:
    """Scorers that called a model (model graded), by scorer name, with the model they called."""
    judges: dict[str, str] = {}
    for node in _walk(tree):
        if node.kind == "span_begin" and node.event.get("type") == "scorer":
            models = [child.event.get("model") for child in _walk(node.children) if child.kind == "model"]
            if models and models[0]:
                judges[str(node.event.get("name"))] = str(models[0])
    return judges


def _walk(nodes: list[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)
