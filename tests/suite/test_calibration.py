"""calibrate_judges on a real suite and a real run of it: people's labels on the production traces,
pulled and compared with the scorers' verdicts on those traces' rows; run_eval.py's gates then
follow the calibration. Code scorers need no model, so these run offline; LLM judges against a fake
model are in test_judge_calibration.py."""

import json
from pathlib import Path

import pytest
from mlflow.entities import AssessmentSource, Feedback
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.agreement import Agreement
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.importing.trace_writer import write_traces
from mlflow_eval_mcp.suite.calibration import CALIBRATION_FILE, GATE_TRUST_FILE, calibrate_judges
from mlflow_eval_mcp.suite.eval_runs import run_traces
from mlflow_eval_mcp.suite.feedback import push_feedback
from mlflow_eval_mcp.suite.layout import REVIEW_FILE, SuiteLayout
from mlflow_eval_mcp.suite.review import review_traces
from mlflow_eval_mcp.suite.runner import run_suite
from tests.suite_copies import copy_demo_suite, copy_prepared, narrow, recorded, store_uri
from tests.trace_factory import make_trace

# The scorers these tests label, review and gate on; the others would only add writes to every row.
SCORERS = ("tool_call_errors", "no_refusal")


@pytest.fixture(scope="module")
def recorded_run(demo_suite, tmp_path_factory) -> Path:
    """The demo suite (its recorded cases, scored by SCORERS), its store, and one run of it."""
    root = tmp_path_factory.mktemp("calibration")
    suite = copy_demo_suite(demo_suite, root)
    narrow(suite, code_scorers=SCORERS, cases=recorded)
    run = run_suite(suite, tracking_uri=store_uri(root), args=["--no-llm-judges"])
    assert run.exit_code == 0, run.stderr_tail
    return root


class Copy:
    """The store, suite and run of `recorded_run`, copied for one test."""

    def __init__(self, template: Path, root: Path) -> None:
        copy_prepared(template, root)
        self.uri = store_uri(root)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.suite = SuiteLayout(root / "suite")
        latest = json.loads((root / "suite" / "evaluation" / "results" / "latest.json").read_text())
        self.rows = latest["row_results"]

    def verdicts(self, scorer: str) -> dict[str, bool]:
        """Production trace id -> the scorer's verdict on its row in the run."""
        return {row["source_trace_id"]: row["results"][scorer]["value"] for row in self.rows}

    def label(self, scorer: str, values: dict[str, bool], reviewer: str = "alice") -> None:
        source = AssessmentSource(source_type="HUMAN", source_id=reviewer)
        for trace_id, value in values.items():
            self.client._tracing_client.log_assessment(
                trace_id, Feedback(name=scorer, value=value, source=source, rationale=f"{reviewer} says {value}")
            )

    def calibrate(self, **options) -> object:
        return calibrate_judges(self.client, self.suite, **options)


@pytest.fixture
def copy(recorded_run, tmp_path) -> Copy:
    return Copy(recorded_run, tmp_path / "copy")


def _one(result, scorer):
    (found,) = [c for c in result.scorers if c.scorer == scorer]
    return found


def test_kappa_matches_a_worked_example():
    # 20 agreed passes, 15 agreed fails, 5 lenient, 10 strict of 50: p_o = .7, p_e = .5, kappa = .4.
    pairs = [(True, True)] * 20 + [(False, False)] * 15 + [(True, False)] * 5 + [(False, True)] * 10
    agreement = Agreement.of(pairs)
    assert (agreement.n, agreement.accuracy, round(agreement.kappa, 10)) == (50, 0.7, 0.4)


def test_kappa_is_undefined_when_people_gave_one_verdict():
    assert Agreement.of([(True, True)] * 9 + [(False, True)]).kappa is None


def test_a_code_scorer_people_agree_with_keeps_its_gate(copy):
    verdicts = copy.verdicts("tool_call_errors")
    copy.label("tool_call_errors", verdicts)
    found = _one(copy.calibrate(min_labels=len(verdicts)), "tool_call_errors")
    assert (found.labels, found.accuracy, found.kappa, found.gates) == (len(verdicts), 1.0, 1.0, True)
    assert found.confusion.both_fail == sum(not value for value in verdicts.values()) > 0
    assert found.disagreements == []


def test_a_code_scorer_people_disagree_with_becomes_advisory_and_a_finding(copy):
    verdicts = copy.verdicts("tool_call_errors")
    flipped = sorted(trace_id for trace_id, value in verdicts.items() if value)[:12]
    copy.label("tool_call_errors", {t: (not v if t in flipped else v) for t, v in verdicts.items()})
    result = copy.calibrate(min_labels=10)
    found = _one(result, "tool_call_errors")
    assert (found.gates, found.confusion.scorer_pass_human_fail) == (False, 12)
    assert found.kappa is not None and found.kappa < 0.6
    assert {d.source_trace_id for d in found.disagreements} <= set(flipped) and len(found.disagreements) == 5
    assert any("tool_call_errors disagrees with people" in line and "passes 12" in line for line in result.findings)
    trust = json.loads(copy.suite.path(GATE_TRUST_FILE).read_text())["scorers"]["tool_call_errors"]
    assert trust["gates"] is False and trust["reason"].startswith("advisory: kappa")


def test_a_gate_of_a_scorer_people_disagree_with_cannot_fail_the_run(copy):
    verdicts = copy.verdicts("tool_call_errors")
    copy.label("tool_call_errors", {trace_id: not value for trace_id, value in verdicts.items()})
    copy.calibrate(min_labels=10)
    run = run_suite(copy.suite, tracking_uri=copy.uri, args=["--no-llm-judges", "--gate", "tool_call_errors=1.0"])
    (gate,) = [g for g in run.result.gates if g.scorer == "tool_call_errors"]
    assert (run.exit_code, gate.passed, gate.advisory) == (0, False, True), run.stderr_tail
    assert gate.trust.startswith("advisory: kappa")


def test_too_few_labels_leave_a_code_scorer_gating_and_say_so(copy):
    verdicts = copy.verdicts("tool_call_errors")
    copy.label("tool_call_errors", {trace_id: not value for trace_id, value in list(verdicts.items())[:3]})
    found = _one(copy.calibrate(), "tool_call_errors")
    assert (found.labels, found.gates) == (3, True)
    assert found.reason == "code scorer (3 of 20 labels: too few to judge it)"


def test_reviewers_split_evenly_on_a_trace_are_left_out(copy):
    trace_id = next(iter(copy.verdicts("tool_call_errors")))
    copy.label("tool_call_errors", {trace_id: True}, reviewer="alice")
    copy.label("tool_call_errors", {trace_id: False}, reviewer="bob")
    result = copy.calibrate()
    assert result.split_labels == 1
    assert "tool_call_errors" not in {c.scorer for c in result.scorers}  # a code scorer is listed once labelled


def test_a_label_named_after_no_scorer_is_reported(copy):
    copy.label("tool_errors", dict(list(copy.verdicts("tool_call_errors").items())[:2]))
    result = copy.calibrate()
    assert "2 label(s) named 'tool_errors' match no scorer" in " ".join(result.findings)


def test_labels_written_in_the_review_file_count(copy):
    verdicts = copy.verdicts("no_refusal")
    reviews = [
        {"source_trace_id": t, "name": "no_refusal", "value": v, "reviewer": "carol"} for t, v in verdicts.items()
    ]
    copy.suite.path(REVIEW_FILE).write_text(json.dumps({"reviews": reviews}))
    assert _one(copy.calibrate(min_labels=5), "no_refusal").labels == len(verdicts)


def test_the_full_report_is_kept_in_the_suite(copy):
    result = copy.calibrate()
    stored = json.loads(copy.suite.path(CALIBRATION_FILE).read_text())
    assert stored["run_id"] == result.run_id and stored["min_labels"] == 20


def test_a_run_that_scored_no_production_trace_cannot_be_calibrated(copy):
    # As a --predict-fn run: its rows are new answers, none a recorded production trace.
    experiment_id = copy.client.create_experiment("candidate")
    run = copy.client.create_run(experiment_id)
    record = make_trace(0)
    write_traces(copy.uri, experiment_id, [record])
    copy.client.link_traces_to_run([record.trace_id], run.info.run_id)
    copy.client.set_trace_tag(record.trace_id, "row_kind", "predict_fn")
    assert [t.info.trace_id for t in run_traces(copy.client, run.info.run_id)] == [record.trace_id]
    with pytest.raises(InvalidArgumentError, match="without --predict-fn"):
        copy.calibrate(run_id=run.info.run_id)


def test_review_questions_are_balanced_between_the_scorers_passes_and_fails(copy):
    result = review_traces(copy.client, copy.suite, scorers=["tool_call_errors"], per_scorer=10)
    questions = json.loads(copy.suite.path(REVIEW_FILE).read_text())["reviews"]
    verdicts = copy.verdicts("tool_call_errors")
    assert (result.traces, result.labels_asked) == (10, ["tool_call_errors"])
    assert sorted(verdicts[q["source_trace_id"]] for q in questions) == [False] * 5 + [True] * 5
    assert all(q["value"] is None and q["question"].startswith("Pass or fail:") and q["request"] for q in questions)


def test_unanswered_questions_are_not_pushed_and_answered_ones_are_labels(copy):
    review_traces(copy.client, copy.suite, scorers=["tool_call_errors"], per_scorer=4)
    path = copy.suite.path(REVIEW_FILE)
    questions = json.loads(path.read_text())["reviews"]
    assert push_feedback(copy.client, copy.suite).skipped_reasons["review questions not answered yet"] == 4
    for question in questions[:3]:
        question.update(value=copy.verdicts("tool_call_errors")[question["source_trace_id"]], reviewer="dana")
    path.write_text(json.dumps({"reviews": questions}))
    assert push_feedback(copy.client, copy.suite).human_reviews == 3
    assert _one(copy.calibrate(), "tool_call_errors").labels == 3


def test_asking_again_does_not_repeat_a_question(copy):
    review_traces(copy.client, copy.suite, scorers=["tool_call_errors"], per_scorer=4)
    again = review_traces(copy.client, copy.suite, scorers=["tool_call_errors"], per_scorer=4)
    assert again.traces == 0 and len(json.loads(copy.suite.path(REVIEW_FILE).read_text())["reviews"]) == 4


def test_asking_about_a_scorer_the_suite_lacks_names_its_scorers(copy):
    with pytest.raises(InvalidArgumentError, match=r"No scorer named 'tone'.*tool_call_errors"):
        review_traces(copy.client, copy.suite, scorers=["tone"])
