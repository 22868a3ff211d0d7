"""The console script as an MCP client launches it: a subprocess speaking JSON-RPC on stdio."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.paths import REPOSITORY
from tests.raw_stdio import call_over_stdio
from tests.trace_factory import make_trace

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]
SCRIPT = str(Path(sys.executable).with_name("mlflow-eval-mcp"))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MLFLOW_EVAL_MCP_WORKSPACE": str(tmp_path / "workspace"), "PATH": os.environ["PATH"], **extra}


async def test_console_script_serves_tools_over_stdio(store_uri, tmp_path):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("orders")
    write_traces(store_uri, experiment_id, [make_trace(i) for i in range(3)])
    params = StdioServerParameters(command=SCRIPT, env=_env(tmp_path, MLFLOW_TRACKING_URI=store_uri))
    async with Client(params) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        result = await client.call_tool("search_traces", {"experiment_name": "orders"})
    assert "search_traces" in tools
    assert len(result.structured_content["traces"]) == 3


async def test_uvx_from_the_checkout_starts_the_server(tmp_path):
    # The documented way to run a checkout: uvx builds the wheel and resolves dependencies itself.
    uvx = shutil.which("uvx") or str(Path(sys.executable).with_name("uvx"))
    if not Path(uvx).exists():
        pytest.skip("uv is not installed")
    root = REPOSITORY
    env = _env(tmp_path, UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")))
    env.update({key: value for key, value in os.environ.items() if key.startswith(("UV_", "SSL_", "HTTP", "NO_PROXY"))})
    params = StdioServerParameters(command=uvx, args=["--from", str(root), "mlflow-eval-mcp"], env=env)
    async with Client(params, read_timeout_seconds=600) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
    assert {"search_traces", "get_trace"} <= set(tools)


def test_stdout_carries_only_json_rpc(store_uri, tmp_path):
    messages = call_over_stdio(
        "tools/call", {"name": "list_experiments", "arguments": {}}, env=_env(tmp_path, MLFLOW_TRACKING_URI=store_uri)
    )
    assert [message.get("id") for message in messages] == [1, 2]
    assert messages[1]["result"]["structuredContent"]["experiments"]


def _run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The console script run to its end with nothing on stdin, as a client that sends nothing would."""
    return subprocess.run([SCRIPT], input="", capture_output=True, text=True, timeout=60, env=env)


def test_configuration_error_is_one_line_before_the_transport_opens(tmp_path):
    completed = _run_script(_env(tmp_path, MLFLOW_TRACKING_URI="ftp://example.com/store"))
    assert completed.returncode != 0
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith("Error: Tracking URI 'ftp://example.com/store' is not supported")


def test_invalid_setting_is_one_line(tmp_path):
    completed = _run_script(_env(tmp_path, MLFLOW_EVAL_MCP_CONNECT_TIMEOUT_S="soon"))
    assert completed.returncode != 0
    assert completed.stderr.startswith("Error: invalid setting connect_timeout_s (MLFLOW_EVAL_MCP_CONNECT_TIMEOUT_S)")
    assert completed.stderr.count("\n") == 1


def test_server_module_does_not_import_mlflow():
    # MLflow takes over a second to import; the server must answer initialize without it.
    code = "import sys, mlflow_eval_mcp.frontend.server, mlflow_eval_mcp.frontend.cli; print('mlflow' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"
