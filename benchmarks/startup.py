"""Time from process start to the answers to `initialize` and `tools/list` over stdio.

Usage (from the repository root): python -m benchmarks.startup [--runs 5]
Prints one line per run and the median. Target: under 1.5 s on the project machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.raw_stdio import handshake

SCRIPT = str(Path(sys.executable).with_name("mlflow-eval-mcp"))
REQUESTS = [*handshake("bench"), {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]


def one_run(workspace: str) -> tuple[float, float]:
    env = {**os.environ, "MLFLOW_EVAL_MCP_WORKSPACE": workspace}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdin and process.stdout
    process.stdin.write(json.dumps(REQUESTS[0]) + "\n")
    process.stdin.flush()
    json.loads(process.stdout.readline())
    initialized = time.perf_counter() - started
    for request in REQUESTS[1:]:
        process.stdin.write(json.dumps(request) + "\n")
    process.stdin.flush()
    tools = json.loads(process.stdout.readline())["result"]["tools"]
    listed = time.perf_counter() - started
    process.kill()
    process.wait()
    assert tools, "tools/list returned no tools"
    return initialized, listed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workspace:
        one_run(workspace)  # warm the OS file cache, as a client restarting a server would see
        results = [one_run(workspace) for _ in range(args.runs)]
    for index, (initialized, listed) in enumerate(results, 1):
        print(f"run {index}: initialize {initialized:.3f} s, tools/list {listed:.3f} s")
    print(
        f"median: initialize {statistics.median(r[0] for r in results):.3f} s, "
        f"initialize + tools/list {statistics.median(r[1] for r in results):.3f} s (target < 1.5 s)"
    )


if __name__ == "__main__":
    main()
