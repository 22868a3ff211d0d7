"""How much of an LLM client's context each tool result takes, at two store sizes.

Usage (from the repository root): python -m benchmarks.result_sizes [--sizes 300 5000] [--workspace DIR]
Seeds the demo corpus at each size, walks the `first_evaluation_suite` workflow through the MCP
protocol (in-memory client, offline), plus an analysis of every trace in the store and a page of its
largest finding, and prints, per call, the characters of its text content and of
its structured content, and the size of `tools/list`. Targets: every default result at most 12,000
characters of text at both sizes; no result grows more than 1.2x when the store grows 16x;
`tools/list` at most 30,000 characters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client

from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.settings import Settings

TEXT_TARGET = 12_000
LIST_TARGET = 30_000
GROWTH_TARGET = 1.2


def _size(result: Any) -> tuple[int, int]:
    text = sum(len(getattr(item, "text", "") or "") for item in result.content)
    structured = len(json.dumps(result.structured_content)) if result.structured_content is not None else 0
    return text, structured


async def walk(settings: Settings, experiment: str) -> dict[str, tuple[int, int]]:
    """The workflow's calls, in its order, with the sizes of their default results."""
    sizes: dict[str, tuple[int, int]] = {}
    suite_dir = str(settings.workspace / "suites" / "sizes")
    async with Client(create_server(settings)) as client:
        listed = await client.list_tools()
        sizes["tools/list"] = (len(json.dumps(listed.model_dump(mode="json", exclude_none=True))), 0)

        async def call(name: str, **arguments: Any) -> Any:
            result = await client.call_tool(name, arguments)
            if result.is_error:
                raise RuntimeError(f"{name} failed: {result.content[0].text}")
            sizes[name] = _size(result)
            return result

        await call("list_experiments")
        searched = await call("search_traces", experiment_name=experiment)
        trace_id = searched.structured_content["traces"][0]["trace_id"]
        await call("get_trace", trace_id=trace_id)
        await call("analyze_traces", experiment_name=experiment, suite_dir=suite_dir, generation="offline")
        everything = await client.call_tool(
            "analyze_traces", {"experiment_name": experiment, "max_traces": 50_000, "generation": "offline"}
        )
        sizes["analyze_traces (all)"] = _size(everything)
        finding = everything.structured_content["findings"][0]["id"]
        analysis_id = everything.structured_content["analysis_id"]
        await call("get_finding", analysis_id=analysis_id, finding_id=finding)
        await call("generate_suite", experiment_name=experiment, suite_dir=suite_dir, generation="offline")
        await call("validate_eval", suite_dir=suite_dir, generation="offline")
        await call("push_feedback", suite_dir=suite_dir, dry_run=True)
    return sizes


def measure(size: int, workspace: Path) -> dict[str, tuple[int, int]]:
    settings = Settings(workspace=workspace / f"store-{size}")
    seeded = run_demo(settings, n_traces=size)
    return asyncio.run(walk(settings, seeded.experiment_name))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=[300, 5000])
    parser.add_argument("--workspace", type=Path, help="keep the seeded stores here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = args.workspace or Path(folder)
        small, large = args.sizes
        results = {size: measure(size, workspace) for size in (small, large)}
    print(f"{'call':22s} {'text ' + str(small):>12s} {'text ' + str(large):>12s} {'growth':>7s} {'structured':>11s}")
    worst = 0
    for name, (text_small, structured_small) in results[small].items():
        text_large, structured_large = results[large][name]
        growth = text_large / text_small if text_small else 1.0
        worst = max(worst, text_large, text_small) if name != "tools/list" else worst
        print(
            f"{name:22s} {text_small:>12,} {text_large:>12,} {growth:>6.2f}x "
            f"{structured_small:>5,}/{structured_large:<6,}"
        )
    listed = results[large]["tools/list"][0]
    print(
        f"largest default result: {worst:,} characters (target <= {TEXT_TARGET:,}); "
        f"tools/list: {listed:,} (target <= {LIST_TARGET:,}); growth target <= {GROWTH_TARGET}x"
    )


if __name__ == "__main__":
    main()
