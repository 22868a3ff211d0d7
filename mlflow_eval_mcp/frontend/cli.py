"""Command line: no arguments serves MCP over stdio; subcommands run the same library calls
headlessly and print JSON (or, for `demo`, a readable report) to stdout."""

from __future__ import annotations

import argparse
import inspect
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo

from mlflow_eval_mcp import __version__
from mlflow_eval_mcp.errors import InvalidArgumentError, MlflowEvalError, describe_unexpected
from mlflow_eval_mcp.frontend.args import Cli, Detail, Generation, TrackingUri, describe_validation_error
from mlflow_eval_mcp.frontend.operations import OPERATIONS, Operation
from mlflow_eval_mcp.frontend.progress import ProgressBar
from mlflow_eval_mcp.frontend.runtime import Counter, Runtime
from mlflow_eval_mcp.next_steps import cli_syntax
from mlflow_eval_mcp.secrets import install_log_scrubber, scrub
from mlflow_eval_mcp.settings import Settings

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
        from mlflow_eval_mcp.frontend.http_transport import serve_http

        serve_http(settings, host=args.host, port=args.port)
        return
    from mlflow_eval_mcp.frontend.server import create_server

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


class _TerminalProgress:
    """Progress on stderr: a bar per counter, a line per step."""

    def __init__(self) -> None:
        self.bars: list[ProgressBar] = []

    def counter(self, unit: str) -> Counter:
        bar = ProgressBar(unit)
        self.bars.append(bar)
        return bar

    def steps(self, names: Sequence[str]) -> Callable[[str], None]:
        return _print_step

    def close(self) -> None:
        for bar in self.bars:
            bar.close()


def _operation_handler(operation: Operation) -> Callable[[argparse.Namespace, Settings], None]:
    """Runs `operation` with the command's arguments, validated as the MCP tool validates them, and
    prints its result; exits 1 after printing when the operation's exit rule says it failed."""

    def handler(args: argparse.Namespace, settings: Settings) -> None:
        arguments = _validated(operation, args)
        progress = _TerminalProgress()
        runtime = Runtime(settings, progress, tracking_uri=None, create_store=operation.store == "create")
        if operation.store != "none":
            runtime.client()  # an unusable store is the first error, before any argument is used
        try:
            result = operation.run(runtime, **arguments)
        finally:
            progress.close()
        _print(result, getattr(args, "detail", "full"))
        if operation.exit_rule is not None and operation.exit_rule.failed(result, args):
            sys.exit(1)

    return handler


def _validated(operation: Operation, args: argparse.Namespace) -> dict[str, Any]:
    parameters = _own_parameters(operation)
    given = {
        name: _cli_option(parameter).convert(getattr(args, name))
        if _cli_option(parameter).convert
        else getattr(args, name)
        for name, parameter in parameters.items()
    }
    fields: dict[str, Any] = {
        name: (parameter.annotation, parameter.default if parameter.default is not parameter.empty else ...)
        for name, parameter in parameters.items()
    }
    model = create_model(f"{operation.name}_arguments", **fields)
    try:
        validated = model.model_validate(given)
    except ValidationError as error:
        spelling = {name: _flag(name, parameter) for name, parameter in parameters.items()}
        sentences = describe_validation_error(error, model.model_json_schema(), spelling)
        raise InvalidArgumentError(" ".join(sentences)) from None
    return {name: getattr(validated, name) for name in parameters}


def _print(result: BaseModel, detail: str) -> None:
    """The full result as JSON, or with `--detail summary` the text an MCP client's model is given."""
    if detail == "summary":
        from mlflow_eval_mcp.frontend.presentation import present

        print(present(result, "summary")[0])
    else:
        print(result.model_dump_json(indent=2))


def _own_parameters(operation: Operation) -> dict[str, inspect.Parameter]:
    return dict(list(inspect.signature(operation.run).parameters.items())[1:])


def _cli_option(parameter: inspect.Parameter) -> Cli:
    return next((item for item in get_args(parameter.annotation)[1:] if isinstance(item, Cli)), Cli())


def _flag(name: str, parameter: inspect.Parameter) -> str:
    option = _cli_option(parameter)
    if option.flag is None and parameter.default is parameter.empty:
        return name  # positional
    return option.flag or "--" + name.replace("_", "-")


def _add_command(commands: Any, operation: Operation, common: argparse.ArgumentParser) -> None:
    """The operation's command: an option per argument, spelled by the rule or by its `Cli`, with
    the argument type's description as help and its Literal's values as choices."""
    description = " ".join(line.strip() for line in (operation.run.__doc__ or "").splitlines())
    if operation.exit_rule is not None:
        description += " " + operation.exit_rule.says
    command = commands.add_parser(
        operation.command, parents=[common], help=f"{operation.title.lower()} (JSON)", description=description
    )
    for name, parameter in _own_parameters(operation).items():
        _add_argument(command, name, parameter.annotation, parameter.default)
    if operation.detail:
        _add_argument(command, "detail", Detail, "summary")
    if operation.exit_rule is not None and operation.exit_rule.switch is not None:
        flag, help_text = operation.exit_rule.switch
        command.add_argument(flag, action="store_true", help=help_text)
    command.set_defaults(tool=operation.name, handler=_operation_handler(operation))


def _add_argument(command: argparse.ArgumentParser, name: str, annotation: object, default: object) -> None:
    option = _cli_option(
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
    )
    described = _described(annotation)
    required = default is inspect.Parameter.empty
    base = get_args(annotation)[0]
    kinds = {get_origin(kind) or kind for kind in (base, *get_args(base))}
    keywords: dict[str, Any] = {"help": option.help or described["help"]}
    if option.metavar:
        keywords["metavar"] = option.metavar
    if bool in kinds:
        keywords["action"] = "store_false" if default else "store_true"
    elif list in kinds or dict in kinds:
        keywords |= {"action": "append", "default": []} if option.convert else {"action": "append"}
        keywords |= _choices_of_items(base)
    else:
        keywords |= {k: v for k, v in described.items() if k == "choices"}
        keywords["type"] = int if int in kinds else str
        if option.default is not None:
            keywords["default"] = option.default
        elif not required:
            keywords["default"] = default
    if required and option.flag is None:
        command.add_argument(name, **keywords)
    else:
        flag = option.flag or "--" + name.replace("_", "-")
        command.add_argument(flag, dest=name, required=required, **keywords)


def _choices_of_items(annotation: object) -> dict[str, Any]:
    for kind in (annotation, *get_args(annotation)):
        if get_origin(kind) is list:
            (item,) = get_args(kind)
            if get_origin(item) is Literal:
                return {"choices": list(get_args(item))}
    return {}


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

    for operation in OPERATIONS:
        _add_command(commands, operation, common)

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
