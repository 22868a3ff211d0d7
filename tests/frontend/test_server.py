"""The tools through the real MCP protocol (in-memory client), on real sqlite stores."""

import json
import socket
import sys
import threading
import time

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.trace_factory import make_trace

pytestmark = pytest.mark.anyio


def _seed(store_uri: str, count: int = 8) -> str:
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("orders")
    write_traces(store_uri, experiment_id, [make_trace(i, tool_error="boom" if i == 3 else None) for i in range(count)])
    return experiment_id


def _error_text(result) -> str:
    assert result.is_error, result
    return result.content[0].text


async def test_tools_are_listed_with_annotations(settings):
    async with Client(create_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    readers = {"list_experiments", "search_traces", "get_trace", "get_finding"}
    readers.add("compare_runs")
    writers = {"import_traces", "analyze_traces", "generate_dataset", "generate_scorers", "render_run_script"}
    writers |= {"generate_suite", "validate_eval", "push_feedback", "pull_feedback"}
    writers |= {"review_traces", "calibrate_judges", "align_judge", "monitor_judges", "optimize_prompt"}
    assert set(tools) == readers | writers
    # Each run of these adds a version: of the aligned judge, of the prompt.
    repeatable = set(tools) - {"align_judge", "optimize_prompt"}
    for name, tool in tools.items():
        assert tool.annotations.read_only_hint is (name in readers)
        assert tool.annotations.destructive_hint is False
        assert tool.annotations.idempotent_hint is (name in repeatable)
    assert tools["search_traces"].input_schema["properties"]["max_results"]["maximum"] == 500


async def test_tool_schemas_carry_no_titles_null_defaults_or_the_shared_text_limit(settings):
    async with Client(create_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    run_id = tools["push_feedback"].input_schema["properties"]["run_id"]
    assert "title" not in run_id and "default" not in run_id
    assert run_id["anyOf"][0] == {"type": "string"}
    assert "  " not in tools["validate_eval"].description


async def test_server_reports_the_package_version(settings):
    from importlib.metadata import version

    async with Client(create_server(settings)) as client:
        assert client.server_info.version == version("mlflow-eval-mcp")


async def test_search_returns_structured_content(settings, store_uri):
    experiment_id = _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("search_traces", {"experiment_name": "orders", "max_results": 3})
    assert not result.is_error
    page = result.structured_content
    assert page["experiment_id"] == experiment_id
    assert page["mode"] == "offline"
    assert len(page["traces"]) == 3 and page["next_page_token"]
    # The text lists the same traces, one compact JSON line each, for the model that reads it.
    lines = result.content[0].text.splitlines()
    assert [json.loads(line) for line in lines[1:4]] == page["traces"]
    assert page["next_page_token"] in result.content[0].text


async def test_next_page_token_round_trips_through_the_protocol(settings, store_uri):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        first = await client.call_tool("search_traces", {"experiment_name": "orders", "max_results": 5})
        token = first.structured_content["next_page_token"]
        second = await client.call_tool(
            "search_traces", {"experiment_name": "orders", "max_results": 5, "page_token": token}
        )
    ids = [t["trace_id"] for t in first.structured_content["traces"] + second.structured_content["traces"]]
    assert len(set(ids)) == 8
    assert second.structured_content["next_page_token"] is None


async def test_get_trace_returns_the_tree(settings, store_uri):
    _seed(store_uri)
    trace_id = make_trace(3).trace_id
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("get_trace", {"trace_id": trace_id})
    root, *children = result.structured_content["spans"]
    assert (root["name"], root["depth"], root["parent_id"]) == ("agent", 0, None)
    assert {child["name"]: child["status"] for child in children} == {"lookup_order": "ERROR", "generate_answer": "OK"}
    assert {(child["depth"], child["parent_id"]) for child in children} == {(1, root["span_id"])}


async def test_list_experiments(settings, store_uri):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_experiments", {})
    assert "orders" in [e["name"] for e in result.structured_content["experiments"]]


async def test_unknown_experiment_error_lists_existing_ones(settings, store_uri):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("search_traces", {"experiment_name": "prod-agent"})
    text = _error_text(result)
    assert "No experiment with name 'prod-agent'" in text
    assert "'orders'" in text


async def test_malformed_filter_error_carries_the_fix(settings, store_uri):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "search_traces", {"experiment_name": "orders", "filter_string": "trace.state = 'ERROR'"}
        )
    assert "trace.status = 'ERROR'" in _error_text(result)


@pytest.mark.parametrize("max_results", [0, 501])
async def test_max_results_out_of_range_is_rejected(settings, store_uri, max_results):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("search_traces", {"experiment_name": "orders", "max_results": max_results})
    assert "max_results" in _error_text(result)


async def test_garbage_page_token_is_rejected(settings, store_uri):
    _seed(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("search_traces", {"experiment_name": "orders", "page_token": "garbage!"})
    assert "omit page_token" in _error_text(result)


async def test_unknown_trace_is_a_tool_error(settings):
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("get_trace", {"trace_id": "tr-nope"})
    assert "was not found" in _error_text(result)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_refused_tracking_server_fails_fast_with_advice(settings):
    uri = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_experiments", {"tracking_uri": uri})
    assert "did not answer" in _error_text(result)
    assert "mlflow server" in _error_text(result)
    assert time.monotonic() - started < 10


async def test_silent_tracking_server_times_out_within_ten_seconds(settings):
    # A listener that accepts connections and never answers: the worst case for a client.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        started = time.monotonic()
        async with Client(create_server(settings)) as client:
            result = await client.call_tool("search_traces", {"experiment_id": "1", "tracking_uri": uri})
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert "did not answer within 5 s" in _error_text(result)
    assert elapsed < 10


async def test_bad_tracking_uri_is_a_tool_error(settings):
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_experiments", {"tracking_uri": "ftp://example.com"})
    assert "not supported" in _error_text(result)


class _StdoutGuard:
    """Records every write to sys.stdout; stdout is the protocol stream of a stdio server."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


async def test_no_tool_writes_to_stdout(settings, store_uri, monkeypatch, capfd):
    _seed(store_uri)
    guard = _StdoutGuard()
    monkeypatch.setattr(sys, "stdout", guard)
    async with Client(create_server(settings)) as client:
        page = await client.call_tool("search_traces", {"experiment_name": "orders"})
        await client.call_tool("get_trace", {"trace_id": page.structured_content["traces"][0]["trace_id"]})
        await client.call_tool("list_experiments", {})
        await client.call_tool("search_traces", {"experiment_name": "missing"})
    monkeypatch.undo()
    assert guard.writes == []
    assert capfd.readouterr().out == ""
