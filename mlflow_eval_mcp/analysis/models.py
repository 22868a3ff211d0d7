"""The analysis result (`TraceAnalysis`): the contract between the engine, the tools that derive
datasets, scorers and gates from it, and `state/analysis.json` in a suite directory."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mlflow_eval_mcp.checks.call_graph import ComponentKind
from mlflow_eval_mcp.models import ClaudeUsage, Mode
from mlflow_eval_mcp.ui_links import LINK_DESCRIPTION

Severity = Literal["high", "medium", "low"]
FindingKind = Literal[
    "trace_errors",
    "tool_exceptions",
    "tool_error_outputs",
    "repeated_tool_calls",
    "latency_outliers",
    "token_outliers",
    "empty_responses",
    "refusals",
    "truncated_responses",
    "pii_in_outputs",
    "error_cluster",
    "subagent_fanout",
    "span_errors",
    "format_violations",
    "semantic_pattern",
    # Conversations (checks/dialogue.py): what the turns show about how it went.
    "user_corrections",
    "user_repeats",
    "user_frustration",
    "human_requested",
    "agent_apologies",
    "escalations",
    "retries_after_tool_error",
    "gave_up_after_tool_error",
    "repeated_write_actions",
    "abandoned_conversations",
    "unbacked_claims",
    "long_conversations",
    # Architecture (analysis/architecture.py): how the agent spends its calls.
    "unnecessary_fanout",
    "redundant_retrieval",
]


class Percentiles(BaseModel):
    count: int
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class Overview(BaseModel):
    traces_analyzed: int
    first_request_time: str | None
    last_request_time: str | None
    states: dict[str, int]
    users: int = Field(description="Distinct users (trace metadata mlflow.trace.user); 0 when absent.")
    sessions: int = Field(description="Distinct sessions (mlflow.trace.session); 0 when absent.")
    traces_without_spans: int
    traces_with_synthetic_times: int = Field(
        default=0, description="Imported traces whose source had no timestamps: left out of latency statistics."
    )
    traces_unreadable: int = Field(default=0, description="Traces whose content could not be analysed (logged).")


class LatencyStats(BaseModel):
    trace_ms: Percentiles
    by_span_type: dict[str, Percentiles]
    by_span_name: dict[str, Percentiles]
    span_type_by_name: dict[str, str] = Field(default_factory=dict, description="Span name -> its span type.")
    slow_trace_threshold_ms: float | None = Field(description="p90 of trace duration: traces above it are 'slow'.")
    dominant_spans_in_slow_traces: dict[str, float] = Field(
        description="Span name -> share of slow traces' time spent in it (0-1), largest first."
    )


class TokenStats(BaseModel):
    traces_with_usage: int
    input_per_trace: Percentiles
    output_per_trace: Percentiles
    by_model: dict[str, dict[str, int]] = Field(
        description="Model -> {calls, input_tokens, output_tokens, cache_read_tokens} (those the calls recorded)."
    )
    outlier_threshold_input: float | None
    cost_usd: float | None = Field(
        default=None, description="What the model calls cost, where MLflow priced them (mlflow.llm.cost)."
    )


class ToolStats(BaseModel):
    name: str
    calls: int
    traces: int
    exceptions: int = Field(description="Calls whose span status is ERROR.")
    error_outputs: int = Field(description="Calls with an OK status whose output is an error ({'error':…}, 'Error…').")
    error_rate: float
    latency_ms: Percentiles
    repeated_identical_calls: int = Field(description="Calls repeating an earlier call's name and inputs in one trace.")


class StructureStats(BaseModel):
    root_names: dict[str, int]
    patterns: list[dict[str, int | str]] = Field(description="Most common child-name sequences under the root.")
    subagents: dict[str, int] = Field(description="AGENT spans below the root: name -> traces using it.")
    tool_co_occurrence: list[dict[str, int | list[str]]] = Field(description="Tool sets used together in one trace.")
    max_fanout: int = Field(description="Most children any span has.")
    has_retrieval: bool
    has_tools: bool
    has_llm: bool
    span_types: dict[str, int]


class OutputStats(BaseModel):
    empty: int
    refusals: int
    truncated: int
    formats: dict[str, int] = Field(description="json, markdown_table, markdown, prose, empty, non_text.")
    pii: dict[str, int] = Field(description="Kind (email, phone, card, api_key, …) -> traces whose output has it.")


class ReadingCoverage(BaseModel):
    """How much of the traces the reading understood: of the spans it interprets (each root, model
    call, tool call and retrieval), those whose inputs and outputs it could read. A span it could
    not read is judged by the generic reading only, so findings about it may be missed."""

    spans_read: int
    understood: int
    share: float = Field(description="understood / spans whose content was recorded (1.0 when none).")
    not_understood: dict[str, int] = Field(
        default_factory=dict, description="'<span name> (inputs|outputs)' -> spans, most frequent first (10 at most)."
    )
    not_recorded: dict[str, int] = Field(
        default_factory=dict,
        description="Span name -> spans whose output MLflow did not record (e.g. Anthropic streaming).",
    )


class SessionSample(BaseModel):
    """A session the dataset can evaluate whole, as MLflow's session-level scorers see it."""

    session_id: str = Field(description="Its `mlflow.trace.session` metadata as stored (MLflow groups by this).")
    trace_ids: list[str] = Field(description="Its traces in the order they started (sessions of at most 100).")
    signals: list[str] = Field(
        description="The conversation-level signals it shows (long_conversation: far longer than the others); "
        "empty for a clean session."
    )


class ConversationStats(BaseModel):
    conversations: int = Field(description="Sessions, plus traces outside any session.")
    sessions: int
    multi_turn: int = Field(description="Conversations with more than one user turn.")
    user_turns_p50: float | None
    user_turns_max: int | None
    tool_calls_p50: float | None
    with_signal: int = Field(description="Conversations showing at least one conversation-level signal.")
    signals: dict[str, int] = Field(description="Signal -> conversations showing it.")
    session_samples: list[SessionSample] = Field(
        default_factory=list,
        description="Sessions for session-level cases: those showing a signal first (each signal's first), then "
        "clean ones; at most 25.",
    )


class ErrorCluster(BaseModel):
    signature: str = Field(description="The message with ids, numbers and quoted values replaced.")
    count: int
    span_names: list[str]
    examples: list[str]
    trace_ids: list[str]


class InputCluster(BaseModel):
    cluster_id: int
    name: str | None = Field(default=None, description="What these requests are about (Claude mode).")
    size: int
    top_terms: list[str]
    examples: list[str]
    trace_ids: list[str]


class Finding(BaseModel):
    id: str = Field(description="Stable within one analysis, e.g. 'tool_error_outputs:lookup_order'.")
    kind: FindingKind
    title: str
    severity: Severity
    count: int
    rate: float = Field(description="count / traces analysed.")
    trace_ids: list[str] = Field(description="Every affected trace among those analysed.")
    evidence: list[str] = Field(description="Short excerpts that show the problem.")
    suggested_scorer: str = Field(description="Name of the code scorer or judge that would catch it.")
    details: dict[str, str | int | float] = Field(default_factory=dict)
    trace_evidence: dict[str, str] = Field(
        default_factory=dict, description="Trace id -> what shows the problem in it, where one was recorded."
    )
    source: Mode = Field(default="offline", description="offline: measured by the engine; claude: read by Claude.")


class ScorerRecommendation(BaseModel):
    name: str
    kind: Literal["code", "builtin_judge", "guidelines"]
    reason: str
    findings: list[str] = Field(default_factory=list, description="Finding ids this scorer targets.")


class DatasetRecommendation(BaseModel):
    strategy: Literal["traces", "manual", "hybrid"]
    reason: str


class AgentProfile(BaseModel):
    """What the agent is, as Claude read it from a sample of traces."""

    agent_type: str = Field(description="e.g. customer-support assistant with tools, RAG question answering.")
    purpose: str
    domains: list[str]
    input_shape: str = Field(description="What a request looks like.")
    output_shape: str = Field(description="What a response looks like.")


RecommendationKind = Literal[
    "context_growth", "dominant_prefix", "unused_retrieval", "cacheable_prefix", "dominant_model"
]
Number = float | int | str


class ContextRecommendation(BaseModel):
    kind: RecommendationKind
    title: str
    """One sentence with the key number in it."""
    numbers: dict[str, Number]
    """The evidence figures."""
    trace_ids: list[str]
    """Example traces (at most 10)."""


class ContextReport(BaseModel):
    recommendations: list[ContextRecommendation]
    traces: int
    model_calls: int
    sessions: int
    input_tokens: int | None
    """Summed over the model calls that recorded them."""
    cache_read_tokens: int | None
    """Summed over the model calls that recorded cache reads; None when none did."""


class ComponentUse(BaseModel):
    name: str
    kind: ComponentKind
    calls: int
    traces: int


class Route(BaseModel):
    route: str = Field(description="The root, then its first-level steps in order of first appearance.")
    traces: int
    example_trace_id: str


class ClusterComponents(BaseModel):
    cluster_id: int
    name: str | None = None
    top_terms: list[str]
    traces: int
    components: dict[str, int] = Field(description="'<kind>:<name>' -> traces of this cluster calling it.")
    together: dict[str, int] = Field(description="The components called together in one trace -> traces.")


class ParallelizableCalls(BaseModel):
    traces_judged: int = Field(description="Traces with real timings where one agent made two or more calls.")
    traces: int = Field(description="Traces with calls that ran one after another but needed nothing from each other.")
    calls: int = Field(description="Calls that could have started alongside an earlier one.")
    by_calls: dict[str, int] = Field(description="The calls of such a run ('a + b') -> runs.")
    saved_ms_total: float
    saved_ms_p50: float | None = Field(description="Per affected trace: the median time it could save.")
    saved_share_p50: float | None = Field(description="Per affected trace: the median share of its duration.")
    example_trace_ids: list[str]
    traces_untimed: int = Field(description="Traces with synthetic times: not judged.")


class UnusedResults(BaseModel):
    name: str
    kind: ComponentKind
    judged: int = Field(
        description="Calls whose use could be judged (a model call followed, the result had new terms)."
    )
    unused: int = Field(description="Calls whose result reached no later step's inputs nor the answer.")
    traces: int
    example_trace_ids: list[str]


class OfferedTool(BaseModel):
    name: str
    offered_in_traces: int


class ArchitectureReport(BaseModel):
    """The agent's architecture as its traces show it: what it calls, and where it spends calls for nothing."""

    traces: int
    sub_agents: list[ComponentUse]
    routes: list[Route]
    tools: list[ComponentUse]
    retrievers: list[ComponentUse]
    by_input_cluster: list[ClusterComponents] = Field(description="Which components serve each kind of request.")
    parallelizable: ParallelizableCalls
    unused_results: list[UnusedResults] = Field(description="Tools and retrievers whose results some calls never used.")
    tools_never_used: list[OfferedTool] = Field(description="Tools offered to the model that no trace calls.")


Engine = Literal["python", "spark", "databricks"]


class TraceAnalysis(BaseModel):
    mode: Mode = "offline"
    engine: Engine = Field(
        default="python",
        description="python: every trace read from the tracking store; spark or databricks: SQL over the span table, "
        "where each finding's count is exact and its trace_ids a sample.",
    )
    trace_table: str | None = Field(default=None, description="The OTel span table analysed (SQL engines).")
    days: float | None = Field(default=None, description="SQL engines: the window analysed, in days back from now.")
    statements: int | None = Field(default=None, description="SQL engines: statements the warehouse ran.")
    bytes_returned: int | None = Field(default=None, description="SQL engines: bytes of rows brought back.")
    claude: ClaudeUsage | None = None
    agent: AgentProfile | None = Field(default=None, description="Claude mode: what the agent is for.")
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    filter_string: str | None
    overview: Overview
    latency: LatencyStats
    tokens: TokenStats
    tools: list[ToolStats]
    structure: StructureStats
    outputs: OutputStats
    reading: ReadingCoverage
    context: ContextReport | None = Field(
        default=None, description="Context-engineering recommendations, each with its numbers and example traces."
    )
    architecture: ArchitectureReport | None = Field(
        default=None, description="The agent's map (sub-agents, routes, tools, retrievers) and the calls it wastes."
    )
    conversations: ConversationStats | None = Field(
        default=None, description="Conversations (sessions, or traces holding a dialogue) and their signals."
    )
    error_clusters: list[ErrorCluster]
    input_clusters: list[InputCluster]
    findings: list[Finding]
    recommended_scorers: list[ScorerRecommendation]
    dataset_strategy: DatasetRecommendation
    seconds: float
    analysis_id: str | None = Field(
        default=None, description="Pass to get_finding to page through a finding's traces; kept in the workspace."
    )
    analysis_path: str | None = Field(default=None, description="Where state/analysis.json was written, if asked.")
    traces_tagged: int | None = Field(
        default=None, description="With tag_traces: traces given an mlflow_eval.finding.<kind> tag per finding kind."
    )
    ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)
