"""The naive way to write traces: MLflow's fluent API, span by span, synchronously (its default
asynchronous mode drops traces when its queue overflows). Shared by the benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord


def write_with_fluent_api(tracking_uri: str, records: Sequence[TraceRecord]) -> tuple[float, int]:
    """Seconds taken and traces lost writing `records` one span at a time."""
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("fluent-baseline")
    started = time.perf_counter()
    for record in records:
        _replay(mlflow, record)
    seconds = time.perf_counter() - started
    stored = len(mlflow.search_traces(return_type="list", include_spans=False))
    return seconds, len(records) - stored


def _replay(mlflow: object, record: TraceRecord) -> None:
    children: dict[str | None, list[SpanRecord]] = {}
    for span in record.spans:
        children.setdefault(span.parent_id, []).append(span)

    def emit(span: SpanRecord) -> None:
        with mlflow.start_span(span.name, span_type=span.span_type, attributes=span.attributes) as live:  # type: ignore[attr-defined]
            live.set_inputs(span.inputs)
            for child in children.get(span.span_id, []):
                emit(child)
            live.set_outputs(span.outputs)

    emit(record.spans[0])
