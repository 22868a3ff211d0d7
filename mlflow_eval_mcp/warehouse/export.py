"""An MLflow experiment's traces written as an OTel v2 span table: the table Databricks keeps traces in
(`<catalog>.<schema>.<prefix>_otel_spans`), as Parquet (or Delta) in a directory, so that the SQL analysis can
be used, tested and benchmarked on a laptop.

Each span's row holds what MLflow itself sends to that table (`Span.to_otel_proto()`, decoded attributes in the
`attributes` VARIANT); the root also carries the trace's user and session as `user.id` and `session.id`, as
MLflow's Unity Catalog span processor sets them."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.checks.dialogue import session_of
from mlflow_eval_mcp.checks.json_text import from_json
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.limits import MAX_TRACES_LIMIT
from mlflow_eval_mcp.traces import iter_trace_pages
from mlflow_eval_mcp.tracking import resolve_experiment
from mlflow_eval_mcp.warehouse.models import SpanTableExport
from mlflow_eval_mcp.warehouse.sql_runner import SPANS_SUFFIX

if TYPE_CHECKING:
    from mlflow.entities import Span, Trace
    from mlflow.tracking import MlflowClient
    from pyspark.sql import SparkSession

ROWS_PER_WRITE = 50_000
"""Spans handed to Spark at once: the export's memory stays flat however large the experiment."""
USER_ATTRIBUTE = "user.id"
SESSION_ATTRIBUTE = "session.id"
_ROW_SCHEMA = (
    "record_id STRING, time TIMESTAMP, date DATE, service_name STRING, trace_id STRING, span_id STRING, "
    "trace_state STRING, parent_span_id STRING, flags INT, name STRING, kind STRING, start_time_unix_nano BIGINT, "
    "end_time_unix_nano BIGINT, attributes_json STRING, "
    "events_raw ARRAY<STRUCT<time_unix_nano: BIGINT, name: STRING, attributes_json: STRING>>, "
    "status STRUCT<message: STRING, code: STRING>, resource_json STRING"
)
# The Databricks v2 span table's columns, in its order, from the rows above.
_TABLE_COLUMNS = (
    "record_id",
    "time",
    "date",
    "service_name",
    "trace_id",
    "span_id",
    "trace_state",
    "parent_span_id",
    "flags",
    "name",
    "kind",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "parse_json(attributes_json) AS attributes",
    "0 AS dropped_attributes_count",
    "transform(events_raw, e -> named_struct('time_unix_nano', e.time_unix_nano, 'name', e.name, "
    "'attributes', parse_json(e.attributes_json), 'dropped_attributes_count', 0)) AS events",
    "0 AS dropped_events_count",
    "CAST(array() AS ARRAY<STRUCT<trace_id: STRING, span_id: STRING, trace_state: STRING, attributes: VARIANT, "
    "dropped_attributes_count: INT, flags: INT>>) AS links",
    "0 AS dropped_links_count",
    "status",
    "named_struct('attributes', parse_json(resource_json), 'dropped_attributes_count', 0) AS resource",
    "CAST(NULL AS STRING) AS resource_schema_url",
    "named_struct('name', 'mlflow', 'version', CAST(NULL AS STRING), 'attributes', parse_json('{}'), "
    "'dropped_attributes_count', 0) AS instrumentation_scope",
    "CAST(NULL AS STRING) AS span_schema_url",
)


def export_span_table(
    client: MlflowClient,
    out_dir: Path,
    *,
    prefix: str,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_traces: int = MAX_TRACES_LIMIT,
    table_format: Literal["parquet", "delta"] = "parquet",
    spark: SparkSession | None = None,
) -> SpanTableExport:
    """Write the experiment's newest `max_traces` traces to `out_dir/<prefix>_otel_spans`. The table appears
    whole or not at all (written beside it, then moved into place), and writing it again replaces it."""
    if not prefix.replace("_", "").isalnum():
        raise InvalidArgumentError(f"The table prefix must be letters, digits and underscores (got {prefix!r}).")
    from mlflow_eval_mcp.warehouse.spark_runner import local_spark

    session = spark or local_spark()
    experiment = resolve_experiment(client, experiment_id, experiment_name)
    target = out_dir / f"{prefix}{SPANS_SUFFIX}"
    staging = out_dir / f".{target.name}.{uuid.uuid4().hex}"
    out_dir.mkdir(parents=True, exist_ok=True)
    traces = spans = 0
    try:
        batch: list[tuple[Any, ...]] = []
        for trace in _traces(client, experiment.experiment_id, filter_string, max_traces):
            rows = span_rows(trace)
            traces += 1
            spans += len(rows)
            batch.extend(rows)
            if len(batch) >= ROWS_PER_WRITE:
                _write(session, batch, staging, table_format)
                batch = []
        if batch or not spans:
            _write(session, batch, staging, table_format)
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SpanTableExport(
        path=str(target),
        table_format=table_format,
        traces=traces,
        spans=spans,
        experiment_id=experiment.experiment_id,
        message=f"Wrote {traces:,} traces ({spans:,} spans) as an OTel v2 span table ({table_format}) to {target}.",
    )


def span_rows(trace: Trace) -> list[tuple[Any, ...]]:
    """One row per span of `trace`, in `_ROW_SCHEMA`'s order."""
    metadata = trace.info.trace_metadata or {}
    pairs = ((USER_ATTRIBUTE, metadata.get("mlflow.trace.user")), (SESSION_ATTRIBUTE, session_of(metadata)))
    root_extra = {key: value for key, value in pairs if value}
    return [_row(span, root_extra if span.parent_id is None else {}) for span in trace.data.spans]


def _row(span: Span, extra: dict[str, str]) -> tuple[Any, ...]:
    # The stored dict, not `to_otel_proto()`: that refuses an attribute holding an integer beyond 64 bits, which
    # real traces have (a LangChain run's UUID as a number).
    stored = span.to_dict()
    trace_hex, span_hex = _hex(stored["trace_id"]), _hex(stored["span_id"])
    started = datetime.fromtimestamp(span.start_time_ns / 1e9, tz=UTC)
    status = stored.get("status") or {}
    attributes = {key: from_json(value) for key, value in (stored.get("attributes") or {}).items()}
    events = [
        (event.get("time_unix_nano"), event.get("name"), _json(event.get("attributes") or {}))
        for event in stored.get("events") or []
    ]
    return (
        f"{trace_hex}-{span_hex}",
        started,
        started.date(),
        "mlflow",
        trace_hex,
        span_hex,
        "",
        _hex(stored.get("parent_span_id")),
        0,
        span.name,
        "SPAN_KIND_INTERNAL",
        span.start_time_ns,
        span.end_time_ns,
        _json({**attributes, **extra}),
        events,
        (status.get("message") or None, status.get("code") or "STATUS_CODE_UNSET"),
        _json({"service.name": "mlflow"}),
    )


def _hex(encoded: str | None) -> str:
    """An id as the span table keeps it (hex) from MLflow's stored form (base64); '' for a root's parent."""
    return base64.b64decode(encoded).hex() if encoded else ""


def _traces(client: MlflowClient, experiment_id: str, filter_string: str | None, max_traces: int) -> Iterator[Trace]:
    for page in iter_trace_pages(client, experiment_id, filter_string=filter_string, max_traces=max_traces):
        raise_if_cancelled()
        yield from page


def _write(session: SparkSession, rows: list[tuple[Any, ...]], path: Path, table_format: str) -> None:
    frame = session.createDataFrame(rows, _ROW_SCHEMA).selectExpr(*_TABLE_COLUMNS)
    frame.write.format(table_format).mode("append").save(str(path))


def _replace(staging: Path, target: Path) -> None:
    """Swap the finished table in: a reader sees the old table or the new one, never half of either."""
    retired = target.with_name(f".{target.name}.old.{uuid.uuid4().hex}")
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _json(value: Any) -> str:
    # An integer beyond what a VARIANT holds (38 digits) is kept as its text.
    return json.dumps(_bounded(value), ensure_ascii=False, default=str)


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return str(value)
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_bounded(item) for item in value]
    return value
