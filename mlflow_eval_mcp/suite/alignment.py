"""`align_judge`: MLflow's `judge.align()` on the traces people labelled, kept only if it agrees
with people better.

The labelled traces are split, by a digest of their ids: the optimizer learns from most of them and
both judges, the suite's and the aligned one, are scored on the rest, which neither has seen, so
that "better" is not the aligned judge reciting its own lessons. When the aligned judge agrees more
(Cohen's kappa, or accuracy where the held-out labels are all alike), it replaces the suite's judge
(serialised as MLflow writes it, in evaluation/data/aligned_judges/), its calibration is the held-out
one, and it is registered in the production experiment. `calibrate_judges` later leaves the traces
it learned from out of its agreement.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from mlflow_eval_mcp.checks.agreement import Agreement, fingerprint, verdict
from mlflow_eval_mcp.checks.judges import ALIGNED_DIR, build_judge, judge_model
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.limits import MIN_KAPPA, MIN_LABELS
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.calibration import GATE_TRUST_FILE, Label, decide, human_labels, read_gate_trust
from mlflow_eval_mcp.suite.feedback import pull_feedback, read_reviews
from mlflow_eval_mcp.suite.judge_loop_models import AlignmentResult, AlignmentScore
from mlflow_eval_mcp.suite.layout import DATA_DIR, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import JudgeSpec
from mlflow_eval_mcp.suite.state import read_analysis, read_config, suite_lock
from mlflow_eval_mcp.suite.tasks import require
from mlflow_eval_mcp.traces import load_traces

if TYPE_CHECKING:
    from mlflow.entities import Trace
    from mlflow.tracking import MlflowClient

Optimizer = Literal["memalign", "simba", "gepa"]
MIN_TRAINING = {"memalign": 1, "simba": 10, "gepa": 10}
"""Labelled traces each optimizer needs to learn from (MLflow's DSPy optimizers refuse fewer than 10)."""
MIN_HELD_OUT = 5
"""Fewer held-out traces than this measure nothing: both judges are then scored on all the labels."""


def align_judge(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    judge: str,
    optimizer: Optimizer = "memalign",
    holdout: float = 0.3,
    model: str | None = None,
) -> AlignmentResult:
    """Align the suite's LLM judge `judge` with people's labels; keep it only if it agrees better."""
    require(suite, "scorers")
    config = read_config(suite)
    spec = next((j for j in config.judges if j.name == judge), None)
    if spec is None:
        names = ", ".join(j.name for j in config.judges) or "none"
        raise InvalidArgumentError(f"No LLM judge named {judge!r} in this suite (its judges: {names}).")
    if not 0 <= holdout < 1:
        raise InvalidArgumentError("holdout must be at least 0 and below 1 (the share of labels kept to measure).")
    started = time.perf_counter()
    chosen_model = judge_model(model, config.judge_model)
    original = build_judge(spec.model_dump(mode="json"), chosen_model, suite.path(DATA_DIR))
    learnable = _learnable_check()
    pull_feedback(client, suite)
    labels = human_labels(read_reviews(suite))[0].get(judge, {})
    traces = {t: trace for t, trace in _labelled_traces(client, judge, labels).items() if learnable(trace, original)}
    training, held_out = split(sorted(traces), holdout)
    if len(training) < MIN_TRAINING[optimizer]:
        raise InvalidArgumentError(
            f"{len(traces)} trace(s) carry a HUMAN pass/fail feedback named {judge!r} (and the request and response "
            f"it reads); {optimizer} needs "
            f"{MIN_TRAINING[optimizer]} to learn from besides those held out. Label more traces "
            f"({suggest('review_traces', suite_dir=str(suite.root), scorers=[judge])}), push them, and try again."
        )
    measured = held_out if len(held_out) >= MIN_HELD_OUT else sorted(traces)
    aligned = _aligned(original, [traces[t] for t in training], optimizer, chosen_model)
    before = score(original, [traces[t] for t in measured], labels)
    after = score(aligned, [traces[t] for t in measured], labels)
    improved = _better(after, before)
    registered = None
    if improved:
        _replace(suite, spec, aligned, training, after, measured is held_out)
        registered = _register(client, aligned, read_analysis(suite).experiment_id)
    root = str(suite.root)
    return AlignmentResult(
        suite_dir=root,
        judge=judge,
        optimizer=optimizer,
        aligned_on=len(training),
        measured_on=len(measured),
        before=_score(before),
        after=_score(after),
        improved=improved,
        replaced=improved,
        registered=registered,
        seconds=round(time.perf_counter() - started, 2),
        message=_message(judge, before, after, improved, measured is held_out),
        next_step=(
            f"run evaluation/run_eval.py, then {suggest('calibrate_judges', suite_dir=root)} on labels it did not "
            "learn from"
            if improved
            else f"label more traces ({suggest('review_traces', suite_dir=root, scorers=[judge])}) or try another "
            "optimizer"
        ),
    )


def split(trace_ids: list[str], holdout: float) -> tuple[list[str], list[str]]:
    """(training, held out): the held-out share chosen by a digest of each id, so the same labels
    always split the same way and a new label does not reshuffle the others."""
    ranked = sorted(trace_ids, key=lambda trace_id: hashlib.blake2b(trace_id.encode(), digest_size=8).digest())
    cut = math.floor(len(ranked) * holdout)
    return sorted(ranked[cut:]), sorted(ranked[:cut])


def score(judge: Any, traces: list[Trace], labels: dict[str, Label]) -> Agreement:
    """`judge` run on each trace, against people's label on it (a trace it gives no pass/fail is left out)."""
    pairs = []
    for trace in traces:
        passed = verdict(judge(trace=trace).value)
        if passed is not None:
            pairs.append((passed, labels[trace.info.trace_id].passed))
    return Agreement.of(pairs)


def _labelled_traces(client: MlflowClient, judge: str, labels: dict[str, Label]) -> dict[str, Trace]:
    """The labelled traces that carry the label as HUMAN feedback on the trace itself, which is
    where MLflow's optimizers read it (a review-file answer not yet pushed is not there)."""
    found = {}
    for trace in load_traces(client, sorted(labels)):
        for assessment in trace.info.assessments or []:
            source = str(getattr(assessment.source.source_type, "value", assessment.source.source_type))
            if assessment.feedback is not None and assessment.name == judge and source == "HUMAN":
                found[trace.info.trace_id] = trace
                break
    return found


def _learnable_check() -> Callable[[Trace, Any], bool]:
    """MLflow's own test of whether its optimizers can learn from a trace: a human label of the judge's
    name, and the request and response the judge reads (a trace with neither makes MemAlign refuse all)."""
    try:
        import dspy
        from mlflow.genai.judges.optimizers.dspy_utils import trace_to_dspy_example
    except ImportError as error:
        raise InvalidArgumentError(
            f"align_judge needs DSPy ({error}); install it with: pip install 'mlflow-eval-mcp[judges]'."
        ) from error
    # A cached answer would survive a change of the judge or of the labels.
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    return lambda trace, judge: bool(trace_to_dspy_example(trace, judge))


def _aligned(original: Any, training: list[Trace], optimizer: Optimizer, model: str) -> Any:
    from mlflow.genai.judges import optimizers

    if optimizer == "memalign":
        chosen = optimizers.MemAlignOptimizer(reflection_lm=model)
    elif optimizer == "simba":
        chosen = optimizers.SIMBAAlignmentOptimizer(model=model)
    else:
        chosen = optimizers.GEPAAlignmentOptimizer(model=model)
    try:
        return original.align(traces=training, optimizer=chosen)
    except Exception as error:  # the optimizers raise MlflowException, DSPy and provider errors alike
        raise InvalidArgumentError(
            f"{optimizer} could not align {original.name}: {str(error).splitlines()[0][:300]}"
        ) from error


def _better(after: Agreement, before: Agreement) -> bool:
    if after.kappa is not None and before.kappa is not None:
        return after.kappa > before.kappa + 1e-9
    return (after.accuracy or 0) > (before.accuracy or 0) + 1e-9


def _replace(
    suite: SuiteLayout, spec: JudgeSpec, aligned: Any, training: list[str], measured: Agreement, held_out: bool
) -> None:
    """The aligned judge in place of `spec` in the suite, with the held-out measure as its calibration."""
    with suite_lock(suite):
        write_json_atomic(suite.path(f"{DATA_DIR}/{ALIGNED_DIR}/{spec.name}.json"), aligned.model_dump(mode="json"))
        config = read_config(suite)
        replacement = JudgeSpec(
            name=spec.name,
            judge="aligned",
            instructions=str(aligned.instructions),
            requires_expectations=spec.requires_expectations,
            findings=spec.findings,
            reason=f"{spec.reason} Aligned with people's labels on {len(training)} traces.",
            source=spec.source,
            aligned_on=training,
        )
        config.judges = [replacement if j.name == spec.name else j for j in config.judges]
        write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_dump(mode="json"))
        _trust(suite, replacement, measured, held_out)


def _trust(suite: SuiteLayout, spec: JudgeSpec, measured: Agreement, held_out: bool) -> None:
    """The aligned judge's entry in gate_trust.json: it may gate on what it was measured on only if
    that was held out (agreement on the traces it learned from proves nothing)."""
    trust = read_gate_trust(suite)
    min_labels, min_kappa = trust.get("min_labels", MIN_LABELS), trust.get("min_kappa", MIN_KAPPA)
    gates, reason = decide(measured, True, min_labels, min_kappa) if held_out else (False, "")
    trust.setdefault("scorers", {})[spec.name] = {
        "gates": gates,
        "reason": f"{reason} (held out from alignment)" if held_out else "advisory: aligned; calibrate_judges again",
        "labels": measured.n,
        "kappa": measured.kappa,
        "pass_rate": None,
        "fingerprint": fingerprint(spec.model_dump(mode="json")),
    }
    write_json_atomic(suite.path(GATE_TRUST_FILE), trust)


def _register(client: MlflowClient, aligned: Any, experiment_id: str) -> str:
    """Register (or add a version of) the aligned judge in the production experiment, in the scorer
    store of this call's tracking URI; where the backend keeps no scorers, say why (the suite's copy
    is what runs either way)."""
    from mlflow.genai.scorers.registry import _get_scorer_store

    try:
        _get_scorer_store(client.tracking_uri).register_scorer(experiment_id, aligned)
    except Exception as error:  # any backend refusal is reported, not raised
        return f"not registered: {str(error).splitlines()[0][:200]}"
    return f"registered as scorer {aligned.name!r} in experiment {experiment_id}"


def _score(agreement: Agreement) -> AlignmentScore:
    kappa = agreement.kappa
    accuracy = agreement.accuracy
    return AlignmentScore(
        labels=agreement.n,
        accuracy=None if accuracy is None else round(accuracy, 4),
        kappa=None if kappa is None else round(kappa, 4),
    )


def _message(judge: str, before: Agreement, after: Agreement, improved: bool, held_out: bool) -> str:
    where = "held-out labels" if held_out else "all labels (too few to hold some out; measured in sample)"
    figures = f"kappa {_shown(before.kappa)} -> {_shown(after.kappa)}, accuracy {_shown(before.accuracy)} -> " + (
        f"{_shown(after.accuracy)} on {after.n} {where}"
    )
    if improved:
        return f"The aligned {judge} agrees better with people ({figures}); it replaced the suite's judge."
    return f"The aligned {judge} does not agree better with people ({figures}); the suite's judge is unchanged."


def _shown(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
