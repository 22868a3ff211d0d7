"""The analysis as an LLM client should first see it: what is wrong, how often, with a few trace
ids each, and the next call to make; the same size at any store size. Every list is complete in
the archived analysis (`get_finding` pages a finding's traces; `detail="full"` returns it all)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlflow_eval_mcp.analysis.models import AgentProfile, Engine, TraceAnalysis
from mlflow_eval_mcp.analysis.sql_statements import SQL_FINDING_KINDS
from mlflow_eval_mcp.models import ClaudeUsage, Mode

FINDINGS_SHOWN = 12
CLUSTERS_SHOWN = 6
EXAMPLES = 3
SPANS_SHOWN = 5
EVIDENCE_CHARS = 160
SQL_SCOPE = (
    f"SQL computed {', '.join(SQL_FINDING_KINDS)} (each finding's count exact, its trace ids a sample); "
    "conversation signals, personal data, formats, context and architecture need engine='python'."
)


class FindingBrief(BaseModel):
    id: str = Field(description="Pass to get_finding with the analysis_id for every trace of it.")
    severity: str
    title: str
    count: int
    rate: float
    example_trace_ids: list[str]
    evidence: str | None
    suggested_scorer: str


class ClusterBrief(BaseModel):
    name: str = Field(description="Claude's name for it, else its top terms.")
    size: int
    example_trace_ids: list[str]


class AnalysisSummary(BaseModel):
    """analyze_traces' default result. `detail="full"` gives the whole TraceAnalysis."""

    mode: Mode
    engine: Engine = "python"
    trace_table: str | None = None
    claude: ClaudeUsage | None = None
    agent: AgentProfile | None = None
    analysis_id: str | None
    experiment_id: str
    experiment_name: str
    traces_analyzed: int
    states: dict[str, int]
    trace_ms_p50: float | None
    trace_ms_p95: float | None
    slowest_spans_p95_ms: dict[str, float] = Field(description="The span names with the highest p95 latency.")
    input_tokens_per_trace_p50: float | None
    cost_usd: float | None
    reading_share: float = Field(description="Share of interpreted spans whose inputs and outputs were understood.")
    not_understood: dict[str, int]
    conversations: str | None = Field(description="Conversations, sessions and how many show a signal.")
    context: list[str] = Field(description="Context-engineering recommendations (numbers and traces in detail=full).")
    architecture: str | None = Field(description="What the agent calls and where it wastes calls.")
    findings_total: int
    findings: list[FindingBrief] = Field(description=f"The {FINDINGS_SHOWN} most severe, most frequent first.")
    request_clusters: list[ClusterBrief]
    recommended_scorers: list[str]
    seconds: float
    analysis_path: str | None
    ui_url: str | None
    next_steps: list[str]

    def as_text(self) -> str:
        source = (
            f"experiment {self.experiment_name!r} (id {self.experiment_id})"
            if self.engine == "python"
            else f"span table {self.trace_table} with SQL on {self.engine}"
        )
        lines = [
            f"Analysed {self.traces_analyzed:,} traces of {source}, {self.mode}, in {self.seconds:.1f} s. "
            f"States: {_counts(self.states)}.",
            f"Latency p50 {_ms(self.trace_ms_p50)}, p95 {_ms(self.trace_ms_p95)}; slowest spans (p95): "
            f"{_counts({name: f'{value:,.0f} ms' for name, value in self.slowest_spans_p95_ms.items()}) or 'none'}. "
            f"Input tokens per trace p50 {_number(self.input_tokens_per_trace_p50)}; cost "
            f"{f'${self.cost_usd:,.4f}' if self.cost_usd is not None else 'not recorded'}.",
        ]
        if self.engine == "python":
            lines.append(
                f"Reading understood {self.reading_share:.0%} of the spans it interprets"
                + (f"; not understood: {_counts(self.not_understood)}." if self.not_understood else ".")
            )
        else:
            lines.append(SQL_SCOPE)
        if self.agent is not None:
            lines.append(f"Agent: {self.agent.agent_type}: {self.agent.purpose}")
        if self.conversations:
            lines.append(self.conversations)
        if self.architecture:
            lines.append(self.architecture)
        lines += [f"Context: {advice}" for advice in self.context]
        shown = len(self.findings)
        lines.append(
            f"Findings: {self.findings_total}"
            + (f" (the {shown} most severe shown)" if shown < self.findings_total else "")
            + (":" if self.findings else " - no failure found.")
        )
        for finding in self.findings:
            evidence = f' Evidence: "{finding.evidence}"' if finding.evidence else ""
            lines.append(
                f"- [{finding.severity}] {finding.id}: {finding.title}: {finding.count:,} traces ({finding.rate:.1%}), "
                f"e.g. {', '.join(finding.example_trace_ids)}; scorer {finding.suggested_scorer}.{evidence}"
            )
        if self.request_clusters:
            clusters = "; ".join(f"{cluster.name} ({cluster.size:,})" for cluster in self.request_clusters)
            lines.append(f"Request clusters: {clusters}.")
        if self.recommended_scorers:
            lines.append(f"Recommended scorers: {', '.join(self.recommended_scorers)}.")
        lines += [f"Next: {step}" for step in self.next_steps]
        lines.append(f"analysis_id: {self.analysis_id}" + (f"; UI: {self.ui_url}" if self.ui_url else ""))
        return "\n".join(lines)


def summarize_analysis(analysis: TraceAnalysis) -> AnalysisSummary:
    latency = analysis.latency
    slowest = sorted(
        ((name, stats.p95) for name, stats in latency.by_span_name.items() if stats.p95 is not None),
        key=lambda item: -item[1],
    )[:SPANS_SHOWN]
    return AnalysisSummary(
        mode=analysis.mode,
        engine=analysis.engine,
        trace_table=analysis.trace_table,
        claude=analysis.claude,
        agent=analysis.agent,
        analysis_id=analysis.analysis_id,
        experiment_id=analysis.experiment_id,
        experiment_name=analysis.experiment_name,
        traces_analyzed=analysis.overview.traces_analyzed,
        states=analysis.overview.states,
        trace_ms_p50=latency.trace_ms.p50,
        trace_ms_p95=latency.trace_ms.p95,
        slowest_spans_p95_ms={name: round(p95, 1) for name, p95 in slowest},
        input_tokens_per_trace_p50=analysis.tokens.input_per_trace.p50,
        cost_usd=analysis.tokens.cost_usd,
        reading_share=analysis.reading.share,
        not_understood=dict(list(analysis.reading.not_understood.items())[:3]),
        conversations=_conversations(analysis),
        context=[item.title for item in analysis.context.recommendations] if analysis.context else [],
        architecture=_architecture(analysis),
        findings_total=len(analysis.findings),
        findings=[
            FindingBrief(
                id=finding.id,
                severity=finding.severity,
                title=finding.title,
                count=finding.count,
                rate=finding.rate,
                example_trace_ids=finding.trace_ids[:EXAMPLES],
                evidence=_clip(finding.evidence[0]) if finding.evidence else None,
                suggested_scorer=finding.suggested_scorer,
            )
            for finding in analysis.findings[:FINDINGS_SHOWN]
        ],
        request_clusters=[
            ClusterBrief(
                name=cluster.name or ", ".join(cluster.top_terms[:3]) or f"cluster {cluster.cluster_id}",
                size=cluster.size,
                example_trace_ids=cluster.trace_ids[:2],
            )
            for cluster in analysis.input_clusters[:CLUSTERS_SHOWN]
        ],
        recommended_scorers=[scorer.name for scorer in analysis.recommended_scorers],
        seconds=analysis.seconds,
        analysis_path=analysis.analysis_path,
        ui_url=analysis.ui_url,
        next_steps=_next_steps(analysis),
    )


def _conversations(analysis: TraceAnalysis) -> str | None:
    stats = analysis.conversations
    if stats is None or not stats.multi_turn:
        return None
    if analysis.engine != "python":
        return (
            f"Conversations: {stats.sessions:,} sessions, {stats.multi_turn:,} with more than one turn, at most "
            f"{stats.user_turns_max} turns."
        )
    return (
        f"Conversations: {stats.conversations:,} ({stats.sessions:,} sessions, {stats.multi_turn:,} with more than one "
        f"user turn, at most {stats.user_turns_max}); {stats.with_signal:,} show a conversation-level signal "
        "(see the findings)."
    )


def _architecture(analysis: TraceAnalysis) -> str | None:
    review = analysis.architecture
    if review is None or not (review.tools or review.retrievers or review.sub_agents):
        return None
    parts = [
        f"Architecture: {len(review.sub_agents)} sub-agents, {len(review.tools)} tools, {len(review.retrievers)} "
        f"retrievers; commonest route {review.routes[0].route!r} ({review.routes[0].traces:,} traces)"
        if review.routes
        else f"Architecture: {len(review.sub_agents)} sub-agents, {len(review.tools)} tools"
    ]
    parallel = review.parallelizable
    if parallel.traces:
        parts.append(
            f"{parallel.traces:,} traces made independent calls one after another (median saving "
            f"{_ms(parallel.saved_ms_p50)} if run together)"
        )
    if unused := [result.name for result in review.unused_results if result.unused]:
        parts.append(f"results some calls never used: {', '.join(unused[:3])}")
    if review.tools_never_used:
        parts.append(f"tools offered but never called: {', '.join(tool.name for tool in review.tools_never_used[:3])}")
    return "; ".join(parts) + "."


def _next_steps(analysis: TraceAnalysis) -> list[str]:
    steps = []
    if analysis.findings:
        first = analysis.findings[0]
        steps.append(
            f'get_finding(analysis_id="{analysis.analysis_id}", finding_id="{first.id}") lists every trace of a '
            f'finding with its evidence; get_trace(trace_id="{first.trace_ids[0]}") shows one.'
        )
    suite = f', suite_dir="{analysis.analysis_path.rsplit("/state/", 1)[0]}"' if analysis.analysis_path else ""
    steps.append(
        f'generate_suite(experiment_name="{analysis.experiment_name}"{suite}) builds an evaluation suite that '
        "catches these findings."
    )
    steps.append('analyze_traces(..., detail="full") returns every statistic, cluster and trace id.')
    return steps


def _counts(values: dict[str, object]) -> str:
    return ", ".join(
        f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}" for name, value in values.items()
    )


def _ms(value: float | None) -> str:
    return f"{value:,.0f} ms" if value is not None else "n/a"


def _number(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "n/a"


def _clip(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"
