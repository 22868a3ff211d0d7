"""`mlflow-eval-mcp demo`: seed a store with the sample agent's traces, search them, generate an
evaluation suite from them and run it."""

from __future__ import annotations

import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from mlflow_eval_mcp import traces
from mlflow_eval_mcp.claude.session import Generation
from mlflow_eval_mcp.demo.sample_agent import FAILURE_MODES, generate_corpus
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, write_traces
from mlflow_eval_mcp.models import SearchTracesResult
from mlflow_eval_mcp.settings import DEFAULT_WORKSPACE, Settings
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.models import GenerateResult, ValidationResult
from mlflow_eval_mcp.tracking import get_or_create_experiment, open_client, redact_uri

DEMO_EXPERIMENT = "mlflow-eval-demo"
DEFAULT_TRACES = 300
DEFAULT_SEED = 7


class DemoResult(BaseModel):
    tracking_uri: str
    workspace: str
    experiment_id: str
    experiment_name: str
    traces_requested: int
    traces_written: int
    traces_already_present: int
    traces_lost: int = Field(description="Traces sent to the store that cannot be read back; must be 0.")
    seconds: float
    traces_per_second: float
    planted_failures: dict[str, int] = Field(description="How many traces carry each planted failure mode.")
    manifest_path: str = Field(description="JSON map of trace id to its planted failure modes (ground truth).")
    error_traces: SearchTracesResult = Field(description="A sample search: the newest traces in ERROR state.")
    suite: GenerateResult | None = Field(default=None, description="The suite generated from the corpus.")
    validation: ValidationResult | None = Field(default=None, description="validate_eval on the suite.")


def run_demo_pipeline(
    settings: Settings,
    *,
    n_traces: int = DEFAULT_TRACES,
    seed: int = DEFAULT_SEED,
    tracking_uri: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    generation: Generation = "auto",
) -> DemoResult:
    """Seed the corpus, generate a suite from it in WORKSPACE/suites/<experiment>, and validate it,
    which runs it against the same store (in the suite's own eval experiment). Claude joins in
    when configured, unless `generation` is offline."""
    from mlflow_eval_mcp.claude.session import open_claude
    from mlflow_eval_mcp.suite.pipeline import generate_suite
    from mlflow_eval_mcp.suite.validation import validate_eval

    claude = open_claude(settings, generation)
    result = run_demo(settings, n_traces=n_traces, seed=seed, tracking_uri=tracking_uri, on_progress=on_progress)
    uri = settings.check(tracking_uri or settings.embedded_store_uri, create_store=True)
    client = open_client(uri, settings.connect_timeout_s)
    suites = settings.workspace.expanduser().resolve() / "suites"
    result.suite = generate_suite(
        client,
        workspace_suites=lambda name: SuiteLayout.resolve(
            suites / name, workspace=settings.workspace, default_name=name
        ),
        experiment_id=result.experiment_id,
        max_traces=n_traces,
        on_progress=on_step,
        claude=claude,
    )
    if on_step is not None:
        on_step("validate")
    result.validation = validate_eval(client, SuiteLayout(Path(result.suite.suite_dir)), claude=claude)
    return result


def run_demo(
    settings: Settings,
    *,
    n_traces: int = DEFAULT_TRACES,
    seed: int = DEFAULT_SEED,
    tracking_uri: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Seed `n_traces` deterministic traces (idempotently: a re-run adds nothing) and search them.

    The embedded workspace store is used unless `tracking_uri` is given: MLFLOW_TRACKING_URI is
    deliberately ignored so that sample traces never land in a production store by accident.
    """
    uri = settings.check(tracking_uri or settings.embedded_store_uri, create_store=True)
    client = open_client(uri, settings.connect_timeout_s)
    experiment_name = demo_experiment_name(n_traces, seed)
    experiment_id = get_or_create_experiment(client, experiment_name, settings.artifacts_dir)
    planted: dict[str, list[str]] = {}

    def records() -> Iterator[TraceRecord]:
        for demo_trace in generate_corpus(n_traces, seed=seed):
            planted[demo_trace.record.trace_id] = sorted(demo_trace.planted)
            yield demo_trace.record

    started = time.perf_counter()
    report = write_traces(
        uri,
        experiment_id,
        records(),
        on_progress=(lambda done: on_progress(done, n_traces)) if on_progress else None,
    )
    seconds = time.perf_counter() - started
    manifest_path = settings.workspace.expanduser().resolve() / "demo" / f"{experiment_name}.planted.json"
    write_json_atomic(manifest_path, planted)
    counts = Counter(mode for modes in planted.values() for mode in modes)
    return DemoResult(
        tracking_uri=redact_uri(uri),
        workspace=str(settings.workspace.expanduser().resolve()),
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        traces_requested=report.requested,
        traces_written=report.written,
        traces_already_present=report.skipped_existing,
        traces_lost=len(report.lost),
        seconds=round(seconds, 2),
        traces_per_second=round(report.written / seconds, 1) if report.written else 0.0,
        planted_failures={mode: counts.get(mode, 0) for mode in FAILURE_MODES},
        manifest_path=str(manifest_path),
        error_traces=traces.search_traces(
            client, experiment_id=experiment_id, filter_string="trace.status = 'ERROR'", max_results=5
        ),
    )


def server_command() -> str:
    """How to start this very installation; `uvx mlflow-eval-mcp` needs the package on PyPI."""
    return _installed_script("mlflow-eval-mcp") or "uvx mlflow-eval-mcp"


def _shell_command(script: str, module: str) -> str:
    """`script` of this installation by absolute path, since its directory is on PATH only while
    the virtual environment is activated; `python -m module` where no such script was installed."""
    return _installed_script(script) or f"{shlex.quote(sys.executable)} -m {module}"


def _installed_script(name: str) -> str | None:
    script = Path(sys.executable).with_name(name)
    return shlex.quote(str(script)) if script.exists() else None


def demo_experiment_name(n_traces: int, seed: int) -> str:
    """Each corpus gets its own experiment: a corpus is planned as a whole, so a 2,000-trace corpus
    is not the 300-trace one plus more, and mixing them would confuse every analysis."""
    if (n_traces, seed) == (DEFAULT_TRACES, DEFAULT_SEED):
        return DEMO_EXPERIMENT
    return f"{DEMO_EXPERIMENT}-{n_traces}-seed{seed}"


def render_summary(result: DemoResult) -> str:
    """The human-readable report the CLI prints."""
    lines = [
        f"Seeded experiment {result.experiment_name!r} (id {result.experiment_id}) in {result.tracking_uri}",
        f"  traces written: {result.traces_written}, already present: {result.traces_already_present}, "
        f"lost: {result.traces_lost}  ({result.seconds:.1f} s, {result.traces_per_second:.0f} traces/s)",
        "  planted failure modes: " + ", ".join(f"{mode} {count}" for mode, count in result.planted_failures.items()),
        f"  ground truth: {result.manifest_path}",
        "",
        f"Search: trace.status = 'ERROR' -> {len(result.error_traces.traces)} shown"
        + (", more available" if result.error_traces.next_page_token else ""),
    ]
    for trace in result.error_traces.traces:
        failed = ", ".join(trace.error_span_names) or "-"
        lines.append(f"  {trace.trace_id}  {trace.request_time}  {trace.duration_ms} ms  failed spans: {failed}")
    workspace = Path(result.workspace)
    env = "" if workspace == DEFAULT_WORKSPACE.resolve() else f"--env MLFLOW_EVAL_MCP_WORKSPACE={workspace} "
    lines += _suite_summary(result)
    lines += [
        "",
        "Next steps:",
        "  Add the server to Claude Code (it reads this workspace's store):",
        f"    claude mcp add --transport stdio {env}mlflow-eval -- {server_command()}",
        f'  Then ask: "Search the {result.experiment_name} experiment for failing traces and explain one", or '
        f'"Build an evaluation suite from {result.experiment_name} and run it."',
        "  Or from the shell:",
        f"    {_shell_command('mlflow-eval-mcp', 'mlflow_eval_mcp')} search-traces "
        f"--workspace {shlex.quote(str(workspace))} --experiment-name {shlex.quote(result.experiment_name)} "
        "--filter \"span.type = 'TOOL' AND span.status = 'ERROR'\"",
        f"  Browse in the MLflow UI: {_shell_command('mlflow', 'mlflow')} ui "
        f"--backend-store-uri {shlex.quote(result.tracking_uri)}",
    ]
    return "\n".join(lines)


def _suite_summary(result: DemoResult) -> list[str]:
    suite, validation = result.suite, result.validation
    if suite is None:
        return []
    evaluation = Path(suite.suite_dir) / "evaluation"
    redacted = ", ".join(f"{kind} {count}" for kind, count in suite.dataset.redacted.items())
    claude = suite.claude
    lines = [
        "",
        f"Suite generated in {suite.suite_dir} (mode: {suite.mode})",
        f"  analysed {suite.traces_analyzed} traces: {suite.findings} findings",
        f"  dataset: {suite.dataset.cases} cases ({suite.dataset.recorded} recorded, "
        f"{suite.dataset.synthetic} synthetic, {suite.dataset.sessions} whole sessions); "
        f"redacted: {redacted or 'nothing'}",
        f"  scorers: {len(suite.scorers.code_scorers)} code ({', '.join(s.name for s in suite.scorers.code_scorers)}), "
        f"{len(suite.scorers.judges)} LLM judges",
    ]
    if claude is not None:
        cost = f"${claude.cost_usd:.4f}" if claude.cost_usd is not None else "cost unknown for this model"
        lines.append(
            f"  Claude ({claude.model}): {claude.requests} requests, {claude.cached_responses} cached, "
            f"{claude.input_tokens:,} in / {claude.output_tokens:,} out tokens, {cost}"
        )
        lines += [f"    {note}" for note in claude.notes]
    if validation is not None:
        failed = [check for check in validation.checks if check.status == "failed"]
        skipped = [check for check in validation.checks if check.status == "skipped"]
        lines.append(
            f"  validated ({validation.seconds:.0f} s, run {validation.run_id}): {validation.status}, "
            f"{sum(c.status == 'passed' for c in validation.checks)} checks passed"
            + (f", failed: {', '.join(c.name for c in failed)}" if failed else "")
        )
        lines += [f"    skipped: {check.message}" for check in skipped]
        lines += [f"    {check.name}: {check.message} -> {check.fix}" for check in failed]
    lines += [
        "  Run it yourself:",
        f"    {shlex.quote(sys.executable)} {shlex.quote(str(evaluation / 'run_eval.py'))} --no-llm-judges",
        f"  Read {evaluation / 'README.md'} for judges, --predict-fn and the CI job.",
    ]
    return lines
