"""calibrate_judges with LLM judges: the demo suite's judges replaced by two make_judge judges that a
fake OpenAI answers over real HTTP, a real run of run_eval.py with them, people's labels on the
production traces, and run_eval.py's judge gates following the calibration.

The fake judges the reply it is shown: `answers_politely` passes a reply that says please, sorry
or let me know; `answers_in_full` passes any reply that is not empty. People agree with the first
on 19 of 20 labels; of 20 labels on the second, they fail 6 replies it passed (it is too lenient)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import AssessmentSource, Feedback
from mlflow.genai.utils.trace_utils import resolve_outputs_from_trace
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.suite.calibration import calibrate_judges
from mlflow_eval_mcp.suite.judge_loop_models import CalibrationResult, ScorerCalibration
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, JudgeSpec
from mlflow_eval_mcp.suite.reports import GateResult, RunResult
from mlflow_eval_mcp.suite.runner import SuiteRun, run_suite
from mlflow_eval_mcp.traces import load_traces
from tests.fake_openai import FakeOpenAI, Reply, fake_openai, message_text, use_fake_openai, verdict
from tests.suite_copies import copy_demo_suite, copy_prepared, narrow, store_uri

POLITE = "answers_politely"
IN_FULL = "answers_in_full"
JUDGES = {
    POLITE: JudgeSpec(
        name=POLITE,
        judge="make_judge",
        instructions="Is the reply in {{ outputs }} to the request in {{ inputs }} polite: does it say please, sorry "
        "or let me know?",
        reason="replies must be polite",
    ),
    IN_FULL: JudgeSpec(
        name=IN_FULL,
        judge="make_judge",
        instructions="Does the reply in {{ outputs }} answer the request in {{ inputs }} in full?",
        reason="replies must answer the request",
    ),
}
JUDGE_MODEL = "openai:/gpt-4o-mini"
NOT_CALIBRATED = "advisory: not calibrated against human labels (calibrate_judges)"
# The user message of a make_judge call: `outputs: <the reply as JSON, or NaN>` then `inputs: ...`.
_REPLY = re.compile(r"^outputs: (.*?)(?=^\w+: |\Z)", re.DOTALL | re.MULTILINE)


def polite(reply: str) -> bool:
    return any(word in reply.lower() for word in ("please", "sorry", "let me know"))


def in_full(reply: str) -> bool:
    return reply.strip() not in ("NaN", '""')


RULES = {POLITE: polite, IN_FULL: in_full}


def judged(request: dict[str, Any]) -> tuple[str, bool]:
    """Which judge a request is from (by its instructions) and the fake model's verdict on its reply."""
    system = message_text(request, "system")
    (name,) = [name for name, spec in JUDGES.items() if spec.instructions and spec.instructions in system]
    match = _REPLY.search(message_text(request, "user"))
    if match is None:
        raise ValueError("the judge's user message shows no outputs")
    return name, RULES[name](match.group(1))


def answer(request: dict[str, Any]) -> Reply:
    name, passed = judged(request)
    return verdict(request, passed, f"{name}: {'meets' if passed else 'misses'} the criterion")


@dataclass(frozen=True)
class JudgedRun:
    """The store and suite (with the two judges) after one run of run_eval.py, with what the fake was asked."""

    root: Path
    run: SuiteRun
    requests: list[dict[str, Any]]

    @property
    def result(self) -> RunResult:
        assert self.run.result is not None, self.run.stderr_tail
        return self.run.result


# The rows each judge must pass and fail for the labels `calibrated` gives.
NEEDED = {(POLITE, True): 10, (POLITE, False): 10, (IN_FULL, True): 15, (IN_FULL, False): 5}


def labelled(client: MlflowClient) -> Callable[[list[DatasetCase]], list[DatasetCase]]:
    """The first cases, in order, that together give each judge the passes and fails NEEDED: the
    verdicts the fake will give on their recorded replies, each shown as a judge is shown it."""

    def pick(cases: list[DatasetCase]) -> list[DatasetCase]:
        short = Counter(NEEDED)
        kept = []
        for case in cases:
            if case.kind == "synthetic":  # no recorded trace: not a row of a recorded run
                continue
            traces = load_traces(client, case.trace_ids if case.kind == "session" else [case.source_trace_id or ""])
            replies = [resolve_outputs_from_trace(None, trace) for trace in traces]
            verdicts = [
                (name, rule("NaN" if reply is None else json.dumps(reply)))
                for reply in replies
                for name, rule in RULES.items()
            ]
            if any(short[verdict] > 0 for verdict in verdicts):
                kept.append(case)
                short.subtract(verdicts)
        assert max(short.values()) <= 0, f"the demo suite lacks rows: {short}"
        return kept

    return pick


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai(answer) as server:
        yield server


@pytest.fixture(scope="module")
def judged_run(demo_suite, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> JudgedRun:
    """The demo suite judged by the two judges alone, on the cases `calibrated` labels, run once with a gate
    on one judge."""
    root = tmp_path_factory.mktemp("judge-calibration")
    suite = copy_demo_suite(demo_suite, root)
    client = MlflowClient(tracking_uri=store_uri(root))
    narrow(suite, code_scorers=(), judges=list(JUDGES.values()), judge_model=JUDGE_MODEL, cases=labelled(client))
    with pytest.MonkeyPatch.context() as env:
        use_fake_openai(env, fake, root)
        run = run_suite(suite, tracking_uri=store_uri(root), args=["--gate", f"{IN_FULL}=1.0"])
    assert run.result is not None, run.stderr_tail
    return JudgedRun(root, run, fake.chat_requests())


class Copy:
    """The store, suite and run of `judged_run`, copied."""

    def __init__(self, template: Path, root: Path) -> None:
        copy_prepared(template, root)
        self.root = root
        self.client = MlflowClient(tracking_uri=store_uri(root))
        self.suite = SuiteLayout(root / "suite")
        latest = json.loads((root / "suite" / "evaluation" / "results" / "latest.json").read_text())
        self.rows = latest["row_results"]

    def verdicts(self, scorer: str, passed: bool) -> list[str]:
        """The production traces whose rows the scorer passed (or failed) in the run, sorted."""
        return sorted(row["source_trace_id"] for row in self.rows if row["results"][scorer]["value"] is passed)

    def label(self, scorer: str, values: dict[str, bool]) -> None:
        source = AssessmentSource(source_type="HUMAN", source_id="alice")
        for trace_id, value in values.items():
            self.client._tracing_client.log_assessment(
                trace_id, Feedback(name=scorer, value=value, source=source, rationale=f"alice says {value}")
            )


@dataclass(frozen=True)
class Calibrated:
    calibration: CalibrationResult
    rerun: SuiteRun

    def scorer(self, name: str) -> ScorerCalibration:
        (found,) = [c for c in self.calibration.scorers if c.scorer == name]
        return found

    def gate(self, name: str) -> GateResult:
        assert self.rerun.result is not None, self.rerun.stderr_tail
        (found,) = [gate for gate in self.rerun.result.gates if gate.scorer == name]
        return found


@pytest.fixture(scope="module")
def calibrated(judged_run: JudgedRun, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Calibrated:
    """A copy of `judged_run` labelled by people, calibrated, and run again with the same gate."""
    copy = Copy(judged_run.root, tmp_path_factory.mktemp("calibrated"))
    polite_passed, polite_failed = copy.verdicts(POLITE, True), copy.verdicts(POLITE, False)
    # 10 agreed passes, 9 agreed fails, and one trace people pass that the judge failed.
    copy.label(POLITE, {t: True for t in polite_passed[:10]} | {t: t == polite_failed[0] for t in polite_failed[:10]})
    full_passed, full_failed = copy.verdicts(IN_FULL, True), copy.verdicts(IN_FULL, False)
    # 5 agreed fails (the empty replies), and of 15 replies the judge passed, people fail 6 and pass 9.
    copy.label(IN_FULL, {t: False for t in full_failed[:5]} | {t: t not in full_passed[:6] for t in full_passed[:15]})
    calibration = calibrate_judges(copy.client, copy.suite)
    with pytest.MonkeyPatch.context() as env:
        use_fake_openai(env, fake, copy.root)
        rerun = run_suite(copy.suite, tracking_uri=store_uri(copy.root), args=["--gate", f"{IN_FULL}=1.0"])
    return Calibrated(calibration, rerun)


def test_the_judges_give_a_verdict_on_every_recorded_row(judged_run):
    result = judged_run.result
    for name in JUDGES:
        stats = result.scorers[name]
        assert (stats.values, stats.missing, stats.errors) == (result.rows, 0, []), name
        assert all(isinstance(row.results[name].value, bool) for row in result.row_results), name


def test_the_verdicts_are_the_models_answers(judged_run):
    asked = [judged(request) for request in judged_run.requests]
    for name in JUDGES:
        answers = [passed for judge, passed in asked if judge == name]
        assert len(answers) == judged_run.result.rows
        assert judged_run.result.scorers[name].passed == sum(answers) > 0
        assert sum(answers) < len(answers)


def test_before_calibration_a_judge_gate_cannot_fail_the_run(judged_run):
    (gate,) = [gate for gate in judged_run.result.gates if gate.scorer == IN_FULL]
    assert (judged_run.run.exit_code, gate.passed, gate.advisory, gate.trust) == (0, False, True, NOT_CALIBRATED)


def test_a_judge_people_agree_with_gates(calibrated):
    found = calibrated.scorer(POLITE)
    # p_o = 19/20; the judge passes 10, people 11: p_e = (10*11 + 10*9)/400 = .5; kappa = (.95 - .5)/.5 = .9.
    assert (found.kind, found.labels, found.accuracy, found.kappa) == ("llm_judge", 20, 0.95, 0.9)
    confusion = found.confusion
    assert (confusion.both_pass, confusion.both_fail) == (10, 9)
    assert (confusion.scorer_pass_human_fail, confusion.scorer_fail_human_pass) == (0, 1)
    assert (found.gates, found.reason) == (True, "kappa 0.90 ≥ 0.6 on 20 labels")
    assert f"{POLITE}: kappa 0.90 ≥ 0.6 on 20 labels" in calibrated.calibration.gating


def test_a_judge_people_disagree_with_is_advisory(calibrated):
    found = calibrated.scorer(IN_FULL)
    # p_o = 14/20; the judge passes 15, people 9: p_e = (15*9 + 5*11)/400 = .475; kappa = .225/.525 = 3/7.
    assert (found.labels, found.accuracy, found.kappa) == (20, 0.7, 0.4286)
    confusion = found.confusion
    assert (confusion.both_pass, confusion.both_fail) == (9, 5)
    assert (confusion.scorer_pass_human_fail, confusion.scorer_fail_human_pass) == (6, 0)
    assert (found.gates, found.reason) == (False, "advisory: kappa 0.43 < 0.6 on 20 labels")


def test_a_judge_people_disagree_with_is_a_finding(calibrated):
    assert calibrated.calibration.findings == [
        f"LLM judge {IN_FULL} disagrees with people (kappa 0.43): it passes 6 trace(s) people failed"
    ]


def test_a_calibrated_judge_gates_the_run_at_its_pass_rate(calibrated, judged_run):
    gate = calibrated.gate(POLITE)
    production = judged_run.result.scorers[POLITE].pass_rate
    assert (gate.minimum, gate.pass_rate, gate.passed) == (int(production * 10_000) / 10_000, production, True)
    assert (gate.advisory, gate.trust) == (False, "kappa 0.90 ≥ 0.6 on 20 labels")


def test_a_gate_of_a_judge_people_disagree_with_cannot_fail_the_run(calibrated):
    gate = calibrated.gate(IN_FULL)
    assert (calibrated.rerun.exit_code, gate.passed, gate.advisory) == (0, False, True), calibrated.rerun.stderr_tail
    assert gate.trust == "advisory: kappa 0.43 < 0.6 on 20 labels"
