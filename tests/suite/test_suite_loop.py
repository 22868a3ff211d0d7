"""The whole loop on the demo corpus: generate, validate, push results onto the production traces
(twice: nothing duplicated), annotate as a human, pull, and compare two runs in which one scorer
regressed."""

import json
from pathlib import Path

import pytest
from mlflow.entities import AssessmentSource, Expectation, Feedback
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.paired import mcnemar_exact
from mlflow_eval_mcp.frontend.cli import main
from mlflow_eval_mcp.suite.compare import compare_runs
from mlflow_eval_mcp.suite.feedback import SUITE_TAG, pull_feedback, push_feedback, source_id
from mlflow_eval_mcp.suite.layout import CASES_FILE, REVIEW_FILE
from mlflow_eval_mcp.suite.runner import run_suite
from mlflow_eval_mcp.suite.validation import validate_eval
from tests.suite_copies import copy_demo_suite, store_uri

EMPTY_AGENT = "def answer(question, customer_id=None):\n    return ''\n"


class Loop:
    def __init__(self, root: Path, demo_suite) -> None:
        self.suite = copy_demo_suite(demo_suite, root)
        self.client = MlflowClient(tracking_uri=store_uri(root))
        self.root = root
        self.validation = validate_eval(self.client, self.suite)
        self.first_push = push_feedback(self.client, self.suite)
        self.second_push = push_feedback(self.client, self.suite)

    def cases(self) -> list[dict]:
        return [json.loads(line) for line in (self.suite.root / CASES_FILE).read_text().splitlines()]


@pytest.fixture(scope="module")
def loop(demo_suite, tmp_path_factory) -> Loop:
    return Loop(tmp_path_factory.mktemp("loop"), demo_suite)


def test_validation_of_a_generated_suite_passes(loop):
    statuses = {check.name: check.status for check in loop.validation.checks}
    assert loop.validation.status == "passed", [c for c in loop.validation.checks if c.status == "failed"]
    assert statuses["judges"] == "skipped"  # no judge credentials here: said so, not passed
    assert {"files_compile", "dataset_schema", "code_scorers_dry_run", "no_degenerate_scorer"} <= {
        name for name, status in statuses.items() if status == "passed"
    }
    stored = json.loads((loop.suite.root / "state" / "validation_results.json").read_text())
    assert stored["status"] == "passed" and stored["run_id"] == loop.validation.run_id


def test_push_writes_every_scorer_result_onto_its_source_trace(loop):
    # Every trace kept, by each trace-level code scorer; each session, by each session-level one.
    rows, scorers, sessions, session_scorers = 51, 22, 5, 2
    assert (loop.first_push.logged, loop.first_push.skipped) == (rows * scorers + sessions * session_scorers, 0)
    case = next(case for case in loop.cases() if case["has_trace"] and "tool_exceptions" in case["reasons"])
    trace = loop.client.get_trace(case["source_trace_id"])
    pushed = {a.name: a for a in trace.info.assessments if a.source.source_id.startswith("mlflow-eval-mcp:")}
    assert pushed["tool_call_errors"].feedback.value is False
    assert pushed["tool_call_errors"].source.source_type == "CODE"
    assert pushed["tool_call_errors"].source.source_id == source_id("demo", "tool_call_errors")
    assert "finding" in pushed["tool_call_errors"].rationale
    assert trace.info.tags[SUITE_TAG] == "demo"


def test_a_second_push_adds_nothing(loop):
    assert (loop.second_push.logged, loop.second_push.updated) == (0, 0)
    assert loop.second_push.unchanged == loop.first_push.logged


def test_human_labels_added_on_the_traces_are_pulled_into_the_suite(loop):
    case = next(case for case in loop.cases() if case["has_trace"])
    trace_id = case["source_trace_id"]
    reviewer = AssessmentSource(source_type="HUMAN", source_id="alice@example.com")
    tracing = loop.client._tracing_client
    tracing.log_assessment(trace_id, Feedback(name="resolved", value=False, source=reviewer, rationale="wrong order"))
    tracing.log_assessment(
        trace_id, Expectation(name="expected_response", value="Order shipped Monday.", source=reviewer)
    )
    pulled = pull_feedback(loop.client, loop.suite)
    assert (pulled.human_feedback, pulled.expectations, pulled.cases_updated) == (1, 1, 1)
    (updated,) = [c for c in loop.cases() if c["case_id"] == case["case_id"]]
    assert updated["expectations"]["expected_response"] == "Order shipped Monday."
    assert updated["expectations"]["human_assessments"] == {"resolved": False}
    reviews = json.loads((loop.suite.root / REVIEW_FILE).read_text())["reviews"]
    assert reviews == [
        {
            "source_trace_id": trace_id,
            "name": "resolved",
            "value": False,
            "rationale": "wrong order",
            "reviewer": "alice@example.com",
            "source": "mlflow",
        }
    ]


def test_reviews_written_in_the_suite_are_pushed_as_human_feedback(loop):
    case = next(case for case in loop.cases() if case["has_trace"])
    review = {"source_trace_id": case["source_trace_id"], "name": "tone_ok", "value": True, "reviewer": "bob"}
    (loop.suite.root / REVIEW_FILE).write_text(json.dumps({"reviews": [review]}))
    pushed = push_feedback(loop.client, loop.suite)
    assert (pushed.human_reviews, pushed.logged) == (1, 1)
    trace = loop.client.get_trace(case["source_trace_id"])
    (human,) = [a for a in trace.info.assessments if a.name == "tone_ok"]
    assert (human.source.source_type, human.source.source_id, human.feedback.value) == ("HUMAN", "bob", True)


def test_comparing_with_a_run_in_which_one_scorer_regressed_names_it_and_its_rows(loop):
    (loop.root / "agent.py").write_text(EMPTY_AGENT)
    candidate = run_suite(
        loop.suite,
        tracking_uri=loop.client.tracking_uri,
        args=["--no-llm-judges", "--predict-fn", f"{loop.root / 'agent.py'}:answer"],
    )
    assert candidate.result is not None, candidate.stderr_tail
    comparison = compare_runs(loop.client, loop.validation.run_id, candidate.result.run_id)
    by_scorer = {c.scorer: c for c in comparison.scorers}
    assert comparison.verdict == "regressed"
    empty = by_scorer["non_empty_response"]
    assert empty.verdict == "regressed" and empty.p_value < 1e-6
    assert empty.pass_to_fail == 37 and len(empty.regressed_rows) == 37
    # An empty answer also does none of what the good recordings did.
    regressed = {name for name, c in by_scorer.items() if c.verdict == "regressed"}
    assert regressed == {
        *("non_empty_response", "calls_expected_tools", "states_expected_facts", "answers_the_request"),
        "response_shape",
    }
    # The synthetic cases exist only in the predict_fn run, the sessions' turns only in the recorded one.
    assert comparison.unpaired_rows == 6 + 12
    assert comparison.metric_deltas["non_empty_response/mean"]["delta"] < -0.9
    with pytest.raises(SystemExit) as exited:  # the CLI fails a CI step on a regression when asked to
        main(
            [
                *("compare-runs", loop.validation.run_id, candidate.result.run_id, "--fail-on-regression"),
                *("--tracking-uri", loop.client.tracking_uri),
            ]
        )
    assert exited.value.code == 1


def test_a_run_compared_with_itself_is_unchanged(loop):
    comparison = compare_runs(loop.client, loop.validation.run_id, loop.validation.run_id)
    assert comparison.verdict == "unchanged" and comparison.regressions == []
    run_id, uri = loop.validation.run_id, loop.client.tracking_uri
    main(["compare-runs", run_id, run_id, "--fail-on-regression", "--tracking-uri", uri])  # no SystemExit


@pytest.mark.parametrize(
    ("flips", "p_value"), [((0, 0), 1.0), ((5, 0), 0.0625), ((6, 0), 0.03125), ((3, 3), 1.0), ((10, 2), 0.0386)]
)
def test_exact_mcnemar_matches_the_binomial_test(flips, p_value):
    assert mcnemar_exact(*flips) == pytest.approx(p_value, abs=1e-4)
