"""Bulk, lossless writing of complete traces into an MLflow tracking store.

MLflow's fluent tracing API writes one database transaction per span, and its asynchronous
export queue silently drops traces when it overflows. Here a batch of finished traces is written
with one `start_trace` per trace and a single `log_spans` call per batch, which is an order of
magnitude faster on sqlite, and the written ids are read back so a loss is reported, not hidden.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.checks.span_view import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TOKEN_USAGE
from mlflow_eval_mcp.models import FailedWrite

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 1000
_SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
_TRACE_ID_NAMESPACE = uuid.UUID("6f1d2c1e-8a0b-4f5e-9d51-2f4b8f0c7a11")


@dataclass(frozen=True)
class SpanRecord:
    """One finished span. Ids are 16 hex characters; the root span has no parent."""

    span_id: str
    parent_id: str | None
    name: str
    span_type: str
    start_ns: int
    end_ns: int
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    """Status description; a span with an error has status ERROR."""
    exception_type: str | None = None
    """When set, an `exception` event is recorded as MLflow does for a raised exception."""
    events: tuple[dict[str, Any], ...] = ()
    """Other events as MLflow stores them (`name`, `time_unix_nano`, `attributes`): a streamed model
    call's chunks (`mlflow.chunk.item.N`) are the only record of its tool calls and finish reason."""


@dataclass(frozen=True)
class AssessmentRecord:
    """An expectation (ground truth) or feedback (a judgement) attached to the whole trace."""

    name: str
    value: Any
    kind: Literal["expectation", "feedback"] = "expectation"
    source_type: Literal["HUMAN", "LLM_JUDGE", "CODE"] = "HUMAN"
    source_id: str = "import"
    rationale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceRecord:
    """One finished trace; `spans[0]` is the root span."""

    trace_id: str
    spans: list[SpanRecord]
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    client_request_id: str | None = None
    assessments: list[AssessmentRecord] = field(default_factory=list)


class WriteReport(BaseModel):
    """What a bulk write did: `lost` lists ids that were sent but cannot be read back."""

    experiment_id: str
    requested: int
    written: int
    skipped_existing: int
    failed: list[FailedWrite]
    lost: list[str]


def stable_trace_id(key: str) -> str:
    """A trace id derived from `key`, so that writing the same source twice is idempotent."""
    return "tr-" + uuid.uuid5(_TRACE_ID_NAMESPACE, key).hex


def span_id_for(index: int) -> str:
    """The span id for the `index`-th span of a trace (ids only need to be unique per trace)."""
    return f"{index + 1:016x}"


def write_traces(
    tracking_uri: str,
    experiment_id: str,
    records: Iterable[TraceRecord],
    *,
    batch_size: int = 100,
    on_progress: Callable[[int], None] | None = None,
    stored: tuple[set[str], set[str]] | None = None,
) -> WriteReport:
    """Write `records` into `experiment_id`, skipping trace ids that already exist there or came
    earlier in `records`: a trace id is written once, never merged from two records. `stored` is
    the experiment's (complete, partial) trace ids if the caller just read them (a pass over a
    large experiment costs seconds)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    store = client._tracking_client.store
    existing, partial = stored or stored_trace_ids(client, experiment_id)
    requested = skipped = 0
    sent: list[str] = []
    failed: list[FailedWrite] = []
    for batch in _batches(records, batch_size):
        raise_if_cancelled()  # between batches: what is written stays whole, and a re-run adds the rest
        requested += len(batch)
        fresh = _unclaimed(batch, existing)
        skipped += len(batch) - len(fresh)
        # A trace row without spans is what an interrupted earlier write leaves: replace it.
        _delete(client, experiment_id, [record.trace_id for record in fresh if record.trace_id in partial])
        failed += _write_isolating_failures(client, store, experiment_id, fresh)
        failed_ids = {failure.trace_id for failure in failed}
        written_now = [record.trace_id for record in fresh if record.trace_id not in failed_ids]
        existing.update(written_now)
        sent.extend(written_now)
        if on_progress is not None:
            on_progress(requested)
    stored, _ = stored_trace_ids(client, experiment_id)
    lost = [trace_id for trace_id in sent if trace_id not in stored]
    if lost:
        logger.error("%d of %d traces were not stored", len(lost), len(sent))
    return WriteReport(
        experiment_id=experiment_id,
        requested=requested,
        written=len(sent) - len(lost),
        skipped_existing=skipped,
        failed=failed,
        lost=lost,
    )


def stored_trace_ids(client: Any, experiment_id: str) -> tuple[set[str], set[str]]:
    """(complete, partial) trace ids in an experiment: a trace is complete once the store has
    its spans, which MLflow marks with a tag. Spans are not loaded, so this is cheap."""
    complete, partial = stored_traces(client, experiment_id)
    return set(complete), partial


def stored_traces(client: Any, experiment_id: str, tag: str | None = None) -> tuple[dict[str, str | None], set[str]]:
    """As `stored_trace_ids`, with each complete trace's value of tag `tag` (None where unset)."""
    complete: dict[str, str | None] = {}
    partial: set[str] = set()
    page_token = None
    while True:
        page = client.search_traces(
            locations=[experiment_id], max_results=1000, page_token=page_token, include_spans=False
        )
        for trace in page:
            if trace.info.tags.get(_SPANS_LOCATION_TAG) == "TRACKING_STORE":
                complete[trace.info.trace_id] = trace.info.tags.get(tag) if tag else None
            else:
                partial.add(trace.info.trace_id)
        page_token = page.token
        if not page_token:
            return complete, partial


def _unclaimed(batch: list[TraceRecord], existing: set[str]) -> list[TraceRecord]:
    """The records of a batch whose trace id is neither stored nor taken by an earlier record:
    two records with one id would otherwise become one trace mixing the spans of both."""
    fresh: dict[str, TraceRecord] = {}
    for record in batch:
        if record.trace_id not in existing:
            fresh.setdefault(record.trace_id, record)
    return list(fresh.values())


def _batches(records: Iterable[TraceRecord], size: int) -> Iterator[list[TraceRecord]]:
    batch: list[TraceRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_isolating_failures(
    client: Any, store: Any, experiment_id: str, records: list[TraceRecord]
) -> list[FailedWrite]:
    """Write a batch; if it fails, remove what it wrote and retry record by record, so one bad
    record costs only itself and no trace is left without its spans."""
    if not records:
        return []
    try:
        _write_batch(store, experiment_id, records)
        return []
    except Exception as error:  # any store failure: isolate it below
        logger.warning("batch of %d traces failed (%s); retrying one by one", len(records), error)
        _delete(client, experiment_id, [record.trace_id for record in records])
    failed: list[FailedWrite] = []
    for record in records:
        try:
            _write_batch(store, experiment_id, [record])
        except Exception as error:
            _delete(client, experiment_id, [record.trace_id])
            failed.append(FailedWrite(trace_id=record.trace_id, error=f"{type(error).__name__}: {error}"[:500]))
    return failed


def _delete(client: Any, experiment_id: str, trace_ids: list[str]) -> None:
    if trace_ids:
        complete, partial = stored_trace_ids(client, experiment_id)
        present = [trace_id for trace_id in trace_ids if trace_id in complete | partial]
        if present:
            client.delete_traces(experiment_id=experiment_id, trace_ids=present)


def _write_batch(store: Any, experiment_id: str, records: list[TraceRecord]) -> None:
    # start_trace first: inserting a new trace row is the cheap path; log_spans then finds the
    # trace finalized and only adds spans and the token-usage roll-up.
    for record in records:
        store.start_trace(_trace_info(experiment_id, record))
    store.log_spans(experiment_id, [_span(record.trace_id, span) for record in records for span in record.spans])


def _trace_info(experiment_id: str, record: TraceRecord) -> Any:
    from mlflow.entities import TraceInfo, TraceLocation, TraceState

    root = record.spans[0]
    tags = {"mlflow.traceName": root.name, **record.tags}
    metadata = {"mlflow.trace_schema.version": "3", **record.metadata}
    usage = _token_usage(record.spans)
    if usage:
        metadata["mlflow.trace.tokenUsage"] = json.dumps(usage)
    return TraceInfo(
        trace_id=record.trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=root.start_ns // 1_000_000,
        execution_duration=(root.end_ns - root.start_ns) // 1_000_000,
        state=TraceState.ERROR if root.error else TraceState.OK,
        request_preview=_preview(root.inputs),
        response_preview=_preview(root.outputs),
        client_request_id=record.client_request_id,
        trace_metadata=metadata,
        tags=tags,
        assessments=[_assessment(record.trace_id, assessment) for assessment in record.assessments],
    )


def _assessment(trace_id: str, record: AssessmentRecord) -> Any:
    from mlflow.entities import AssessmentSource, Expectation, Feedback

    source = AssessmentSource(source_type=record.source_type, source_id=record.source_id)
    kind = Expectation if record.kind == "expectation" else Feedback
    assessment = kind(
        name=record.name, value=record.value, source=source, trace_id=trace_id, metadata=record.metadata or None
    )
    if record.rationale and isinstance(assessment, Feedback):
        assessment.rationale = record.rationale
    # The store keys assessments by id; a stable id keeps re-imports idempotent.
    assessment.assessment_id = "a-" + uuid.uuid5(_TRACE_ID_NAMESPACE, f"{trace_id}:{record.kind}:{record.name}").hex
    return assessment


def _token_usage(spans: list[SpanRecord]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for span in spans:
        for key, count in _normalized_usage(span.attributes.get(TOKEN_USAGE)).items():
            totals[key] = totals.get(key, 0) + count
    return totals


def _normalized_usage(usage: Any) -> dict[str, int]:
    """Whole-number token counts only: MLflow's store adds them up and fails on "7" or None."""
    if not isinstance(usage, dict):
        return {}
    counts: dict[str, int] = {}
    for key, value in usage.items():
        if isinstance(value, bool):
            continue
        try:
            counts[key] = int(float(value))
        except (TypeError, ValueError):
            continue
    return counts


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text[:PREVIEW_CHARS]


def _span(trace_id: str, span: SpanRecord) -> Any:
    from mlflow.entities import Span

    attributes = {key: json.dumps(value, default=str) for key, value in span.attributes.items()}
    if TOKEN_USAGE in span.attributes:
        attributes[TOKEN_USAGE] = json.dumps(_normalized_usage(span.attributes[TOKEN_USAGE]))
    attributes.update(
        {
            "mlflow.traceRequestId": json.dumps(trace_id),
            SPAN_TYPE: json.dumps(span.span_type),
            SPAN_INPUTS: json.dumps(span.inputs, default=str),
            SPAN_OUTPUTS: json.dumps(span.outputs, default=str),
        }
    )
    events = []
    if span.exception_type:
        events.append(
            {
                "name": "exception",
                "time_unix_nano": span.end_ns,
                "attributes": {
                    "exception.type": span.exception_type,
                    # MLflow's convention: the status says "Type: message", the event only the message.
                    "exception.message": (span.error or "").removeprefix(f"{span.exception_type}: "),
                },
            }
        )
    events.extend(span.events)
    otel_trace_id = trace_id.removeprefix("tr-")
    return Span.from_dict(
        {
            "trace_id": _b64(otel_trace_id),
            "span_id": _b64(span.span_id),
            "parent_span_id": _b64(span.parent_id) if span.parent_id else None,
            "name": span.name,
            "start_time_unix_nano": span.start_ns,
            "end_time_unix_nano": span.end_ns,
            "events": events,
            "status": {
                "code": "STATUS_CODE_ERROR" if span.error else "STATUS_CODE_OK",
                "message": span.error or "",
            },
            "attributes": attributes,
        }
    )


def _b64(hex_id: str) -> str:
    # Span.from_dict reads ids as base64 of the raw bytes (a hex string can look like base64).
    return base64.b64encode(bytes.fromhex(hex_id)).decode()
