"""Every operation once: a function over a `Runtime` whose annotated parameters are its arguments,
and one row of `OPERATIONS` saying how front ends offer it. The MCP server (`frontend.server`) and
the command line (`frontend.cli`) are both derived from this table: adding a tool is one function
here and one row below.

The functions only translate arguments into a library call; the library does the work. Heavy
modules are imported inside them, so that listing the tools loads none of them.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from mlflow_eval_mcp.analysis.archive import FindingPage
from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.frontend.args import (
    AgentFn,
    AlignmentOptimizer,
    AnalysisEngine,
    AnalysisId,
    DatasetStrategy,
    Days,
    DryRun,
    EvaluationRunId,
    ExperimentId,
    ExperimentName,
    FilterString,
    FindingId,
    FindingPageSize,
    Gates,
    Generation,
    Holdout,
    ImportFormat,
    ImportPath,
    IncludeSynthetic,
    JudgeModel,
    JudgeName,
    LabelsPerScorer,
    MaxCases,
    MaxChars,
    MaxMetricCalls,
    MaxRecordMb,
    MaxResults,
    MaxTraces,
    MinKappa,
    MinLabels,
    NewSuiteDir,
    OptionalSuiteDir,
    OrderBy,
    OutDir,
    PageToken,
    PredictFn,
    PromptAlias,
    PromptUri,
    Redact,
    ReflectionModel,
    RunId,
    RunSuite,
    SampleRate,
    ScorerNames,
    SuiteDir,
    SyncDataset,
    TablePrefix,
    TagTraces,
    TargetExperiment,
    TimeoutSeconds,
    TraceFields,
    TraceId,
    TraceTable,
)
from mlflow_eval_mcp.frontend.runtime import Runtime
from mlflow_eval_mcp.limits import (
    FINDING_PAGE_SIZE,
    MAX_CASES,
    MAX_RECORD_MB,
    MAX_TRACES,
    MIN_KAPPA,
    MIN_LABELS,
    SEARCH_PAGE_SIZE,
    VALIDATION_TIMEOUT_S,
)
from mlflow_eval_mcp.models import GetTraceResult, ImportResult, ListExperimentsResult, SearchTracesResult
from mlflow_eval_mcp.suite.judge_loop_models import (
    AlignmentResult,
    CalibrationResult,
    MonitoringResult,
    PromptOptimizationResult,
    ReviewResult,
)
from mlflow_eval_mcp.suite.models import (
    CompareResult,
    DatasetResult,
    GenerateResult,
    PullResult,
    PushResult,
    RunScriptResult,
    ScorersResult,
    ValidationResult,
)
from mlflow_eval_mcp.warehouse.models import SpanTableExport


def list_experiments(rt: Runtime) -> ListExperimentsResult:
    """List the experiments in the tracking store, most recently updated first."""
    from mlflow_eval_mcp import traces

    return traces.list_experiments(rt.client())


def search_traces(
    rt: Runtime,
    experiment_id: ExperimentId = None,
    experiment_name: ExperimentName = None,
    filter_string: FilterString = None,
    max_results: MaxResults = SEARCH_PAGE_SIZE,
    page_token: PageToken = None,
    order_by: OrderBy = None,
    fields: TraceFields = None,
) -> SearchTracesResult:
    """Search one experiment's traces: state, timing, previews, token usage and failed spans of each.
    Pages with next_page_token."""
    from mlflow_eval_mcp import traces

    return traces.search_traces(
        rt.client(),
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        filter_string=filter_string,
        max_results=max_results,
        page_token=page_token,
        order_by=order_by,
        fields=fields,
    )


def get_trace(rt: Runtime, trace_id: TraceId, max_chars: MaxChars = None) -> GetTraceResult:
    """Get one trace as a span tree: types, timings, status, exceptions, token usage and
    truncated inputs/outputs of every span."""
    from mlflow_eval_mcp import traces

    return traces.get_trace(rt.client(), trace_id, max_chars=max_chars)


def import_traces(
    rt: Runtime,
    path: ImportPath,
    experiment_name: TargetExperiment,
    format: ImportFormat = "auto",
    max_record_mb: MaxRecordMb = MAX_RECORD_MB,
) -> ImportResult:
    """Import traces from other tools (see format) into an MLflow experiment. Re-importing the same
    file adds nothing; bad records are skipped with reasons."""
    from mlflow_eval_mcp.importing import importer

    return importer.import_traces(
        rt.client(),
        path,
        experiment_name=experiment_name,
        artifacts_dir=rt.settings.artifacts_dir,
        format_name=format,
        max_record_bytes=max_record_mb * 1024 * 1024,
        on_progress=rt.progress.counter("traces converted"),
    )


def analyze_traces(
    rt: Runtime,
    experiment_id: ExperimentId = None,
    experiment_name: ExperimentName = None,
    filter_string: FilterString = None,
    max_traces: MaxTraces = MAX_TRACES,
    suite_dir: OptionalSuiteDir = None,
    tag_traces: TagTraces = False,
    generation: Generation = "auto",
    trace_table: TraceTable = None,
    engine: AnalysisEngine = "auto",
    days: Days = None,
) -> TraceAnalysis:
    """Analyse an experiment's traces: findings (what fails, how often, trace ids, the scorer that
    catches it), latency, tokens, tools, request clusters; get_finding pages a finding's traces. Claude
    adds the agent's purpose and semantic failures; tag_traces tags the traces; trace_table runs SQL
    where the spans are."""
    from mlflow_eval_mcp.analysis import archive, table_analysis, trace_tags
    from mlflow_eval_mcp.suite import analysis_step

    options: dict[str, Any] = {
        "experiment_id": experiment_id,
        "experiment_name": experiment_name,
        "filter_string": filter_string,
        "max_traces": max_traces,
        "on_progress": rt.progress.counter("traces analysed"),
        "claude": rt.claude(generation),
        "trace_table": trace_table,
        "engine": engine,
        "days": days,
    }
    if suite_dir:
        suite = rt.suite(suite_dir)
        analysis = analysis_step.analyze_into_suite(rt.client(), suite, archive=rt.settings.analyses_dir, **options)
    else:
        analysis = table_analysis.analyze_experiment(rt.client(), **options)
        archive.archive_analysis(rt.settings.analyses_dir, analysis)
    if tag_traces:
        analysis.traces_tagged = trace_tags.tag_traces(rt.client(), analysis)
    return analysis


def export_span_table(
    rt: Runtime,
    out_dir: OutDir,
    prefix: TablePrefix,
    experiment_id: ExperimentId = None,
    experiment_name: ExperimentName = None,
    filter_string: FilterString = None,
    max_traces: MaxTraces = MAX_TRACES,
) -> SpanTableExport:
    """Write an experiment's traces as an OTel v2 span table (Parquet, the columns MLflow writes to Unity
    Catalog) for `analyze --trace-table DIR` on Spark. Needs the spark extra."""
    from mlflow_eval_mcp.warehouse import export

    return export.export_span_table(
        rt.client(),
        Path(out_dir).expanduser(),
        prefix=prefix,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        filter_string=filter_string,
        max_traces=max_traces,
    )


def get_finding(
    rt: Runtime,
    analysis_id: AnalysisId,
    finding_id: FindingId,
    page_token: PageToken = None,
    page_size: FindingPageSize = FINDING_PAGE_SIZE,
) -> FindingPage:
    """Every trace of one finding of an analysis, page by page, each with its evidence."""
    from mlflow_eval_mcp.analysis import archive

    analysis = archive.load_analysis(rt.settings.analyses_dir, analysis_id)
    return archive.finding_page(analysis, finding_id, page_token=page_token, page_size=page_size)


def generate_dataset(
    rt: Runtime,
    suite_dir: SuiteDir,
    strategy: DatasetStrategy = None,
    max_cases: MaxCases = MAX_CASES,
    include_synthetic: IncludeSynthetic = True,
    redact: Redact = True,
    sync: SyncDataset = False,
    generation: Generation = "auto",
) -> DatasetResult:
    """Write the suite's dataset from its analysed traces: cases stratified over findings and request
    clusters, near duplicates removed, source traces kept as JSON (scored without the store),
    secrets and PII redacted. With Claude, also synthetic cases grounded in recorded ones."""
    from mlflow_eval_mcp.suite import dataset

    return dataset.generate_dataset(
        rt.client(),
        rt.suite(suite_dir),
        strategy=strategy,
        max_cases=max_cases,
        include_synthetic=include_synthetic,
        redact=redact,
        sync=sync,
        on_progress=rt.progress.counter("cases chosen"),
        claude=rt.claude(generation),
    )


def generate_scorers(
    rt: Runtime, suite_dir: SuiteDir, judge_model: JudgeModel = None, generation: Generation = "auto"
) -> ScorersResult:
    """Write the suite's scorers: a code scorer per structural finding (budgets from the data), guards,
    built-in judges where their prerequisites hold, Guidelines judges. With Claude, also domain judges
    and code scorers, tried on the dataset rows first (broken ones fixed or dropped)."""
    from mlflow_eval_mcp.suite import scorer_plan

    return scorer_plan.generate_scorers(rt.suite(suite_dir), judge_model=judge_model, claude=rt.claude(generation))


def render_run_script(rt: Runtime, suite_dir: SuiteDir, gates: Gates = None) -> RunScriptResult:
    """Write run_eval.py (tracking URI and experiment from the environment or flags, an eval experiment,
    --no-llm-judges, --predict-fn, gates that exit non-zero), gates.json (defaults: production's pass
    rates on the recorded cases) and the suite's README."""
    from mlflow_eval_mcp.suite import run_script

    return run_script.render_run_script(rt.suite(suite_dir), gates=gates)


def generate_suite(
    rt: Runtime,
    experiment_id: ExperimentId = None,
    experiment_name: ExperimentName = None,
    suite_dir: NewSuiteDir = None,
    filter_string: FilterString = None,
    max_traces: MaxTraces = MAX_TRACES,
    strategy: DatasetStrategy = None,
    max_cases: MaxCases = MAX_CASES,
    include_synthetic: IncludeSynthetic = True,
    redact: Redact = True,
    judge_model: JudgeModel = None,
    gates: Gates = None,
    generation: Generation = "auto",
    trace_table: TraceTable = None,
    days: Days = None,
) -> GenerateResult:
    """Run the whole pipeline into one suite directory: analyze_traces, generate_dataset,
    generate_scorers and render_run_script (default directory: WORKSPACE/suites/<experiment>)."""
    from mlflow_eval_mcp.suite import pipeline

    return pipeline.generate_suite(
        rt.client(),
        workspace_suites=lambda name: rt.suite(suite_dir, name),
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        filter_string=filter_string,
        max_traces=max_traces,
        strategy=strategy,
        max_cases=max_cases,
        include_synthetic=include_synthetic,
        redact=redact,
        judge_model=judge_model,
        gates=gates,
        on_progress=rt.progress.steps(pipeline.STEPS),
        claude=rt.claude(generation),
        trace_table=trace_table,
        days=days,
    )


def validate_eval(
    rt: Runtime,
    suite_dir: SuiteDir,
    run: RunSuite = True,
    timeout_s: TimeoutSeconds = VALIDATION_TIMEOUT_S,
    predict_fn: PredictFn = None,
    generation: Generation = "auto",
) -> ValidationResult:
    """Prove the suite works: files compile and import, rows match MLflow's schema, scorers dry-run;
    then run_eval.py with a timeout: every scorer gave values, none degenerate, metrics logged,
    baseline gates pass. Judges without credentials are skipped (said so). With Claude, a broken
    Claude-written scorer gets one repair."""
    from mlflow_eval_mcp.suite import validation

    return validation.validate_eval(
        rt.client(),
        rt.suite(suite_dir),
        run=run,
        timeout_s=timeout_s,
        predict_fn=predict_fn,
        claude=rt.claude(generation),
    )


def push_feedback(rt: Runtime, suite_dir: SuiteDir, run_id: RunId = None, dry_run: DryRun = False) -> PushResult:
    """Write an evaluation run's scorer results onto the source traces as feedback (CODE or LLM_JUDGE;
    source id mlflow-eval-mcp:<suite>:<scorer>), the review file's answers as HUMAN feedback; tags the
    traces. Idempotent."""
    from mlflow_eval_mcp.suite import feedback

    return feedback.push_feedback(rt.client(), rt.suite(suite_dir), run_id=run_id, dry_run=dry_run)


def pull_feedback(rt: Runtime, suite_dir: SuiteDir) -> PullResult:
    """Read HUMAN feedback and expectations added (e.g. in the MLflow UI) on the suite's source traces
    into state/review.json and into the dataset cases' expectations."""
    from mlflow_eval_mcp.suite import feedback

    return feedback.pull_feedback(rt.client(), rt.suite(suite_dir))


def review_traces(
    rt: Runtime, suite_dir: SuiteDir, scorers: ScorerNames = None, per_scorer: LabelsPerScorer = MIN_LABELS + 5
) -> ReviewResult:
    """Ask people for pass/fail labels named after the judges (or scorers named) on traces balanced
    between each judge's passes and fails: questions in the review file (push_feedback sends the
    answers) or the MLflow UI; on Databricks, a labeling session."""
    from mlflow_eval_mcp.suite import review

    return review.review_traces(rt.client(), rt.suite(suite_dir), scorers=scorers, per_scorer=per_scorer)


def calibrate_judges(
    rt: Runtime,
    suite_dir: SuiteDir,
    min_labels: MinLabels = MIN_LABELS,
    min_kappa: MinKappa = MIN_KAPPA,
    run_id: RunId = None,
) -> CalibrationResult:
    """Each LLM judge (and labelled code scorer) against people's HUMAN pass/fail labels of its name
    on the same traces: n, accuracy, Cohen's kappa, confusion matrix, disagreements. A judge gates
    only with n >= min_labels and kappa >= min_kappa, else its gate is advisory."""
    from mlflow_eval_mcp.suite import calibration

    return calibration.calibrate_judges(
        rt.client(), rt.suite(suite_dir), min_labels=min_labels, min_kappa=min_kappa, run_id=run_id
    )


def align_judge(
    rt: Runtime,
    suite_dir: SuiteDir,
    judge: JudgeName,
    optimizer: AlignmentOptimizer = "memalign",
    holdout: Holdout = 0.3,
    judge_model: JudgeModel = None,
) -> AlignmentResult:
    """MLflow judge.align (MemAlign, SIMBA, GEPA) on the traces people labelled, both judges scored on
    held-out labels; the aligned judge replaces the suite's (and is registered) only if it agrees better."""
    from mlflow_eval_mcp.suite import alignment

    return alignment.align_judge(
        rt.client(), rt.suite(suite_dir), judge=judge, optimizer=optimizer, holdout=holdout, model=judge_model
    )


def optimize_prompt(
    rt: Runtime,
    suite_dir: SuiteDir,
    prompt_uri: PromptUri,
    predict_fn: AgentFn,
    scorers: ScorerNames = None,
    reflection_model: ReflectionModel = None,
    max_metric_calls: MaxMetricCalls = 100,
    alias: PromptAlias = "production",
) -> PromptOptimizationResult:
    """MLflow optimize_prompts (GEPA) on your agent's registered prompt, with the cases that have
    expectations and the calibrated judges (or scorers named); the new version is kept, and the alias
    moved, only if it scores better."""
    from mlflow_eval_mcp.suite import prompt_optimization

    return prompt_optimization.optimize_prompt(
        rt.suite(suite_dir),
        tracking_uri=rt.client().tracking_uri,
        prompt_uri=prompt_uri,
        predict_fn=predict_fn,
        scorers=scorers,
        reflection_model=reflection_model,
        max_metric_calls=max_metric_calls,
        alias=alias,
    )


def monitor_judges(
    rt: Runtime,
    suite_dir: SuiteDir,
    sample_rate: SampleRate = 0.1,
    scorers: ScorerNames = None,
    filter_string: FilterString = None,
    judge_model: JudgeModel = None,
) -> MonitoringResult:
    """Register the calibrated judges (or scorers named) in the production experiment to score
    sample_rate of new traces (those filter_string matches); says which backends run them and why not."""
    from mlflow_eval_mcp.suite import monitoring

    return monitoring.monitor_judges(
        rt.client(),
        rt.suite(suite_dir),
        sample_rate=sample_rate,
        scorers=scorers,
        filter_string=filter_string,
        model=judge_model,
    )


def compare_runs(rt: Runtime, baseline_run_id: EvaluationRunId, candidate_run_id: EvaluationRunId) -> CompareResult:
    """Compare two evaluation runs: per-metric deltas, per-row flips paired by case (pass -> fail,
    fail -> pass), an exact McNemar test per scorer, and a regression verdict naming the rows."""
    from mlflow_eval_mcp.suite import compare

    return compare.compare_runs(rt.client(), baseline_run_id, candidate_run_id)


@dataclass(frozen=True)
class ExitRule:
    """When the command line exits 1 after printing the result, so that a CI step fails."""

    says: str
    """The sentence the command's description ends with."""
    failed: Callable[[Any, argparse.Namespace], bool]
    switch: tuple[str, str] | None = None
    """A command-line switch (flag, help) the rule reads from its namespace."""


@dataclass(frozen=True)
class Operation:
    run: Callable[..., BaseModel]
    command: str
    """The command line's name for it."""
    title: str
    store: Literal["none", "read", "create"]
    """Whether it needs the tracking store (and takes a tracking_uri), and may create a missing one."""
    read_only: bool
    destructive: bool = False
    idempotent: bool = True
    detail: bool = False
    """Whether its result has a summary (see `presentation`), so that it takes a `detail` argument."""
    exit_rule: ExitRule | None = None
    mcp: bool = True
    """Whether MCP clients get it as a tool; a command only the command line needs (an export for Spark) stays off
    the tool list every client pays for in tokens."""

    @property
    def name(self) -> str:
        return self.run.__name__


OPERATIONS: tuple[Operation, ...] = (
    Operation(list_experiments, "list-experiments", "List experiments", store="read", read_only=True),
    Operation(search_traces, "search-traces", "Search traces", store="read", read_only=True, detail=True),
    Operation(get_trace, "get-trace", "Get a trace's span tree", store="read", read_only=True),
    Operation(import_traces, "import", "Import traces from other tools", store="create", read_only=False),
    Operation(analyze_traces, "analyze", "Analyse traces for failures", store="read", read_only=False, detail=True),
    Operation(
        export_span_table,
        "export-span-table",
        "Export traces as an OTel span table",
        store="read",
        read_only=False,
        mcp=False,
    ),
    Operation(get_finding, "get-finding", "Page through a finding's traces", store="none", read_only=True),
    Operation(generate_dataset, "generate-dataset", "Generate the evaluation dataset", store="read", read_only=False),
    Operation(generate_scorers, "generate-scorers", "Generate the scorers", store="none", read_only=False),
    Operation(render_run_script, "render-run-script", "Write the run script and gates", store="none", read_only=False),
    Operation(
        generate_suite, "generate", "Generate a whole evaluation suite", store="read", read_only=False, detail=True
    ),
    Operation(
        validate_eval,
        "validate-eval",
        "Validate a suite by running it",
        store="read",
        read_only=False,
        exit_rule=ExitRule(
            "Exits 1 after printing the result when validation fails.",
            failed=lambda result, args: result.status == "failed",
        ),
    ),
    Operation(push_feedback, "push-feedback", "Push results onto production traces", store="read", read_only=False),
    Operation(pull_feedback, "pull-feedback", "Pull human feedback into the suite", store="read", read_only=False),
    Operation(review_traces, "review-traces", "Ask people to label traces", store="read", read_only=False),
    Operation(
        calibrate_judges, "calibrate-judges", "Calibrate judges against human labels", store="read", read_only=False
    ),
    Operation(
        align_judge, "align-judge", "Align a judge with human labels", store="read", read_only=False, idempotent=False
    ),
    Operation(
        optimize_prompt,
        "optimize-prompt",
        "Optimize a prompt with the suite",
        store="read",
        read_only=False,
        idempotent=False,
    ),
    Operation(monitor_judges, "monitor-judges", "Monitor production with the judges", store="read", read_only=False),
    Operation(
        compare_runs,
        "compare-runs",
        "Compare two evaluation runs",
        store="read",
        read_only=True,
        exit_rule=ExitRule(
            "With --fail-on-regression, exits 1 when the verdict is regressed.",
            failed=lambda result, args: args.fail_on_regression and result.verdict == "regressed",
            switch=("--fail-on-regression", "exit 1 when the verdict is regressed"),
        ),
    ),
)
