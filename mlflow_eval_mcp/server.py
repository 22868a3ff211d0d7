"""The MCP server: `create_server(settings)` registers one table of thin wrappers over the library.

Wrappers only resolve the store, run the blocking library call in a worker thread (so one slow
call does not stall the others) and turn library errors into `ToolError`s: anticipated ones keep
their message, others are described in one sentence with the traceback in the log (stderr).
Arguments are checked before any work: an invalid one is named in a sentence saying what it may be.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp import __version__, traces
from mlflow_eval_mcp.analysis.archive import FindingPage
from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.args import (
    AnalysisId,
    DatasetStrategy,
    Detail,
    DryRun,
    EvaluationRunId,
    ExperimentId,
    ExperimentName,
    FilterString,
    FindingId,
    FindingPageSize,
    Gates,
    Generation,
    ImportFormat,
    ImportPath,
    IncludeSynthetic,
    JudgeModel,
    MaxCases,
    MaxChars,
    MaxRecordMb,
    MaxResults,
    MaxTraces,
    OptionalSuiteDir,
    OrderBy,
    PageToken,
    PredictFn,
    Redact,
    RunId,
    RunSuite,
    SuiteDir,
    SyncDataset,
    TargetExperiment,
    TimeoutSeconds,
    TraceFields,
    TraceId,
    TrackingUri,
    argument_problems,
    describe_validation_error,
)
from mlflow_eval_mcp.cancellation import cancellable
from mlflow_eval_mcp.errors import MlflowEvalError, describe_unexpected
from mlflow_eval_mcp.models import GetTraceResult, ImportResult, ListExperimentsResult, SearchTracesResult
from mlflow_eval_mcp.presentation import present
from mlflow_eval_mcp.resources import register_resources
from mlflow_eval_mcp.secrets import install_log_scrubber, scrub
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.layout import SuiteLayout
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
from mlflow_eval_mcp.tracking import open_client
from mlflow_eval_mcp.workflows import register_workflows

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.claude.session import Generation as GenerationMode

logger = logging.getLogger(__name__)
Result = TypeVar("Result", bound=BaseModel)

INSTRUCTIONS = """\
Turns MLflow traces of GenAI agents into evaluation suites. Start with list_experiments, then
search_traces (filter with trace.status = 'ERROR', span.type = 'TOOL', trace.execution_time_ms > N)
and get_trace for one trace's span tree; analyze_traces finds what goes wrong across an
experiment (a summary of findings with example trace ids and the scorer that would catch each;
get_finding pages through every trace of one, detail="full" returns everything). To build an
evaluation suite, call generate_suite, or step by step with the same suite_dir: analyze_traces,
generate_dataset, generate_scorers, render_run_script; then validate_eval, push_feedback (results onto
the production traces), pull_feedback (human labels back into the suite) and compare_runs (regression
check between two evaluation runs). Every result says which mode produced it (offline, or claude when
Claude is configured; pass generation='offline' to avoid it). The prompts give whole workflows; the
skill://mlflow-evaluation resources hold verified MLflow evaluation facts to read before writing
scorers, and suite://index lists the suites whose analysis, dataset and validation can be read."""


class TraceTools:
    """The tools: reading experiments and traces, analysing them, and building suites from them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def list_experiments(self, tracking_uri: TrackingUri = None) -> ListExperimentsResult:
        """List the experiments in the tracking store, most recently updated first."""
        return await self._with_client(tracking_uri, traces.list_experiments)

    async def search_traces(
        self,
        experiment_id: ExperimentId = None,
        experiment_name: ExperimentName = None,
        filter_string: FilterString = None,
        max_results: MaxResults = 20,
        page_token: PageToken = None,
        order_by: OrderBy = None,
        fields: TraceFields = None,
        detail: Detail = "summary",
        tracking_uri: TrackingUri = None,
    ) -> SearchTracesResult:
        """Search one experiment's traces: state, timing, previews, token usage and failed spans of each.
        Pages with next_page_token."""
        return await self._with_client(
            tracking_uri,
            lambda client: traces.search_traces(
                client,
                experiment_id=experiment_id,
                experiment_name=experiment_name,
                filter_string=filter_string,
                max_results=max_results,
                page_token=page_token,
                order_by=order_by,
                fields=fields,
            ),
        )

    async def get_trace(
        self, trace_id: TraceId, max_chars: MaxChars = None, tracking_uri: TrackingUri = None
    ) -> GetTraceResult:
        """Get one trace as a span tree: types, timings, status, exceptions, token usage and
        truncated inputs/outputs of every span."""
        return await self._with_client(
            tracking_uri, lambda client: traces.get_trace(client, trace_id, max_chars=max_chars)
        )

    async def import_traces(
        self,
        path: ImportPath,
        experiment_name: TargetExperiment,
        ctx: Context,
        format: ImportFormat = "auto",
        max_record_mb: MaxRecordMb = 32,
        tracking_uri: TrackingUri = None,
    ) -> ImportResult:
        """Import agent logs or traces from other tools (MLflow exports, Langfuse, OTLP/OpenInference,
        Inspect AI, Who&When, OpenAI-style chat transcripts) into an MLflow experiment. Re-importing
        the same file adds nothing; bad records are skipped with reasons."""
        from mlflow_eval_mcp.importing.importer import import_traces

        def progress(done: int) -> None:
            anyio.from_thread.run(ctx.report_progress, done, None, f"{done} traces converted")

        return await self._with_client(
            tracking_uri,
            create_store=True,
            work=lambda client: import_traces(
                client,
                path,
                experiment_name=experiment_name,
                artifacts_dir=self.settings.artifacts_dir,
                format_name=format,
                max_record_bytes=max_record_mb * 1024 * 1024,
                on_progress=progress,
            ),
        )

    async def analyze_traces(
        self,
        ctx: Context,
        experiment_id: ExperimentId = None,
        experiment_name: ExperimentName = None,
        filter_string: FilterString = None,
        max_traces: MaxTraces = 500,
        suite_dir: OptionalSuiteDir = None,
        generation: Generation = "auto",
        detail: Detail = "summary",
        tracking_uri: TrackingUri = None,
    ) -> TraceAnalysis:
        """Analyse an experiment's traces: findings (what fails, how often, example trace ids, the scorer
        that would catch it), latency, tokens, tools, request clusters, recommended scorers. get_finding
        pages every trace of a finding. With Claude configured, also what the agent is for and semantic
        failures in a sample."""
        from mlflow_eval_mcp.analysis.archive import archive_analysis
        from mlflow_eval_mcp.analysis.engine import analyze_traces
        from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite

        def progress(done: int, total: int | None) -> None:
            anyio.from_thread.run(ctx.report_progress, done, total, f"{done} traces analysed")

        def work(client: MlflowClient) -> TraceAnalysis:
            options = dict(
                experiment_id=experiment_id,
                experiment_name=experiment_name,
                filter_string=filter_string,
                max_traces=max_traces,
                on_progress=progress,
                claude=self._claude(generation),
            )
            if suite_dir:
                return analyze_into_suite(client, self._suite(suite_dir), archive=self.settings.analyses_dir, **options)
            analysis = analyze_traces(client, **options)
            archive_analysis(self.settings.analyses_dir, analysis)
            return analysis

        return await self._with_client(tracking_uri, work)

    async def get_finding(
        self,
        analysis_id: AnalysisId,
        finding_id: FindingId,
        page_token: PageToken = None,
        page_size: FindingPageSize = 50,
    ) -> FindingPage:
        """Every trace of one finding of an analysis, page by page, each with its evidence."""
        from mlflow_eval_mcp.analysis.archive import finding_page, load_analysis

        def page() -> FindingPage:
            analysis = load_analysis(self.settings.analyses_dir, analysis_id)
            return finding_page(analysis, finding_id, page_token=page_token, page_size=page_size)

        return await self._run(page)

    async def generate_dataset(
        self,
        ctx: Context,
        suite_dir: SuiteDir,
        strategy: DatasetStrategy = None,
        max_cases: MaxCases = 50,
        include_synthetic: IncludeSynthetic = True,
        redact: Redact = True,
        sync: SyncDataset = False,
        generation: Generation = "auto",
        tracking_uri: TrackingUri = None,
    ) -> DatasetResult:
        """Write the suite's evaluation dataset from its analysed traces: cases stratified over findings
        (every kind) and request clusters, near duplicates removed, source traces kept as JSON so
        trace-aware scorers run without the production store, secrets and PII redacted. With Claude, also
        synthetic cases grounded in recorded ones."""
        from mlflow_eval_mcp.suite.dataset import generate_dataset

        def progress(done: int, total: int) -> None:
            anyio.from_thread.run(ctx.report_progress, done, total, f"{done} cases chosen")

        return await self._with_client(
            tracking_uri,
            lambda client: generate_dataset(
                client,
                self._suite(suite_dir),
                strategy=strategy,
                max_cases=max_cases,
                include_synthetic=include_synthetic,
                redact=redact,
                sync=sync,
                on_progress=progress,
                claude=self._claude(generation),
            ),
        )

    async def generate_scorers(
        self, suite_dir: SuiteDir, judge_model: JudgeModel = None, generation: Generation = "auto"
    ) -> ScorersResult:
        """Write the suite's scorers: a code scorer per structural finding (budgets from the observed
        data), guards, built-in judges only where their prerequisites hold, and Guidelines judges. With
        Claude, also domain Guidelines, make_judge judges and code scorers, each tried on the dataset rows
        before it is accepted (broken ones are repaired or dropped, with the reason)."""
        from mlflow_eval_mcp.suite.scorer_plan import generate_scorers

        return await self._run(
            lambda: generate_scorers(self._suite(suite_dir), judge_model=judge_model, claude=self._claude(generation))
        )

    async def render_run_script(self, suite_dir: SuiteDir, gates: Gates = None) -> RunScriptResult:
        """Write run_eval.py (tracking URI and experiment from the environment or flags, a dedicated eval
        experiment, --no-llm-judges, --predict-fn, quality gates that exit non-zero), gates.json
        (defaults: production's pass rates on the recorded cases) and the suite's README."""
        from mlflow_eval_mcp.suite.run_script import render_run_script

        return await self._run(lambda: render_run_script(self._suite(suite_dir), gates=gates))

    async def generate_suite(
        self,
        ctx: Context,
        experiment_id: ExperimentId = None,
        experiment_name: ExperimentName = None,
        suite_dir: OptionalSuiteDir = None,
        filter_string: FilterString = None,
        max_traces: MaxTraces = 500,
        strategy: DatasetStrategy = None,
        max_cases: MaxCases = 50,
        judge_model: JudgeModel = None,
        generation: Generation = "auto",
        detail: Detail = "summary",
        tracking_uri: TrackingUri = None,
    ) -> GenerateResult:
        """Run the whole pipeline into one suite directory: analyze_traces, generate_dataset,
        generate_scorers and render_run_script (default directory: WORKSPACE/suites/<experiment>)."""
        from mlflow_eval_mcp.suite.pipeline import generate_suite

        steps = ("analyse", "dataset", "scorers", "script")

        def progress(step: str) -> None:
            anyio.from_thread.run(ctx.report_progress, steps.index(step), len(steps), step)

        return await self._with_client(
            tracking_uri,
            lambda client: generate_suite(
                client,
                workspace_suites=lambda name: self._suite(suite_dir, name),
                experiment_id=experiment_id,
                experiment_name=experiment_name,
                filter_string=filter_string,
                max_traces=max_traces,
                strategy=strategy,
                max_cases=max_cases,
                judge_model=judge_model,
                on_progress=progress,
                claude=self._claude(generation),
            ),
        )

    async def validate_eval(
        self,
        suite_dir: SuiteDir,
        run: RunSuite = True,
        timeout_s: TimeoutSeconds = 600,
        predict_fn: PredictFn = None,
        generation: Generation = "auto",
        tracking_uri: TrackingUri = None,
    ) -> ValidationResult:
        """Prove the suite works: every file compiles and imports, rows match MLflow's schema, scorers
        dry-run to aggregatable values; then run_eval.py in a subprocess with a timeout, checking that
        every scorer produced values, none is degenerate, metrics were logged and the baseline gates pass.
        Judges without credentials are reported as skipped. With Claude, a failing scorer that Claude wrote
        gets one bounded repair and the suite is validated again. Writes state/validation_results.json."""
        from mlflow_eval_mcp.suite.validation import validate_eval

        return await self._with_client(
            tracking_uri,
            lambda client: validate_eval(
                client,
                self._suite(suite_dir),
                run=run,
                timeout_s=timeout_s,
                predict_fn=predict_fn,
                claude=self._claude(generation),
            ),
        )

    async def push_feedback(
        self, suite_dir: SuiteDir, run_id: RunId = None, dry_run: DryRun = False, tracking_uri: TrackingUri = None
    ) -> PushResult:
        """Write an evaluation run's scorer results onto the source production traces as feedback
        (CODE for code scorers, LLM_JUDGE for judges; source id mlflow-eval-mcp:<suite>:<scorer>), plus the
        suite's human reviews (state/review.json) as HUMAN feedback; tags the traces with the suite.
        Idempotent: a second push updates or leaves feedback unchanged, never duplicates."""
        from mlflow_eval_mcp.suite.feedback import push_feedback

        return await self._with_client(
            tracking_uri, lambda client: push_feedback(client, self._suite(suite_dir), run_id=run_id, dry_run=dry_run)
        )

    async def pull_feedback(self, suite_dir: SuiteDir, tracking_uri: TrackingUri = None) -> PullResult:
        """Read HUMAN feedback and expectations added (e.g. in the MLflow UI) on the suite's source traces
        into state/review.json and into the dataset cases' expectations."""
        from mlflow_eval_mcp.suite.feedback import pull_feedback

        return await self._with_client(tracking_uri, lambda client: pull_feedback(client, self._suite(suite_dir)))

    async def compare_runs(
        self,
        baseline_run_id: EvaluationRunId,
        candidate_run_id: EvaluationRunId,
        tracking_uri: TrackingUri = None,
    ) -> CompareResult:
        """Compare two evaluation runs: per-metric deltas, per-row flips paired by case (pass -> fail,
        fail -> pass), an exact McNemar test per scorer, and a regression verdict naming the rows."""
        from mlflow_eval_mcp.suite.compare import compare_runs

        return await self._with_client(
            tracking_uri, lambda client: compare_runs(client, baseline_run_id, candidate_run_id)
        )

    def _claude(self, generation: GenerationMode) -> ClaudeSession | None:
        from mlflow_eval_mcp.claude.session import open_claude

        return open_claude(self.settings, generation)

    def _suite(self, suite_dir: str | None, default_name: str = "suite") -> SuiteLayout:
        return SuiteLayout.resolve(suite_dir, workspace=self.settings.workspace, default_name=default_name)

    async def _with_client(
        self, tracking_uri: str | None, work: Callable[[MlflowClient], Result], *, create_store: bool = False
    ) -> Result:
        def call() -> Result:
            uri = self.settings.check(tracking_uri, create_store=create_store)
            return work(open_client(uri, self.settings.connect_timeout_s))

        return await self._run(call)

    async def _run(self, work: Callable[[], Result]) -> Result:
        """`work` in a worker thread; every error it raises becomes a ToolError that says what to do."""

        def cancellable_work() -> Result:
            with cancellable(anyio.from_thread.check_cancelled):
                return work()

        try:
            return await anyio.to_thread.run_sync(cancellable_work)
        except MlflowEvalError as error:
            raise _tool_error(str(error)) from error
        except Exception as error:
            # The SDK logs tracebacks only for errors it sees as crashes; this one reaches it as a ToolError.
            logger.exception("A tool call failed unexpectedly")
            raise _tool_error(describe_unexpected(error)) from error


def _tool_error(message: str) -> ToolError:
    """The one place every error message of every tool passes on its way to the client."""
    return ToolError(scrub(message))


class _ClearTool(Tool):
    """A tool whose invalid arguments are reported as one sentence per argument (what it may be, what
    was given) instead of pydantic's report, and refused before any work: unknown names, NUL characters."""

    async def run(self, arguments: dict[str, Any], context: Context, convert_result: bool = False) -> Any:
        if problems := argument_problems(self.name, arguments, self.parameters):
            raise _tool_error(f"Invalid arguments for {self.name}: {' '.join(problems)}")
        try:
            result = await super().run(arguments, context, convert_result=False)
        except ToolError as error:
            if isinstance(error, UnexpectedToolError) or not isinstance(error.__cause__, ValidationError):
                raise
            sentences = describe_validation_error(error.__cause__, self.parameters)
            raise _tool_error(f"Invalid arguments for {self.name}: {' '.join(sentences)}") from error.__cause__
        if not convert_result:
            return result
        text, structured = present(result, arguments.get("detail", "summary"))
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[BaseModel]]
    title: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = True


def tool_table(settings: Settings) -> tuple[ToolSpec, ...]:
    trace_tools = TraceTools(settings)
    return (
        ToolSpec(trace_tools.list_experiments, "List experiments", read_only=True),
        ToolSpec(trace_tools.search_traces, "Search traces", read_only=True),
        ToolSpec(trace_tools.get_trace, "Get a trace's span tree", read_only=True),
        ToolSpec(trace_tools.import_traces, "Import traces from other tools", read_only=False),
        ToolSpec(trace_tools.analyze_traces, "Analyse traces for failures", read_only=False),
        ToolSpec(trace_tools.get_finding, "Page through a finding's traces", read_only=True),
        ToolSpec(trace_tools.generate_dataset, "Generate the evaluation dataset", read_only=False),
        ToolSpec(trace_tools.generate_scorers, "Generate the scorers", read_only=False),
        ToolSpec(trace_tools.render_run_script, "Write the run script and gates", read_only=False),
        ToolSpec(trace_tools.generate_suite, "Generate a whole evaluation suite", read_only=False),
        ToolSpec(trace_tools.validate_eval, "Validate a suite by running it", read_only=False),
        ToolSpec(trace_tools.push_feedback, "Push results onto production traces", read_only=False),
        ToolSpec(trace_tools.pull_feedback, "Pull human feedback into the suite", read_only=False),
        ToolSpec(trace_tools.compare_runs, "Compare two evaluation runs", read_only=True),
    )


def create_server(settings: Settings) -> MCPServer:
    install_log_scrubber()
    tools = [
        _ClearTool.from_function(
            spec.fn,
            title=spec.title,
            # Results are summary-sized by default and full on request (see presentation), so no one
            # schema describes them; output schemas were also two thirds of tools/list.
            structured_output=False,
            annotations=ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.read_only,
                destructive_hint=spec.destructive,
                idempotent_hint=spec.idempotent,
                open_world_hint=False,
            ),
        )
        for spec in tool_table(settings)
    ]
    server = MCPServer("mlflow-eval-mcp", version=__version__, instructions=INSTRUCTIONS, tools=tools)
    register_resources(server, settings)
    register_workflows(server)
    return server
