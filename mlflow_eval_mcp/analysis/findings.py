"""Findings: what is going wrong, each with every affected trace, evidence and the scorer that
would catch it. Thresholds come from the data (rates, percentiles), not from constants tuned to
one agent."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

from mlflow_eval_mcp.analysis.collector import Flagged, TraceCollector
from mlflow_eval_mcp.analysis.finding_checks import latency_scorer_name
from mlflow_eval_mcp.analysis.finding_factory import new_finding
from mlflow_eval_mcp.analysis.models import ErrorCluster, Finding, FindingKind, Severity
from mlflow_eval_mcp.analysis.stats import outlier_threshold, percentile

MAX_ERROR_CLUSTERS = 10
"""Recurring errors reported as findings (the most frequent); all clusters stay in the analysis."""
MIN_SLOWDOWN_MS = 100.0
MIN_SHARE_OF_TRACE = 0.05
"""A span is slow only when it takes at least this much longer than its median: 100 ms, or 5% of the
median trace's duration when that is more."""

_SIGNAL_FINDINGS: tuple[tuple[str, FindingKind, str, Severity], ...] = (
    # (collector attribute, kind, title, severity when common)
    ("trace_errors", "trace_errors", "Requests that failed with an error", "high"),
    ("tool_exceptions", "tool_exceptions", "Tool calls that raised an exception", "high"),
    (
        "tool_error_outputs",
        "tool_error_outputs",
        "Tool calls that returned an error as their output (status OK)",
        "high",
    ),
    ("repeated_calls", "repeated_tool_calls", "The same tool called again with identical inputs", "medium"),
    ("empty", "empty_responses", "Empty responses", "high"),
    ("refusals", "refusals", "Refusals to answer", "medium"),
    ("truncated", "truncated_responses", "Responses cut off before the end", "medium"),
    ("pii", "pii_in_outputs", "Personal data or secrets in responses", "high"),
    (
        "span_errors",
        "span_errors",
        "Steps other than tool calls that failed (model calls, retrievers, sub-agents)",
        "medium",
    ),
)
JSON_SHARE = 0.8
"""Responses are expected to be JSON when at least this share of them is; the others are findings."""


def derive_findings(c: TraceCollector, error_clusters: list[ErrorCluster]) -> list[Finding]:
    findings = [
        *_signal_findings(c),
        *_latency_findings(c),
        *_token_findings(c),
        *_error_cluster_findings(c, error_clusters),
        *_fanout_findings(c),
        *_format_findings(c),
        *c.dialogues.findings(c.traces),
        *c.architecture.findings(c.traces),
    ]
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(findings, key=lambda f: (order[f.severity], -f.count, f.id))


def _signal_findings(c: TraceCollector) -> Iterator[Finding]:
    for attribute, kind, title, severity in _SIGNAL_FINDINGS:
        flagged: Flagged = getattr(c, attribute)
        if flagged.trace_ids:
            details = {f"by:{name}": count for name, count in flagged.by_name.most_common(10)}
            trace_ids, evidence = flagged.trace_ids, flagged.evidence
            yield new_finding(
                c.traces, kind, kind, title, severity, trace_ids, evidence, details, trace_evidence=flagged.by_trace
            )


def _latency_findings(c: TraceCollector) -> Iterator[Finding]:
    trace_ms = sorted(duration for duration, _ in c.trace_ms)
    # Slowness a user cannot notice is no finding: framework glue (LangGraph's `Prompt`, a routing
    # function) that takes 6 ms instead of 1 ms is far out statistically and irrelevant end to end.
    noticeable_ms = max(MIN_SLOWDOWN_MS, MIN_SHARE_OF_TRACE * percentile(trace_ms, 50)) if trace_ms else MIN_SLOWDOWN_MS
    for name, samples in sorted(c.span_ms_by_name.items()):
        fence = outlier_threshold([duration for duration, _ in samples])
        if fence is None:
            continue
        median = percentile(sorted(duration for duration, _ in samples), 50)
        threshold = max(fence, median + noticeable_ms)
        slow = [(duration, trace_id) for duration, trace_id in samples if duration > threshold]
        if not slow:
            continue
        span_type = c.span_type_of_name.get(name, "UNKNOWN")
        evidence = [f"{name} took {duration:,.0f} ms (median {median:,.0f} ms)" for duration, _ in sorted(slow)[-3:]]
        yield new_finding(
            c.traces,
            "latency_outliers",
            f"latency_outliers:{name}",
            f"{name} ({span_type}) is sometimes far slower than usual",
            "medium",
            _unique(trace_id for _, trace_id in slow),
            evidence,
            {"span_name": name, "span_type": span_type, "threshold_ms": threshold, "median_ms": median},
            scorer=latency_scorer_name(span_type),
        )


def _token_findings(c: TraceCollector) -> Iterator[Finding]:
    threshold = outlier_threshold([tokens for tokens, _ in c.input_tokens])
    if threshold is None:
        return
    heavy = [(tokens, trace_id) for tokens, trace_id in c.input_tokens if tokens > threshold]
    if heavy:
        median = percentile(sorted(tokens for tokens, _ in c.input_tokens), 50)
        yield new_finding(
            c.traces,
            "token_outliers",
            "token_outliers:input",
            "Requests with far more input tokens than usual (oversized prompts or context)",
            "medium",
            _unique(trace_id for _, trace_id in heavy),
            [f"{tokens:,.0f} input tokens (median {median:,.0f})" for tokens, _ in sorted(heavy)[-3:]],
            {"threshold_tokens": math.floor(threshold), "median_tokens": median},
        )


def _error_cluster_findings(c: TraceCollector, clusters: list[ErrorCluster]) -> Iterator[Finding]:
    recurring = [cluster for cluster in clusters if len(cluster.trace_ids) >= 2]
    for cluster in recurring[:MAX_ERROR_CLUSTERS]:
        yield error_cluster_finding(c.traces, cluster)


def error_cluster_finding(traces_analyzed: int, cluster: ErrorCluster, traces: int | None = None) -> Finding:
    """A recurring error as a finding; `traces` when the cluster's ids are only a sample of them."""
    digest = hashlib.blake2b(cluster.signature.encode(), digest_size=4).hexdigest()
    return new_finding(
        traces_analyzed,
        "error_cluster",
        f"error_cluster:{digest}",
        f"Recurring error: {cluster.signature[:80]}",
        "medium",
        cluster.trace_ids,
        cluster.examples,
        {"signature": cluster.signature, "span_names": ", ".join(cluster.span_names)},
        count=traces,
    )


def _fanout_findings(c: TraceCollector) -> Iterator[Finding]:
    counts = [count for count, _ in c.subagent_calls]
    if not any(counts):
        return
    threshold = outlier_threshold(counts)
    if threshold is None:
        return
    wide = [(count, trace_id) for count, trace_id in c.subagent_calls if count > threshold]
    if wide:
        yield new_finding(
            c.traces,
            "subagent_fanout",
            "subagent_fanout",
            "Requests that call far more sub-agents than usual",
            "low",
            _unique(trace_id for _, trace_id in wide),
            [f"{count:.0f} sub-agent calls (threshold {threshold:.0f})" for count, _ in sorted(wide)[-3:]],
            {"threshold_calls": math.floor(threshold)},
        )


def _format_findings(c: TraceCollector) -> Iterator[Finding]:
    json_count = c.formats.get("json", 0)
    total = json_count + len(c.not_json.trace_ids)
    if total and json_count / total >= JSON_SHARE and c.not_json.trace_ids:
        yield new_finding(
            c.traces,
            "format_violations",
            "format_violations",
            "Responses that are not JSON, where the others are",
            "medium",
            c.not_json.trace_ids,
            c.not_json.evidence,
            {"json_share": round(json_count / total, 4)},
        )


# Thresholds in `details` are exact (latency) or floored (counts, which are integers): the budgets
# of generated scorers are taken from them, and must fail exactly the traces flagged here.
def _unique(trace_ids: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(trace_ids))
