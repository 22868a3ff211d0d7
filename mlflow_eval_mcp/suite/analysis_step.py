"""The suite's first step: analyse its experiment's traces into state/analysis.json.

The analysis itself is pure (`analysis.engine`); this step owns what it keeps: the suite belongs to
one experiment of one store, its analysis file is replaced atomically, and the step is recorded so
the later steps know what they were derived from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_eval_mcp.analysis.archive import archive_analysis
from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.analysis.table_analysis import EngineChoice, analyze_experiment
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.limits import MAX_TRACES
from mlflow_eval_mcp.suite.layout import ANALYSIS_FILE, SuiteLayout
from mlflow_eval_mcp.suite.tasks import load_tasks, record
from mlflow_eval_mcp.tracking import redact_uri, resolve_experiment

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession


def analyze_into_suite(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_traces: int = MAX_TRACES,
    on_progress: Callable[[int, int | None], None] | None = None,
    claude: ClaudeSession | None = None,
    archive: Path | None = None,
    trace_table: str | None = None,
    engine: EngineChoice = "auto",
    days: float | None = None,
) -> TraceAnalysis:
    """`analyze_traces` (on the engine chosen, see `table_analysis`) into `suite`; with `archive`, also kept
    there under its `analysis_id`."""
    experiment = resolve_experiment(client, experiment_id, experiment_name)
    tracking_uri = redact_uri(client.tracking_uri)
    _check_suite_owner(suite, experiment.experiment_id, tracking_uri)
    analysis = analyze_experiment(
        client,
        engine=engine,
        trace_table=trace_table,
        days=days,
        experiment_id=experiment.experiment_id,
        filter_string=filter_string,
        max_traces=max_traces,
        on_progress=on_progress,
        claude=claude,
    )
    analysis.analysis_path = str(suite.path(ANALYSIS_FILE))
    if archive is not None:
        archive_analysis(archive, analysis)
    write_json_atomic(suite.path(ANALYSIS_FILE), analysis.model_dump(mode="json"))
    record(
        suite, "analyze", outputs=[ANALYSIS_FILE], experiment=(experiment.experiment_id, experiment.name, tracking_uri)
    )
    return analysis


def _check_suite_owner(suite: SuiteLayout, experiment_id: str, tracking_uri: str) -> None:
    """A suite belongs to one experiment of one store: analysing another into it would mix them."""
    tasks = load_tasks(suite)
    if tasks.experiment_id is not None and (tasks.experiment_id, tasks.tracking_uri) != (experiment_id, tracking_uri):
        raise InvalidArgumentError(
            f"{suite.root} holds the suite of experiment {tasks.experiment_name!r} (id {tasks.experiment_id}) in "
            f"{tasks.tracking_uri}; give another suite_dir, or delete that one to start afresh."
        )
