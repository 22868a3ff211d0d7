"""The evaluation runs of a suite in MLflow: the latest one run_eval.py wrote, and its traces,
whose assessments are the scorers' verdicts on each row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.runner import RESULT_FILE, read_result
from mlflow_eval_mcp.suite.tasks import how_to_run

if TYPE_CHECKING:
    from mlflow.entities import Trace
    from mlflow.tracking import MlflowClient


def last_run_id(suite: SuiteLayout) -> str:
    """The run of the suite's latest result file, with what to do when there is none."""
    path = suite.path(RESULT_FILE)
    if not path.exists():
        raise InvalidArgumentError(
            f"The suite in {suite.root} has no evaluation run yet ({RESULT_FILE} is missing); run "
            f"{how_to_run('validate')} or evaluation/run_eval.py first, or pass run_id."
        )
    result = read_result(path)
    if result is None:
        raise InvalidArgumentError(
            f"{path} is not a result run_eval.py writes; run {how_to_run('validate')} or evaluation/run_eval.py "
            "again, or pass run_id."
        )
    return result.run_id


def run_traces(client: MlflowClient, run_id: str) -> list[Trace]:
    """Every trace of evaluation run `run_id` (one per row), with its assessments, without spans."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise InvalidArgumentError(f"No MLflow run {run_id!r} in this store: {error.message}") from error
    traces: list[Trace] = []
    token = None
    while True:
        page = client.search_traces(
            locations=[run.info.experiment_id], run_id=run_id, max_results=500, page_token=token, include_spans=False
        )
        traces += list(page)
        token = page.token
        if not token:
            return traces
