"""The Streamable HTTP transport: the console script serving /mcp on loopback, with a bearer token."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.trace_factory import make_trace

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]
SCRIPT = str(Path(sys.executable).with_name("mlflow-eval-mcp"))
TOKEN = "s3cret-token-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _http_server(tmp_path, store_uri, *args, token=TOKEN):
    port = _free_port()
    env = {
        "MLFLOW_EVAL_MCP_WORKSPACE": str(tmp_path / "ws"),
        "PATH": os.environ["PATH"],
        "MLFLOW_TRACKING_URI": store_uri,
    }
    if token:
        env["MLFLOW_EVAL_MCP_HTTP_TOKEN"] = token
    process = subprocess.Popen(
        [SCRIPT, "serve", "--transport", "http", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def test_an_http_client_with_the_token_calls_tools(store_uri, tmp_path):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("orders")
    write_traces(store_uri, experiment_id, [make_trace(i) for i in range(2)])
    with _http_server(tmp_path, store_uri) as (url, _):
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("search_traces", {"experiment_name": "orders"})
    assert "generate_suite" in tools
    assert len(result.structured_content["traces"]) == 2


def test_a_request_without_the_token_gets_401(store_uri, tmp_path):
    with _http_server(tmp_path, store_uri) as (url, _):
        response = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        wrong = requests.post(url, json={}, headers={"Authorization": "Bearer wrong"})
    assert (response.status_code, wrong.status_code) == (401, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_binding_beyond_loopback_without_a_token_is_refused_with_the_fix(store_uri, tmp_path):
    with _http_server(tmp_path, store_uri, "--host", "0.0.0.0", token=None) as (_, process):
        process.wait(timeout=30)
        stderr = process.stderr.read().decode()
    assert process.returncode != 0
    assert "set MLFLOW_EVAL_MCP_HTTP_TOKEN" in stderr
    assert "Traceback" not in stderr
