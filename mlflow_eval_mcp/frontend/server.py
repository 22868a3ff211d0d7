"""The MCP server: `create_server(settings)` offers every operation of `frontend.operations` as a tool.

A tool only builds the operation's runtime, runs the blocking library call in a worker thread (so
one slow call does not stall the others) and turns library errors into `ToolError`s: anticipated ones
keep their message, others are described in one sentence with the traceback in the log (stderr).
Arguments are checked before any work: an invalid one is named in a sentence saying what it may be.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp import __version__
from mlflow_eval_mcp.cancellation import cancellable
from mlflow_eval_mcp.errors import MlflowEvalError, describe_unexpected
from mlflow_eval_mcp.frontend.args import (
    MAX_TEXT,
    Detail,
    TrackingUri,
    argument_problems,
    describe_validation_error,
)
from mlflow_eval_mcp.frontend.operations import OPERATIONS, Operation
from mlflow_eval_mcp.frontend.presentation import present
from mlflow_eval_mcp.frontend.resources import register_resources
from mlflow_eval_mcp.frontend.runtime import Counter, Runtime
from mlflow_eval_mcp.frontend.workflows import register_workflows
from mlflow_eval_mcp.secrets import install_log_scrubber, scrub
from mlflow_eval_mcp.settings import Settings

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


class _ClientProgress:
    """Progress as the MCP client's progress notifications, sent from the worker thread."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def counter(self, unit: str) -> Counter:
        def report(done: int, total: int | None = None) -> None:
            anyio.from_thread.run(self.ctx.report_progress, done, total, f"{done} {unit}")

        return report

    def steps(self, names: Sequence[str]) -> Callable[[str], None]:
        def report(name: str) -> None:
            anyio.from_thread.run(self.ctx.report_progress, names.index(name), len(names), name)

        return report


def tool_signature(operation: Operation) -> inspect.Signature:
    """The tool's arguments: the operation's own (without its runtime), then `detail` where its
    result has a summary and `tracking_uri` where it reads the store."""
    own = list(inspect.signature(operation.run).parameters.values())[1:]
    added = []
    if operation.detail:
        added.append(inspect.Parameter("detail", inspect.Parameter.KEYWORD_ONLY, default="summary", annotation=Detail))
    if operation.store != "none":
        added.append(
            inspect.Parameter("tracking_uri", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TrackingUri)
        )
    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    keyword_only = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own]
    return inspect.Signature([*keyword_only, *added, context])


def _tool_function(operation: Operation, settings: Settings) -> Callable[..., Awaitable[BaseModel]]:
    async def tool(
        *, ctx: Context, tracking_uri: str | None = None, detail: str = "summary", **arguments: Any
    ) -> BaseModel:
        runtime = Runtime(
            settings, _ClientProgress(ctx), tracking_uri=tracking_uri, create_store=operation.store == "create"
        )
        return await _run(lambda: operation.run(runtime, **arguments))

    tool.__name__ = operation.name
    tool.__doc__ = operation.run.__doc__
    tool.__signature__ = tool_signature(operation)  # type: ignore[attr-defined]
    return tool


async def _run(work: Callable[[], Result]) -> Result:
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


def _compact(tool: _ClearTool) -> _ClearTool:
    """The tool as tools/list shows it, without what costs a client's context and tells its model
    nothing: pydantic's per-property titles (the property names, title-cased), `"default": null` on
    optional arguments, the length limit every short text shares (arguments are still held to it,
    and told so in one sentence), and the docstrings' line-break indentation."""
    tool.description = " ".join((tool.description or "").split())
    tool.parameters.pop("title", None)
    for schema in tool.parameters.get("properties", {}).values():
        schema.pop("title", None)
        if "default" in schema and schema["default"] is None:
            del schema["default"]
        _drop_shared_text_limit(schema)
    return tool


def _drop_shared_text_limit(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("maxLength") == MAX_TEXT:
            del schema["maxLength"]
        for part in schema.values():
            _drop_shared_text_limit(part)
    elif isinstance(schema, list):
        for part in schema:
            _drop_shared_text_limit(part)


def create_server(settings: Settings) -> MCPServer:
    install_log_scrubber()
    tools = [
        _compact(
            _ClearTool.from_function(
                _tool_function(operation, settings),
                title=operation.title,
                context_kwarg="ctx",
                # Results are summary-sized by default and full on request (see presentation), so no one
                # schema describes them; output schemas were also two thirds of tools/list.
                structured_output=False,
                # The title once, on the tool: the annotations' copy told a client nothing more.
                annotations=ToolAnnotations(
                    read_only_hint=operation.read_only,
                    destructive_hint=operation.destructive,
                    idempotent_hint=operation.idempotent,
                    open_world_hint=False,
                ),
            )
        )
        for operation in OPERATIONS
        if operation.mcp
    ]
    server = MCPServer("mlflow-eval-mcp", version=__version__, instructions=INSTRUCTIONS, tools=tools)
    register_resources(server, settings)
    register_workflows(server)
    return server
