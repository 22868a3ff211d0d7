"""Databricks labeling sessions, where the store has no review app: said in the result, never raised,
and the process-global tracking URI MLflow's labeling API needs is put back."""

import mlflow
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.suite.labeling_session import create_labeling_session


def test_a_store_without_a_review_app_is_reported_and_the_global_uri_restored(store_uri):
    before = mlflow.get_tracking_uri()
    result = create_labeling_session(MlflowClient(tracking_uri=store_uri), "s", {"polite": "Is it polite?"}, [])
    assert result["error"].startswith("no labeling session: ") and "Databricks" in result["error"]
    assert mlflow.get_tracking_uri() == before
