"""`calibrate_judges`: how far each scorer agrees with people, and so whether its gate may fail a run.

A person labels a production trace with a pass/fail feedback named after a scorer (in the MLflow
UI, in the review file, or in a Databricks labeling session): the name pairs label and scorer, as
MLflow's `judge.align()` pairs them. The scorer's verdicts come from an evaluation run of the
recorded traces, whose rows carry the production trace they copy. Per scorer: accuracy, Cohen's
kappa and the confusion matrix. An LLM judge gates only with at least `min_labels` labels and a
kappa of at least `min_kappa`; a code scorer gates unless that many labels show it disagrees.
The decisions go to `evaluation/data/gate_trust.json`, which run_eval.py reads.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.checks.agreement import Agreement, fingerprint, verdict
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.limits import MIN_KAPPA, MIN_LABELS
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.eval_runs import last_run_id, run_traces
from mlflow_eval_mcp.suite.feedback import pull_feedback, read_reviews
from mlflow_eval_mcp.suite.judge_loop_models import (
    CalibrationResult,
    ConfusionMatrix,
    Disagreement,
    ScorerCalibration,
)
from mlflow_eval_mcp.suite.layout import DATA_DIR, SuiteLayout
from mlflow_eval_mcp.suite.models import ScorerConfig
from mlflow_eval_mcp.suite.state import read_config
from mlflow_eval_mcp.suite.tasks import require

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CALIBRATION_FILE = "state/calibration.json"
GATE_TRUST_FILE = f"{DATA_DIR}/gate_trust.json"
SHOWN_DISAGREEMENTS = 5


@dataclass(frozen=True)
class Label:
    """What people said of one trace under one name: the majority of their pass/fail labels."""

    passed: bool
    rationale: str | None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rationale: str | None


def calibrate_judges(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    min_labels: int = MIN_LABELS,
    min_kappa: float = MIN_KAPPA,
    run_id: str | None = None,
) -> CalibrationResult:
    """Pull the human labels from the source traces, compare every judge (and every labelled code
    scorer) with them on the run's rows, and write which scorers may gate."""
    require(suite, "script")
    if min_labels < 1 or not -1 <= min_kappa <= 1:
        raise InvalidArgumentError("min_labels must be at least 1 and min_kappa between -1 and 1.")
    config = read_config(suite)
    run_id = run_id or last_run_id(suite)
    verdicts, pass_rates = run_verdicts(client, run_id, set(config.scorer_names()))
    pull_feedback(client, suite)
    labels, split = human_labels(read_reviews(suite))
    judges = {judge.name for judge in config.judges}
    specs = _specs(config)
    calibrations = [
        calibrate_one(
            name,
            name in judges,
            unseen(labels.get(name, {}), specs[name]),
            verdicts.get(name, {}),
            pass_rates.get(name),
            (min_labels, min_kappa),
        )
        for name in specs
        if name in judges or labels.get(name)
    ]
    unknown = Counter({name: len(found) for name, found in labels.items() if name not in specs})
    findings = [line for c in calibrations if (line := _finding(c, min_labels, min_kappa))]
    findings += [
        f"{count} label(s) named {name!r} match no scorer: a label counts for the scorer of the same name"
        for name, count in sorted(unknown.items())
    ]
    files = _write(suite, calibrations, specs, run_id, min_labels, min_kappa)
    result = CalibrationResult(
        suite_dir=str(suite.root),
        run_id=run_id,
        min_labels=min_labels,
        min_kappa=min_kappa,
        gating=[f"{c.scorer}: {c.reason}" for c in calibrations if c.gates],
        advisory=[f"{c.scorer}: {c.reason}" for c in calibrations if not c.gates],
        findings=findings,
        scorers=calibrations,
        human_labels=sum(len(found) for found in labels.values()),
        split_labels=split,
        files=files,
        next_step=_next_step(suite, calibrations, min_labels),
    )
    write_json_atomic(suite.path(CALIBRATION_FILE), result.model_dump(mode="json"))
    return result


def read_gate_trust(suite: SuiteLayout) -> dict[str, Any]:
    """The suite's `gate_trust.json` (an empty one before any calibration)."""
    path = suite.path(GATE_TRUST_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"scorers": {}}


def run_verdicts(
    client: MlflowClient, run_id: str, names: set[str]
) -> tuple[dict[str, dict[str, Verdict]], dict[str, float]]:
    """Scorer -> production trace id -> its verdict on that trace's row, for the recorded rows of
    the run; and each scorer's pass rate over all its verdicts in the run."""
    verdicts: dict[str, dict[str, Verdict]] = defaultdict(dict)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    recorded = 0
    for trace in run_traces(client, run_id):
        tags = trace.info.tags or {}
        source = tags.get("source_trace_id")
        for assessment in trace.info.assessments or []:
            if assessment.feedback is None or assessment.name not in names:
                continue
            passed = verdict(assessment.feedback.value)
            if passed is None:
                continue
            counts[assessment.name][0] += passed
            counts[assessment.name][1] += 1
            if source and tags.get("row_kind") == "recorded":
                verdicts[assessment.name][source] = Verdict(passed, assessment.rationale)
        recorded += bool(source and tags.get("row_kind") == "recorded")
    if not recorded:
        raise InvalidArgumentError(
            f"Run {run_id} scored no recorded production trace (a --predict-fn run?): people label the production "
            "traces, so calibrate against a run of the recorded cases (evaluation/run_eval.py without --predict-fn)."
        )
    return dict(verdicts), {name: passed / total for name, (passed, total) in counts.items() if total}


def human_labels(reviews: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Label]], int]:
    """Name -> trace id -> the majority of its reviewers' pass/fail labels; and how many trace and
    name pairs were split evenly (left out: people did not agree among themselves)."""
    votes: dict[tuple[str, str], list[tuple[bool, str | None]]] = defaultdict(list)
    for review in reviews:
        passed = verdict(review.get("value"))
        if passed is not None:
            votes[(review["name"], review["source_trace_id"])].append((passed, review.get("rationale")))
    labels: dict[str, dict[str, Label]] = defaultdict(dict)
    split = 0
    for (name, trace_id), cast in votes.items():
        passes = sum(passed for passed, _ in cast)
        if passes * 2 == len(cast):
            split += 1
            continue
        majority = passes * 2 > len(cast)
        rationale = next((why for passed, why in cast if passed == majority and why), None)
        labels[name][trace_id] = Label(majority, rationale)
    return dict(labels), split


def unseen(labels: dict[str, Label], spec: dict[str, Any]) -> dict[str, Label]:
    """The labels a judge did not learn from: an aligned judge agrees with the ones it was aligned on
    by construction, which says nothing of the traces it will judge."""
    learned = set(spec.get("aligned_on") or [])
    return {trace_id: label for trace_id, label in labels.items() if trace_id not in learned}


def calibrate_one(
    name: str,
    is_judge: bool,
    labels: dict[str, Label],
    verdicts: dict[str, Verdict],
    pass_rate: float | None,
    thresholds: tuple[int, float],
) -> ScorerCalibration:
    """One scorer against people, and whether it may gate."""
    paired = [
        (trace_id, verdicts[trace_id], label) for trace_id, label in sorted(labels.items()) if trace_id in verdicts
    ]
    agreement = Agreement.of([(found.passed, label.passed) for _, found, label in paired])
    gates, reason = decide(agreement, is_judge, *thresholds)
    return ScorerCalibration(
        scorer=name,
        kind="llm_judge" if is_judge else "code",
        labels=agreement.n,
        labels_without_verdict=len(labels) - agreement.n,
        accuracy=_rounded(agreement.accuracy),
        kappa=_rounded(agreement.kappa),
        confusion=ConfusionMatrix(
            both_pass=agreement.both_pass,
            both_fail=agreement.both_fail,
            scorer_pass_human_fail=agreement.scorer_pass_human_fail,
            scorer_fail_human_pass=agreement.scorer_fail_human_pass,
        ),
        pass_rate=_rounded(pass_rate),
        gates=gates,
        reason=reason,
        disagreements=[
            Disagreement(
                source_trace_id=trace_id,
                scorer=found.passed,
                human=label.passed,
                scorer_rationale=(found.rationale or "")[:300] or None,
                human_rationale=(label.rationale or "")[:300] or None,
            )
            for trace_id, found, label in paired
            if found.passed != label.passed
        ][:SHOWN_DISAGREEMENTS],
    )


def decide(agreement: Agreement, is_judge: bool, min_labels: int, min_kappa: float) -> tuple[bool, str]:
    """Whether a scorer with this agreement may gate, and the sentence that says why."""
    n, kappa = agreement.n, agreement.kappa
    measured = f"kappa {kappa:.2f}" if kappa is not None else "kappa undefined"
    if n < min_labels:
        if is_judge:
            return False, f"advisory: {n} of the {min_labels} human labels needed"
        return True, f"code scorer ({n} of {min_labels} labels: too few to judge it)"
    if kappa is None:
        one_verdict = "pass" if agreement.both_pass + agreement.scorer_fail_human_pass else "fail"
        why = f"every human label is {one_verdict}, so agreement cannot show it tells a pass from a fail"
        return (not is_judge), (f"advisory: {why}" if is_judge else f"code scorer ({why})")
    if kappa < min_kappa:
        return False, f"advisory: {measured} < {min_kappa} on {n} labels"
    return True, f"{measured} ≥ {min_kappa} on {n} labels"


def _finding(calibration: ScorerCalibration, min_labels: int, min_kappa: float) -> str | None:
    """A scorer with enough labels that disagrees with people, with the way it leans."""
    if calibration.labels < min_labels or calibration.kappa is None or calibration.kappa >= min_kappa:
        return None
    confusion = calibration.confusion
    lenient, strict = confusion.scorer_pass_human_fail, confusion.scorer_fail_human_pass
    leans = (
        f"passes {lenient} trace(s) people failed"
        if lenient > strict
        else f"fails {strict} trace(s) people passed"
        if strict > lenient
        else f"differs from people on {lenient + strict} trace(s) both ways"
    )
    kind = "LLM judge" if calibration.kind == "llm_judge" else "code scorer"
    return f"{kind} {calibration.scorer} disagrees with people (kappa {calibration.kappa:.2f}): it {leans}"


def _specs(config: ScorerConfig) -> dict[str, dict[str, Any]]:
    """Scorer name -> its configuration as scorer_config.json holds it (fingerprinted per scorer)."""
    return {spec.name: spec.model_dump(mode="json") for spec in [*config.all_code(), *config.judges]}


def _write(
    suite: SuiteLayout,
    calibrations: list[ScorerCalibration],
    specs: dict[str, dict[str, Any]],
    run_id: str,
    min_labels: int,
    min_kappa: float,
) -> list[str]:
    write_json_atomic(
        suite.path(GATE_TRUST_FILE),
        {
            "note": "written by calibrate_judges: which scorers' gates may fail run_eval.py, measured against people",
            "run_id": run_id,
            "min_labels": min_labels,
            "min_kappa": min_kappa,
            "scorers": {
                c.scorer: {
                    "gates": c.gates,
                    "reason": c.reason,
                    "labels": c.labels,
                    "kappa": c.kappa,
                    "pass_rate": c.pass_rate,
                    "fingerprint": fingerprint(specs[c.scorer]),
                }
                for c in calibrations
            },
        },
    )
    return [CALIBRATION_FILE, GATE_TRUST_FILE]


def _next_step(suite: SuiteLayout, calibrations: list[ScorerCalibration], min_labels: int) -> str:
    root = str(suite.root)
    advisory = [c for c in calibrations if c.kind == "llm_judge" and not c.gates]
    misaligned = [c.scorer for c in advisory if c.labels >= min_labels and c.kappa is not None]
    if misaligned:
        return f"{suggest('align_judge', suite_dir=root, judge=misaligned[0])} to align it with people's labels"
    if advisory:
        names = ", ".join(c.scorer for c in advisory[:3])
        return f"{suggest('review_traces', suite_dir=root)} to ask people for pass/fail labels named {names}"
    return f"run evaluation/run_eval.py: the calibrated scorers gate ({suggest('monitor_judges', suite_dir=root)} next)"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
