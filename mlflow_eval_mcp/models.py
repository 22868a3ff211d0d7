"""Result models: one per tool, shared by the MCP server (structured content) and the CLI (JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mlflow_eval_mcp.ui_links import LINK_DESCRIPTION

Mode = Literal["offline", "claude"]
LISTED_SKIPS = 50


class ClaudeUsage(BaseModel):
    """What Claude cost one tool call. A cached response is free: re-running an unchanged step
    makes no request."""

    model: str
    requests: int = Field(default=0, description="Requests sent to the Messages API (retries not counted).")
    cached_responses: int = Field(default=0, description="Answers read from the on-disk cache instead.")
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = Field(default=0.0, description="Estimated from list prices; null for an unknown model.")
    notes: list[str] = Field(
        default_factory=list, description="What Claude added, and where it failed and the offline result stood."
    )


class TokenUsage(BaseModel):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class TraceSummary(BaseModel):
    """One trace, compact enough to list fifty of them."""

    trace_id: str
    state: str = Field(description="OK, ERROR or IN_PROGRESS.")
    request_time: str = Field(description="When the request arrived, ISO 8601 in UTC.")
    duration_ms: int | None
    request_preview: str | None = Field(description="Root span inputs as JSON, truncated.")
    response_preview: str | None = Field(description="Root span outputs as JSON, truncated.")
    token_usage: TokenUsage | None
    span_count: int | None = Field(description="Null when the spans could not be loaded (see spans_note).")
    span_counts_by_type: dict[str, int]
    error_span_names: list[str] = Field(description="Names of spans whose status is ERROR.")
    user: str | None
    session: str | None
    client_request_id: str | None
    tags: dict[str, str] = Field(description="Trace tags, without MLflow's internal bookkeeping tags.")
    spans_note: str | None = Field(
        default=None, description="Why span details are missing, e.g. a trace still in progress."
    )


TRACE_FIELDS = tuple(TraceSummary.model_fields)


class SearchTracesResult(BaseModel):
    mode: Mode = "offline"
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    filter_string: str | None
    order_by: list[str]
    traces: list[TraceSummary]
    fields: list[str] | None = Field(default=None, description="What each trace shows; null: the default fields.")
    next_page_token: str | None = Field(
        description="Pass back as page_token with the same arguments for the next page; null at the end."
    )
    ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)


class SpanNode(BaseModel):
    span_id: str
    parent_id: str | None = Field(description="Null for a root span.")
    depth: int = Field(description="0 for a root span, 1 for its children, and so on.")
    name: str
    span_type: str
    start_offset_ms: float = Field(description="Start time relative to the trace's first span.")
    duration_ms: float | None
    status: str = Field(description="OK, ERROR or UNSET.")
    status_message: str | None
    inputs: str | None = Field(description="JSON, truncated to max_chars.")
    outputs: str | None = Field(description="JSON, truncated to max_chars.")
    model: str | None = None
    token_usage: TokenUsage | None = None
    exception: str | None = Field(default=None, description="Type and message of a recorded exception.")


class GetTraceResult(BaseModel):
    mode: Mode = "offline"
    tracking_uri: str
    trace: TraceSummary
    spans: list[SpanNode] = Field(
        description="The span tree in depth-first order (each span followed by its children, in start order); "
        "parent_id and depth give the nesting."
    )
    truncated_fields: int = Field(description="How many inputs/outputs were cut to max_chars.")
    ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)


class ExperimentSummary(BaseModel):
    experiment_id: str
    name: str
    last_update_time: str | None


class ListExperimentsResult(BaseModel):
    mode: Mode = "offline"
    tracking_uri: str
    experiments: list[ExperimentSummary]


class FailedWrite(BaseModel):
    trace_id: str
    error: str


class SkippedRecord(BaseModel):
    ref: str = Field(description="Where in the source, e.g. 'runs.jsonl line 12'.")
    reason: str


class FileImport(BaseModel):
    file: str
    format: str | None = Field(description="The detected or given format; null if the file was skipped.")


class ImportResult(BaseModel):
    mode: Mode = "offline"
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    files: list[FileImport]
    imported: int = Field(description="Traces written by this import.")
    already_present: int = Field(description="Traces this source already produced in an earlier import.")
    skipped: int = Field(description="Source records (or whole files) not imported; see skipped_examples.")
    skipped_examples: list[SkippedRecord] = Field(description=f"The first {LISTED_SKIPS} skips with reasons.")
    skipped_by_reason: dict[str, int] = Field(description="Skip counts by the reason's first words.")
    failed: list[FailedWrite] = Field(description="Converted traces the store refused; nothing partial is kept.")
    lost: int = Field(description="Traces written but not readable afterwards; 0 unless the store misbehaved.")
    seconds: float
    traces_per_second: float
    ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)
