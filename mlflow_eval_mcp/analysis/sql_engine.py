"""`analyze_traces` where the traces are: SQL over an OTel v2 span table, on Spark or a Databricks SQL warehouse.

The statistics and findings are computed by the warehouse (`sql_statements`); only aggregates and bounded
samples come back (each finding's count is exact, its trace ids a sample of at most `max_trace_ids`). The
result is the Python engine's `TraceAnalysis`, with the finding kinds in `SQL_FINDING_KINDS` computed to the
same definitions; input clusters are made here from a bounded sample of requests."""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlflow_eval_mcp.analysis.clusters import cluster_inputs
from mlflow_eval_mcp.analysis.collector import TraceCollector
from mlflow_eval_mcp.analysis.finding_checks import latency_scorer_name
from mlflow_eval_mcp.analysis.finding_factory import new_finding
from mlflow_eval_mcp.analysis.findings import (
    MAX_ERROR_CLUSTERS,
    MIN_SHARE_OF_TRACE,
    MIN_SLOWDOWN_MS,
    error_cluster_finding,
)
from mlflow_eval_mcp.analysis.models import (
    ConversationStats,
    ErrorCluster,
    Finding,
    LatencyStats,
    OutputStats,
    Overview,
    Percentiles,
    ReadingCoverage,
    StructureStats,
    TokenStats,
    ToolStats,
    TraceAnalysis,
)
from mlflow_eval_mcp.analysis.recommend import recommend_dataset, recommend_scorers
from mlflow_eval_mcp.analysis.sql_statements import SpanTableStatements
from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.warehouse.sql_runner import SqlRunner, SqlValue

DEFAULT_DAYS = 7
"""Unless told otherwise, the last week: an unbounded search of a warehouse table is slow and costly."""
MAX_TRACE_IDS = 200
"""Trace ids each finding brings back: its count is exact, its ids a sample."""
MAX_REQUESTS = 2_000
MAX_NAMES = 300
EXACT_SPANS = 2_000_000
"""Up to this many spans the percentiles are exact (as the Python engine's); beyond, approximate (within 1e-4
of rank)."""
_SIGNAL_TITLES: dict[str, tuple[str, str]] = {
    # kind -> (title, severity when common), as findings._SIGNAL_FINDINGS names them
    "trace_errors": ("Requests that failed with an error", "high"),
    "tool_exceptions": ("Tool calls that raised an exception", "high"),
    "tool_error_outputs": ("Tool calls that returned an error as their output (status OK)", "high"),
    "repeated_tool_calls": ("The same tool called again with identical inputs", "medium"),
    "empty_responses": ("Empty responses", "high"),
    "refusals": ("Refusals to answer", "medium"),
    "truncated_responses": ("Responses cut off before the end", "medium"),
    "span_errors": ("Steps other than tool calls that failed (model calls, retrievers, sub-agents)", "medium"),
}


@dataclass
class _Session:
    """The statements' shared state: the runner, the parameters, and what came back (for the byte count)."""

    runner: SqlRunner
    params: dict[str, SqlValue]
    bytes_returned: int = 0
    statements: int = 0

    def rows(self, sql: str, *, sample: bool = False, **extra: SqlValue) -> list[dict[str, Any]]:
        """The statement's rows; a `sample` (bounded, but possibly large) comes the way a warehouse sends files."""
        raise_if_cancelled()
        read = self.runner.sample if sample else self.runner.rows
        result = read(sql, {**self.params, **extra})
        self.statements += 1
        self.bytes_returned += len(json.dumps(result, default=str))
        return result

    def relation(self, name: str, sql: str, **extra: SqlValue) -> str:
        raise_if_cancelled()
        return self.runner.relation(sql, {**self.params, **extra}, name)


def analyze_span_table(
    runner: SqlRunner,
    table: str,
    *,
    days: float | None = DEFAULT_DAYS,
    max_trace_ids: int = MAX_TRACE_IDS,
    experiment_id: str = "",
    experiment_name: str = "",
    tracking_uri: str = "",
    on_progress: Callable[[int, int | None], None] | None = None,
) -> TraceAnalysis:
    """Analyse the spans of `table` that started in the last `days` days (all of them with None)."""
    if days is not None and not 0 < days <= 3650:
        raise InvalidArgumentError(f"days must be between 0 and 3650 (got {days}); leave it out for the last week.")
    if not 1 <= max_trace_ids <= 10_000:
        raise InvalidArgumentError(f"max_trace_ids must be between 1 and 10,000 (got {max_trace_ids}).")
    started = time.perf_counter()
    since = datetime.now(tz=UTC) - timedelta(days=days) if days is not None else datetime(1970, 1, 1, tzinfo=UTC)
    statements = SpanTableStatements(runner.dialect, table)
    session = _Session(runner, {"since": since, "max_trace_ids": max_trace_ids, "max_names": MAX_NAMES})
    spans = session.relation("eval_spans", statements.facts())
    traces = session.relation("eval_traces", statements.traces(spans))
    overview_row = session.rows(statements.overview(traces))[0]
    traces_analyzed = int(overview_row["traces"] or 0)
    if on_progress is not None:
        on_progress(traces_analyzed, None)
    span_types = {row["span_type"]: int(row["spans"]) for row in session.rows(statements.span_types(spans))}
    exact = sum(span_types.values()) <= EXACT_SPANS
    span_latency = session.relation("eval_span_latency", statements.span_latency(spans, exact=exact))
    distributions = _distributions(session.rows(statements.distributions(traces, span_latency, exact=exact)))
    trace_ms = distributions["trace_ms"].get("")
    noticeable_ms = max(MIN_SLOWDOWN_MS, MIN_SHARE_OF_TRACE * (trace_ms.p50 or 0.0)) if trace_ms else MIN_SLOWDOWN_MS
    signals = session.relation("eval_signals", statements.signals(spans, traces))
    # A parameter of every later statement: on a warehouse each one repeats the relations it reads.
    session.params["noticeable_ms"] = noticeable_ms
    latency = session.relation("eval_latency_outliers", statements.latency_outliers(spans, span_latency))
    tokens = session.relation("eval_token_outliers", statements.token_outliers(traces, exact=exact))
    flags = session.relation("eval_flags", statements.flags(signals, latency, tokens))
    errors = session.relation("eval_errors", statements.errors(spans))
    flagged = _Flagged.read(session, statements, flags)
    outlier_details = {row["kind"]: row for row in session.rows(statements.outlier_details(latency, tokens))}
    clusters = _error_clusters(session, statements, errors)
    findings = _findings(traces_analyzed, flagged, outlier_details, clusters)
    requests = [
        (row["trace_id"], row["request"])
        for row in session.rows(statements.requests(traces), sample=True, max_requests=MAX_REQUESTS)
    ]
    tool_rows = session.rows(statements.tools(spans, signals, span_latency))
    collector = _recommendation_inputs(traces_analyzed, span_types, requests, flagged)
    if on_progress is not None:
        on_progress(traces_analyzed, traces_analyzed)
    analysis = TraceAnalysis(
        engine=runner.dialect.name,
        trace_table=table,
        days=days,
        tracking_uri=tracking_uri,
        experiment_id=experiment_id,
        experiment_name=experiment_name or table,
        filter_string=None,
        overview=_overview(overview_row),
        latency=_latency(distributions),
        tokens=_tokens(session, statements, spans, distributions),
        tools=[_tool(row) for row in tool_rows],
        structure=_structure(session, statements, traces, span_types),
        outputs=OutputStats(
            empty=flagged.traces.get("empty_responses", 0),
            refusals=flagged.traces.get("refusals", 0),
            truncated=flagged.traces.get("truncated_responses", 0),
            formats={},
            pii={},
        ),
        reading=ReadingCoverage(spans_read=sum(span_types.values()), understood=sum(span_types.values()), share=1.0),
        conversations=_conversations(session, statements, traces, traces_analyzed),
        error_clusters=[item.cluster for item in clusters],
        input_clusters=cluster_inputs(requests),
        findings=findings,
        recommended_scorers=recommend_scorers(collector, findings),
        dataset_strategy=recommend_dataset(collector),
        seconds=0.0,
    )
    analysis.statements = session.statements
    analysis.bytes_returned = session.bytes_returned
    analysis.seconds = round(time.perf_counter() - started, 3)
    return analysis


@dataclass
class _Flagged:
    """Per signal kind (a latency outlier's kind names its span): traces, occurrences by name, a sample of trace
    ids with their evidence."""

    traces: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sample: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def read(cls, session: _Session, statements: SpanTableStatements, flags: str) -> _Flagged:
        flagged = cls()
        for row in session.rows(statements.flag_counts(flags)):
            if row["name"] is None:
                flagged.traces[row["kind"]] = int(row["traces"])
            else:
                flagged.by_name[row["kind"]][row["name"]] += int(row["occurrences"])
        for row in session.rows(statements.flag_traces(flags), sample=True):
            flagged.sample[row["kind"]][row["trace_id"]] = row["evidence"]
        return flagged


@dataclass(frozen=True)
class _Cluster:
    cluster: ErrorCluster
    traces: int
    """Distinct traces with the error (the cluster's ids are a sample of them)."""


def _error_clusters(session: _Session, statements: SpanTableStatements, errors: str) -> list[_Cluster]:
    rows = session.rows(statements.error_clusters(errors), max_clusters=50)
    traces: dict[str, list[str]] = defaultdict(list)
    for row in session.rows(statements.cluster_traces(errors)):
        traces[row["signature"]].append(row["trace_id"])
    return [
        _Cluster(
            ErrorCluster(
                signature=row["signature"],
                count=int(row["occurrences"]),
                span_names=list(row["span_names"] or []),
                examples=list(dict.fromkeys(e for e in (row["first_example"], row["last_example"]) if e)),
                trace_ids=sorted(traces.get(row["signature"], [])),
            ),
            int(row["traces"]),
        )
        for row in rows
    ]


def _findings(
    traces_analyzed: int, flagged: _Flagged, outliers: dict[str, dict[str, Any]], clusters: list[_Cluster]
) -> list[Finding]:
    findings: list[Finding] = []
    for kind, (title, severity) in _SIGNAL_TITLES.items():
        if flagged.traces.get(kind):
            findings.append(_finding(traces_analyzed, flagged, kind, kind, title, severity))
    for kind, details in sorted(outliers.items()):
        if kind.startswith("latency_outliers:"):
            name, span_type = details["name"], details["span_type"] or "UNKNOWN"
            findings.append(
                _finding(
                    traces_analyzed,
                    flagged,
                    kind,
                    "latency_outliers",
                    f"{name} ({span_type}) is sometimes far slower than usual",
                    "medium",
                    details={
                        "span_name": name,
                        "span_type": span_type,
                        "threshold_ms": float(details["threshold"]),
                        "median_ms": float(details["median"]),
                    },
                    scorer=latency_scorer_name(span_type),
                )
            )
        else:
            findings.append(
                _finding(
                    traces_analyzed,
                    flagged,
                    kind,
                    "token_outliers",
                    "Requests with far more input tokens than usual (oversized prompts or context)",
                    "medium",
                    details={
                        "threshold_tokens": math.floor(float(details["threshold"])),
                        "median_tokens": float(details["median"]),
                    },
                )
            )
    recurring = [cluster for cluster in clusters if cluster.traces >= 2][:MAX_ERROR_CLUSTERS]
    findings += [error_cluster_finding(traces_analyzed, item.cluster, item.traces) for item in recurring]
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(findings, key=lambda f: (order[f.severity], -f.count, f.id))


def _finding(
    traces_analyzed: int,
    flagged: _Flagged,
    key: str,
    kind: Any,
    title: str,
    severity: Any,
    *,
    details: dict[str, str | int | float] | None = None,
    scorer: str | None = None,
) -> Finding:
    sample = flagged.sample.get(key, {})
    trace_ids = sorted(sample)
    by_name = {f"by:{name}": count for name, count in flagged.by_name[key].most_common(10)}
    return new_finding(
        traces_analyzed,
        kind,
        key,
        title,
        severity,
        trace_ids,
        [sample[trace_id] for trace_id in trace_ids[:5]],
        details if details is not None else by_name,
        scorer=scorer,
        trace_evidence=sample,
        count=flagged.traces[key],
    )


def _recommendation_inputs(
    traces: int, span_types: dict[str, int], requests: list[tuple[str, str]], flagged: _Flagged
) -> TraceCollector:
    """What the recommendations read of a Python pass, from the warehouse's figures."""
    collector = TraceCollector(traces=traces, span_types=Counter(span_types), requests=requests)
    collector.trace_errors.trace_ids = sorted(flagged.sample.get("trace_errors", {}))
    return collector


def _distributions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Percentiles]]:
    """Metric -> group -> its quantiles (p25, p50, p75, p90, p95, p99) and max as `Percentiles`."""
    found: dict[str, dict[str, Percentiles]] = defaultdict(dict)
    for row in rows:
        quantiles = row["q"] or []
        if row["n"] and len(quantiles) == 6:
            found[row["metric"]][str(row["grp"])] = _percentile_row(row)
    return found


def _percentile_row(row: Mapping[str, Any]) -> Percentiles:
    quantiles = row["q"]
    return Percentiles(
        count=int(row["n"]),
        p50=round(float(quantiles[1]), 3),
        p90=round(float(quantiles[3]), 3),
        p95=round(float(quantiles[4]), 3),
        p99=round(float(quantiles[5]), 3),
        max=round(float(row["top"]), 3),
    )


def _overview(row: Mapping[str, Any]) -> Overview:
    traces, errors = int(row["traces"] or 0), int(row["errors"] or 0)
    return Overview(
        traces_analyzed=traces,
        first_request_time=_iso(row["first_ns"]),
        last_request_time=_iso(row["last_ns"]),
        states={state: n for state, n in (("OK", traces - errors), ("ERROR", errors)) if n},
        users=int(row["users"] or 0),
        sessions=int(row["sessions"] or 0),
        traces_without_spans=0,
    )


def _latency(distributions: dict[str, dict[str, Percentiles]]) -> LatencyStats:
    by_name = distributions["span_name"]
    top_names = sorted(by_name, key=lambda name: -by_name[name].count)[:MAX_NAMES]
    overall = distributions["trace_ms"].get("")
    return LatencyStats(
        trace_ms=overall or Percentiles(count=0),
        by_span_type=dict(sorted(distributions["span_type"].items())),
        by_span_name={name: by_name[name] for name in sorted(top_names)},
        slow_trace_threshold_ms=overall.p90 if overall is not None and overall.count >= 10 else None,
        dominant_spans_in_slow_traces={},
    )


def _tokens(
    session: _Session, statements: SpanTableStatements, spans: str, distributions: dict[str, dict[str, Percentiles]]
) -> TokenStats:
    by_model = {
        row["model"]: {key: int(row[key]) for key in ("calls", "input_tokens", "output_tokens") if row[key] is not None}
        for row in session.rows(statements.models(spans))
    }
    inputs = distributions["input_tokens"].get("")
    return TokenStats(
        traces_with_usage=inputs.count if inputs else 0,
        input_per_trace=inputs or Percentiles(count=0),
        output_per_trace=distributions["output_tokens"].get("") or Percentiles(count=0),
        by_model=dict(sorted(by_model.items())),
        outlier_threshold_input=None,
    )


def _tool(row: Mapping[str, Any]) -> ToolStats:
    calls = int(row["calls"])
    latency = _percentile_row(row) if row["n"] else Percentiles(count=0)
    return ToolStats(
        name=row["name"],
        calls=calls,
        traces=int(row["traces"]),
        exceptions=int(row["exceptions"]),
        error_outputs=int(row["error_outputs"]),
        error_rate=round((int(row["exceptions"]) + int(row["error_outputs"])) / calls, 4) if calls else 0.0,
        latency_ms=latency,
        repeated_identical_calls=int(row["repeated"]),
    )


def _structure(
    session: _Session, statements: SpanTableStatements, traces: str, span_types: dict[str, int]
) -> StructureStats:
    roots = {row["root_name"]: int(row["traces"]) for row in session.rows(statements.root_names(traces))}
    return StructureStats(
        root_names=roots,
        patterns=[],
        subagents={},
        tool_co_occurrence=[],
        max_fanout=0,
        has_retrieval=bool(span_types.get("RETRIEVER")),
        has_tools=bool(span_types.get("TOOL")),
        has_llm=bool(span_types.get("CHAT_MODEL") or span_types.get("LLM")),
        span_types=span_types,
    )


def _conversations(
    session: _Session, statements: SpanTableStatements, traces: str, traces_analyzed: int
) -> ConversationStats:
    row = session.rows(statements.sessions(traces))[0]
    sessions, in_sessions = int(row["sessions"] or 0), int(row["in_sessions"] or 0)
    return ConversationStats(
        conversations=sessions + traces_analyzed - in_sessions,
        sessions=sessions,
        multi_turn=int(row["multi_turn"] or 0),
        user_turns_p50=float(row["turns_p50"]) if row["turns_p50"] is not None else None,
        user_turns_max=int(row["turns_max"]) if row["turns_max"] is not None else None,
        tool_calls_p50=None,
        with_signal=0,
        signals={},
    )


def _iso(epoch_ns: Any) -> str | None:
    return datetime.fromtimestamp(int(epoch_ns) / 1e9, tz=UTC).isoformat() if epoch_ns is not None else None
