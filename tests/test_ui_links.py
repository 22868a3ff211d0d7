"""MLflow UI links in results."""

import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.ui_links import run_url, traces_url

pytestmark = pytest.mark.anyio


def test_a_tracking_server_links_to_its_own_ui_without_credentials():
    url = traces_url("https://user:pw@mlflow.example.com:5000/", "7", "tr-1")
    assert url == "https://mlflow.example.com:5000/#/experiments/7/traces?selectedEvaluationId=tr-1&traceId=tr-1"


def test_databricks_links_use_the_workspace_host(monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", "https://adb-1.azuredatabricks.net/")
    assert run_url("databricks", "42", "abc") == "https://adb-1.azuredatabricks.net/ml/experiments/42/runs/abc"


def test_databricks_without_a_host_gives_no_link():
    assert traces_url("databricks://prod", "42") is None


def test_a_local_store_links_to_mlflow_ui_on_its_default_port():
    assert traces_url("sqlite:////tmp/m.db", "3") == "http://127.0.0.1:5000/#/experiments/3/traces"


async def test_search_and_analysis_results_carry_the_experiments_link(demo_store):
    async with Client(create_server(demo_store.settings())) as client:
        search = await client.call_tool("search_traces", {"experiment_name": "mlflow-eval-demo", "max_results": 1})
        analysis = await client.call_tool("analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 20})
    expected = f"http://127.0.0.1:5000/#/experiments/{demo_store.experiment_id}/traces"
    assert search.structured_content["ui_url"] == analysis.structured_content["ui_url"] == expected
