"""Access to an MLflow tracking store: clients per URI, reachability, experiments.

Every call names its tracking URI explicitly (`MlflowClient(tracking_uri=…)`), never the
process-global `mlflow.set_tracking_uri`, so one server can serve several stores safely.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError, TrackingUnavailableError
from mlflow_eval_mcp.secrets import scrub

if TYPE_CHECKING:
    from mlflow.entities import Experiment
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

_LISTED_EXPERIMENTS = 20
_clients: dict[str, MlflowClient] = {}
_clients_lock = threading.Lock()


def open_client(tracking_uri: str, connect_timeout_s: float = 5.0) -> MlflowClient:
    """A client for `tracking_uri`, after checking that the store answers.

    Remote servers are probed with a short timeout first: MLflow's own HTTP retries would
    otherwise leave a caller waiting for minutes on a server that is down.
    """
    with _clients_lock:
        client = _clients.get(tracking_uri)
    if client is not None:
        return client
    if urlparse(tracking_uri).scheme in ("http", "https"):
        _probe_server(tracking_uri, connect_timeout_s)
    _bound_network_waits()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        client.search_experiments(max_results=1)  # opens the store (runs sqlite migrations once)
    except Exception as error:
        raise TrackingUnavailableError(
            f"Cannot open the MLflow store at {redact_uri(tracking_uri)}: {_first_line(error)}. "
            "Check MLFLOW_TRACKING_URI (or the tracking_uri argument)."
        ) from error
    with _clients_lock:
        return _clients.setdefault(tracking_uri, client)


def resolve_experiment(
    client: MlflowClient, experiment_id: str | None = None, experiment_name: str | None = None
) -> Experiment:
    """The active experiment named by id or name; the error lists the experiments that exist."""
    from mlflow.exceptions import MlflowException

    if bool(experiment_id) == bool(experiment_name):
        raise InvalidArgumentError(
            "Name the experiment by exactly one of experiment_id or experiment_name. " + _existing_experiments(client)
        )
    try:
        experiment = (
            client.get_experiment(experiment_id) if experiment_id else client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        )
    except MlflowException:
        experiment = None
    label = f"id {experiment_id!r}" if experiment_id else f"name {experiment_name!r}"
    if experiment is None:
        raise NotFoundError(f"No experiment with {label}. {_existing_experiments(client)}")
    if experiment.lifecycle_stage != "active":
        raise NotFoundError(
            f"Experiment with {label} is deleted; restore it in the MLflow UI or pick another. "
            + _existing_experiments(client)
        )
    return experiment


def get_or_create_experiment(client: MlflowClient, name: str, artifacts_dir: Path) -> str:
    """The id of experiment `name`, created with artifacts under `artifacts_dir` if missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage != "active":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    # An explicit artifact location keeps MLflow from defaulting to ./mlruns in the caller's cwd.
    location = (artifacts_dir / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def redact_uri(uri: str) -> str:
    """The URI without credentials (user info, secret query parameters), safe for messages and logs."""
    return scrub(uri)


def _existing_experiments(client: MlflowClient) -> str:
    experiments = client.search_experiments(max_results=_LISTED_EXPERIMENTS, order_by=["last_update_time DESC"])
    if not experiments:
        return "This tracking store has no experiments yet (run `mlflow-eval-mcp demo` for sample traces)."
    listed = ", ".join(f"{e.name!r} (id {e.experiment_id})" for e in experiments)
    return f"Experiments here: {listed}."


def _probe_server(tracking_uri: str, timeout_s: float) -> None:
    import requests

    url = tracking_uri.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=timeout_s)
    except requests.RequestException as error:
        raise TrackingUnavailableError(
            f"The MLflow tracking server at {redact_uri(tracking_uri)} did not answer within {timeout_s:g} s "
            f"({type(error).__name__}). Start it (mlflow server --host 127.0.0.1 --port 5000) "
            "or point MLFLOW_TRACKING_URI at a running one."
        ) from error
    if response.status_code >= 500:
        raise TrackingUnavailableError(
            f"The MLflow tracking server at {redact_uri(tracking_uri)} answered {response.status_code} "
            "to a health check; check the server's logs."
        )


@cache
def _bound_network_waits() -> None:
    # MLflow retries failed HTTP calls with backoff (7 attempts, 120 s each by default): a server
    # that answers its health check and then stalls would hold a tool call for many minutes.
    # One attempt of at most 30 s instead. Users who set these variables keep their values.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    # MLflow prices the model spans it stores with litellm, when installed (the judges extra), whose
    # import downloads a price list: offline that costs 7 s of retries per process. Its bundled copy.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _first_line(error: BaseException) -> str:
    # Scrubbed before the cut: a cut through a credential would leave a part no pattern recognises.
    text = scrub(str(error).strip()) or type(error).__name__
    return text.splitlines()[0][:300]
