"""run_eval.py, run as a user runs it (a subprocess with a minimal environment): recorded traces,
a predict_fn, quality gates and exit codes, and the production traces left untouched."""

import dataclasses
import json
import shutil

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.runner import run_suite
from tests import suite_copies
from tests.suite_factory import agent_with_failing_tools, built
from tests.trace_factory import make_trace

AGENT = """
def answer(question, customer_id=None):
    return "Your order has shipped and should arrive within three business days."
"""


@pytest.fixture(scope="module")
def recorded_run(demo_suite, tmp_path_factory):
    """The demo suite run once on its recorded traces, in a copy of the suite and its store."""
    root = tmp_path_factory.mktemp("recorded-run")
    suite = suite_copies.copy_demo_suite(demo_suite, root)
    uri = suite_copies.store_uri(root)
    client = MlflowClient(tracking_uri=uri)
    location = [demo_suite.store.experiment_id]
    before = client.search_traces(locations=location, max_results=500, include_spans=False)
    run = run_suite(suite, tracking_uri=uri, args=["--no-llm-judges"])
    after = client.search_traces(locations=location, max_results=500, include_spans=False)
    return run, before, after


def _kept(demo_suite) -> tuple[int, int]:
    """The traces the suite keeps (each scored once) and its session cases."""
    data = demo_suite.suite_dir / "evaluation" / "data"
    cases = [json.loads(line) for line in (data / "cases.jsonl").read_text().splitlines()]
    return len((data / "traces.jsonl").read_text().splitlines()), sum(case["kind"] == "session" for case in cases)


def test_scoring_the_recorded_traces_passes_every_baseline_gate(recorded_run, demo_suite):
    run, _, _ = recorded_run
    assert (run.exit_code, run.timed_out) == (0, False), run.stderr_tail
    assert run.result.mode == "recorded" and run.result.rows == _kept(demo_suite)[0] == 51
    assert run.result.gates and all(gate.passed for gate in run.result.gates)


def test_every_code_scorer_scores_every_row_and_judges_are_reported_skipped(recorded_run, demo_suite):
    run, _, _ = recorded_run
    traces, sessions = _kept(demo_suite)
    for name, stats in run.result.scorers.items():
        assert (stats.values, stats.missing) == (sessions if name.endswith("_in_session") else traces, 0), name
    assert run.result.skipped and {entry.reason for entry in run.result.skipped} == {"--no-llm-judges"}


def test_rows_map_back_to_their_source_traces(recorded_run, demo_suite):
    run, _, _ = recorded_run
    rows = run.result.row_results
    assert {row.source_trace_id for row in rows} <= set(demo_suite.store.planted)
    assert all(row.eval_trace_id != row.source_trace_id for row in rows)


def test_the_production_traces_are_not_written_to(recorded_run):
    _, before, after = recorded_run
    assert [t.info.trace_id for t in after] == [t.info.trace_id for t in before]
    assert [len(t.info.assessments or []) for t in after] == [len(t.info.assessments or []) for t in before]


def _small_suite(store_uri, tmp_path, strategy=None) -> SuiteLayout:
    return built(store_uri, tmp_path, strategy=strategy).suite


def test_judges_without_credentials_are_skipped_with_the_reason(store_uri, tmp_path, monkeypatch):
    suite = _small_suite(store_uri, tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run = run_suite(suite, tracking_uri=store_uri)
    assert run.exit_code == 0, run.stderr_tail
    reasons = {entry.reason for entry in run.result.skipped}
    assert reasons == {"no OPENAI_API_KEY in the environment for judge model openai:/gpt-4.1-mini"}


def test_a_failing_gate_exits_non_zero(store_uri, tmp_path):
    suite = _small_suite(store_uri, tmp_path)
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges", "--gate", "tool_call_errors=1.0"])
    assert run.exit_code == 1
    (failed,) = [gate for gate in run.result.gates if not gate.passed]
    assert failed.scorer == "tool_call_errors" and failed.pass_rate < 1.0


def test_a_predict_fn_runs_every_case_through_the_agent(store_uri, tmp_path):
    suite = _small_suite(store_uri, tmp_path)
    (tmp_path / "agent.py").write_text(AGENT.replace("customer_id=None", "**_"))
    run = run_suite(
        suite, tracking_uri=store_uri, args=["--no-llm-judges", "--predict-fn", f"{tmp_path}/agent.py:answer"]
    )
    assert run.result is not None, run.stderr_tail
    assert run.result.mode == "predict_fn"
    assert run.result.rows == len(list((suite.root / "evaluation" / "data" / "cases.jsonl").open()))
    assert run.result.scorers["tool_call_errors"].pass_rate == 1.0  # this agent calls no tool


_TOPICS = ["a late parcel", "a missing invoice", "the wrong size", "a broken zip", "a double charge", "a gift card"]
_TOPICS += ["an address change", "a lost receipt", "a slow refund", "a cancelled order"]


def _asking(record, question):
    root, *rest = record.spans
    return dataclasses.replace(record, spans=[dataclasses.replace(root, inputs={"question": question}), *rest])


def test_an_agent_that_skips_the_recorded_tool_calls_fails_the_paired_gate(store_uri, tmp_path):
    records = [_asking(make_trace(index), f"Help with {topic}") for index, topic in enumerate(_TOPICS)]
    suite = built(store_uri, tmp_path, records + agent_with_failing_tools()[20:]).suite
    (tmp_path / "agent.py").write_text(AGENT.replace("customer_id=None", "**_"))
    run = run_suite(
        suite, tracking_uri=store_uri, args=["--no-llm-judges", "--predict-fn", f"{tmp_path}/agent.py:answer"]
    )
    assert run.exit_code == 1, run.stderr_tail
    paired = {gate.scorer: gate for gate in run.result.paired_gates}
    tools = paired["calls_expected_tools"]
    assert not tools.passed and tools.pass_to_fail == tools.cases and tools.fail_to_pass == 0
    assert tools.p_value < 0.05
    assert paired["trace_succeeded"].passed  # it does not fail: it only does less


def test_a_manual_suite_without_predict_fn_says_what_to_pass(store_uri, tmp_path):
    suite = _small_suite(store_uri, tmp_path, strategy="manual")
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges"])
    assert run.exit_code == 2 and "pass --predict-fn" in run.stderr_tail


def test_an_unknown_gate_is_a_usage_error(store_uri, tmp_path):
    suite = _small_suite(store_uri, tmp_path)
    run = run_suite(suite, tracking_uri=store_uri, args=["--gate", "no_such_scorer=0.5"])
    assert run.exit_code == 2 and "scorers are" in run.stderr_tail


def test_a_suite_copied_elsewhere_still_runs(store_uri, tmp_path):
    suite = _small_suite(store_uri, tmp_path)
    moved = tmp_path / "ci-checkout" / "suite"
    shutil.copytree(suite.root, moved)
    run = run_suite(SuiteLayout(moved), tracking_uri=store_uri, args=["--no-llm-judges"])
    assert run.exit_code == 0, run.stderr_tail
