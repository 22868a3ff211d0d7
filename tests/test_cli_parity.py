"""Every MCP tool has a CLI command, and both print the same result."""

import json

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.cli import _parser, main
from mlflow_eval_mcp.server import create_server, tool_table
from mlflow_eval_mcp.trace_writer import write_traces
from tests.trace_factory import make_trace

COMMAND_OF_TOOL = {
    "list_experiments": "list-experiments",
    "search_traces": "search-traces",
    "get_trace": "get-trace",
    "import_traces": "import",
    "analyze_traces": "analyze",
    "get_finding": "get-finding",
    "generate_dataset": "generate-dataset",
    "generate_scorers": "generate-scorers",
    "render_run_script": "render-run-script",
    "generate_suite": "generate",
    "validate_eval": "validate-eval",
    "push_feedback": "push-feedback",
    "pull_feedback": "pull-feedback",
    "compare_runs": "compare-runs",
}


def test_every_tool_has_a_cli_command(settings):
    commands = set(_parser()._subparsers._group_actions[0].choices)
    tools = {spec.fn.__name__ for spec in tool_table(settings)}
    assert tools == set(COMMAND_OF_TOOL)
    assert set(COMMAND_OF_TOOL.values()) <= commands


@pytest.mark.anyio
async def test_search_traces_prints_what_the_tool_returns(store_uri, settings, capsys):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("orders")
    write_traces(store_uri, experiment_id, [make_trace(i) for i in range(3)])
    async with Client(create_server(settings)) as client:
        arguments = {"experiment_name": "orders", "detail": "full"}
        tool = (await client.call_tool("search_traces", arguments)).structured_content
    main(["search-traces", "--tracking-uri", store_uri, "--experiment-name", "orders"])
    assert json.loads(capsys.readouterr().out) == tool
