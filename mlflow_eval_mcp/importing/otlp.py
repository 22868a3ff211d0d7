"""OpenTelemetry traces as OTLP JSON: `{"resourceSpans": [...]}` export documents.

Both JSON spellings are read: the OTLP/JSON protocol's (hex ids, enums as numbers) and protobuf's
`MessageToJson`/`MessageToDict` (base64 ids, enum names, camelCase or proto field names). One
document may hold spans of several traces; each OTel trace becomes one MLflow trace. Span types,
inputs, outputs, token usage and models come from OpenInference or OTel GenAI attributes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import SYNTHETIC_ROOT, TraceBuilder, decode_id_hex, decode_json_text, token_usage
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import TraceRecord

_OPENINFERENCE_KINDS = {
    "LLM": "LLM",
    "CHAIN": "CHAIN",
    "TOOL": "TOOL",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "AGENT": "AGENT",
    "RERANKER": "RERANKER",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
}
# As MLflow's own GenAI translator maps them, so a file import and an OTLP push agree.
_GENAI_OPERATIONS = {
    "chat": "CHAT_MODEL",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "embeddings": "EMBEDDING",
}
# Only model calls carry token usage: GenAI agent spans repeat their children's counts as a
# roll-up, and the trace total sums every span that has usage.
_MODEL_CALLS = {"LLM", "CHAT_MODEL", "EMBEDDING"}
_INPUT_KEYS = ("input.value", "gen_ai.input.messages", "gen_ai.tool.call.arguments", "gen_ai.prompt")
_OUTPUT_KEYS = ("output.value", "gen_ai.output.messages", "gen_ai.tool.call.result", "gen_ai.completion")
_INPUT_TOKENS = ("llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
_OUTPUT_TOKENS = ("llm.token_count.completion", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
_TOTAL_TOKENS = ("llm.token_count.total", "gen_ai.usage.total_tokens")
_MODEL_KEYS = ("llm.model_name", "gen_ai.response.model", "gen_ai.request.model", "embedding.model_name")
_SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR", "ERROR")
_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class _Malformed(Exception):
    """A span or trace that cannot be converted; the message says why."""


@dataclass
class _Span:
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int | None
    end_ns: int | None
    kind: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    error_status: bool
    status_message: str
    scope: str | None
    resource: dict[str, Any]


@dataclass
class _Trace:
    spans: list[_Span] = field(default_factory=list)
    problem: str | None = None


def _detect(value: Any) -> bool:
    return _is_export(value) or _is_bare_span(value)


def _is_export(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(_get(value, "resourceSpans"), list)


def _is_bare_span(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _get(value, "traceId") is not None
        and _get(value, "spanId") is not None
        and _get(value, "startTimeUnixNano") is not None
    )


def _parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    # The importer hands over the whole file at once (whole_file=True): exporters write one line
    # per batch, and one trace's spans can be spread over several batches.
    if not any(_detect(document) for document in _documents(record)):
        yield Skipped(record.ref, "not an OTLP export: no resourceSpans list and no spans")
        return
    try:
        traces, skipped = _group_by_trace(record)
    except _Malformed as error:
        yield Skipped(record.ref, str(error))
        return
    yield from skipped
    for trace_id, trace in traces.items():
        ref = f"{record.ref} trace {trace_id}"
        try:
            if trace.problem:
                raise _Malformed(trace.problem)
            yield ImportedTrace(trace_id, _build(context.builder(trace_id), trace_id, trace.spans))
        except _Malformed as error:
            yield Skipped(ref, str(error))


def _get(mapping: dict[str, Any], camel: str) -> Any:
    """A field by its OTLP/JSON (camelCase) name, or by its proto field name (snake_case)."""
    if camel in mapping:
        return mapping[camel]
    return mapping.get(_CAMEL.sub("_", camel).lower())


def _documents(record: SourceRecord) -> list[Any]:
    return record.value if isinstance(record.value, list) else [record.value]


def _group_by_trace(record: SourceRecord) -> tuple[dict[str, _Trace], list[Skipped]]:
    traces: dict[str, _Trace] = defaultdict(_Trace)
    skipped: list[Skipped] = []
    spans: list[tuple[dict[str, Any], str | None, dict[str, Any]]] = []
    for number, document in enumerate(_documents(record)):
        if _is_export(document):
            spans.extend(_raw_spans(document))
        elif _is_bare_span(document):
            spans.append((document, None, {}))
        else:
            skipped.append(Skipped(f"{record.ref} record {number}", "neither an OTLP export nor an OTLP span"))
    for index, (raw, scope, resource) in enumerate(spans):
        trace_id = decode_id_hex(_get(raw, "traceId"), _TRACE_ID_BYTES)
        if trace_id is None:
            skipped.append(Skipped(f"{record.ref} span {index}", "the span has no valid traceId"))
            continue
        try:
            traces[trace_id].spans.append(_span(raw, scope, resource))
        except _Malformed as error:
            traces[trace_id].problem = traces[trace_id].problem or f"span {index}: {error}"
    return traces, skipped


def _raw_spans(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str | None, dict[str, Any]]]:
    for resource_spans in _objects(_get(document, "resourceSpans")):
        resource = _attributes(_get(_dict(resource_spans.get("resource")), "attributes"))
        # Exporters before OTLP 0.15 called scope spans "instrumentation library spans".
        scopes = _get(resource_spans, "scopeSpans") or _get(resource_spans, "instrumentationLibrarySpans")
        for scope_spans in _objects(scopes):
            scope = _dict(scope_spans.get("scope") or _get(scope_spans, "instrumentationLibrary"))
            scope_name = scope.get("name")
            for raw in _objects(scope_spans.get("spans")):
                yield raw, scope_name, resource


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _span(raw: dict[str, Any], scope: str | None, resource: dict[str, Any]) -> _Span:
    span_id = decode_id_hex(_get(raw, "spanId"), _SPAN_ID_BYTES)
    if span_id is None:
        raise _Malformed("the span has no valid spanId")
    raw_parent = _get(raw, "parentSpanId")
    parent_id = decode_id_hex(raw_parent, _SPAN_ID_BYTES) if raw_parent else None
    if raw_parent and parent_id is None:
        raise _Malformed(f"span {span_id} has an unreadable parentSpanId {raw_parent!r}")
    status = _dict(raw.get("status"))
    try:
        return _Span(
            span_id=span_id,
            # An all-zero id is OTel's "no parent".
            parent_id=parent_id if parent_id and parent_id.strip("0") else None,
            name=str(raw.get("name") or "unnamed"),
            start_ns=_nanos(_get(raw, "startTimeUnixNano")),
            end_ns=_nanos(_get(raw, "endTimeUnixNano")),
            kind=_span_kind(raw.get("kind")),
            attributes=_attributes(raw.get("attributes")),
            events=[_event(event) for event in _objects(raw.get("events"))],
            error_status=status.get("code") in _ERROR_CODES,
            status_message=str(status.get("message") or ""),
            scope=scope,
            resource=resource,
        )
    except (TypeError, ValueError) as error:
        raise _Malformed(f"span {span_id} has an unreadable field ({error})") from error


def _nanos(value: Any) -> int | None:
    # 64-bit integers are strings in protobuf JSON; zero means "not set".
    if value in (None, ""):
        return None
    return int(value) or None


def _span_kind(value: Any) -> str:
    if isinstance(value, int):
        return _SPAN_KINDS.get(value, str(value))
    return str(value or "UNSPECIFIED").removeprefix("SPAN_KIND_")


def _attributes(items: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for item in _objects(items):
        key = item.get("key")
        if isinstance(key, str):
            try:
                attributes[key] = _any_value(item.get("value"))
            except (TypeError, ValueError) as error:
                raise _Malformed(f"attribute {key!r} has an unreadable value ({error})") from error
    return attributes


def _any_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if (text := _get(value, "stringValue")) is not None:
        return text
    if (flag := _get(value, "boolValue")) is not None:
        return flag
    if (number := _get(value, "intValue")) is not None:
        return int(number)
    if (number := _get(value, "doubleValue")) is not None:
        return float(number)
    if (array := _get(value, "arrayValue")) is not None:
        return [_any_value(item) for item in _dict(array).get("values") or []]
    if (kvlist := _get(value, "kvlistValue")) is not None:
        return _attributes(_dict(kvlist).get("values"))
    # Bytes stay as their base64 text; an empty value is an attribute set to nothing.
    return _get(value, "bytesValue")


def _event(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw.get("name"),
        "time_unix_nano": _nanos(_get(raw, "timeUnixNano")),
        "attributes": _attributes(raw.get("attributes")),
    }


def _build(builder: TraceBuilder, trace_id: str, spans: list[_Span]) -> TraceRecord:
    known = {span.span_id for span in spans}
    if len(known) < len(spans):
        raise _Malformed("a span id occurs twice")
    top = [span for span in spans if span.parent_id not in known]
    root = _root(top)
    ordered = _tree_order(spans, top, root)
    resource = {"otel.resource": ordered[0].resource} if ordered[0].resource else {}
    if root is None:
        _add_synthetic_root(builder, top, resource)
    span_ids: dict[str, str] = {}
    for span in ordered:
        parent = span_ids.get(span.parent_id) if span.parent_id else None
        root_extra = resource if span is root else {}
        span_ids[span.span_id] = _add_span(builder, span, parent, known, root_extra)
    return builder.build(tags=_tags(trace_id, ordered[0]), metadata=_metadata(ordered))


def _root(top: list[_Span]) -> _Span | None:
    """The span the others hang under: the only top-level span, or the only one without a parent
    (spans whose parent was not exported then join it); None when a synthetic root is needed."""
    if len(top) == 1:
        return top[0]
    parentless = [span for span in top if span.parent_id is None]
    return parentless[0] if len(parentless) == 1 else None


def _tree_order(spans: list[_Span], top: list[_Span], root: _Span | None) -> list[_Span]:
    """Spans depth first, siblings by start time, so every parent precedes its children."""
    top_ids = {span.span_id for span in top}
    children: dict[str | None, list[_Span]] = defaultdict(list)
    for span in spans:
        if span.span_id not in top_ids:
            children[span.parent_id].append(span)
    if root is not None:
        children[root.span_id].extend(span for span in top if span is not root)
        top = [root]
    ordered: list[_Span] = []
    stack = list(reversed(_by_start(top)))
    while stack:
        span = stack.pop()
        ordered.append(span)
        stack.extend(reversed(_by_start(children[span.span_id])))
    if len(ordered) < len(spans):
        # Every span left out has a present parent but no path to a top-level span.
        reached = {span.span_id for span in ordered}
        cycle = sorted(span.span_id for span in spans if span.span_id not in reached)
        raise _Malformed(f"spans {', '.join(cycle[:5])} form a parent cycle")
    return ordered


def _by_start(spans: list[_Span]) -> list[_Span]:
    # A stable sort: spans without a start, and ties, keep their order in the file.
    return sorted(spans, key=lambda span: (span.start_ns is None, span.start_ns or 0))


def _add_synthetic_root(builder: TraceBuilder, top: list[_Span], resource: dict[str, Any]) -> None:
    starts = [span.start_ns for span in top if span.start_ns is not None]
    builder.add_span(
        str(top[0].resource.get("service.name") or "trace"),
        "AGENT",
        start_ns=min(starts) if starts else None,
        attributes={SYNTHETIC_ROOT: True, **resource},
    )


def _add_span(
    builder: TraceBuilder, span: _Span, parent_id: str | None, known: set[str], root_extra: dict[str, Any]
) -> str:
    attributes = dict(span.attributes)
    span_type = _span_type(attributes)
    # Payloads move to inputs/outputs rather than being stored twice; every other attribute stays.
    inputs = _take_payload(attributes, _INPUT_KEYS, "gen_ai.prompt.", "input.mime_type")
    outputs = _take_payload(attributes, _OUTPUT_KEYS, "gen_ai.completion.", "output.mime_type")
    exception = next((event for event in span.events if event["name"] == "exception"), None)
    error, exception_type = _error(span, exception)
    extra: dict[str, Any] = {"otel.span_id": span.span_id, "otel.span_kind": span.kind, **root_extra}
    optional = {
        "otel.scope.name": span.scope,
        # The parent was not exported; the span hangs under the root instead, and keeps its id.
        "otel.parent_span_id": span.parent_id if span.parent_id and span.parent_id not in known else None,
        MODEL: _first(attributes, _MODEL_KEYS),
        TOKEN_USAGE: _usage(attributes) if span_type in _MODEL_CALLS else None,
        "exception.stacktrace": exception["attributes"].get("exception.stacktrace") if exception_type else None,
        "otel.events": [event for event in span.events if not (exception_type and event is exception)],
    }
    extra.update({key: value for key, value in optional.items() if value not in (None, "", [])})
    return builder.add_span(
        span.name,
        span_type,
        parent_id=parent_id,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        inputs=inputs,
        outputs=outputs,
        attributes=attributes | extra,
        error=error,
        exception_type=exception_type,
    )


def _span_type(attributes: dict[str, Any]) -> str:
    kind = str(attributes.get("openinference.span.kind", "")).upper()
    if kind in _OPENINFERENCE_KINDS:
        # OpenInference has one LLM kind for chat and completion calls; chat messages tell a chat
        # model, as GenAI's "chat" operation does.
        if kind == "LLM" and any(key.startswith("llm.input_messages.") for key in attributes):
            return "CHAT_MODEL"
        return _OPENINFERENCE_KINDS[kind]
    return _GENAI_OPERATIONS.get(str(attributes.get("gen_ai.operation.name")), "UNKNOWN")


def _take_payload(attributes: dict[str, Any], keys: tuple[str, ...], indexed_prefix: str, mime_key: str) -> Any:
    for key in keys:
        if key in attributes:
            value = attributes.pop(key)
            return value if attributes.get(mime_key) == "text/plain" else decode_json_text(value)
    # Older GenAI instrumentations flatten messages: gen_ai.prompt.0.role, gen_ai.prompt.0.content.
    pattern = re.compile(re.escape(indexed_prefix) + r"(\d+)\.(.+)")
    messages: dict[int, dict[str, Any]] = defaultdict(dict)
    for key in [key for key in attributes if key.startswith(indexed_prefix)]:
        if match := pattern.fullmatch(key):
            messages[int(match[1])][match[2]] = attributes.pop(key)
    return [messages[index] for index in sorted(messages)] or None


def _error(span: _Span, exception: dict[str, Any] | None) -> tuple[str | None, str | None]:
    if not span.error_status:
        return None, None
    details = exception["attributes"] if exception else {}
    exception_type = str(details["exception.type"]) if details.get("exception.type") else None
    message = span.status_message
    if not message and exception_type:
        message = f"{exception_type}: {details.get('exception.message', '')}"
    return message or "error status without a message", exception_type


def _usage(attributes: dict[str, Any]) -> dict[str, int] | None:
    return token_usage(
        _first(attributes, _INPUT_TOKENS), _first(attributes, _OUTPUT_TOKENS), _first(attributes, _TOTAL_TOKENS)
    )


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attributes[key] for key in keys if attributes.get(key) not in (None, "")), None)


def _tags(trace_id: str, root: _Span) -> dict[str, str]:
    tags = {"otel.trace_id": trace_id}
    if root.resource.get("service.name"):
        tags["otel.service.name"] = str(root.resource["service.name"])
    return tags


def _metadata(spans: list[_Span]) -> dict[str, str]:
    """User and session as MLflow keeps them, from the first span (root first) that names one."""
    keys = {"mlflow.trace.user": ("user.id",), "mlflow.trace.session": ("session.id", "gen_ai.conversation.id")}
    metadata: dict[str, str] = {}
    for target, sources in keys.items():
        values = (_first(span.attributes, sources) for span in spans)
        if (value := next((value for value in values if value is not None), None)) is not None:
            metadata[target] = str(value)
    return metadata


FORMAT = TraceFormat(
    name="otlp",
    description='OpenTelemetry OTLP JSON trace exports: {"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}',
    detect=_detect,
    parse=_parse,
    whole_file=True,
)
