"""An analysis' findings written back onto the traces they name, as tags the MLflow UI can filter
on: `mlflow_eval.finding.<kind>`, valued with the ids of the trace's findings of that kind (e.g.
`mlflow_eval.finding.unbacked_claims` = `unbacked_claims`). Writing the same analysis again writes
the same values."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.cancellation import raise_if_cancelled

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

TAG_PREFIX = "mlflow_eval.finding."
MAX_TAG_VALUE = 250


def finding_tags(analysis: TraceAnalysis) -> dict[str, dict[str, str]]:
    """Trace id -> {tag key: value}: one tag per kind of finding the trace shows."""
    ids: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for finding in analysis.findings:
        for trace_id in finding.trace_ids:
            ids[trace_id][finding.kind].append(finding.id)
    return {
        trace_id: {f"{TAG_PREFIX}{kind}": ",".join(sorted(found))[:MAX_TAG_VALUE] for kind, found in kinds.items()}
        for trace_id, kinds in ids.items()
    }


def tag_traces(client: MlflowClient, analysis: TraceAnalysis) -> int:
    """Write `finding_tags`; returns how many traces were tagged."""
    tags = finding_tags(analysis)
    for trace_id, values in tags.items():
        raise_if_cancelled()
        for key, value in values.items():
            client.set_trace_tag(trace_id, key, value)
    return len(tags)
