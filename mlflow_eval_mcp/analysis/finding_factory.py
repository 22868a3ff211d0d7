"""How every finding is made, whichever part of the analysis measured it: its severity lowered
when it is rare, its rate over the traces analysed, and the check that catches its kind."""

from __future__ import annotations

from mlflow_eval_mcp.analysis.finding_checks import CHECK_OF_KIND
from mlflow_eval_mcp.analysis.models import Finding, FindingKind, Severity

RARE_RATE = 0.01
"""Below this share of traces a finding is one severity level lower: real, but rare."""
_LOWER: dict[Severity, Severity] = {"high": "medium", "medium": "low", "low": "low"}


def new_finding(
    traces_analyzed: int,
    kind: FindingKind,
    finding_id: str,
    title: str,
    severity: Severity,
    trace_ids: list[str],
    evidence: list[str],
    details: dict[str, str | int | float] | None = None,
    *,
    scorer: str | None = None,
    trace_evidence: dict[str, str] | None = None,
    count: int | None = None,
) -> Finding:
    """A finding suggesting `scorer`, by default the check that catches its kind. `count` is the affected
    traces when `trace_ids` is only a sample of them (the SQL engines'); by default, every one is listed."""
    count = len(trace_ids) if count is None else count
    rate = count / traces_analyzed if traces_analyzed else 0.0
    return Finding(
        id=finding_id,
        kind=kind,
        title=title,
        severity=severity if rate >= RARE_RATE else _LOWER[severity],
        count=count,
        rate=round(rate, 4),
        trace_ids=trace_ids,
        evidence=evidence,
        suggested_scorer=scorer or CHECK_OF_KIND[kind],
        details=details or {},
        trace_evidence=trace_evidence or {},
    )
