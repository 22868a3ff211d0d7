"""`analyze_traces`: stream an experiment's traces page by page into one pass of statistics,
then derive findings and recommendations. No LLM, no network beyond the tracking store, and
nothing written: keeping the analysis is its callers' step (`suite.analysis_step`, `analysis.archive`)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlflow_eval_mcp.analysis.clusters import cluster_errors, cluster_inputs
from mlflow_eval_mcp.analysis.collector import TraceCollector
from mlflow_eval_mcp.analysis.findings import derive_findings
from mlflow_eval_mcp.analysis.gc_pause import collector_paused
from mlflow_eval_mcp.analysis.models import (
    LatencyStats,
    OutputStats,
    Overview,
    ReadingCoverage,
    StructureStats,
    TokenStats,
    ToolStats,
    TraceAnalysis,
)
from mlflow_eval_mcp.analysis.recommend import recommend_dataset, recommend_scorers
from mlflow_eval_mcp.analysis.stats import outlier_threshold, percentile, percentiles
from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.limits import MAX_TRACES, MAX_TRACES_LIMIT
from mlflow_eval_mcp.traces import iter_trace_pages
from mlflow_eval_mcp.tracking import redact_uri, resolve_experiment
from mlflow_eval_mcp.ui_links import traces_url

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession

logger = logging.getLogger(__name__)


def analyze_traces(
    client: MlflowClient,
    *,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_traces: int = MAX_TRACES,
    on_progress: Callable[[int, int | None], None] | None = None,
    claude: ClaudeSession | None = None,
) -> TraceAnalysis:
    """Analyse up to `max_traces` of the newest traces of one experiment; with `claude`, add
    its reading of a sample (see `analysis.claude_reading`). `on_progress(done, total)` has no total until
    the last trace is read: the experiment may hold fewer than `max_traces`."""
    if not 1 <= max_traces <= MAX_TRACES_LIMIT:
        raise InvalidArgumentError(f"max_traces must be between 1 and {MAX_TRACES_LIMIT:,} (got {max_traces}).")
    started = time.perf_counter()
    experiment = resolve_experiment(client, experiment_id, experiment_name)
    collector, unreadable = _collect(client, experiment.experiment_id, filter_string, max_traces, on_progress)
    collector.finish()
    if on_progress is not None:
        on_progress(collector.traces, collector.traces)
    error_clusters = cluster_errors(collector.errors)
    input_clusters = cluster_inputs(collector.requests)
    findings = derive_findings(collector, error_clusters)
    analysis = TraceAnalysis(
        tracking_uri=redact_uri(client.tracking_uri),
        experiment_id=experiment.experiment_id,
        experiment_name=experiment.name,
        filter_string=filter_string,
        overview=_overview(collector, unreadable),
        latency=_latency(collector),
        tokens=_tokens(collector),
        tools=_tools(collector),
        structure=_structure(collector),
        outputs=_outputs(collector),
        reading=_reading(collector),
        conversations=collector.dialogues.stats(),
        context=collector.context.report(),
        architecture=collector.architecture.report(input_clusters),
        error_clusters=error_clusters,
        input_clusters=input_clusters,
        findings=findings,
        recommended_scorers=recommend_scorers(collector, findings),
        dataset_strategy=recommend_dataset(collector),
        seconds=0.0,
        ui_url=traces_url(client.tracking_uri, experiment.experiment_id),
    )
    if claude is not None:
        from mlflow_eval_mcp.analysis.claude_reading import add_claude_reading

        add_claude_reading(client, analysis, claude)
    analysis.seconds = round(time.perf_counter() - started, 3)
    return analysis


def _collect(
    client: MlflowClient,
    experiment_id: str,
    filter_string: str | None,
    max_traces: int,
    on_progress: Callable[[int, int | None], None] | None,
) -> tuple[TraceCollector, int]:
    """One pass over the traces: the collector, and how many traces could not be analysed."""
    collector = TraceCollector()
    unreadable = 0
    with collector_paused():
        for page in iter_trace_pages(client, experiment_id, filter_string=filter_string, max_traces=max_traces):
            raise_if_cancelled()
            for trace in page:
                try:
                    collector.add(trace)
                except Exception:  # one malformed trace must not cost the analysis of the others
                    unreadable += 1
                    logger.warning("could not analyse trace %s", trace.info.trace_id, exc_info=True)
            if on_progress is not None:
                on_progress(collector.traces, None)
    return collector, unreadable


def _overview(c: TraceCollector, unreadable: int) -> Overview:
    return Overview(
        traces_analyzed=c.traces,
        first_request_time=c.iso(c.first_ms),
        last_request_time=c.iso(c.last_ms),
        states=dict(c.states),
        users=len(c.users),
        sessions=len(c.sessions),
        traces_without_spans=c.without_spans,
        traces_with_synthetic_times=c.synthetic_times,
        traces_unreadable=unreadable,
    )


def _latency(c: TraceCollector) -> LatencyStats:
    durations = sorted(duration for duration, _ in c.trace_ms)
    slow_threshold = percentile(durations, 90) if len(durations) >= 10 else None
    dominant: Counter[str] = Counter()
    slow_total = 0.0
    if slow_threshold is not None:
        for duration, trace_id in c.trace_ms:
            if duration > slow_threshold:
                slow_total += duration
                dominant.update(c.time_by_name_per_trace.get(trace_id, {}))
    return LatencyStats(
        trace_ms=percentiles(durations),
        by_span_type={name: percentiles(values) for name, values in sorted(c.span_ms_by_type.items())},
        by_span_name={name: percentiles([d for d, _ in values]) for name, values in sorted(c.span_ms_by_name.items())},
        span_type_by_name={name: c.span_type_of_name.get(name, "UNKNOWN") for name in sorted(c.span_ms_by_name)},
        slow_trace_threshold_ms=slow_threshold,
        dominant_spans_in_slow_traces={
            name: round(total / slow_total, 3) for name, total in dominant.most_common(5) if slow_total
        },
    )


def _tokens(c: TraceCollector) -> TokenStats:
    return TokenStats(
        traces_with_usage=len(c.input_tokens),
        input_per_trace=percentiles([tokens for tokens, _ in c.input_tokens]),
        output_per_trace=percentiles(c.output_tokens),
        by_model={model: dict(tally) for model, tally in sorted(c.by_model.items())},
        outlier_threshold_input=outlier_threshold([tokens for tokens, _ in c.input_tokens]),
        cost_usd=round(c.cost_usd, 6) if c.cost_usd is not None else None,
    )


def _tools(c: TraceCollector) -> list[ToolStats]:
    return [
        ToolStats(
            name=name,
            calls=tally.calls,
            traces=len(tally.traces),
            exceptions=tally.exceptions,
            error_outputs=tally.error_outputs,
            error_rate=round((tally.exceptions + tally.error_outputs) / tally.calls, 4),
            latency_ms=percentiles(tally.durations_ms),
            repeated_identical_calls=tally.repeated,
        )
        for name, tally in sorted(c.tools.items(), key=lambda item: -item[1].calls)
    ]


def _structure(c: TraceCollector) -> StructureStats:
    return StructureStats(
        root_names=dict(c.root_names.most_common(10)),
        patterns=[{"pattern": " > ".join(p), "traces": n} for p, n in c.patterns.most_common(10)],
        subagents=dict(c.subagents.most_common(20)),
        tool_co_occurrence=[{"tools": sorted(tools), "traces": n} for tools, n in c.tool_sets.most_common(10)],
        max_fanout=c.max_fanout,
        has_retrieval=bool(c.span_types.get("RETRIEVER")),
        has_tools=bool(c.span_types.get("TOOL")),
        has_llm=bool(c.span_types.get("CHAT_MODEL") or c.span_types.get("LLM")),
        span_types=dict(c.span_types),
    )


def _outputs(c: TraceCollector) -> OutputStats:
    return OutputStats(
        empty=len(c.empty.trace_ids),
        refusals=len(c.refusals.trace_ids),
        truncated=len(c.truncated.trace_ids),
        formats=dict(c.formats),
        pii=dict(c.pii_kinds),
    )


def _reading(c: TraceCollector) -> ReadingCoverage:
    missed, unrecorded = sum(c.unread.values()), sum(c.unrecorded.values())
    recorded = c.spans_read - unrecorded
    return ReadingCoverage(
        spans_read=c.spans_read,
        understood=recorded - missed,
        share=round(1 - missed / recorded, 4) if recorded else 1.0,
        not_understood={f"{name} ({part})": count for (name, part), count in c.unread.most_common(10)},
        not_recorded=dict(c.unrecorded.most_common(10)),
    )
