"""What crosses the subprocess boundary: the reports `templates/probe.py` prints and the result a
suite's `run_eval.py` writes. Both scripts stay standard-library only and write plain JSON; these
models check it once, where `runner.py` reads it, so that everything after reads attributes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, RootModel

JsonScalar = bool | int | float | str | None


class LocatedError(BaseModel):
    """An error raised by a suite file, with the file and line it happened in when known."""

    message: str
    file: str | None = None
    line: int | None = None


class RowProblem(BaseModel):
    row: str | None = Field(description="case_id of the dataset row; None when the dataset did not load.")
    message: str


class DatasetReport(BaseModel):
    cases: int
    recorded: int
    expectation_keys: list[str] = Field(default_factory=list, description="Absent when the dataset did not load.")
    problems: list[RowProblem]


class DescribedScorer(BaseModel):
    name: str
    aggregations: list[str]


class ScorersReport(BaseModel):
    code: list[DescribedScorer]
    judges: list[DescribedScorer]
    error: LocatedError | None = Field(description="Why get_scorers() or the judges could not be built.")


class DryRunOutcome(BaseModel):
    row: str | None
    value: str | None = Field(description="What the scorer returned, as shown to the user.")
    aggregatable: bool
    error: str | None


class DryRunReport(BaseModel):
    rows: int = Field(description="Recorded rows the code scorers ran on.")
    results: dict[str, list[DryRunOutcome]] = Field(description="Scorer name -> its outcome on each row.")
    error: str | None = Field(description="Why the code scorers could not be built.")


class ProbeReport(BaseModel):
    """`probe.py EVALUATION_DIR`: the static look inside a suite that validate_eval judges."""

    imports: dict[str, LocatedError | None] = Field(description="Module -> its import error, None when it imports.")
    dataset: DatasetReport | None = Field(description="None when eval_dataset does not import.")
    scorers: ScorersReport | None = Field(description="None when scorers does not import.")
    dry_runs: DryRunReport | None = Field(description="None when eval_dataset or scorers does not import.")


class CaseVerdicts(RootModel[dict[str, dict[str, bool | None]]]):
    """`probe.py EVALUATION_DIR --verdicts`: case_id -> code scorer -> passed (None: no verdict)."""


class TrialOutcome(BaseModel):
    error: str | None = None
    rows: int = Field(default=0, description="Recorded rows it returned an aggregatable value on.")
    passed: int = 0


class TrialReport(BaseModel):
    """`probe.py EVALUATION_DIR --trial FILE`: each candidate scorer, built and dry-run."""

    code: dict[str, TrialOutcome] = Field(default_factory=dict, description="Code scorer name -> its trial.")
    judges: dict[str, str | None] = Field(
        default_factory=dict, description="Judge name -> why it does not build, None when it builds."
    )


class ProbeFailure(BaseModel):
    """The probe gave no report: killed at its timeout, or finished without a readable one."""

    timeout_s: float | None = Field(default=None, description="Set when it was killed after this many seconds.")
    stderr: str = Field(default="", description="The end of its error output, when it finished.")


class ScorerStats(BaseModel):
    values: int = Field(description="Rows it gave a value on.")
    missing: int = Field(description="Rows it should have scored and gave no value on.")
    # Results written by suites rendered before judges could be inapplicable to a row lack it.
    not_applicable: int = 0
    passed: int
    pass_rate: float | None
    errors: list[str]


class SkippedScorer(BaseModel):
    scorer: str
    reason: str


class GateResult(BaseModel):
    scorer: str
    minimum: float
    pass_rate: float | None
    passed: bool
    reason: str
    # Results written by suites rendered before calibration lack these: every gate then gated.
    advisory: bool = Field(default=False, description="Shown but cannot fail the run (see trust).")
    trust: str = Field(default="", description="Why the gate may or may not fail the run (calibrate_judges).")


class PairedGate(BaseModel):
    """A predict_fn run against production, case by case, on the cases whose recording was good."""

    scorer: str
    cases: int
    pass_to_fail: int = Field(description="Cases production passed and the candidate fails.")
    fail_to_pass: int
    p_value: float = Field(description="Exact McNemar test on the flips.")
    passed: bool


class ScoredValue(BaseModel):
    value: JsonScalar
    rationale: JsonScalar


class RowResult(BaseModel):
    case_id: str | None
    session_case_id: str | None = Field(
        default=None, description="The session case whose session this row's trace is part of, if any."
    )
    source_trace_id: str | None
    eval_trace_id: str | None
    results: dict[str, ScoredValue] = Field(description="Scorer name -> its value and rationale on this row.")


class RunResult(BaseModel):
    """The JSON result `run_eval.py` writes (`evaluation/results/latest.json` by default)."""

    suite_id: str
    run_id: str
    experiment_id: str
    mode: Literal["recorded", "predict_fn"]
    rows: int
    seconds: float
    metrics: dict[str, float | None]
    scorers: dict[str, ScorerStats]
    skipped: list[SkippedScorer] = Field(description="Judges not run, with the reason.")
    gates: list[GateResult]
    paired_gates: list[PairedGate] = Field(default_factory=list, description="predict_fn runs only.")
    gates_passed: bool
    row_results: list[RowResult]
