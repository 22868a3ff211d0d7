"""Links into the MLflow UI for results, so a headless run (CI, a job) points at what to look at.

A tracking server's UI is the server itself; Databricks' is the workspace's `/ml/` pages; a local
store (sqlite, a database) has no UI until `mlflow ui --backend-store-uri <uri>` runs, so its
links point at that command's default address.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlparse

from mlflow_eval_mcp.tracking import redact_uri

LOCAL_UI = "http://127.0.0.1:5000"
LINK_DESCRIPTION = (
    "MLflow UI link; for a local store, valid once `mlflow ui --backend-store-uri <tracking_uri>` runs "
    "(default port 5000). Null when the UI address is unknown (Databricks without DATABRICKS_HOST)."
)


def experiment_url(tracking_uri: str, experiment_id: str | None) -> str | None:
    base = _experiments_base(tracking_uri)
    return f"{base}/{experiment_id}" if base and experiment_id else None


def traces_url(tracking_uri: str, experiment_id: str | None, trace_id: str | None = None) -> str | None:
    base = experiment_url(tracking_uri, experiment_id)
    if base is None:
        return None
    selected = quote(trace_id, safe="") if trace_id else None
    return f"{base}/traces?selectedEvaluationId={selected}&traceId={selected}" if selected else f"{base}/traces"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    base = experiment_url(tracking_uri, experiment_id)
    return f"{base}/runs/{run_id}" if base else None


def _experiments_base(tracking_uri: str) -> str | None:
    uri = redact_uri(tracking_uri)
    scheme = (urlparse(uri).scheme or uri).split("+")[0]
    if scheme in ("http", "https"):
        parsed = urlparse(uri)
        return f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}/#/experiments"
    if scheme == "databricks":
        host = os.environ.get("DATABRICKS_HOST")
        return f"{host.rstrip('/')}/ml/experiments" if host else None
    return f"{LOCAL_UI}/#/experiments"
