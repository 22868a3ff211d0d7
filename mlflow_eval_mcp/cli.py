"""Command line: no arguments serves MCP over stdio; subcommands run the same library calls
headlessly and print JSON (or, for `demo`, a readable report) to stdout."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mlflow_eval_mcp import __version__
from mlflow_eval_mcp.args import (
    AnalysisId,
    DatasetStrategy,
    Detail,
    DryRun,
    ExperimentId,
    ExperimentName,
    FilterString,
    FindingId,
    FindingPageSize,
    Gates,
    Generation,
    ImportFormat,
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
    RunId,
    SuiteDir,
    SyncDataset,
    TargetExperiment,
    TimeoutSeconds,
    TraceFields,
    TraceId,
    TrackingUri,
)
from mlflow_eval_mcp.errors import InvalidArgumentError, MlflowEvalError, describe_unexpected
from mlflow_eval_mcp.models import TRACE_FIELDS
from mlflow_eval_mcp.next_steps import cli_syntax
from mlflow_eval_mcp.progress import ProgressBar
from mlflow_eval_mcp.secrets import install_log_scrubber, scrub
from mlflow_eval_mcp.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.suite.layout import SuiteLayout

logger = logging.getLogger(__name__)

WAITING_FOR_A_CLIENT = (
    "mlflow-eval-mcp: serving MCP on stdio and waiting for an MCP client (Ctrl-C to stop). "
    "Commands: mlflow-eval-mcp --help; sample traces and a suite: mlflow-eval-mcp demo"
)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = _load_settings(args)
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_scrubber()
    command: Callable[[argparse.Namespace, Settings], None] = args.handler
    try:
        with cli_syntax(args.commands):
            command(args, settings)
    except MlflowEvalError as error:
        sys.exit(f"Error: {scrub(str(error))}")
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        # A defect or an environment the library did not anticipate: one line, the traceback on demand.
        logger.debug("The command failed unexpectedly", exc_info=True)
        hint = "" if settings.log_level == "DEBUG" else " Run the command again with --debug to see the traceback."
        print(f"Error: {scrub(describe_unexpected(error))}{hint}", file=sys.stderr)
        sys.exit(2)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    # Configuration errors surface here, before the transport opens, as one line.
    settings.check(create_store=True)
    if getattr(args, "transport", "stdio") == "http":
        from mlflow_eval_mcp.http_transport import serve_http

        serve_http(settings, host=args.host, port=args.port)
        return
    from mlflow_eval_mcp.server import create_server

    if sys.stdin.isatty():
        # The server reads stdin in a thread that Ctrl-C cannot interrupt: let the signal end the
        # process, from before the message below invites it.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # Someone typed the command: say why nothing happens. Never on stdout, which is the protocol.
        print(WAITING_FOR_A_CLIENT, file=sys.stderr, flush=True)
    create_server(settings).run("stdio")


def _demo(args: argparse.Namespace, settings: Settings) -> None:
    from mlflow_eval_mcp.demo.runner import render_summary, run_demo_pipeline

    progress = ProgressBar("seeding traces")

    def step(name: str) -> None:
        progress.close()
        _print_step(name)

    result = run_demo_pipeline(
        settings,
        n_traces=args.traces,
        seed=args.seed,
        tracking_uri=args.tracking_uri,
        on_progress=progress,
        on_step=step,
        generation=args.generation,
    )
    print(result.model_dump_json(indent=2) if args.json else render_summary(result))


_STEP_LABELS = {
    "analyse": "analysing traces…",
    "dataset": "choosing dataset cases…",
    "scorers": "writing scorers…",
    "script": "writing run_eval.py and gates…",
    "validate": "validating the suite (runs it)…",
}


def _print_step(name: str) -> None:
    print(_STEP_LABELS[name], file=sys.stderr, flush=True)


def _library_call(
    run: Callable[[MlflowClient, argparse.Namespace, Settings], BaseModel],
    *,
    create_store: bool = False,
    failed: Callable[[Any, argparse.Namespace], bool] | None = None,
) -> Callable[[argparse.Namespace, Settings], None]:
    """A command that opens the tracking store; it exits 1 after printing when `failed` says the
    result is a failure (so a CI step fails)."""

    def handler(args: argparse.Namespace, settings: Settings) -> None:
        from mlflow_eval_mcp.tracking import open_client

        client = open_client(settings.check(create_store=create_store), settings.connect_timeout_s)
        result = run(client, args, settings)
        _print(result, args)
        if failed is not None and failed(result, args):
            sys.exit(1)

    return handler


def _print(result: BaseModel, args: argparse.Namespace) -> None:
    """The full result as JSON, or with `--detail summary` the text an MCP client's model is given."""
    if getattr(args, "detail", "full") == "summary":
        from mlflow_eval_mcp.presentation import present

        print(present(result, "summary")[0])
    else:
        print(result.model_dump_json(indent=2))


def _search_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import search_traces

    return search_traces(
        client,
        experiment_id=args.experiment_id,
        experiment_name=args.experiment_name,
        filter_string=args.filter_string,
        max_results=args.max_results,
        page_token=args.page_token,
        order_by=args.order_by,
        fields=args.fields,
    )


def _import_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.importing.importer import import_traces

    progress = ProgressBar("traces converted")
    result = import_traces(
        client,
        args.path,
        experiment_name=args.experiment_name,
        artifacts_dir=settings.artifacts_dir,
        format_name=args.format,
        max_record_bytes=args.max_record_mb * 1024 * 1024,
        on_progress=progress,
    )
    progress.close()
    return result


def _analyze_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.analysis.archive import archive_analysis
    from mlflow_eval_mcp.analysis.engine import analyze_traces
    from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite

    progress = ProgressBar("traces analysed")
    options = dict(
        experiment_id=args.experiment_id,
        experiment_name=args.experiment_name,
        filter_string=args.filter_string,
        max_traces=args.max_traces,
        on_progress=progress,
        claude=_claude(args, settings),
    )
    if args.suite_dir:
        result = analyze_into_suite(client, _suite(args, settings), archive=settings.analyses_dir, **options)
    else:
        result = analyze_traces(client, **options)
        archive_analysis(settings.analyses_dir, result)
    progress.close()
    return result


def _get_finding(args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.analysis.archive import finding_page, load_analysis

    analysis = load_analysis(settings.analyses_dir, args.analysis_id)
    return finding_page(analysis, args.finding_id, page_token=args.page_token, page_size=args.page_size)


def _claude(args: argparse.Namespace, settings: Settings) -> ClaudeSession | None:
    from mlflow_eval_mcp.claude.session import open_claude

    return open_claude(settings, args.generation)


def _suite(args: argparse.Namespace, settings: Settings, default_name: str = "suite") -> SuiteLayout:
    from mlflow_eval_mcp.suite.layout import SuiteLayout

    return SuiteLayout.resolve(args.suite_dir, workspace=settings.workspace, default_name=default_name)


def _generate(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.pipeline import generate_suite

    return generate_suite(
        client,
        workspace_suites=lambda name: _suite(args, settings, name),
        experiment_id=args.experiment_id,
        experiment_name=args.experiment_name,
        filter_string=args.filter_string,
        max_traces=args.max_traces,
        strategy=args.strategy,
        max_cases=args.max_cases,
        include_synthetic=args.include_synthetic,
        redact=args.redact,
        judge_model=args.judge_model,
        gates=_gates(args.gates),
        on_progress=_print_step,
        claude=_claude(args, settings),
    )


def _generate_dataset(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.dataset import generate_dataset

    progress = ProgressBar("cases chosen")
    result = generate_dataset(
        client,
        _suite(args, settings),
        strategy=args.strategy,
        max_cases=args.max_cases,
        include_synthetic=args.include_synthetic,
        redact=args.redact,
        sync=args.sync,
        on_progress=progress,
        claude=_claude(args, settings),
    )
    progress.close()
    return result


def _generate_scorers(args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.scorer_plan import generate_scorers

    return generate_scorers(_suite(args, settings), judge_model=args.judge_model, claude=_claude(args, settings))


def _render_run_script(args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.run_script import render_run_script

    return render_run_script(_suite(args, settings), gates=_gates(args.gates))


def _validate_eval(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.validation import validate_eval

    return validate_eval(
        client,
        _suite(args, settings),
        run=args.run,
        timeout_s=args.timeout_s,
        predict_fn=args.predict_fn,
        claude=_claude(args, settings),
    )


def _push_feedback(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.feedback import push_feedback

    return push_feedback(client, _suite(args, settings), run_id=args.run_id, dry_run=args.dry_run)


def _pull_feedback(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.feedback import pull_feedback

    return pull_feedback(client, _suite(args, settings))


def _compare_runs(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.compare import compare_runs

    return compare_runs(client, args.baseline_run_id, args.candidate_run_id)


def _gates(pairs: list[str]) -> dict[str, float] | None:
    gates = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            gates[name.strip()] = float(value)
        except ValueError:
            raise InvalidArgumentError(
                f"--gate {pair!r} must look like SCORER=MIN, e.g. tool_call_errors=0.95"
            ) from None
    return gates or None


def _offline_call(
    run: Callable[[argparse.Namespace, Settings], BaseModel],
) -> Callable[[argparse.Namespace, Settings], None]:
    """A command that needs only the suite directory, not the tracking store."""

    def handler(args: argparse.Namespace, settings: Settings) -> None:
        _print(run(args, settings), args)

    return handler


def _get_trace(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import get_trace

    return get_trace(client, args.trace_id, max_chars=args.max_chars)


def _list_experiments(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import list_experiments

    return list_experiments(client)


def _load_settings(args: argparse.Namespace) -> Settings:
    # --tracking-uri becomes the settings' URI, so the server's tools use it too.
    overrides: dict[str, Any] = {
        key: value for key, value in (("workspace", args.workspace), ("tracking_uri", args.tracking_uri)) if value
    }
    if args.debug:
        overrides["log_level"] = "DEBUG"
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        sys.exit(f"Error: invalid setting {field} (MLFLOW_EVAL_MCP_{field.upper()}): {first['msg']}")


def _described(annotated: object) -> dict[str, Any]:
    """argparse keywords for a tool argument type of `args`: its description as the help, and the
    values of its Literal, if any, as the choices."""
    base, *metadata = get_args(annotated)
    field = next(item for item in metadata if isinstance(item, FieldInfo))
    literal = next((kind for kind in (base, *get_args(base)) if get_origin(kind) is Literal), None)
    return {"help": field.description} | ({"choices": list(get_args(literal))} if literal else {})


def _parser() -> argparse.ArgumentParser:
    """The commands. Each subcommand's `tool` default names the MCP tool it runs and each option's
    `dest` is that tool's argument name, so `next_steps` can write a tool call as a command line."""
    parser = argparse.ArgumentParser(
        prog="mlflow-eval-mcp",
        parents=[_common_options(argparse.SUPPRESS)],
        description="MCP server turning MLflow traces into evaluation suites. No subcommand: serve MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(handler=_serve, workspace=None, tracking_uri=None, debug=False, commands=None)
    # Subcommands take the same options; SUPPRESS keeps an option given before the subcommand
    # from being overwritten by the subcommand's default.
    common = _common_options(argparse.SUPPRESS)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve MCP over stdio (the default) or HTTP",
        description="Serve the MCP tools, prompts and resources: over stdio for a client that starts this "
        "command (the default), or over Streamable HTTP at /mcp.",
    )
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="http: Streamable HTTP at /mcp")
    serve.add_argument("--host", default="127.0.0.1", help="http: address to bind (default loopback)")
    serve.add_argument("--port", type=_port, default=8000, help="http: port (default 8000)")
    serve.set_defaults(handler=_serve)

    generation = argparse.ArgumentParser(add_help=False)
    generation.add_argument("--generation", default="auto", **_described(Generation))

    demo = commands.add_parser(
        "demo",
        parents=[common, generation],
        help="seed the embedded store with sample agent traces",
        description="Write a deterministic corpus of sample agent traces with planted failures to the "
        "workspace's embedded store (or --tracking-uri), then build and validate a suite from them.",
    )
    demo.add_argument("--traces", type=_positive_int, default=300, help="how many traces (default 300)")
    demo.add_argument("--seed", type=int, default=7, help="corpus seed (same seed, same traces)")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(handler=_demo)

    experiment = argparse.ArgumentParser(add_help=False)
    experiment.add_argument("--experiment-id", **_described(ExperimentId))
    experiment.add_argument("--experiment-name", **_described(ExperimentName))
    experiment.add_argument("--filter", dest="filter_string", metavar="FILTER", **_described(FilterString))

    search = commands.add_parser(
        "search-traces",
        parents=[common, experiment],
        help="search one experiment's traces (JSON)",
        description="Search one experiment's traces: state, timing, previews, token usage, span counts by "
        "type and failed spans of each. Pages with --page-token.",
    )
    search.add_argument("--max-results", type=_positive_int, default=20, **_described(MaxResults))
    search.add_argument("--page-token", **_described(PageToken))
    search.add_argument("--order-by", action="append", **_described(OrderBy))
    search.add_argument("--detail", default="full", **_described(Detail))
    search.add_argument(
        "--field", dest="fields", action="append", choices=TRACE_FIELDS, help=_described(TraceFields)["help"]
    )
    search.set_defaults(tool="search_traces", handler=_library_call(_search_traces))

    importer = commands.add_parser(
        "import",
        parents=[common],
        help="import traces or logs from other tools into an experiment (JSON)",
        description="Import agent logs or traces from other tools into an MLflow experiment. Re-importing "
        "the same file adds nothing; bad records are skipped with reasons.",
    )
    importer.add_argument("path", help="a .json/.jsonl file or a directory of them")
    importer.add_argument(
        "--experiment", dest="experiment_name", metavar="NAME", required=True, **_described(TargetExperiment)
    )
    importer.add_argument("--format", default="auto", **_described(ImportFormat))
    importer.add_argument("--max-record-mb", type=_positive_int, default=32, **_described(MaxRecordMb))
    importer.set_defaults(tool="import_traces", handler=_library_call(_import_traces, create_store=True))

    analyze = commands.add_parser(
        "analyze",
        parents=[common, experiment, generation],
        help="analyse an experiment's traces for failures (JSON)",
        description="Analyse an experiment's traces: latency, tokens, tools, outputs, error and request "
        "clusters, and findings with every affected trace id and the scorer that would catch it.",
    )
    analyze.add_argument("--max-traces", type=_positive_int, default=500, **_described(MaxTraces))
    analyze.add_argument("--suite-dir", type=Path, **_described(OptionalSuiteDir))
    analyze.add_argument("--detail", default="full", **_described(Detail))
    analyze.set_defaults(tool="analyze_traces", handler=_library_call(_analyze_traces))

    finding = commands.add_parser(
        "get-finding",
        parents=[common],
        help="page through every trace of one finding of an analysis (JSON)",
        description="Every trace of one finding of an earlier analysis (kept in WORKSPACE/analyses), page by "
        "page, each with its evidence.",
    )
    finding.add_argument("analysis_id", **_described(AnalysisId))
    finding.add_argument("finding_id", **_described(FindingId))
    finding.add_argument("--page-token", **_described(PageToken))
    finding.add_argument("--page-size", type=_positive_int, default=50, **_described(FindingPageSize))
    finding.set_defaults(tool="get_finding", handler=_offline_call(_get_finding))

    dataset_options = argparse.ArgumentParser(add_help=False)
    dataset_options.add_argument("--strategy", **_described(DatasetStrategy))
    dataset_options.add_argument("--max-cases", type=_positive_int, default=50, **_described(MaxCases))
    # The tool's include_synthetic and redact default to true: the CLI offers the switches that turn them off.
    dataset_options.add_argument(
        "--no-synthetic",
        dest="include_synthetic",
        action="store_false",
        help="leave out the synthetic edge cases (empty, very long, prompt injection, out of scope, non-English)",
    )
    dataset_options.add_argument(
        "--no-redact",
        dest="redact",
        action="store_false",
        help="keep personal data and secrets in the data files (redacted by default)",
    )
    judge = argparse.ArgumentParser(add_help=False)
    judge.add_argument("--judge-model", **_described(JudgeModel))
    gates = argparse.ArgumentParser(add_help=False)
    gates.add_argument("--gate", dest="gates", action="append", default=[], metavar="SCORER=MIN", **_described(Gates))
    suite_dir = argparse.ArgumentParser(add_help=False)
    suite_dir.add_argument("--suite-dir", required=True, **_described(SuiteDir))

    generate = commands.add_parser(
        "generate",
        parents=[common, experiment, dataset_options, judge, gates, generation],
        help="analyse, then write a whole evaluation suite (dataset, scorers, run_eval.py) (JSON)",
        description="Run the whole pipeline into one suite directory: analyze, generate-dataset, "
        "generate-scorers and render-run-script.",
    )
    generate.add_argument("--max-traces", type=_positive_int, default=500, **_described(MaxTraces))
    generate.add_argument("--suite-dir", help="suite directory (default WORKSPACE/suites/<experiment>)")
    generate.add_argument("--detail", default="full", **_described(Detail))
    generate.set_defaults(tool="generate_suite", handler=_library_call(_generate))

    dataset = commands.add_parser(
        "generate-dataset",
        parents=[common, suite_dir, dataset_options, generation],
        help="write a suite's dataset (JSON)",
        description="Write the suite's evaluation dataset from its analysed traces: cases stratified over "
        "findings and request clusters, near duplicates removed, secrets and personal data redacted.",
    )
    dataset.add_argument("--sync", action="store_true", **_described(SyncDataset))
    dataset.set_defaults(tool="generate_dataset", handler=_library_call(_generate_dataset))

    scorers = commands.add_parser(
        "generate-scorers",
        parents=[common, suite_dir, judge, generation],
        help="write a suite's scorers (JSON)",
        description="Write the suite's scorers: code scorers for the structural findings, guards, and the "
        "judges whose prerequisites hold. Needs only the suite directory, not the tracking store.",
    )
    scorers.set_defaults(tool="generate_scorers", handler=_offline_call(_generate_scorers))

    script = commands.add_parser(
        "render-run-script",
        parents=[common, suite_dir, gates],
        help="write a suite's run_eval.py, gates and README (JSON)",
        description="Write the suite's run_eval.py, its quality gates (default: production's own pass rates "
        "on the recorded cases) and its README.",
    )
    script.set_defaults(tool="render_run_script", handler=_offline_call(_render_run_script))

    validate = commands.add_parser(
        "validate-eval",
        parents=[common, suite_dir, generation],
        help="validate a suite, running it (JSON)",
        description="Prove the suite works: static checks, then run_eval.py in a subprocess with a timeout. "
        "Exits 1 after printing the result when validation fails.",
    )
    validate.add_argument(
        "--static-only", dest="run", action="store_false", help="static checks only: do not run run_eval.py"
    )
    validate.add_argument(
        "--timeout", dest="timeout_s", type=_positive_int, default=600, metavar="SECONDS", **_described(TimeoutSeconds)
    )
    validate.add_argument("--predict-fn", **_described(PredictFn))
    validate.set_defaults(
        tool="validate_eval",
        handler=_library_call(_validate_eval, failed=lambda result, args: result.status == "failed"),
    )

    push = commands.add_parser(
        "push-feedback",
        parents=[common, suite_dir],
        help="put results on the production traces (JSON)",
        description="Write an evaluation run's scorer results, and the suite's human reviews, onto the source "
        "production traces as feedback. A second push never duplicates.",
    )
    push.add_argument("--run-id", **_described(RunId))
    push.add_argument("--dry-run", action="store_true", **_described(DryRun))
    push.set_defaults(tool="push_feedback", handler=_library_call(_push_feedback))

    pull = commands.add_parser(
        "pull-feedback",
        parents=[common, suite_dir],
        help="human labels from the traces (JSON)",
        description="Read human feedback and expectations added on the suite's source traces (e.g. in the "
        "MLflow UI) into state/review.json and the dataset cases' expectations.",
    )
    pull.set_defaults(tool="pull_feedback", handler=_library_call(_pull_feedback))

    compare = commands.add_parser(
        "compare-runs",
        parents=[common],
        help="regression check of two runs (JSON)",
        description="Compare two evaluation runs: per-metric deltas, per-row flips paired by case, an exact "
        "McNemar test per scorer and a regression verdict.",
    )
    compare.add_argument("baseline_run_id", help="MLflow run id of the baseline evaluation run")
    compare.add_argument("candidate_run_id", help="MLflow run id of the candidate evaluation run")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 when the verdict is regressed")
    compare.set_defaults(
        tool="compare_runs",
        handler=_library_call(
            _compare_runs, failed=lambda result, args: args.fail_on_regression and result.verdict == "regressed"
        ),
    )

    get = commands.add_parser(
        "get-trace",
        parents=[common],
        help="one trace's span tree (JSON)",
        description="Print one trace as a span tree: types, timings, status, exceptions, token usage and "
        "truncated inputs and outputs of every span.",
    )
    get.add_argument("trace_id", **_described(TraceId))
    get.add_argument("--max-chars", type=_positive_int, **_described(MaxChars))
    get.set_defaults(tool="get_trace", handler=_library_call(_get_trace))

    experiments = commands.add_parser(
        "list-experiments",
        parents=[common],
        help="experiments in the store (JSON)",
        description="List the experiments in the tracking store, most recently updated first.",
    )
    experiments.set_defaults(tool="list_experiments", handler=_library_call(_list_experiments))

    # Commands other than serve suggest next steps as command lines; the server's clients read tool calls.
    by_tool = {
        command.get_default("tool"): command for command in commands.choices.values() if command.get_default("tool")
    }
    for name, command in commands.choices.items():
        if name != "serve":
            command.set_defaults(commands=by_tool)
    return parser


def _common_options(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workspace", type=Path, default=default, help="workspace directory (default ~/.mlflow-eval-mcp)"
    )
    common.add_argument("--tracking-uri", default=default, **_described(TrackingUri))
    common.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="log at DEBUG and show the traceback of an unexpected error (as MLFLOW_EVAL_MCP_LOG_LEVEL=DEBUG)",
    )
    return common


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 1-65535")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
