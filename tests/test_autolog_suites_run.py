"""Suites generated from the autolog fixtures of these integrations validate with a run through MLflow's
evaluation end to end (the others are validated without it, in test_autolog_suites.py)."""

from __future__ import annotations

import pytest

from mlflow_eval_mcp.suite.validation import validate_eval
from tests.test_autolog_suites import RUN_END_TO_END, generated_suite


@pytest.mark.parametrize("integration", RUN_END_TO_END)
def test_a_suite_generated_from_the_fixtures_validates_when_run(integration, store_uri, tmp_path):
    client, suite = generated_suite(integration, store_uri, tmp_path)
    result = validate_eval(client, suite, timeout_s=300, run=True)
    assert result.status == "passed", [check for check in result.checks if check.status == "failed"]
