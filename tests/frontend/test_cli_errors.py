"""The CLI speaks CLI: next steps and errors as command lines, help on every command and option,
honest progress, a word when started by hand, and one line for any error."""

import argparse
import io
import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.cli import _parser, main
from mlflow_eval_mcp.frontend.operations import OPERATIONS
from mlflow_eval_mcp.frontend.progress import ProgressBar
from mlflow_eval_mcp.frontend.server import create_server, tool_signature
from mlflow_eval_mcp.next_steps import cli_syntax, suggest
from tests.suite_factory import agent_with_failing_tools, analysed, experiment_with

SCRIPT = str(Path(sys.executable).with_name("mlflow-eval-mcp"))


def _commands() -> dict[str, argparse.ArgumentParser]:
    return _parser().parse_args(["list-experiments"]).commands


def _subparser(name: str) -> argparse.ArgumentParser:
    (group,) = (action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction))
    return group.choices[name]


def test_suggestions_are_tool_calls_by_default_and_command_lines_under_the_cli():
    arguments = {"suite_dir": "/suites/my prod", "run": False, "timeout_s": ...}
    assert (
        suggest("validate_eval", **arguments) == "validate_eval(suite_dir='/suites/my prod', run=False, timeout_s=...)"
    )
    with cli_syntax(_commands()):
        assert suggest("validate_eval", **arguments) == (
            "mlflow-eval-mcp validate-eval --suite-dir '/suites/my prod' --static-only --timeout SECONDS"
        )
        assert (
            suggest("generate_dataset", suite_dir="/s", sync=False) == "mlflow-eval-mcp generate-dataset --suite-dir /s"
        )
        assert suggest("render_run_script", suite_dir="/s", gates=...) == (
            "mlflow-eval-mcp render-run-script --suite-dir /s --gate SCORER=MIN"
        )
        assert suggest("compare_runs", baseline_run_id="a", candidate_run_id="b") == "mlflow-eval-mcp compare-runs a b"
        assert suggest("review_traces", suite_dir="/s", scorers=["tone", "facts"]) == (
            "mlflow-eval-mcp review-traces --suite-dir /s --scorer tone --scorer facts"
        )
    # The server, started by the CLI, answers MCP clients: tool calls for them.
    assert _parser().parse_args([]).commands is None and _parser().parse_args(["serve"]).commands is None


def test_every_tool_argument_is_an_option_of_its_command():
    commands = _commands()
    for operation in OPERATIONS:
        tool = operation.name
        parameters = [name for name in tool_signature(operation).parameters if name != "ctx"]
        with cli_syntax(commands):
            rendered = suggest(tool, **dict.fromkeys(parameters, ...))
        assert rendered.startswith(commands[tool].prog), tool


@pytest.mark.anyio
async def test_next_steps_are_commands_on_the_cli_and_calls_over_mcp(store_uri, settings, tmp_path, capsys):
    suite = analysed(store_uri, tmp_path, agent_with_failing_tools()).suite.root
    main(["generate-dataset", "--suite-dir", str(suite), "--tracking-uri", store_uri, "--generation", "offline"])
    assert json.loads(capsys.readouterr().out)["next_step"] == f"mlflow-eval-mcp generate-scorers --suite-dir {suite}"
    async with Client(create_server(settings)) as client:
        tool = await client.call_tool("generate_scorers", {"suite_dir": str(suite), "generation": "offline"})
    assert tool.structured_content["next_step"] == f"render_run_script(suite_dir={str(suite)!r})"
    main(["generate-scorers", "--suite-dir", str(suite), "--generation", "offline"])
    assert json.loads(capsys.readouterr().out)["next_step"] == f"mlflow-eval-mcp render-run-script --suite-dir {suite}"


def test_a_missing_step_is_named_as_the_command_to_run(tmp_path):
    suite = tmp_path / "fresh"
    suite.mkdir()
    with pytest.raises(SystemExit) as exited:
        main(["generate-scorers", "--suite-dir", str(suite)])
    message = str(exited.value.code)
    assert f"The suite in {suite} has no completed 'analyze' step" in message
    assert "run mlflow-eval-mcp analyze --suite-dir SUITE_DIR first" in message
    assert "analyze_traces(" not in message


def test_every_command_and_option_is_described():
    parsers = {"": _parser()} | {name: _subparser(name) for name in _subparser_names()}
    for name, parser in parsers.items():
        assert parser.description, f"{name or 'mlflow-eval-mcp'} has no description"
        undocumented = [
            action.option_strings or action.dest
            for action in parser._actions
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help
        ]
        assert not undocumented, f"{name}: {undocumented}"
        parser.format_help()


def test_choices_come_from_the_tool_argument_types():
    options = {action.dest: action for action in _subparser("import")._actions}
    assert options["format"].choices == ["auto", "mlflow", "langfuse", "otlp", "inspect_ai", "who_and_when", "chat"]
    assert {action.dest: action for action in _subparser("generate-dataset")._actions}["strategy"].choices == [
        "traces",
        "manual",
        "hybrid",
    ]


def _subparser_names() -> list[str]:
    (group,) = (action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction))
    return list(group.choices)


def test_the_analyze_bar_ends_at_the_traces_read_not_at_max_traces(store_uri, capsys):
    experiment_with(store_uri)
    main(["analyze", "--tracking-uri", store_uri, "--experiment-name", "agent", "--max-traces", "500"])
    bar = capsys.readouterr().err.strip().splitlines()
    assert bar[-1].endswith(" 24/24")
    assert not any("/500" in line for line in bar)


def test_in_a_log_a_count_without_total_prints_few_lines():
    log = io.StringIO()
    bar = ProgressBar("traces analysed", stream=log)
    for done in range(200, 50_001, 200):
        bar(done)
    bar(50_000, 50_000)
    lines = log.getvalue().splitlines()
    assert lines[:3] == ["traces analysed: 200", "traces analysed: 600", "traces analysed: 1,000"]
    assert len(lines) <= 12
    assert lines[-1].endswith("] 50,000/50,000")


def _env(tmp_path: Path) -> dict[str, str]:
    return {"MLFLOW_EVAL_MCP_WORKSPACE": str(tmp_path / "workspace"), "PATH": os.environ["PATH"]}


def _as_in_a_terminal() -> None:
    # A shell starts background jobs (as CI may start this test run) with Ctrl-C ignored, and the
    # child would inherit that; a command typed in a terminal has the default action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _first_stderr_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        assert selector.select(timeout_s), "nothing on stderr"
    return process.stderr.readline().decode()


def test_started_in_a_terminal_it_says_it_waits_for_a_client_and_ctrl_c_stops_it(tmp_path):
    terminal, tty = os.openpty()
    process = subprocess.Popen(
        [SCRIPT],
        stdin=tty,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path),
        start_new_session=True,
        preexec_fn=_as_in_a_terminal,
    )
    os.close(tty)
    try:
        line = _first_stderr_line(process, timeout_s=60)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
        os.close(terminal)
    assert "serving MCP on stdio" in line and "waiting for an MCP client" in line
    assert "mlflow-eval-mcp --help" in line and "mlflow-eval-mcp demo" in line
    assert process.stdout.read() == b""


def test_started_by_a_client_it_adds_nothing_to_either_stream(tmp_path):
    completed = subprocess.run([SCRIPT], input=b"", capture_output=True, env=_env(tmp_path), timeout=120)
    assert completed.returncode == 0
    assert completed.stdout == b""
    assert "waiting for an MCP client" not in completed.stderr.decode()


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *argv], capture_output=True, text=True, env=_env(tmp_path), timeout=120)


@pytest.mark.parametrize("uri", ["mysql://x/y", "sqlite:///{tmp}/garbage.db", "sqlite:////etc/passwd"])
def test_an_unusable_store_is_one_error_line_with_exit_2(tmp_path, uri):
    (tmp_path / "garbage.db").write_bytes(b"not a database")
    completed = _run(tmp_path, "list-experiments", "--tracking-uri", uri.format(tmp=tmp_path))
    assert completed.returncode == 2
    assert completed.stdout == ""
    (line,) = completed.stderr.splitlines()
    assert line.startswith("Error: ") and "--debug" in line


def test_debug_shows_the_traceback_before_the_error_line(tmp_path):
    (tmp_path / "garbage.db").write_bytes(b"not a database")
    completed = _run(tmp_path, "list-experiments", "--tracking-uri", f"sqlite:///{tmp_path}/garbage.db", "--debug")
    assert completed.returncode == 2
    assert "Traceback (most recent call last)" in completed.stderr
    assert completed.stderr.splitlines()[-1].startswith("Error: The sqlite database could not be used")


def test_an_unexpected_error_in_an_offline_command_is_one_line(tmp_path, capsys):
    suite = tmp_path / "suite"
    (suite / "eval_tasks.json").mkdir(parents=True)  # the task file is a directory: nothing expects that
    with pytest.raises(SystemExit) as exited:
        main(["generate-scorers", "--suite-dir", str(suite)])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("Error: ") and "IsADirectoryError" in line and "--debug" in line


def test_ctrl_c_in_a_command_ends_it_with_one_line_and_exit_130(tmp_path):
    process = subprocess.Popen(
        [SCRIPT, "demo", "--traces", "20000", "--generation", "offline"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path),
        preexec_fn=_as_in_a_terminal,
    )
    try:
        _first_stderr_line(process, timeout_s=60)  # the command is under way
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130
    assert stderr.decode().splitlines()[-1] == "Interrupted."
    assert "Traceback" not in stderr.decode()
