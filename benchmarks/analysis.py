"""analyze_traces: time against only fetching the same traces, and peak memory at two sizes.

Usage (from the repository root): python -m benchmarks.analysis [--time-traces 2000] [--memory 1000 10000]
Targets: analysing 2,000 demo traces costs at most 1.1x fetching them with
mlflow.search_traces(return_type="list") (the median of alternated pairs); peak RSS for 10,000 traces
within 1.5x of 1,000.
Each measurement runs in a fresh process so that one cannot warm or inflate the other.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from mlflow_eval_mcp.demo.runner import demo_experiment_name, run_demo
from mlflow_eval_mcp.settings import Settings

_MEASURE = """
import json, resource, sys, time
import mlflow
from mlflow.tracking import MlflowClient
from mlflow_eval_mcp.analysis.engine import analyze_traces
uri, experiment_id, count, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
mlflow.set_tracking_uri(uri)
client = MlflowClient(tracking_uri=uri)
client.search_experiments(max_results=1)
started = time.perf_counter()
if what == "fetch":
    traces = mlflow.search_traces(locations=[experiment_id], max_results=count, return_type="list")
    n = len(traces)
else:
    n = analyze_traces(client, experiment_id=experiment_id, max_traces=count).overview.traces_analyzed
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "traces": n, "peak_rss_mb": peak_mb}))
"""


def seed(workspace: Path, count: int) -> tuple[str, str]:
    settings = Settings(workspace=workspace)
    result = run_demo(settings, n_traces=count)
    assert result.traces_lost == 0
    return settings.embedded_store_uri, result.experiment_id


def measure(uri: str, experiment_id: str, count: int, what: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", _MEASURE, uri, experiment_id, str(count), what],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-traces", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="alternated fetch/analyse pairs")
    parser.add_argument("--memory", type=int, nargs=2, default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        uri, experiment_id = seed(workspace, args.time_traces)
        print(f"seeded {args.time_traces} traces into {demo_experiment_name(args.time_traces, 7)}")
        # Alternated, so that a busy moment on a shared machine slows both sides of a pair alike.
        pairs = [
            (
                measure(uri, experiment_id, args.time_traces, "fetch"),
                measure(uri, experiment_id, args.time_traces, "analyse"),
            )
            for _ in range(args.rounds)
        ]
        ratios = sorted(analyse["seconds"] / fetch["seconds"] for fetch, analyse in pairs)
        fetch = min(pair[0]["seconds"] for pair in pairs)
        analyse = min(pair[1]["seconds"] for pair in pairs)
        print(
            f"fetch only: {fetch:.2f} s; analyse: {analyse:.2f} s (best of {args.rounds} each); ratio of bests "
            f"{analyse / fetch:.2f}x, median of {args.rounds} alternated pairs {statistics.median(ratios):.2f}x "
            f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}; target <= 1.1x)"
        )
        small, large = args.memory
        large_uri, large_experiment = seed(workspace, large)
        rss = {n: measure(large_uri, large_experiment, n, "analyse")["peak_rss_mb"] for n in (small, large)}
        print(
            f"peak RSS: {small:,} traces {rss[small]:.0f} MB, {large:,} traces {rss[large]:.0f} MB: "
            f"ratio {rss[large] / rss[small]:.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
