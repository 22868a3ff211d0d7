"""Exported MLflow traces (`Trace.to_dict()` / `Trace.to_json()`, V3 and V2 shapes).

Spans are re-created from their parts rather than through MLflow's entities, because the writer
assigns fresh span ids and a fresh trace id. Exports shared publicly often have every id
redacted; then the span tree is rebuilt from time containment, and the trace says so in a tag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from mlflow_eval_mcp.checks.json_text import from_json
from mlflow_eval_mcp.checks.span_view import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE
from mlflow_eval_mcp.importing.builder import TraceBuilder, content_id, decode_id_hex
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord, TraceRecord

STRUCTURE_TAG = "mlflow_eval_mcp.import.structure"
_REQUEST_ID = "mlflow.traceRequestId"
_FIELD_ATTRIBUTES = {_REQUEST_ID, SPAN_TYPE, SPAN_INPUTS, SPAN_OUTPUTS}
# Set by the store for the trace it writes; the exported values describe the original store
# (an artifact path there, a span count that a partial import would not match).
_STORE_TAGS = {"mlflow.artifactLocation", "mlflow.trace.spansLocation"}
_STORE_METADATA = {
    "mlflow.trace.sizeStats",
    "mlflow.trace.sizeBytes",
    "mlflow.trace.infoFinalized",
    "mlflow.trace_schema.version",
}
_REAL_TRACE_ID = re.compile(r"tr-[0-9a-f]{32}|[0-9a-f]{32}|trace:/[\w.\-/]+")
SourceType = Literal["HUMAN", "LLM_JUDGE", "CODE"]
# AI_JUDGE is MLflow's deprecated name for LLM_JUDGE; anything else (UNSPECIFIED) counts as human.
_SOURCE_TYPES: dict[str, SourceType] = {
    "HUMAN": "HUMAN",
    "LLM_JUDGE": "LLM_JUDGE",
    "AI_JUDGE": "LLM_JUDGE",
    "CODE": "CODE",
}
_ERROR_WITHOUT_DESCRIPTION = "ERROR"
_TRACE_STATE_ERROR = "the exported trace's state was ERROR"


@dataclass(frozen=True)
class _Place:
    """What the span tree is rebuilt from: a span's ids as the export wrote them, and its times."""

    span_id: bytes | None
    parent_ref: Any
    """The raw parent id: None/"" for a root, else an id that may or may not decode."""
    start_ns: int | None
    end_ns: int | None


class _MalformedTrace(ValueError):
    """The record looks like an MLflow export but cannot be converted."""


def detect(value: Any) -> bool:
    trace = _as_trace_dict(value)
    return trace is not None and isinstance(trace["data"].get("spans"), list)


def parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    trace = _as_trace_dict(record.value)
    if trace is None:
        yield Skipped(record.ref, "not an exported MLflow trace (expected an object with 'info' and 'data')")
        return
    try:
        spans = _exported_spans(trace["data"].get("spans"))
    except _MalformedTrace as error:
        yield Skipped(record.ref, str(error))
        return
    info = trace["info"]
    source_id = _source_id(info, trace)
    yield ImportedTrace(source_id, _build(context, source_id, info, spans))


FORMAT = TraceFormat(
    name="mlflow",
    description="exported MLflow traces: Trace.to_dict() objects {info, data: {spans}}, as a JSON list or JSON lines",
    detect=detect,
    parse=parse,
)


def _as_trace_dict(value: Any) -> dict[str, Any] | None:
    # A JSON-lines file of `Trace.to_json()` strings that were themselves JSON-encoded.
    value = from_json(value)
    if isinstance(value, dict) and isinstance(value.get("info"), dict) and isinstance(value.get("data"), dict):
        return value
    return None


def _source_id(info: dict[str, Any], trace: dict[str, Any]) -> str:
    trace_id = info.get("trace_id") or info.get("request_id")
    if isinstance(trace_id, str) and _REAL_TRACE_ID.fullmatch(trace_id):
        return trace_id
    return content_id(trace)  # redacted or missing ids


def _build(context: ParseContext, source_id: str, info: dict[str, Any], spans: list[dict[str, Any]]) -> TraceRecord:
    places = [_place(span) for span in spans]
    placement = _placement_from_ids(places)
    tags = _strings(info.get("tags"), _STORE_TAGS)
    if placement is None:
        placement = _placement_from_times(places)
        tags[STRUCTURE_TAG] = "inferred"
    builder = context.builder(source_id)
    new_ids: dict[int, str] = {}
    for index, parent in placement:
        parent_id = None if parent is None else new_ids[parent]
        new_ids[index] = _add_span(builder, spans[index], places[index], parent_id)
    root = placement[0][0]
    if _state(info) == "ERROR" and _status(spans[root])[0] is None:
        builder.set_error(new_ids[root], _TRACE_STATE_ERROR)
    client_request_id = info.get("client_request_id")
    return builder.build(
        tags=tags,
        metadata=_strings(info.get("trace_metadata", info.get("request_metadata")), _STORE_METADATA),
        client_request_id=client_request_id if isinstance(client_request_id, str) else None,
        assessments=_assessments(info.get("assessments")),
    )


def _state(info: dict[str, Any]) -> str:
    return str(info.get("state") or info.get("status") or "").upper()


def _strings(values: Any, dropped: set[str]) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {str(key): _text(value) for key, value in values.items() if key not in dropped}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


# --- spans ---------------------------------------------------------------------------------


def _exported_spans(raw_spans: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_spans, list):
        raise _MalformedTrace("'data.spans' is not a list")
    if not raw_spans:
        raise _MalformedTrace("the trace has no spans (exported without span data?)")
    spans = []
    for position, raw in enumerate(raw_spans):
        if not isinstance(raw, dict):
            raise _MalformedTrace(f"span is not an object (span {position})")
        spans.append(raw)
    return spans


def _place(raw: dict[str, Any]) -> _Place:
    # V3 keeps ids at the top level; V2 nests the span id in `context` and calls the parent `parent_id`.
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    return _Place(
        span_id=_id_bytes(raw.get("span_id", context.get("span_id"))),
        parent_ref=raw.get("parent_span_id", raw.get("parent_id")),
        start_ns=_nanos(raw.get("start_time_unix_nano", raw.get("start_time"))),
        end_ns=_nanos(raw.get("end_time_unix_nano", raw.get("end_time"))),
    )


def _add_span(builder: TraceBuilder, raw: dict[str, Any], place: _Place, parent_id: str | None) -> str:
    attributes = raw.get("attributes") if isinstance(raw.get("attributes"), dict) else {}
    decoded = {str(key): from_json(value) for key, value in attributes.items()}
    error, exception_type = _status(raw)
    span_type = decoded.get(SPAN_TYPE)
    return builder.add_span(
        str(raw.get("name") or ""),
        span_type if isinstance(span_type, str) and span_type else "UNKNOWN",
        parent_id=parent_id,
        start_ns=place.start_ns,
        end_ns=place.end_ns,
        inputs=decoded.get(SPAN_INPUTS),
        outputs=decoded.get(SPAN_OUTPUTS),
        attributes={key: value for key, value in decoded.items() if key not in _FIELD_ATTRIBUTES},
        error=error,
        exception_type=exception_type,
        events=_other_events(raw.get("events")),
    )


def _other_events(events: Any) -> tuple[dict[str, Any], ...]:
    """The span's events other than `exception` (which the status and exception type carry)."""
    if not isinstance(events, list):
        return ()
    return tuple(
        {
            "name": str(event.get("name") or ""),
            "time_unix_nano": event["time_unix_nano"] if isinstance(event.get("time_unix_nano"), int) else 0,
            "attributes": event["attributes"] if isinstance(event.get("attributes"), dict) else {},
        }
        for event in events
        if isinstance(event, dict) and event.get("name") != "exception"
    )


def _nanos(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _status(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """The span's error description and exception type, or (None, None) when it did not fail."""
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    code = str(status.get("code", raw.get("status_code")) or "")
    if not code.upper().endswith("ERROR"):
        return None, None
    description = status.get("message", raw.get("status_message"))
    exception = _exception_event(raw.get("events"))
    if exception is None:
        return description or _ERROR_WITHOUT_DESCRIPTION, None
    exception_type, message = exception
    # The writer keeps MLflow's convention "Type: message" in the status and only the message in
    # the event, so an empty description is rebuilt that way rather than losing the message.
    return description or f"{exception_type}: {message}", exception_type


def _exception_event(events: Any) -> tuple[str, str] | None:
    if not isinstance(events, list):
        return None
    for event in events:
        if isinstance(event, dict) and event.get("name") == "exception":
            attributes = event.get("attributes") if isinstance(event.get("attributes"), dict) else {}
            return str(attributes.get("exception.type") or "Exception"), str(attributes.get("exception.message") or "")
    return None


def _id_bytes(value: Any) -> bytes | None:
    """A span id as raw bytes: V2 writes "0x" + hex, 3.5.0 bare hex, later V3 base64."""
    hex_id = decode_id_hex(value, 8)
    return bytes.fromhex(hex_id) if hex_id else None


# --- structure -------------------------------------------------------------------------------

Placement = list[tuple[int, int | None]]
"""Span indexes in insertion order (parents first), each with its parent's index."""


def _placement_from_ids(spans: list[_Place]) -> Placement | None:
    """The tree the ids describe, or None when they cannot describe one (missing, duplicated,
    undecodable, or cyclic). Spans whose parent is not in the export hang under the root."""
    ids = [span.span_id for span in spans]
    if None in ids or len(set(ids)) != len(ids):
        return None
    index_of = {span_id: index for index, span_id in enumerate(ids)}
    children: dict[int | None, list[int]] = {}
    for index, span in enumerate(spans):
        if span.parent_ref:
            parent_id = _id_bytes(span.parent_ref)
            if parent_id is None:
                return None
            parent = index_of.get(parent_id)
        else:
            parent = None
        children.setdefault(parent, []).append(index)
    tops = children.get(None, [])
    if not tops:
        return None
    root = min(tops, key=lambda index: _containment_key(spans, index))
    placement: Placement = [(root, None)]
    for top in tops:
        if top != root:
            placement.append((top, root))
    _add_descendants(children, [index for index, _ in placement], placement)
    return placement if len(placement) == len(spans) else None


def _add_descendants(children: dict[int | None, list[int]], pending: list[int], placement: Placement) -> None:
    while pending:
        parent = pending.pop()
        for child in children.get(parent, []):
            placement.append((child, parent))
            pending.append(child)


def _placement_from_times(spans: list[_Place]) -> Placement:
    """Parents by time containment: the earliest, longest span is the root, and each other span
    hangs under the tightest span whose window contains its own (else under the root)."""
    order = sorted(range(len(spans)), key=lambda index: _containment_key(spans, index))
    root = order[0]
    placement: Placement = [(root, None)]
    # Sorted by start, longest first, so the windows still open form a stack of nested spans and
    # the top one that contains a span is its tightest container. Partly overlapping windows
    # (concurrent work) are not nested; they fall back to the nearest enclosing open span.
    open_spans = [root]
    for index in order[1:]:
        while len(open_spans) > 1 and not _contains(spans[open_spans[-1]], spans[index]):
            open_spans.pop()
        placement.append((index, open_spans[-1]))
        open_spans.append(index)
    return placement


def _containment_key(spans: list[_Place], index: int) -> tuple[bool, int, int, int]:
    span = spans[index]
    start = span.start_ns or 0
    end = span.end_ns if span.end_ns is not None else start
    return (span.start_ns is None, start, start - end, index)


def _contains(outer: _Place, inner: _Place) -> bool:
    if outer.start_ns is None or outer.end_ns is None or inner.start_ns is None or inner.end_ns is None:
        return False
    return outer.start_ns <= inner.start_ns and inner.end_ns <= outer.end_ns


# --- assessments ---------------------------------------------------------------------------


def _assessments(raw: Any) -> list[AssessmentRecord]:
    if not isinstance(raw, list):
        return []
    # The writer keys an assessment by trace, kind and name, so only one per kind and name can be
    # written; the export lists them oldest first, and the latest judgement is the one that stands.
    latest: dict[tuple[str, str], AssessmentRecord] = {}
    for item in raw:
        record = _assessment(item)
        if record is not None:
            latest[(record.kind, record.name)] = record
    return list(latest.values())


def _assessment(raw: Any) -> AssessmentRecord | None:
    """One feedback or expectation; None for overridden ones, issue links, and failed judge calls
    (an error without a value is no judgement)."""
    if not isinstance(raw, dict) or raw.get("valid") is False:
        return None
    kind: Literal["expectation", "feedback"] = "feedback" if isinstance(raw.get("feedback"), dict) else "expectation"
    payload = raw.get(kind)
    name = raw.get("assessment_name") or raw.get("name")
    if not isinstance(payload, dict) or not isinstance(name, str):
        return None
    value = _assessment_value(payload)
    if value is None:
        return None
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    rationale = raw.get("rationale")
    return AssessmentRecord(
        name=name,
        value=value,
        kind=kind,
        source_type=_SOURCE_TYPES.get(str(source.get("source_type", "")).upper(), "HUMAN"),
        source_id=str(source.get("source_id") or "import"),
        rationale=rationale if isinstance(rationale, str) else None,
        metadata=_strings(raw.get("metadata"), set()),
    )


def _assessment_value(payload: dict[str, Any]) -> Any:
    if "value" in payload:
        return payload["value"]
    # Expectations holding objects are exported as a JSON string under `serialized_value`.
    serialized = payload.get("serialized_value")
    return from_json(serialized.get("value")) if isinstance(serialized, dict) else None
