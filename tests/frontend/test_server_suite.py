"""The suite tools through the MCP protocol: the whole pipeline, and errors that say what to do."""

import json

import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.server import create_server

pytestmark = pytest.mark.anyio


def _error_text(result) -> str:
    assert result.is_error, result
    return result.content[0].text


async def test_generate_suite_builds_every_file_and_reports_progress(demo_store, tmp_path):
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    suite_dir = str(tmp_path / "suite")
    async with Client(create_server(demo_store.settings())) as client:
        result = await client.call_tool(
            "generate_suite",
            {"experiment_name": "mlflow-eval-demo", "suite_dir": suite_dir, "max_cases": 20},
            progress_callback=on_progress,
        )
    assert not result.is_error, result
    content = result.structured_content
    # The default result is the suite's summary; detail="full" has every step's result.
    assert content["mode"] == "offline" and content["cases"] == 20
    assert content["gates"] and seen == [0, 1, 2, 3]
    assert f"Suite written to {suite_dir}" in result.content[0].text
    tasks = json.loads((tmp_path / "suite" / "eval_tasks.json").read_text())
    assert [step["status"] for step in tasks["steps"]] == ["completed"] * 4 + ["pending"]


async def test_suite_steps_run_one_by_one_with_the_same_suite_dir(demo_store, tmp_path):
    suite_dir = str(tmp_path / "suite")
    async with Client(create_server(demo_store.settings())) as client:
        analysed = await client.call_tool(
            "analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 100, "suite_dir": suite_dir}
        )
        dataset = await client.call_tool("generate_dataset", {"suite_dir": suite_dir, "strategy": "traces"})
        scorers = await client.call_tool("generate_scorers", {"suite_dir": suite_dir})
        script = await client.call_tool("render_run_script", {"suite_dir": suite_dir, "gates": {"safety": 0.9}})
    assert not any(r.is_error for r in (analysed, dataset, scorers, script))
    assert dataset.structured_content["strategy"] == "traces"
    assert script.structured_content["gates"]["safety"] == 0.9
    assert "run_eval.py" in script.structured_content["run_command"]


async def test_a_step_out_of_order_says_which_tool_to_call_first(settings, tmp_path):
    (tmp_path / "new").mkdir()
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("generate_scorers", {"suite_dir": str(tmp_path / "new")})
    assert "run analyze_traces(suite_dir=...) first" in _error_text(result)


async def test_a_gate_on_an_unknown_scorer_lists_the_real_ones(demo_store, tmp_path):
    suite_dir = str(tmp_path / "suite")
    async with Client(create_server(demo_store.settings())) as client:
        await client.call_tool("generate_suite", {"experiment_name": "mlflow-eval-demo", "suite_dir": suite_dir})
        result = await client.call_tool("render_run_script", {"suite_dir": suite_dir, "gates": {"speed": 0.5}})
    assert "No scorer named 'speed'" in _error_text(result) and "tool_call_errors" in _error_text(result)


async def test_a_suite_dir_escaping_the_workspace_is_refused(settings):
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("generate_dataset", {"suite_dir": "../../etc"})
    assert "contains '..'" in _error_text(result)


async def test_validate_push_and_compare_through_the_protocol(demo_store, tmp_path):
    suite_dir = str(tmp_path / "suite")
    async with Client(create_server(demo_store.settings())) as client:
        await client.call_tool(
            "generate_suite", {"experiment_name": "mlflow-eval-demo", "suite_dir": suite_dir, "max_cases": 12}
        )
        validated = await client.call_tool("validate_eval", {"suite_dir": suite_dir, "timeout_s": 300})
        dry = await client.call_tool("push_feedback", {"suite_dir": suite_dir, "dry_run": True})
        run_id = validated.structured_content["run_id"]
        same = await client.call_tool("compare_runs", {"baseline_run_id": run_id, "candidate_run_id": run_id})
    assert validated.structured_content["status"] == "passed", validated.structured_content["checks"]
    assert dry.structured_content["dry_run"] and dry.structured_content["logged"] > 0
    assert dry.structured_content["traces_tagged"] == 0
    assert same.structured_content["verdict"] == "unchanged"


async def test_comparing_an_unknown_run_says_so(settings):
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("compare_runs", {"baseline_run_id": "nope", "candidate_run_id": "nope"})
    assert "No MLflow run 'nope'" in _error_text(result)


async def test_pushing_before_any_evaluation_says_what_to_run(demo_store, tmp_path):
    suite_dir = str(tmp_path / "suite")
    async with Client(create_server(demo_store.settings())) as client:
        await client.call_tool("generate_suite", {"experiment_name": "mlflow-eval-demo", "suite_dir": suite_dir})
        result = await client.call_tool("push_feedback", {"suite_dir": suite_dir})
    assert "run validate_eval(suite_dir=...)" in _error_text(result)
