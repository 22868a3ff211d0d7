"""Command line: no arguments serves MCP over stdio; subcommands run the same library calls
headlessly and print JSON (or, for `demo`, a readable report) to stdout."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp import __version__
from mlflow_eval_mcp.errors import InvalidArgumentError, MlflowEvalError
from mlflow_eval_mcp.progress import ProgressBar
from mlflow_eval_mcp.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.suite.layout import SuiteLayout


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = _load_settings(args)
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    command: Callable[[argparse.Namespace, Settings], None] = args.handler
    try:
        command(args, settings)
    except MlflowEvalError as error:
        sys.exit(f"Error: {error}")


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    # Configuration errors surface here, before the transport opens, as one line.
    settings.check(create_store=True)
    if getattr(args, "transport", "stdio") == "http":
        from mlflow_eval_mcp.http_transport import serve_http

        serve_http(settings, host=args.host, port=args.port)
        return
    from mlflow_eval_mcp.server import create_server

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
        print(result.model_dump_json(indent=2))
        if failed is not None and failed(result, args):
            sys.exit(1)

    return handler


def _search_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import search_traces

    return search_traces(
        client,
        experiment_id=args.experiment_id,
        experiment_name=args.experiment_name,
        filter_string=args.filter,
        max_results=args.max_results,
        page_token=args.page_token,
        order_by=args.order_by,
    )


def _import_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.importing.importer import import_traces

    progress = ProgressBar("traces converted")
    result = import_traces(
        client,
        args.path,
        experiment_name=args.experiment,
        artifacts_dir=settings.artifacts_dir,
        format_name=args.format,
        max_record_bytes=args.max_record_mb * 1024 * 1024,
        on_progress=progress,
    )
    progress.close()
    return result


def _analyze_traces(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.analysis.engine import analyze_traces

    progress = ProgressBar("traces analysed")
    result = analyze_traces(
        client,
        experiment_id=args.experiment_id,
        experiment_name=args.experiment_name,
        filter_string=args.filter,
        max_traces=args.max_traces,
        suite=_suite(args, settings) if args.suite_dir else None,
        on_progress=progress,
        claude=_claude(args, settings),
    )
    progress.close()
    return result


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
        filter_string=args.filter,
        max_traces=args.max_traces,
        strategy=args.strategy,
        max_cases=args.max_cases,
        include_synthetic=not args.no_synthetic,
        redact=not args.no_redact,
        judge_model=args.judge_model,
        gates=_gates(args.gate),
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
        include_synthetic=not args.no_synthetic,
        redact=not args.no_redact,
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

    return render_run_script(_suite(args, settings), gates=_gates(args.gate))


def _validate_eval(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.suite.validation import validate_eval

    return validate_eval(
        client,
        _suite(args, settings),
        run=not args.static_only,
        timeout_s=args.timeout,
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
        print(run(args, settings).model_dump_json(indent=2))

    return handler


def _get_trace(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import get_trace

    return get_trace(client, args.trace_id, max_chars=args.max_chars)


def _list_experiments(client: MlflowClient, args: argparse.Namespace, settings: Settings) -> BaseModel:
    from mlflow_eval_mcp.traces import list_experiments

    return list_experiments(client)


def _load_settings(args: argparse.Namespace) -> Settings:
    # --tracking-uri becomes the settings' URI, so the server's tools use it too.
    overrides = {
        key: value for key, value in (("workspace", args.workspace), ("tracking_uri", args.tracking_uri)) if value
    }
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        sys.exit(f"Error: invalid setting {field} (MLFLOW_EVAL_MCP_{field.upper()}): {first['msg']}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlflow-eval-mcp",
        parents=[_common_options(argparse.SUPPRESS)],
        description="MCP server turning MLflow traces into evaluation suites. No subcommand: serve MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(handler=_serve, workspace=None, tracking_uri=None)
    # Subcommands take the same options; SUPPRESS keeps an option given before the subcommand
    # from being overwritten by the subcommand's default.
    common = _common_options(argparse.SUPPRESS)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", parents=[common], help="serve MCP over stdio (the default) or HTTP")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="http: Streamable HTTP at /mcp")
    serve.add_argument("--host", default="127.0.0.1", help="http: address to bind (default loopback)")
    serve.add_argument("--port", type=_port, default=8000, help="http: port (default 8000)")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", parents=[common], help="seed the embedded store with sample agent traces")
    demo.add_argument("--traces", type=_positive_int, default=300, help="how many traces (default 300)")
    demo.add_argument("--seed", type=int, default=7, help="corpus seed (same seed, same traces)")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.add_argument(
        "--generation",
        choices=["auto", "offline", "claude"],
        default="auto",
        help="auto: use Claude if configured (default); offline: never; claude: require it",
    )
    demo.set_defaults(handler=_demo)

    search = commands.add_parser("search-traces", parents=[common], help="search one experiment's traces (JSON)")
    search.add_argument("--experiment-id")
    search.add_argument("--experiment-name")
    search.add_argument("--filter", help="MLflow filter string, e.g. \"trace.status = 'ERROR'\"")
    search.add_argument("--max-results", type=_positive_int, default=50)
    search.add_argument("--page-token")
    search.add_argument("--order-by", action="append", help="e.g. 'execution_time_ms DESC' (repeatable)")
    search.set_defaults(handler=_library_call(_search_traces))

    importer = commands.add_parser(
        "import", parents=[common], help="import traces or logs from other tools into an experiment (JSON)"
    )
    importer.add_argument("path", help="a .json/.jsonl file or a directory of them")
    importer.add_argument("--experiment", required=True, help="experiment to import into (created if missing)")
    importer.add_argument(
        "--format",
        default="auto",
        choices=["auto", "mlflow", "langfuse", "otlp", "inspect_ai", "who_and_when", "chat"],
        help="source format (default: detect per file)",
    )
    importer.add_argument("--max-record-mb", type=_positive_int, default=32, help="skip larger records")
    importer.set_defaults(handler=_library_call(_import_traces, create_store=True))

    generation = argparse.ArgumentParser(add_help=False)
    generation.add_argument(
        "--generation",
        choices=["auto", "offline", "claude"],
        default="auto",
        help="auto: add Claude when ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL + ANTHROPIC_AUTH_TOKEN) is set; "
        "offline: never; claude: require it",
    )
    analyze = commands.add_parser(
        "analyze", parents=[common, generation], help="analyse an experiment's traces for failures (JSON)"
    )
    analyze.add_argument("--experiment-id")
    analyze.add_argument("--experiment-name")
    analyze.add_argument("--filter", help="MLflow filter string restricting the traces analysed")
    analyze.add_argument("--max-traces", type=_positive_int, default=500, help="newest traces to analyse (max 50,000)")
    analyze.add_argument("--suite-dir", type=Path, help="also write state/analysis.json into this suite directory")
    analyze.set_defaults(handler=_library_call(_analyze_traces))

    dataset_options = argparse.ArgumentParser(add_help=False)
    dataset_options.add_argument("--strategy", choices=["traces", "manual", "hybrid"], help="default: recommended")
    dataset_options.add_argument("--max-cases", type=_positive_int, default=50, help="most cases (max 1,000)")
    dataset_options.add_argument("--no-synthetic", action="store_true", help="no synthetic edge cases")
    dataset_options.add_argument("--no-redact", action="store_true", help="keep personal data and secrets")
    judge = argparse.ArgumentParser(add_help=False)
    judge.add_argument("--judge-model", help="default judge model URI, e.g. anthropic:/claude-sonnet-4-5")
    gates = argparse.ArgumentParser(add_help=False)
    gates.add_argument("--gate", action="append", default=[], metavar="SCORER=MIN", help="override a quality gate")

    generate = commands.add_parser(
        "generate",
        parents=[common, dataset_options, judge, gates, generation],
        help="analyse, then write a whole evaluation suite (dataset, scorers, run_eval.py) (JSON)",
    )
    generate.add_argument("--experiment-id")
    generate.add_argument("--experiment-name")
    generate.add_argument("--filter", help="MLflow filter string restricting the traces analysed")
    generate.add_argument("--max-traces", type=_positive_int, default=500, help="newest traces to analyse")
    generate.add_argument("--suite-dir", help="suite directory (default WORKSPACE/suites/<experiment>)")
    generate.set_defaults(handler=_library_call(_generate))

    dataset = commands.add_parser(
        "generate-dataset", parents=[common, dataset_options, generation], help="write a suite's dataset (JSON)"
    )
    dataset.add_argument("--suite-dir", required=True)
    dataset.add_argument("--sync", action="store_true", help="also upsert into an MLflow evaluation dataset")
    dataset.set_defaults(handler=_library_call(_generate_dataset))

    scorers = commands.add_parser(
        "generate-scorers", parents=[common, judge, generation], help="write a suite's scorers (JSON)"
    )
    scorers.add_argument("--suite-dir", required=True)
    scorers.set_defaults(handler=_offline_call(_generate_scorers))

    script = commands.add_parser(
        "render-run-script", parents=[common, gates], help="write a suite's run_eval.py, gates and README (JSON)"
    )
    script.add_argument("--suite-dir", required=True)
    script.set_defaults(handler=_offline_call(_render_run_script))

    validate = commands.add_parser(
        "validate-eval", parents=[common, generation], help="validate a suite, running it (JSON)"
    )
    validate.add_argument("--suite-dir", required=True)
    validate.add_argument("--static-only", action="store_true", help="do not run run_eval.py")
    validate.add_argument("--timeout", type=_positive_int, default=600, help="seconds before the run is killed")
    validate.add_argument("--predict-fn", help="validate with your agent: module:function or file.py:function")
    validate.set_defaults(handler=_library_call(_validate_eval, failed=lambda result, args: result.status == "failed"))

    push = commands.add_parser("push-feedback", parents=[common], help="put results on the production traces (JSON)")
    push.add_argument("--suite-dir", required=True)
    push.add_argument("--run-id", help="evaluation run (default: the last one)")
    push.add_argument("--dry-run", action="store_true", help="report, write nothing")
    push.set_defaults(handler=_library_call(_push_feedback))

    pull = commands.add_parser("pull-feedback", parents=[common], help="human labels from the traces (JSON)")
    pull.add_argument("--suite-dir", required=True)
    pull.set_defaults(handler=_library_call(_pull_feedback))

    compare = commands.add_parser("compare-runs", parents=[common], help="regression check of two runs (JSON)")
    compare.add_argument("baseline_run_id")
    compare.add_argument("candidate_run_id")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 when the verdict is regressed")
    compare.set_defaults(
        handler=_library_call(
            _compare_runs, failed=lambda result, args: args.fail_on_regression and result.verdict == "regressed"
        )
    )

    get = commands.add_parser("get-trace", parents=[common], help="one trace's span tree (JSON)")
    get.add_argument("trace_id")
    get.add_argument("--max-chars", type=_positive_int, default=2000)
    get.set_defaults(handler=_library_call(_get_trace))

    commands.add_parser("list-experiments", parents=[common], help="experiments in the store (JSON)").set_defaults(
        handler=_library_call(_list_experiments)
    )
    return parser


def _common_options(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workspace", type=Path, default=default, help="workspace directory (default ~/.mlflow-eval-mcp)"
    )
    common.add_argument(
        "--tracking-uri", default=default, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else embedded)"
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
