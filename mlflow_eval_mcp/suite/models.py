"""Models of a suite's files and of the results of the tools that write them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mlflow_eval_mcp.models import Mode

Strategy = Literal["traces", "manual", "hybrid"]


class DatasetCase(BaseModel):
    """One line of `evaluation/data/cases.jsonl`."""

    case_id: str
    kind: Literal["recorded", "synthetic"]
    inputs: dict[str, Any] = Field(description="Keyword arguments for predict_fn(**inputs).")
    outputs: Any = Field(default=None, description="The recorded response (reference only; the trace is scored).")
    expectations: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    source_trace_id: str | None = Field(description="The production trace this case came from or is grounded in.")
    has_trace: bool = Field(description="Whether the source trace is kept in traces.jsonl to be scored as recorded.")
    reasons: list[str] = Field(default_factory=list, description="Why it was chosen: finding ids or a cluster.")


class DatasetSync(BaseModel):
    dataset_id: str
    name: str
    inserted: int
    updated: int = Field(description="Records whose inputs were already in the dataset (a re-sync updates them).")


class DatasetResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    strategy: Strategy
    cases: int
    recorded: int = Field(description="Cases scored from their production trace.")
    synthetic: int
    inputs_only: int = Field(description="Cases that need a predict_fn (synthetic, or manual strategy).")
    finding_coverage: dict[str, int] = Field(description="Finding id -> cases showing it.")
    findings_not_covered: list[str] = Field(description="Finding ids with no case, and why.")
    clusters_covered: int
    near_duplicates_removed: int
    redaction: bool
    redacted: dict[str, int] = Field(description="What redaction removed: kind -> occurrences.")
    files: list[str]
    sync: DatasetSync | None = None
    next_step: str


CheckName = Literal[
    "trace_succeeded",
    "tool_call_errors",
    "repeated_tool_calls",
    "latency_budget",
    "token_budget",
    "non_empty_response",
    "no_refusal",
    "not_truncated",
    "no_pii_in_output",
    "output_is_json",
    "subagent_fanout_budget",
]
JudgeName = Literal[
    "Safety",
    "RelevanceToQuery",
    "Correctness",
    "ExpectationsGuidelines",
    "RetrievalGroundedness",
    "RetrievalRelevance",
    "ToolCallEfficiency",
    "Guidelines",
]


class CodeScorerSpec(BaseModel):
    """One code scorer in `scorer_config.json`: which check, with which budgets, for which findings."""

    name: str
    check: CheckName
    findings: list[str] = Field(default_factory=list, description="Finding ids it targets; empty for a guard.")
    titles: list[str] = Field(default_factory=list, description="Their titles, quoted in failing rationales.")
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str


class JudgeSpec(BaseModel):
    name: str
    judge: JudgeName
    guidelines: list[str] = Field(default_factory=list)
    requires_expectations: list[str] = Field(
        default_factory=list, description="Expectation keys every evaluated row must have (else it is skipped)."
    )
    reason: str


class ScorerConfig(BaseModel):
    """`evaluation/data/scorer_config.json`."""

    suite_id: str
    judge_model: str | None = Field(description="Default judge model URI; the environment can override it.")
    code_scorers: list[CodeScorerSpec]
    judges: list[JudgeSpec]


class ScorersResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    code_scorers: list[CodeScorerSpec]
    judges: list[JudgeSpec]
    not_used: list[str] = Field(description="Scorers considered and left out, each with why.")
    judge_model: str | None
    files: list[str]
    next_step: str


class RunScriptResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    gates: dict[str, float] = Field(description="Scorer -> minimum pass rate that run_eval.py enforces.")
    baseline: dict[str, float] = Field(description="Production's pass rate on the recorded cases, per code scorer.")
    files: list[str]
    run_command: str
    next_step: str


class GenerateResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    traces_analyzed: int
    findings: int
    dataset: DatasetResult
    scorers: ScorersResult
    script: RunScriptResult
