"""Hostile trace content is data: it can never be executed, nor break the files of a generated suite.

A real store gets 40 healthy traces and six hostile ones whose requests, responses, tool names,
tool inputs and outputs, error messages and tags carry code-injection attempts (newline-separated
`import os; open(CANARY, 'w')`, `__import__('os').system(...)`), triple quotes, backslashes and
escape sequences as literal text, template and format markers, Markdown table pipes, `</script>`,
unusual unicode and very long strings. The whole offline pipeline (analyse, dataset, scorers,
run script) builds a suite from them, which is then run in a subprocess.

The suite's Python files must be the package's fixed templates byte for byte, the hostile text
must land only in `evaluation/data/*.jsonl` (and in the README, escaped), every data file must
load back, the suite must run, and the canary file, whose creation would prove execution, must
never appear.

Unicode line separators (U+2028, U+2029, U+0085) have their own test: JSON allows them raw in
strings, and a reader that splits lines at them would cut a record in two.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Trace
from mlflow.tracking import MlflowClient

import mlflow_eval_mcp
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, stable_trace_id, write_traces
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import CASES_FILE, DATA_DIR, EVALUATION_DIR, TRACES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, DatasetResult, ScorerConfig
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.runner import SuiteRun, run_suite
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from tests.environment import FOREIGN_ENV
from tests.suite_copies import write_ahead
from tests.trace_factory import make_trace

HEALTHY = 40
MAX_CASES = 60
NONCE = "zqHostileNonce"
"""In every hostile string, so that its presence in a file is unambiguous."""
PACKAGE = Path(mlflow_eval_mcp.__file__).resolve().parent
TEMPLATES = PACKAGE / "suite" / "templates"
CHECKS = PACKAGE / "checks"


def _payloads(canary: Path) -> dict[str, str]:
    """Hostile strings by name; each names the canary that executing it would create."""
    return {
        "triple_quotes": (
            f"{NONCE} \"\"\" ''' end the docstring\"\"\"\nimport os; open('{canary}', 'w').write('pwned')\n"
            f"'''\nimport os; open('{canary}', 'w').write('pwned')\n'''"
        ),
        "dunder_import": f"{NONCE} __import__('os').system('touch {canary}') ; exec(\"open('{canary}','w')\")",
        "escapes": (
            f"{NONCE} C:\\temp\\new \\x00 \\u0000 \\n\\r\\t \\\\ \\' \\\" trailing backslash \\"
            f"\n# a comment\n#!/bin/sh\ntouch {canary}"
        ),
        "format_markers": (
            f"{NONCE} {{{{ inputs }}}} {{{{ __import__('os').system('touch {canary}') }}}} {{0}} {{}} {{inputs}} "
            "%s %d %(name)s ${HOME} $(touch /dev/null) `touch x` {% raw %}"
        ),
        "markup": (
            f"{NONCE} </script><script>fetch('{canary}')</script> <!-- --> ]]> "
            "| col | `code` |\n|---|---|\n| injected | row |\n```python\nimport os\n```"
        ),
        "unicode": (
            f"{NONCE} \U0001f525\U0001f4a5\U0001f469\u200d\U0001f4bb \u202eevil\u202c \u200fRTL\u200f "
            "e\u0301 a\u0308\u0308\u0308 \u9f8d \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \ufeff \u00a0 \u3000"
        ),
        "very_long": f"{NONCE} " + ("A\"'\\|{}%#\n" * 8_000) + f"\nimport os; open('{canary}', 'w').write('pwned')",
    }


@dataclass(frozen=True)
class HostileSuite:
    suite: SuiteLayout
    store_uri: str
    canary: Path
    hostile: list[TraceRecord]
    dataset: DatasetResult


def _hostile_trace(
    index: int,
    *,
    question: str,
    answer: Any,
    tool_name: str,
    tool_inputs: Any,
    tool_outputs: Any,
    tag: str,
    tool_error: str | None = None,
    root_error: str | None = None,
) -> TraceRecord:
    """`make_trace`'s trace with hostile content in every place that holds text."""
    base = make_trace(index, tool_error=tool_error)
    root, llm, tool = base.spans
    return dataclasses.replace(
        base,
        trace_id=stable_trace_id(f"hostile:{index}"),
        spans=[
            dataclasses.replace(
                root,
                inputs={"question": question, "context": {"note": tool_inputs}},
                outputs=answer,
                error=root_error,
                exception_type="RuntimeError" if root_error else None,
            ),
            dataclasses.replace(
                llm,
                inputs={"messages": [{"role": "user", "content": question}]},
                outputs={"choices": [{"message": {"content": str(answer)}, "finish_reason": "stop"}]},
            ),
            dataclasses.replace(tool, name=tool_name, inputs=tool_inputs, outputs=None if tool_error else tool_outputs),
        ],
        # A tag value is short (MLflow limits its length); the request and outputs carry the long text.
        tags={"env": "test", "note": tag[:200], "payload": NONCE},
        client_request_id=f"req-hostile-{index}",
    )


def _hostile_records(canary: Path) -> list[TraceRecord]:
    p = _payloads(canary)
    # The same message on two failing tools makes a recurring error cluster, whose title (with
    # its pipes, backticks and code) is quoted in the README's scorer table.
    recurring = f"TimeoutError: lookup failed | col | `x` {NONCE}\nimport os; open('{canary}', 'w').write('pwned') # |"
    return [
        _hostile_trace(
            100,
            question="alpha order question " + p["triple_quotes"],
            answer=p["markup"],
            tool_name='lookup_order"""; import os #',
            tool_inputs={"order_id": p["dunder_import"], "'''": '"""'},
            tool_outputs=None,
            tool_error=recurring,
            tag=p["triple_quotes"],
        ),
        _hostile_trace(
            101,
            question="bravo refund question " + p["dunder_import"],
            answer={"answer": p["triple_quotes"], "table": p["markup"]},
            tool_name="lookup_order",
            tool_inputs={"order_id": p["format_markers"]},
            tool_outputs=None,
            tool_error=recurring,
            tag=p["dunder_import"],
        ),
        _hostile_trace(
            102,
            question="charlie shipping question " + p["format_markers"],
            answer=p["escapes"],
            tool_name="{0}{{ tool }}%s | pipe `tick`",
            tool_inputs={p["format_markers"][:60]: p["escapes"]},
            tool_outputs={"status": p["markup"], "raw": p["dunder_import"]},
            tag=p["format_markers"],
        ),
        _hostile_trace(
            103,
            question="delta unicode question " + p["unicode"],
            answer=p["unicode"] + " " + p["markup"],
            tool_name="lookup_\u9f8d_\U0001f525",
            tool_inputs={"\u202ekey": p["unicode"]},
            tool_outputs={"status": p["unicode"]},
            tag=p["unicode"],
        ),
        _hostile_trace(
            104,
            question="echo long question " + p["very_long"],
            answer=p["very_long"],
            tool_name="lookup_order",
            tool_inputs={"order_id": p["very_long"]},
            tool_outputs={"status": p["very_long"]},
            tag=p["very_long"],
        ),
        _hostile_trace(
            105,
            question="foxtrot escape question " + p["escapes"],
            answer=p["dunder_import"],
            tool_name="lookup_order",
            tool_inputs={"order_id": p["escapes"]},
            tool_outputs=None,
            tool_error=f"TimeoutError: {p['escapes']}",
            root_error=f"RuntimeError: agent crashed {p['triple_quotes']}",
            tag=p["escapes"],
        ),
    ]


@pytest.fixture(scope="module")
def hostile_suite(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> HostileSuite:
    """The suite generated from the hostile traces (built once: it costs seconds)."""
    base = tmp_path_factory.mktemp("hostile")
    canary = base / "CANARY-pwned"
    store = base / "store" / "mlflow.db"
    store.parent.mkdir()
    shutil.copy(template_db, store)
    uri = f"sqlite:///{store}"
    write_ahead(uri)
    hostile = _hostile_records(canary)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in FOREIGN_ENV:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_EVAL_MCP_WORKSPACE", str(base / "workspace"))
        client = MlflowClient(tracking_uri=uri)
        experiment_id = client.create_experiment("hostile")
        report = write_traces(uri, experiment_id, [make_trace(i) for i in range(HEALTHY)] + hostile)
        assert report.written == HEALTHY + len(hostile), report
        suite = SuiteLayout.resolve(base / "suite", workspace=base / "workspace", default_name="hostile")
        analyze_into_suite(client, suite, experiment_id=experiment_id)
        dataset = generate_dataset(client, suite, strategy="traces", max_cases=MAX_CASES, redact=True)
        generate_scorers(suite)
        render_run_script(suite)
    return HostileSuite(suite, uri, canary, hostile, dataset)


@pytest.fixture(scope="module")
def suite_run(hostile_suite: HostileSuite) -> SuiteRun:
    """The suite run once in a subprocess, code scorers only (its evaluation experiment is its own)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in FOREIGN_ENV:
            monkeypatch.delenv(name, raising=False)
        return run_suite(
            hostile_suite.suite, tracking_uri=hostile_suite.store_uri, args=["--no-llm-judges"], timeout_s=300
        )


def _evaluation(suite: HostileSuite) -> Path:
    return suite.suite.path(EVALUATION_DIR)


def _python_files(suite: HostileSuite) -> list[Path]:
    return sorted(_evaluation(suite).rglob("*.py"))


def _data_files(suite: HostileSuite) -> list[Path]:
    return sorted(suite.suite.path(DATA_DIR).glob("*.jsonl"))


def _lines(path: Path) -> list[str]:
    """The JSON lines of `path`, split only at "\\n" as JSON Lines defines them."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in _lines(path)]


def _cases(suite: HostileSuite) -> list[DatasetCase]:
    lines = _lines(suite.suite.path(CASES_FILE))
    return [DatasetCase.model_validate_json(line) for line in lines if line.strip()]


def _markers(suite: HostileSuite) -> list[str]:
    return [str(suite.canary), NONCE, "__import__('os')", "pwned", "</script>"]


def test_every_hostile_trace_becomes_a_recorded_case(hostile_suite):
    recorded = {case.source_trace_id for case in _cases(hostile_suite) if case.kind == "recorded"}
    assert {record.trace_id for record in hostile_suite.hostile} <= recorded


def test_hostile_inputs_are_kept_verbatim_as_case_data(hostile_suite):
    by_trace = {case.source_trace_id: case for case in _cases(hostile_suite) if case.kind == "recorded"}
    for record in hostile_suite.hostile:
        assert by_trace[record.trace_id].inputs == record.spans[0].inputs
        assert by_trace[record.trace_id].outputs == record.spans[0].outputs


def _assert_python_files_are_the_templates(hostile_suite: HostileSuite) -> None:
    evaluation = _evaluation(hostile_suite)
    expected = {evaluation / name: TEMPLATES / name for name in ("eval_dataset.py", "scorers.py", "run_eval.py")}
    expected |= {evaluation / "mlflow_eval_checks" / source.name: source for source in sorted(CHECKS.glob("*.py"))}
    assert _python_files(hostile_suite) == sorted(expected)
    for copy, source in expected.items():
        assert copy.read_bytes() == source.read_bytes(), copy


def test_suite_python_files_are_the_package_templates_byte_for_byte(hostile_suite):
    _assert_python_files_are_the_templates(hostile_suite)


def test_no_hostile_marker_appears_in_any_python_file(hostile_suite):
    for path in _python_files(hostile_suite):
        text = path.read_text(encoding="utf-8")
        for marker in _markers(hostile_suite):
            assert marker not in text, (path, marker)


def test_hostile_markers_appear_in_the_data_files(hostile_suite):
    cases = hostile_suite.suite.path(CASES_FILE).read_text(encoding="utf-8")
    traces = hostile_suite.suite.path(TRACES_FILE).read_text(encoding="utf-8")
    for marker in _markers(hostile_suite):
        assert marker in cases, marker
        assert marker in traces, marker


def test_hostile_text_outside_the_data_folder_is_only_in_the_readme_and_state(hostile_suite):
    root = hostile_suite.suite.root
    # Data, and the results of a run (which quote the scorers' rationales), may hold trace text.
    exempt = (hostile_suite.suite.path(DATA_DIR), hostile_suite.suite.path(f"{EVALUATION_DIR}/results"))
    holding = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and not any(path.is_relative_to(folder) for folder in exempt)
        and NONCE.lower().encode() in path.read_bytes().lower()
    }
    assert holding <= {"state/analysis.json", f"{EVALUATION_DIR}/README.md"}


def test_every_suite_python_file_compiles(hostile_suite):
    for path in _python_files(hostile_suite):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_ruff_finds_nothing_in_the_evaluation_folder(hostile_suite):
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(_evaluation(hostile_suite))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_data_line_is_json(hostile_suite):
    files = _data_files(hostile_suite)
    assert {path.name for path in files} == {"cases.jsonl", "traces.jsonl"}
    for path in files:
        assert _jsonl(path), path
    for path in hostile_suite.suite.path(DATA_DIR).glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_cases_validate_as_dataset_cases(hostile_suite):
    cases = _cases(hostile_suite)
    assert len(cases) == hostile_suite.dataset.cases
    assert sum(case.has_trace for case in cases) == hostile_suite.dataset.recorded


def test_recorded_traces_load_as_mlflow_traces(hostile_suite):
    entries = _jsonl(hostile_suite.suite.path(TRACES_FILE))
    assert len(entries) == hostile_suite.dataset.recorded
    hostile = {record.trace_id: record for record in hostile_suite.hostile}
    for entry in entries:
        trace = Trace.from_dict(entry["trace"])
        assert trace.info.trace_id == entry["trace_id"]
        if entry["trace_id"] in hostile:
            record = hostile[entry["trace_id"]]
            spans = {span.name: span for span in trace.data.spans}
            assert spans["agent"].inputs == record.spans[0].inputs
            tool = record.spans[2]
            assert spans[tool.name].inputs == tool.inputs
            assert spans[tool.name].outputs == tool.outputs
            assert spans[tool.name].status.description == (tool.error or "")
            assert trace.info.tags["note"] == record.tags["note"]


def test_suite_runs_to_a_verdict(suite_run):
    assert not suite_run.timed_out, suite_run.stderr_tail
    assert suite_run.exit_code in (0, 1), suite_run.stderr_tail
    assert suite_run.result is not None, suite_run.stderr_tail


def test_suite_run_scores_every_recorded_case_with_every_code_scorer(hostile_suite, suite_run):
    assert suite_run.result is not None, suite_run.stderr_tail
    rows = suite_run.result.rows
    assert rows == hostile_suite.dataset.recorded
    config = ScorerConfig.model_validate_json(
        hostile_suite.suite.path(f"{DATA_DIR}/scorer_config.json").read_text(encoding="utf-8")
    )
    assert config.code_scorers
    for spec in config.code_scorers:
        assert suite_run.result.scorers[spec.name].values == rows, (spec.name, suite_run.result.scorers)


def test_running_the_suite_leaves_its_python_files_untouched(hostile_suite, suite_run):
    assert suite_run.result is not None, suite_run.stderr_tail
    _assert_python_files_are_the_templates(hostile_suite)


def test_the_canary_is_never_created(hostile_suite, suite_run):
    assert suite_run.result is not None, suite_run.stderr_tail
    assert not hostile_suite.canary.exists()
    assert not list(hostile_suite.canary.parent.glob("CANARY*"))


def _unescaped_pipes(line: str) -> int:
    return line.replace("\\|", "").count("|")


def test_readme_quotes_hostile_text_only_inside_escaped_table_cells(hostile_suite):
    lines = hostile_suite.suite.path(f"{EVALUATION_DIR}/README.md").read_text(encoding="utf-8").splitlines()
    header = lines.index("| scorer | kind | what it catches | gate (min pass rate) |")
    rows = [line for line in lines if line.startswith("| `")]
    assert rows
    assert any(NONCE.lower() in row and "\\|" in row for row in rows), rows
    for row in rows:
        assert _unescaped_pipes(row) == _unescaped_pipes(lines[header]), row
    table = lines[header : header + 2 + len(rows)]
    assert all(line.startswith("|") for line in table), table
    assert lines[header + 2 + len(rows)] == ""
    outside = [line for line in lines if NONCE.lower() in line.lower() and line not in rows]
    assert outside == []
    assert not any(line.lstrip().startswith(("import os", "__import__")) for line in lines)


def _with_line_separator(record: TraceRecord, place: str) -> TraceRecord:
    text = f"zebra giraffe {NONCE} before\u2028after\u2029end\x85"
    spans = list(record.spans)
    if place == "request":
        spans[0] = dataclasses.replace(spans[0], inputs={"question": text})
    elif place == "tool_output":
        spans[0] = dataclasses.replace(spans[0], inputs={"question": "zebra giraffe question"})
        spans[2] = dataclasses.replace(spans[2], outputs={"status": text})
    else:
        spans[0] = dataclasses.replace(spans[0], inputs={"question": "zebra giraffe question"})
        record = dataclasses.replace(record, tags={**record.tags, "note": text})
    return dataclasses.replace(record, spans=spans)


@pytest.mark.parametrize("place", ["request", "tool_output", "tag"])
def test_unicode_line_separators_in_trace_content_keep_the_data_files_loadable(store_uri, tmp_path, place):
    """The data files escape these characters and every reader splits records at "\n" only, so a
    request, a tool output or a tag holding one neither breaks generation nor the suite at run time."""
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("separators")
    odd = _with_line_separator(make_trace(100), place)
    write_traces(store_uri, experiment_id, [make_trace(i) for i in range(20)] + [odd])
    suite = SuiteLayout.resolve(tmp_path / "suite", workspace=tmp_path / "workspace", default_name="separators")
    analyze_into_suite(client, suite, experiment_id=experiment_id)
    dataset = generate_dataset(client, suite, strategy="traces", max_cases=MAX_CASES, redact=True)
    generate_scorers(suite)
    render_run_script(suite)
    # The suite's own loader, exactly as run_eval.py uses it.
    spec = importlib.util.spec_from_file_location(
        f"eval_dataset_{place}", suite.path(f"{EVALUATION_DIR}/eval_dataset.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(module.load_cases()) == dataset.cases
    traces = module.load_traces()
    assert odd.trace_id in traces
    assert len(traces) == dataset.recorded
