"""Conversations carried through the suite: sessions recorded one trace per turn become session
cases (every trace kept, grouped as MLflow's session-level evaluation groups them), scored whole
by session-level scorers built on the analysis' own checks, from run_eval.py as a user runs it."""

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.genai.simulators import ConversationSimulator
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.importer import import_traces
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, ScorersResult
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.runner import run_suite
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from mlflow_eval_mcp.suite.state import read_cases
from tests.conversations import session_records, write_sessions
from tests.suite_copies import write_ahead

SESSIONS = ["correction", "repeat", "frustration", "abandoned", "clean_follow_up"]
AGENT = """
def answer(**inputs):
    return "Your order has shipped."
"""


@dataclass
class SessionSuite:
    uri: str
    client: MlflowClient
    experiment_id: str
    suite: SuiteLayout
    scorers: ScorersResult

    def cases(self) -> list[DatasetCase]:
        return read_cases(self.suite)

    def sessions(self) -> dict[str, DatasetCase]:
        """Session cases by the conversation they recorded."""
        return {case.session_id or "": case for case in self.cases() if case.kind == "session"}


def _suite(template_db: Path, root: Path, names: list[str], *, singles: int = 12) -> SessionSuite:
    store = root / "mlflow.db"
    shutil.copy(template_db, store)
    uri = f"sqlite:///{store}"
    write_ahead(uri)
    client = MlflowClient(tracking_uri=uri)
    source = write_sessions(root / "sessions.jsonl", names, singles=singles)
    report = import_traces(client, str(source), experiment_name="chat", artifacts_dir=root / "artifacts")
    suite = SuiteLayout(root / "suite")
    analyze_into_suite(client, suite, experiment_id=report.experiment_id)
    generate_dataset(client, suite, max_cases=50)
    scorers = generate_scorers(suite)
    render_run_script(suite)
    return SessionSuite(uri, client, report.experiment_id, suite, scorers)


@pytest.fixture(scope="module")
def built(template_db, tmp_path_factory) -> SessionSuite:
    return _suite(template_db, tmp_path_factory.mktemp("sessions"), SESSIONS)


@pytest.fixture(scope="module")
def recorded(built):
    run = run_suite(built.suite, tracking_uri=built.uri, args=["--no-llm-judges"])
    assert (run.exit_code, run.timed_out) == (0, False), run.stderr_tail
    return run


def _evaluation_modules(suite: SuiteLayout):
    """The suite's eval_dataset module, imported from its folder as run_eval.py does."""
    folder = suite.path("evaluation")
    spec = importlib.util.spec_from_file_location("session_suite_eval_dataset", folder / "eval_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_session_becomes_a_case_holding_its_traces_in_order(built):
    recorded: dict[str, list[tuple[int, str]]] = {}
    for trace in built.client.search_traces(locations=[built.experiment_id], max_results=200):
        session = trace.info.trace_metadata.get("mlflow.trace.session")
        if session:
            recorded.setdefault(session, []).append((trace.info.request_time, trace.info.trace_id))
    expected = {session: [trace_id for _, trace_id in sorted(turns)] for session, turns in recorded.items()}
    assert {name: case.trace_ids for name, case in built.sessions().items()} == expected
    assert all(len(trace_ids) == 2 for trace_ids in expected.values())


def test_a_session_case_is_a_conversation_simulator_test_case(built):
    module = _evaluation_modules(built.suite)
    test_cases = module.session_test_cases()
    simulator = ConversationSimulator(test_cases=test_cases, user_model="openai:/gpt-4.1-mini")
    assert len(simulator.test_cases) == len(SESSIONS)
    repeat = built.sessions()["repeat"]
    assert repeat.inputs == {
        "goal": "Can I still return the blue backpack after 30 days?",
        "simulation_guidelines": [
            "Then say, as the recorded user did: Can I still return the blue backpack after 30 days"
        ],
    }


def test_each_trace_is_scored_once_and_only_a_session_case_s_traces_carry_a_session(built):
    rows = _evaluation_modules(built.suite).recorded_rows()
    traces = [json.loads(row["trace"]) for row in rows]
    ids = [trace["info"]["trace_id"] for trace in traces]
    assert len(ids) == len(set(ids))
    by_case = {case.case_id: set(case.trace_ids) for case in built.cases() if case.kind == "session"}
    for trace in traces:
        session = trace["info"]["trace_metadata"].get("mlflow.trace.session")
        owner = next(
            (case_id for case_id, trace_ids in by_case.items() if trace["info"]["trace_id"] in trace_ids), None
        )
        assert session == owner


def test_sessions_that_redact_alike_stay_apart(template_db, tmp_path):
    """Session ids holding email addresses redact to the same text; the suite must not merge them."""
    root = tmp_path
    lines = []
    for index, name in enumerate(["repeat", "clean_follow_up"]):
        lines += session_records(name, session_id=f"customer{index}@example.com")
    source = root / "emails.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines))
    store = root / "mlflow.db"
    shutil.copy(template_db, store)
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    report = import_traces(client, str(source), experiment_name="chat", artifacts_dir=root / "artifacts")
    suite = SuiteLayout(root / "suite")
    analyze_into_suite(client, suite, experiment_id=report.experiment_id)
    generate_dataset(client, suite, max_cases=10)
    sessions = [case for case in read_cases(suite) if case.kind == "session"]
    assert len(sessions) == 2 and {case.session_id for case in sessions} == {"[REDACTED_EMAIL]"}
    rows = _evaluation_modules(suite).recorded_rows()
    grouped = {json.loads(row["trace"])["info"]["trace_metadata"]["mlflow.trace.session"] for row in rows}
    assert grouped == {case.case_id for case in sessions}


def test_session_level_scorers_are_planned_for_the_signals_only_whole_sessions_show(built):
    """Each turn is recorded alone: a correction or a repeat shows only beside the turn before it (the
    frustrated turn shows alone, so its trace-level scorer suffices)."""
    session_specs = {spec.name: spec for spec in built.scorers.code_scorers if spec.level == "session"}
    assert set(session_specs) == {"no_user_friction_in_session", "conversation_completed_in_session"}
    assert session_specs["no_user_friction_in_session"].params == {"signals": ["user_correction", "user_repeat"]}


def test_a_session_level_scorer_gives_one_value_per_session_failing_those_the_analysis_flagged(built, recorded):
    stats = recorded.result.scorers["no_user_friction_in_session"]
    assert (stats.values, stats.missing, stats.passed) == (len(SESSIONS), 0, 3)
    cases = {case.case_id: case for case in built.cases()}
    failed = {
        cases[row.session_case_id].session_id
        for row in recorded.result.row_results
        if row.results["no_user_friction_in_session"].value is False
    }
    assert failed == {"correction", "repeat"}


def test_the_recorded_sessions_pass_their_own_session_gates(recorded):
    gates = {gate.scorer: gate for gate in recorded.result.gates}
    assert gates["no_user_friction_in_session"].passed and gates["no_user_friction_in_session"].pass_rate == 0.6
    assert gates["conversation_completed_in_session"].pass_rate == 0.8


def test_a_predict_fn_run_skips_the_session_scorers_and_their_gates(built, tmp_path):
    (tmp_path / "agent.py").write_text(AGENT)
    run = run_suite(
        built.suite, tracking_uri=built.uri, args=["--no-llm-judges", "--predict-fn", f"{tmp_path}/agent.py:answer"]
    )
    assert run.exit_code in (0, 1), run.stderr_tail
    skipped = {entry.scorer: entry.reason for entry in run.result.skipped}
    assert skipped["no_user_friction_in_session"].startswith("session-level: scores the recorded sessions")
    assert not any(gate.scorer.endswith("_in_session") for gate in run.result.gates)
    assert run.result.rows == sum(case.kind != "session" for case in built.cases())


def test_without_session_cases_the_session_scorers_are_left_out_with_why(template_db, tmp_path):
    suite = _suite(template_db, tmp_path, ["repeat", "clean_follow_up"])
    cases = read_cases(suite.suite)
    kept = [case for case in cases if case.kind != "session"]
    (suite.suite.path("evaluation/data/cases.jsonl")).write_text(
        "".join(case.model_dump_json() + "\n" for case in kept)
    )
    result = generate_scorers(suite.suite)
    assert not [spec for spec in result.code_scorers if spec.level == "session"]
    assert "no_user_friction_in_session: the dataset has no session case to score whole" in result.not_used


def test_a_session_whose_traces_are_gone_is_left_out(template_db, tmp_path):
    root = tmp_path
    store = root / "mlflow.db"
    shutil.copy(template_db, store)
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    source = write_sessions(root / "sessions.jsonl", ["repeat", "clean_follow_up"], singles=6)
    report = import_traces(client, str(source), experiment_name="chat", artifacts_dir=root / "artifacts")
    suite = SuiteLayout(root / "suite")
    analysis = analyze_into_suite(client, suite, experiment_id=report.experiment_id)
    [repeat] = [s for s in analysis.conversations.session_samples if s.session_id == "repeat"]
    client.delete_traces(experiment_id=report.experiment_id, trace_ids=repeat.trace_ids[1:])
    generate_dataset(client, suite, max_cases=20)
    assert {case.session_id for case in read_cases(suite) if case.kind == "session"} == {"clean_follow_up"}
