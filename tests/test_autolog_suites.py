"""Suites generated from the autolog fixtures (see test_autolog_fixtures.py) validate. These are validated
without the run: every code scorer still runs on every recorded trace when the gates are set, and on
three in the dry run. The integrations run through MLflow's evaluation end to end are in
test_autolog_suites_run.py, a file of its own so that `--dist loadfile` can give each half to a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from mlflow_eval_mcp.suite.validation import validate_eval
from tests.suite_copies import write_ahead
from tests.test_autolog_fixtures import INTEGRATIONS, _analysed

RUN_END_TO_END = ("anthropic", "langgraph", "openai_agents", "otel_genai")


def generated_suite(integration: str, store_uri: str, tmp_path: Path) -> tuple[MlflowClient, SuiteLayout]:
    """The integration's fixture traces imported into the store (the test's own: in WAL mode, see
    suite_copies), and the offline suite generated from them."""
    write_ahead(store_uri)
    _analysed(integration, store_uri, tmp_path)
    client = MlflowClient(tracking_uri=store_uri)
    suite = SuiteLayout(tmp_path / "suite")
    analyze_into_suite(client, suite, experiment_name=integration)
    generate_dataset(client, suite)
    generate_scorers(suite)
    render_run_script(suite)
    return client, suite


@pytest.mark.parametrize("integration", [name for name in INTEGRATIONS if name not in RUN_END_TO_END])
def test_a_suite_generated_from_the_fixtures_validates(integration, store_uri, tmp_path):
    client, suite = generated_suite(integration, store_uri, tmp_path)
    result = validate_eval(client, suite, timeout_s=300, run=False)
    assert result.status == "passed", [check for check in result.checks if check.status == "failed"]
