"""Demo seeding: traces written per second and traces lost, for the bulk writer and, for
comparison, MLflow's fluent tracing API writing synchronously (its asynchronous mode loses traces).

Usage: python benchmarks/demo_seeding.py [--traces 300 2000] [--fluent 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.demo.sample_agent import generate_corpus
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.trace_writer import SpanRecord, TraceRecord


def bulk(n_traces: int) -> None:
    with tempfile.TemporaryDirectory() as workspace:
        settings = Settings(workspace=Path(workspace))
        settings.check()
        from mlflow_eval_mcp.tracking import open_client

        open_client(settings.embedded_store_uri)  # migrations are not part of the write rate
        result = run_demo(settings, n_traces=n_traces)
        print(
            f"bulk writer: {result.traces_written} traces in {result.seconds:.2f} s = "
            f"{result.traces_per_second:.0f} traces/s, lost {result.traces_lost}"
        )
        rerun = run_demo(settings, n_traces=n_traces)
        print(f"  re-run: written {rerun.traces_written}, already present {rerun.traces_already_present}")


def fluent(n_traces: int) -> None:
    """The naive path: replay each trace span by span through mlflow.start_span, synchronously."""
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow

    with tempfile.TemporaryDirectory() as workspace:
        mlflow.set_tracking_uri(f"sqlite:///{workspace}/fluent.db")
        mlflow.set_experiment("fluent")
        records = [demo.record for demo in generate_corpus(n_traces)]
        started = time.perf_counter()
        for record in records:
            _replay(mlflow, record)
        seconds = time.perf_counter() - started
        stored = len(mlflow.search_traces(return_type="list", include_spans=False))
        print(
            f"fluent API (sync): {n_traces} traces in {seconds:.2f} s = {n_traces / seconds:.0f} traces/s, "
            f"lost {n_traces - stored}"
        )


def _replay(mlflow: Any, record: TraceRecord) -> None:
    children: dict[str | None, list[SpanRecord]] = {}
    for span in record.spans:
        children.setdefault(span.parent_id, []).append(span)

    def emit(span: SpanRecord) -> None:
        with mlflow.start_span(span.name, span_type=span.span_type, attributes=span.attributes) as live:
            live.set_inputs(span.inputs)
            for child in children.get(span.span_id, []):
                emit(child)
            live.set_outputs(span.outputs)

    emit(record.spans[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--fluent", type=int, default=100, help="traces for the fluent baseline (0 to skip)")
    args = parser.parse_args()
    for n_traces in args.traces:
        print(f"== {n_traces} traces")
        bulk(n_traces)
    if args.fluent:
        print(f"== baseline, {args.fluent} traces")
        fluent(args.fluent)


if __name__ == "__main__":
    main()
