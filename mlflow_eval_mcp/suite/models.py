"""Models of a suite's files and of the results of the tools that write them."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from mlflow_eval_mcp.models import ClaudeUsage, Mode
from mlflow_eval_mcp.ui_links import LINK_DESCRIPTION

Strategy = Literal["traces", "manual", "hybrid"]


class DatasetCase(BaseModel):
    """One line of `evaluation/data/cases.jsonl`."""

    case_id: str
    kind: Literal["recorded", "synthetic", "session"]
    inputs: dict[str, Any] = Field(
        description="Keyword arguments for predict_fn(**inputs); for a session, a ConversationSimulator test case "
        "(goal, simulation_guidelines)."
    )
    outputs: Any = Field(default=None, description="The recorded response (reference only; the trace is scored).")
    expectations: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    source_trace_id: str | None = Field(description="The production trace this case came from or is grounded in.")
    has_trace: bool = Field(description="Whether the source trace is kept in traces.jsonl to be scored as recorded.")
    reasons: list[str] = Field(default_factory=list, description="Why it was chosen: finding ids or a cluster.")
    session_id: str | None = Field(default=None, description="A session case: the session it recorded.")
    trace_ids: list[str] = Field(
        default_factory=list, description="A session case: its traces in order, all kept in traces.jsonl."
    )


class DatasetSync(BaseModel):
    dataset_id: str
    name: str
    inserted: int
    updated: int = Field(description="Records whose inputs were already in the dataset (a re-sync updates them).")


class DatasetResult(BaseModel):
    mode: Mode = "offline"
    claude: ClaudeUsage | None = None
    suite_dir: str
    strategy: Strategy
    cases: int
    recorded: int = Field(description="Cases scored from their production trace.")
    synthetic: int
    sessions: int = Field(default=0, description="Whole conversations, scored by the session-level scorers.")
    inputs_only: int = Field(description="Cases that need a predict_fn (synthetic, or manual strategy).")
    finding_coverage: dict[str, int] = Field(description="Finding id -> cases showing it.")
    findings_not_covered: list[str] = Field(description="Finding ids with no case, and why.")
    clusters_covered: int
    near_duplicates_removed: int
    redaction: bool
    redacted: dict[str, int] = Field(description="What redaction removed: kind -> occurrences.")
    files: list[str]
    sync: DatasetSync | None = None
    dropped: list[str] = Field(default_factory=list, description="Claude's proposed cases left out, each with why.")
    next_step: str


RecordingCheckName = Literal[
    "calls_expected_tools",
    "states_expected_facts",
    "no_invented_figures",
    "answers_the_request",
    "same_language_as_request",
    "response_shape",
]
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
    "no_span_errors",
    "no_user_friction",
    "no_agent_backtracking",
    "no_escalation",
    "tool_errors_recovered",
    "no_repeated_writes",
    "conversation_completed",
    "claims_backed_by_tools",
    "conversation_length_budget",
    "no_unnecessary_fanout",
    "no_redundant_retrieval",
    RecordingCheckName,
]
RECORDING_CHECKS: frozenset[str] = frozenset(get_args(RecordingCheckName))
"""Checks of an answer against what the good recordings did (suite.recorded_expectations). Production
passes them by construction, so a rate gate would ask a candidate for perfection in a world that moved
on: they are gated pairwise instead (run_eval.py's paired gates)."""
JudgeName = Literal[
    "Safety",
    "RelevanceToQuery",
    "Correctness",
    "ExpectationsGuidelines",
    "RetrievalGroundedness",
    "RetrievalRelevance",
    "ToolCallEfficiency",
    "Guidelines",
    "make_judge",
    "aligned",
]


class CodeScorerSpec(BaseModel):
    """One code scorer in `scorer_config.json`: which check, with which budgets, for which findings."""

    name: str
    check: CheckName
    findings: list[str] = Field(default_factory=list, description="Finding ids it targets; empty for a guard.")
    titles: list[str] = Field(default_factory=list, description="Their titles, quoted in failing rationales.")
    params: dict[str, Any] = Field(default_factory=dict)
    level: Literal["trace", "session"] = Field(
        default="trace",
        description="session: a session-level scorer, called once per session case with its traces.",
    )
    reason: str
    source: Mode = "offline"


class JudgeSpec(BaseModel):
    name: str
    judge: JudgeName
    guidelines: list[str] = Field(default_factory=list)
    instructions: str | None = Field(
        default=None, description="make_judge only: the pass/fail instructions, with {{ inputs }}/{{ outputs }}/…"
    )
    requires_expectations: list[str] = Field(
        default_factory=list, description="Expectation keys every evaluated row must have (else it is skipped)."
    )
    findings: list[str] = Field(default_factory=list, description="Finding ids it targets.")
    reason: str
    source: Mode = "offline"
    aligned_on: list[str] = Field(
        default_factory=list,
        description="aligned only: the labelled traces it learned from, which calibration leaves out of its agreement.",
    )


class GeneratedScorerSpec(BaseModel):
    """A code scorer Claude wrote: the function of this name in `evaluation/generated_scorers.py`,
    accepted only after it passed the code policy and a dry run on the recorded rows."""

    name: str
    findings: list[str] = Field(default_factory=list)
    reason: str
    source: Mode = "claude"


class ScorerConfig(BaseModel):
    """`evaluation/data/scorer_config.json`."""

    suite_id: str
    judge_model: str | None = Field(description="Default judge model URI; the environment can override it.")
    code_scorers: list[CodeScorerSpec]
    judges: list[JudgeSpec]
    generated_code_scorers: list[GeneratedScorerSpec] = Field(default_factory=list)

    def all_code(self) -> list[CodeScorerSpec | GeneratedScorerSpec]:
        """The code scorers in the order the suite runs them: the engine's, then Claude's."""
        return [*self.code_scorers, *self.generated_code_scorers]

    def scorer_names(self) -> list[str]:
        return [spec.name for spec in self.all_code()] + [judge.name for judge in self.judges]


class ScorersResult(BaseModel):
    mode: Mode = "offline"
    claude: ClaudeUsage | None = None
    suite_dir: str
    code_scorers: list[CodeScorerSpec]
    judges: list[JudgeSpec]
    generated_code_scorers: list[GeneratedScorerSpec] = Field(
        default_factory=list, description="Code scorers Claude wrote that passed the policy and a dry run."
    )
    dropped: list[str] = Field(default_factory=list, description="Claude's proposals left out, each with why.")
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
    claude: ClaudeUsage | None = None
    suite_dir: str
    traces_analyzed: int
    findings: int
    dataset: DatasetResult
    scorers: ScorersResult
    script: RunScriptResult


CheckStatus = Literal["passed", "failed", "skipped", "warning"]
# Every check validate_eval reports, in the order it runs them: static, then executed.
ValidationCheckName = Literal[
    "files_compile",
    "modules_import",
    "dataset_schema",
    "scorer_names_unique",
    "guidelines_named",
    "scorers_build",
    "aggregations_allowed",
    "code_scorers_dry_run",
    "run",
    "every_scorer_produced_values",
    "no_degenerate_scorer",
    "metrics_logged",
    "judges",
    "baseline_gates",
]


class ValidationIssue(BaseModel):
    """Where a check failed, as precisely as known."""

    message: str
    file: str | None = None
    line: int | None = None
    scorer: str | None = None
    row: str | None = Field(default=None, description="case_id of the dataset row.")


class ValidationCheck(BaseModel):
    name: ValidationCheckName
    status: CheckStatus
    message: str
    fix: str | None = Field(default=None, description="What to do about a failure.")
    issues: list[ValidationIssue] = Field(default_factory=list)


class ValidationResult(BaseModel):
    """`state/validation_results.json`."""

    mode: Mode = "offline"
    claude: ClaudeUsage | None = None
    suite_dir: str
    status: Literal["passed", "failed"]
    checks: list[ValidationCheck]
    run_id: str | None = Field(description="The MLflow run of the executed phase, when it ran.")
    experiment_id: str | None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    skipped_scorers: list[dict[str, str]] = Field(
        default_factory=list, description="Judges not run, with the reason (never counted as passed)."
    )
    repairs: list[str] = Field(
        default_factory=list, description="Claude mode: generated scorers fixed or removed before this validation."
    )
    seconds: float
    ui_url: str | None = Field(default=None, description=f"The evaluation run. {LINK_DESCRIPTION}")
    next_step: str


class PushResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    run_id: str
    dry_run: bool
    logged: int = Field(description="New feedback written onto source traces.")
    updated: int = Field(description="Existing feedback from this suite and scorer, given a new value.")
    unchanged: int = Field(description="Existing feedback that already had this value.")
    deduplicated: int = Field(
        default=0, description="Extra copies of this suite's feedback (from pushes that overlapped) deleted."
    )
    skipped: int
    skipped_reasons: dict[str, int]
    human_reviews: int = Field(description="Reviews from state/review.json pushed as HUMAN feedback.")
    traces_tagged: int
    ui_url: str | None = Field(default=None, description=f"The production traces. {LINK_DESCRIPTION}")


class PullResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    traces_read: int
    human_feedback: int
    expectations: int
    cases_updated: int
    review_file: str
    next_step: str


class ScorerComparison(BaseModel):
    scorer: str
    paired_rows: int
    baseline_pass_rate: float | None
    candidate_pass_rate: float | None
    pass_to_fail: int
    fail_to_pass: int
    p_value: float = Field(description="Exact two-sided McNemar test on the flips.")
    regressed_rows: list[str] = Field(description="Row keys (case ids, else an inputs digest) that went pass -> fail.")
    verdict: Literal["regressed", "improved", "unchanged", "changed"]


class CompareResult(BaseModel):
    mode: Mode = "offline"
    baseline_run_id: str
    candidate_run_id: str
    metric_deltas: dict[str, dict[str, float | None]] = Field(description="metric -> {baseline, candidate, delta}.")
    scorers: list[ScorerComparison]
    unpaired_rows: int = Field(description="Rows present in only one of the runs.")
    verdict: Literal["regressed", "improved", "unchanged", "changed"]
    regressions: list[str] = Field(description="One line per scorer that regressed, with its rows.")
    baseline_ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)
    candidate_ui_url: str | None = Field(default=None, description=LINK_DESCRIPTION)
