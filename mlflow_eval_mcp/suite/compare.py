"""`compare_runs`: did a candidate evaluation run regress against a baseline?

Rows are paired by their case id (the tag every suite row carries), else by a digest of their
inputs. Per scorer: pass rates, flips, and an exact two-sided McNemar test on the flips, which
is the right test for paired pass/fail outcomes and needs no large-sample approximation. Works on
MLflow 3.17 (3.18's `compare_evaluations` is not installable here).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.checks.paired import mcnemar_exact
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.models import CompareResult, ScorerComparison
from mlflow_eval_mcp.ui_links import run_url

if TYPE_CHECKING:
    from mlflow.entities import Trace
    from mlflow.tracking import MlflowClient

ALPHA = 0.05
LISTED_ROWS = 50


def compare_runs(
    client: MlflowClient, baseline_run_id: str, candidate_run_id: str, *, alpha: float = ALPHA
) -> CompareResult:
    baseline = _outcomes(client, baseline_run_id)
    candidate = _outcomes(client, candidate_run_id)
    paired = sorted(set(baseline) & set(candidate))
    scorers = sorted(
        {name for row in baseline.values() for name in row} & {name for row in candidate.values() for name in row}
    )
    comparisons = [_compare(scorer, paired, baseline, candidate, alpha) for scorer in scorers]
    verdicts = {comparison.verdict for comparison in comparisons}
    verdict = next((v for v in ("regressed", "improved", "changed") if v in verdicts), "unchanged")
    return CompareResult(
        baseline_run_id=baseline_run_id,
        candidate_run_id=candidate_run_id,
        metric_deltas=_metric_deltas(client, baseline_run_id, candidate_run_id),
        scorers=comparisons,
        unpaired_rows=len(set(baseline) ^ set(candidate)),
        verdict=verdict,
        baseline_ui_url=_run_link(client, baseline_run_id),
        candidate_ui_url=_run_link(client, candidate_run_id),
        regressions=[
            f"{c.scorer}: {c.pass_to_fail} rows pass -> fail vs {c.fail_to_pass} fail -> pass (p = {c.p_value:.3g}); "
            f"rows: {', '.join(c.regressed_rows[:10])}"
            for c in comparisons
            if c.verdict == "regressed"
        ],
    )


def _run_link(client: MlflowClient, run_id: str) -> str | None:
    return run_url(client.tracking_uri, client.get_run(run_id).info.experiment_id, run_id)


def _outcomes(client: MlflowClient, run_id: str) -> dict[str, dict[str, bool | None]]:
    """Row key -> scorer -> passed (None when the value is not pass/fail)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise InvalidArgumentError(f"No MLflow run {run_id!r} in this store: {error.message}") from error
    rows: dict[str, dict[str, bool | None]] = {}
    token = None
    while True:
        page = client.search_traces(
            locations=[run.info.experiment_id], run_id=run_id, max_results=500, page_token=token
        )
        for trace in page:
            rows[_row_key(trace)] = {
                a.name: _passed(a.feedback.value) for a in trace.info.assessments or [] if a.feedback is not None
            }
        token = page.token
        if not token:
            break
    if not rows:
        raise InvalidArgumentError(f"Run {run_id!r} has no evaluated rows; give the run id of an evaluation.")
    return rows


def _row_key(trace: Trace) -> str:
    # A session case has a row per turn, each with its own row_id (runs before sessions have only case_id).
    tags = trace.info.tags or {}
    if key := tags.get("row_id") or tags.get("case_id"):
        return key
    root = next((span for span in trace.data.spans if span.parent_id is None), None)
    inputs = json.dumps(root.inputs if root else None, sort_keys=True, default=str)
    return "inputs:" + hashlib.blake2b(inputs.encode(), digest_size=8).hexdigest()


def _passed(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false", "pass", "fail"):
        return value.strip().lower() in ("yes", "true", "pass")
    return None


def _compare(
    scorer: str,
    paired: list[str],
    baseline: dict[str, dict[str, bool | None]],
    candidate: dict[str, dict[str, bool | None]],
    alpha: float,
) -> ScorerComparison:
    pairs = [
        (key, baseline[key].get(scorer), candidate[key].get(scorer))
        for key in paired
        if baseline[key].get(scorer) is not None and candidate[key].get(scorer) is not None
    ]
    regressed = [key for key, before, after in pairs if before and not after]
    improved = [key for key, before, after in pairs if not before and after]
    p_value = mcnemar_exact(len(regressed), len(improved))
    if p_value < alpha:
        verdict = "regressed" if len(regressed) > len(improved) else "improved"
    else:
        verdict = "changed" if regressed or improved else "unchanged"
    return ScorerComparison(
        scorer=scorer,
        paired_rows=len(pairs),
        baseline_pass_rate=_rate([before for _, before, _ in pairs]),
        candidate_pass_rate=_rate([after for _, _, after in pairs]),
        pass_to_fail=len(regressed),
        fail_to_pass=len(improved),
        p_value=p_value,
        regressed_rows=regressed[:LISTED_ROWS],
        verdict=verdict,
    )


def _rate(values: list[bool | None]) -> float | None:
    return round(sum(bool(v) for v in values) / len(values), 4) if values else None


def _metric_deltas(
    client: MlflowClient, baseline_run_id: str, candidate_run_id: str
) -> dict[str, dict[str, float | None]]:
    before = client.get_run(baseline_run_id).data.metrics
    after = client.get_run(candidate_run_id).data.metrics
    return {
        name: {
            "baseline": before.get(name),
            "candidate": after.get(name),
            "delta": _delta(before.get(name), after.get(name)),
        }
        for name in sorted(set(before) | set(after))
    }


def _delta(before: float | None, after: float | None) -> float | None:
    return round(after - before, 6) if before is not None and after is not None else None
