"""Demo seeding: traces written per second and traces lost, for the bulk writer and, for
comparison, MLflow's fluent tracing API writing synchronously (its asynchronous mode loses traces).

Usage (from the repository root): python -m benchmarks.demo_seeding [--traces 300 2000] [--fluent 100]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.fluent_baseline import write_with_fluent_api
from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.demo.sample_agent import generate_corpus
from mlflow_eval_mcp.settings import Settings


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
    with tempfile.TemporaryDirectory() as workspace:
        records = [demo.record for demo in generate_corpus(n_traces)]
        seconds, lost = write_with_fluent_api(f"sqlite:///{workspace}/fluent.db", records)
        print(
            f"fluent API (sync): {n_traces} traces in {seconds:.2f} s = {n_traces / seconds:.0f} traces/s, lost {lost}"
        )


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
