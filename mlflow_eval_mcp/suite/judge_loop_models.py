"""Results of the steps that make a suite's judges trustworthy: calibration against people,
alignment, prompt optimization, production monitoring and human review."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mlflow_eval_mcp.models import Mode

ScorerKind = Literal["llm_judge", "code"]


class ConfusionMatrix(BaseModel):
    both_pass: int
    both_fail: int
    scorer_pass_human_fail: int = Field(description="Lenient: the scorer passed what people failed.")
    scorer_fail_human_pass: int = Field(description="Strict: the scorer failed what people passed.")


class Disagreement(BaseModel):
    source_trace_id: str
    scorer: bool = Field(description="The scorer's verdict (True = pass).")
    human: bool
    scorer_rationale: str | None
    human_rationale: str | None


class ScorerCalibration(BaseModel):
    scorer: str
    kind: ScorerKind
    labels: int = Field(description="Traces with both a human pass/fail label and the scorer's verdict.")
    labels_without_verdict: int = Field(description="Labelled traces the scorer gave no verdict on in this run.")
    accuracy: float | None
    kappa: float | None = Field(description="Cohen's kappa; None when the labels hold only passes or only fails.")
    confusion: ConfusionMatrix
    pass_rate: float | None = Field(description="The scorer's pass rate over every row of the run.")
    gates: bool = Field(description="Whether its gate may fail run_eval.py; otherwise it is advisory.")
    reason: str
    disagreements: list[Disagreement] = Field(description="Up to 5 traces where the scorer and people differ.")


class CalibrationResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    run_id: str = Field(description="The evaluation run whose verdicts were compared.")
    min_labels: int
    min_kappa: float
    gating: list[str] = Field(description="Scorers that gate, one line each (summary).")
    advisory: list[str] = Field(description="Judges and code scorers that do not gate, each with why.")
    findings: list[str] = Field(description="Scorers that disagree with people, and labels that match no scorer.")
    scorers: list[ScorerCalibration]
    human_labels: int = Field(description="Pass/fail labels read from the source traces and state/review.json.")
    split_labels: int = Field(description="Trace and name pairs whose reviewers disagreed evenly (not counted).")
    files: list[str]
    next_step: str


class AlignmentScore(BaseModel):
    labels: int
    accuracy: float | None
    kappa: float | None


class AlignmentResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    judge: str
    optimizer: str
    aligned_on: int = Field(description="Labelled traces the optimizer learned from.")
    measured_on: int = Field(description="Held-out labelled traces both judges were scored on.")
    before: AlignmentScore
    after: AlignmentScore
    improved: bool
    replaced: bool = Field(description="Whether the aligned judge replaced the suite's judge.")
    registered: str | None = Field(
        description="Replaced only: where the aligned judge was registered in the experiment, or why it was not."
    )
    seconds: float
    message: str
    next_step: str


class PromptOptimizationResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    prompt_uri: str
    optimizer: str
    examples: int = Field(description="Cases with expectations the optimizer trained on.")
    scorers: list[str]
    initial_score: float | None
    final_score: float | None
    improved: bool
    new_version: str | None = Field(description="The prompt URI registered, only when the score improved.")
    alias: str | None = Field(description="The alias moved to the new version, when it was.")
    seconds: float
    message: str
    next_step: str


class MonitoredScorer(BaseModel):
    scorer: str
    kind: ScorerKind
    sample_rate: float | None
    status: Literal["started", "updated", "unsupported", "failed", "skipped"]
    reason: str


class MonitoringResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    experiment_id: str
    supported: bool = Field(description="Whether this tracking backend runs registered scorers on new traces.")
    scorers: list[MonitoredScorer]
    message: str
    next_step: str


class ReviewResult(BaseModel):
    mode: Mode = "offline"
    suite_dir: str
    review_file: str = Field(description="The file a person fills in; push_feedback writes it as HUMAN feedback.")
    traces: int
    labels_asked: list[str] = Field(description="The label names, equal to the judges' names.")
    labeling_session: dict[str, Any] | None = Field(
        default=None, description="Databricks only: the labeling session created, with its review app URL."
    )
    how_to_label: list[str] = Field(description="What a person does, step by step.")
    next_step: str
