"""Every MCP tool has a CLI command, and both give the same result: each operation runs once through
an in-memory MCP client and once through the CLI, on two identical copies of one state."""

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlflow_eval_mcp.analysis.archive import archive_analysis
from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.frontend.cli import _parser, main
from mlflow_eval_mcp.frontend.operations import OPERATIONS
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.settings import Settings
from tests.suite_factory import built

COMMAND_OF_TOOL = {operation.name: operation.command for operation in OPERATIONS if operation.mcp}
VOLATILE = re.compile(r'"(seconds|traces_per_second|analysis_id)":\s*("[^"]*"|[^,}\]]+)')
"""Values that differ between any two runs of the same call: timings, and the new id of an analysis."""
NEXT_STEP = re.compile(r"^(?:mlflow-eval-mcp )?([a-z_-]+)")
"""A next step names its tool first: as a command on the command line, as a call over MCP."""


@dataclass(frozen=True)
class State:
    root: Path
    store_uri: str
    experiment_id: str
    trace_id: str
    analysis_id: str

    @property
    def suite(self) -> str:
        return str(self.root / "suite")

    @property
    def settings(self) -> Settings:
        return Settings(workspace=self.root / "workspace", tracking_uri=self.store_uri)

    def copied_to(self, root: Path) -> "State":
        shutil.copytree(self.root, root)
        return replace(self, root=root, store_uri=self.store_uri.replace(str(self.root), str(root)))


@dataclass(frozen=True)
class Case:
    arguments: Callable[[State], dict[str, Any]]
    argv: Callable[[State], list[str]]


def _chat_file(state: State) -> str:
    path = state.root / "chat.jsonl"
    path.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    )
    return str(path)


CASES: dict[str, Case] = {
    "list_experiments": Case(lambda s: {}, lambda s: []),
    "search_traces": Case(
        lambda s: {"experiment_name": "agent", "max_results": 5, "detail": "full"},
        lambda s: ["--experiment-name", "agent", "--max-results", "5"],
    ),
    "get_trace": Case(
        lambda s: {"trace_id": s.trace_id, "max_chars": 500}, lambda s: [s.trace_id, "--max-chars", "500"]
    ),
    "import_traces": Case(
        lambda s: {"path": _chat_file(s), "experiment_name": "imported", "format": "chat"},
        lambda s: [_chat_file(s), "--experiment", "imported", "--format", "chat"],
    ),
    "analyze_traces": Case(
        lambda s: {"experiment_id": s.experiment_id, "generation": "offline", "detail": "full"},
        lambda s: ["--experiment-id", s.experiment_id, "--generation", "offline"],
    ),
    "get_finding": Case(
        lambda s: {"analysis_id": s.analysis_id, "finding_id": "tool_exceptions", "page_size": 2},
        lambda s: [s.analysis_id, "tool_exceptions", "--page-size", "2"],
    ),
    "generate_dataset": Case(
        lambda s: {"suite_dir": s.suite, "max_cases": 6, "include_synthetic": False, "generation": "offline"},
        lambda s: ["--suite-dir", s.suite, "--max-cases", "6", "--no-synthetic", "--generation", "offline"],
    ),
    "generate_scorers": Case(
        lambda s: {"suite_dir": s.suite, "judge_model": "openai:/gpt-4o-mini", "generation": "offline"},
        lambda s: ["--suite-dir", s.suite, "--judge-model", "openai:/gpt-4o-mini", "--generation", "offline"],
    ),
    "render_run_script": Case(
        lambda s: {"suite_dir": s.suite, "gates": {"trace_succeeded": 0.5}},
        lambda s: ["--suite-dir", s.suite, "--gate", "trace_succeeded=0.5"],
    ),
    "generate_suite": Case(
        lambda s: {
            "experiment_name": "agent",
            "suite_dir": str(s.root / "new"),
            "max_cases": 5,
            "redact": False,
            "gates": {"trace_succeeded": 0.5},
            "generation": "offline",
            "detail": "full",
        },
        lambda s: [
            *("--experiment-name", "agent", "--suite-dir", str(s.root / "new"), "--max-cases", "5", "--no-redact"),
            *("--gate", "trace_succeeded=0.5", "--generation", "offline"),
        ],
    ),
    "validate_eval": Case(
        lambda s: {"suite_dir": s.suite, "run": False, "generation": "offline"},
        lambda s: ["--suite-dir", s.suite, "--static-only", "--generation", "offline"],
    ),
    "push_feedback": Case(
        lambda s: {"suite_dir": s.suite, "run_id": "0" * 32, "dry_run": True},
        lambda s: ["--suite-dir", s.suite, "--run-id", "0" * 32, "--dry-run"],
    ),
    "pull_feedback": Case(lambda s: {"suite_dir": s.suite}, lambda s: ["--suite-dir", s.suite]),
    "review_traces": Case(
        lambda s: {"suite_dir": s.suite, "scorers": ["trace_succeeded"], "per_scorer": 2},
        lambda s: ["--suite-dir", s.suite, "--scorer", "trace_succeeded", "--per-scorer", "2"],
    ),
    "calibrate_judges": Case(
        lambda s: {"suite_dir": s.suite, "min_labels": 5, "run_id": "0" * 32},
        lambda s: ["--suite-dir", s.suite, "--min-labels", "5", "--run-id", "0" * 32],
    ),
    "align_judge": Case(
        lambda s: {"suite_dir": s.suite, "judge": "tone", "optimizer": "simba"},
        lambda s: ["--suite-dir", s.suite, "tone", "--optimizer", "simba"],
    ),
    "optimize_prompt": Case(
        lambda s: {"suite_dir": s.suite, "prompt_uri": "not-a-prompt", "predict_fn": "agent:answer"},
        lambda s: ["--suite-dir", s.suite, "not-a-prompt", "agent:answer"],
    ),
    "monitor_judges": Case(
        lambda s: {"suite_dir": s.suite, "sample_rate": 0.5, "scorers": ["trace_succeeded"]},
        lambda s: ["--suite-dir", s.suite, "--sample-rate", "0.5", "--scorer", "trace_succeeded"],
    ),
    "compare_runs": Case(
        lambda s: {"baseline_run_id": "0" * 32, "candidate_run_id": "1" * 32}, lambda s: ["0" * 32, "1" * 32]
    ),
}


def test_every_tool_has_a_cli_command_and_a_parity_case():
    commands = set(_parser()._subparsers._group_actions[0].choices)
    assert set(COMMAND_OF_TOOL) == set(CASES)
    assert set(COMMAND_OF_TOOL.values()) <= commands


def test_an_operation_kept_off_mcp_is_still_a_command():
    commands = set(_parser()._subparsers._group_actions[0].choices)
    command_only = {operation.command for operation in OPERATIONS if not operation.mcp}
    assert command_only == {"export-span-table"}
    assert command_only <= commands


@pytest.fixture(scope="module")
def original(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> State:
    """A store with an experiment "agent" (healthy traces and failing tools), its suite, and an
    archived analysis: what every operation can start from."""
    root = tmp_path_factory.mktemp("parity")
    store = root / "mlflow.db"
    shutil.copy(template_db, store)
    uri = f"sqlite:///{store}"
    suite = built(uri, root, max_cases=5)
    analysis = analyze_traces(suite.client, experiment_id=suite.analysis.experiment_id)
    state = State(root, uri, analysis.experiment_id, analysis.findings[0].trace_ids[0], "")
    return replace(state, analysis_id=archive_analysis(state.settings.analyses_dir, analysis))


def _comparable(text: str, root: Path) -> Any:
    return _tools_named(json.loads(VOLATILE.sub(r'"\1": 0', text.replace(str(root), "<root>"))))


def _tools_named(value: Any) -> Any:
    """`value` with each next step reduced to the tool it names."""
    if isinstance(value, dict):
        return {
            key: NEXT_STEP.match(item)[1].replace("-", "_") if key == "next_step" and item else _tools_named(item)
            for key, item in value.items()
        }
    return [_tools_named(item) for item in value] if isinstance(value, list) else value


async def _through_mcp(tool: str, arguments: dict[str, Any], state: State) -> Any:
    async with Client(create_server(state.settings), raise_exceptions=False) as client:
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        return {"error": result.content[0].text.removeprefix(f"Error executing tool {tool}: ")}
    return _comparable(json.dumps(result.structured_content), state.root)


def _through_cli(tool: str, argv: list[str], state: State, capsys: pytest.CaptureFixture[str]) -> Any:
    common = ["--workspace", str(state.root / "workspace"), "--tracking-uri", state.store_uri]
    try:
        main([COMMAND_OF_TOOL[tool], *argv, *common])
    except SystemExit as exited:
        if isinstance(exited.code, str):
            return {"error": exited.code.removeprefix("Error: ")}
    return _comparable(capsys.readouterr().out, state.root)


@pytest.mark.anyio
@pytest.mark.parametrize("tool", sorted(CASES))
async def test_the_cli_prints_what_the_tool_returns(tool, original, tmp_path, capsys):
    case = CASES[tool]
    over_mcp, over_cli = original.copied_to(tmp_path / "mcp"), original.copied_to(tmp_path / "cli")
    tool_result = await _through_mcp(tool, case.arguments(over_mcp), over_mcp)
    cli_result = _through_cli(tool, case.argv(over_cli), over_cli, capsys)
    assert cli_result == tool_result
    assert tool_result  # a result or an error sentence, never nothing
