"""On Databricks: a labeling session in the review app, with one pass/fail label schema per judge (named
after it, so that the labels pair with the judge as calibration and `align()` pair them) and the
traces to label. MLflow's labeling API reads only the process-global tracking URI, so the call holds
a lock while it points that URI at this store, and restores it after."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.traces import load_traces

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

_global_uri_lock = threading.Lock()


def create_labeling_session(
    client: MlflowClient, session_name: str, criteria: dict[str, str], trace_ids: list[str]
) -> dict[str, Any]:
    """The session created (name, id, url, traces), or what went wrong: the review file holds the same
    questions, so a refusal here is reported, not raised."""
    from mlflow.genai import label_schemas, labeling
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    try:
        with _global_uri_lock, _use_tracking_uri(client.tracking_uri):
            for name, criterion in criteria.items():
                label_schemas.create_label_schema(
                    name=name,
                    type="feedback",
                    title=name,
                    input=label_schemas.InputCategorical(options=["pass", "fail"]),
                    instruction=criterion,
                    enable_comment=True,
                    overwrite=True,
                )
            session = labeling.create_labeling_session(name=session_name, label_schemas=list(criteria))
            session.add_traces(load_traces(client, trace_ids))
    except Exception as error:  # the review app refuses in many ways; the review file still works
        return {"error": f"no labeling session: {str(error).splitlines()[0][:300] if str(error) else error!r}"}
    return {
        "name": session.name,
        "labeling_session_id": session.labeling_session_id,
        "url": session.url,
        "traces": len(trace_ids),
    }
