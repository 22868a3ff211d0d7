"""Which engine analyses an experiment's traces, and the SQL engines' entry point.

`python` reads every trace from the tracking store (`engine.analyze_traces`). `spark` and `databricks` run SQL over
the OTel v2 span table (`sql_engine`): a Unity Catalog table on a Databricks SQL warehouse, or on Spark a table its
catalog knows or a directory the exporter wrote. `auto` takes the warehouse when the experiment keeps its traces in
Unity Catalog (MLflow's `mlflow.experiment.databricksTraceDestinationPath` tag), else the tracking store."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.analysis.sql_engine import DEFAULT_DAYS, analyze_span_table
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.limits import MAX_TRACES
from mlflow_eval_mcp.tracking import redact_uri, resolve_experiment
from mlflow_eval_mcp.ui_links import traces_url
from mlflow_eval_mcp.warehouse.sql_runner import SPANS_SUFFIX

if TYPE_CHECKING:
    from mlflow.entities import Experiment
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.warehouse.sql_runner import SqlRunner

EngineChoice = Literal["auto", "python", "spark", "databricks"]
TRACE_DESTINATION_TAG = "mlflow.experiment.databricksTraceDestinationPath"
SPANS_TABLE_TAG = "mlflow.experiment.databricksTraceSpanStorageTable"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_LOCAL_VIEW = "otel_spans"


def uc_spans_table(experiment: Experiment) -> str | None:
    """The span table of an experiment whose traces live in Unity Catalog, as MLflow's tags name it."""
    tags = experiment.tags or {}
    if table := tags.get(SPANS_TABLE_TAG):
        return table
    destination = tags.get(TRACE_DESTINATION_TAG)
    return f"{destination}{SPANS_SUFFIX}" if destination and destination.count(".") == 2 else None


def choose_engine(
    engine: EngineChoice, trace_table: str | None, tracking_uri: str
) -> Literal["python", "spark", "databricks"]:
    if engine != "auto":
        if engine != "python" and not trace_table:
            raise InvalidArgumentError(
                f"The {engine} engine reads a span table: give trace_table (catalog.schema.prefix, or the directory "
                "export-span-table wrote)."
            )
        return engine
    if not trace_table:
        return "python"
    return "databricks" if tracking_uri.startswith("databricks") and not Path(trace_table).is_dir() else "spark"


def analyze_experiment(
    client: MlflowClient,
    *,
    engine: EngineChoice = "auto",
    trace_table: str | None = None,
    days: float | None = None,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_traces: int = MAX_TRACES,
    on_progress: Callable[[int, int | None], None] | None = None,
    claude: ClaudeSession | None = None,
) -> TraceAnalysis:
    """The analysis on the engine chosen (see the module's docstring); `days` bounds the SQL engines' window
    (default: the last week), `filter_string` and `max_traces` the Python engine's."""
    if engine == "auto" and not trace_table and (experiment_id or experiment_name):
        experiment = resolve_experiment(client, experiment_id, experiment_name)
        if table := uc_spans_table(experiment):
            engine, trace_table = "databricks", table
    chosen = choose_engine(engine, trace_table, client.tracking_uri)
    if chosen == "python":
        return analyze_traces(
            client,
            experiment_id=experiment_id,
            experiment_name=experiment_name,
            filter_string=filter_string,
            max_traces=max_traces,
            on_progress=on_progress,
            claude=claude,
        )
    if filter_string:
        raise InvalidArgumentError(
            "filter_string is read by the python engine; the span table is narrowed by days instead (leave "
            "filter_string out, or use engine='python')."
        )
    assert trace_table is not None  # choose_engine refuses a SQL engine without a table
    analysis = analyze_trace_table(
        client,
        trace_table=trace_table,
        engine=chosen,
        days=DEFAULT_DAYS if days is None else days,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        on_progress=on_progress,
    )
    if claude is not None and analysis.experiment_id:
        from mlflow_eval_mcp.analysis.claude_reading import add_claude_reading

        add_claude_reading(client, analysis, claude)
    return analysis


def analyze_trace_table(
    client: MlflowClient,
    *,
    trace_table: str,
    engine: Literal["spark", "databricks"],
    days: float | None,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> TraceAnalysis:
    """SQL over `trace_table` on `engine`; with an experiment, the analysis belongs to it (its traces are the
    ones the table holds, fetched by id when a dataset is made)."""
    experiment = (
        resolve_experiment(client, experiment_id, experiment_name) if experiment_id or experiment_name else None
    )
    runner, table = open_table(trace_table, engine)
    try:
        analysis = analyze_span_table(
            runner,
            table,
            days=days,
            experiment_id=experiment.experiment_id if experiment else "",
            experiment_name=experiment.name if experiment else "",
            tracking_uri=redact_uri(client.tracking_uri),
            on_progress=on_progress,
        )
    finally:
        runner.close()
    analysis.trace_table = trace_table  # not the name the runner gave it
    if experiment is not None:
        analysis.ui_url = traces_url(client.tracking_uri, experiment.experiment_id)
    else:
        analysis.experiment_name = trace_table
    return analysis


def open_table(trace_table: str, engine: Literal["spark", "databricks"]) -> tuple[SqlRunner, str]:
    """The runner for `engine` and how its statements name the span table. A three-part UC name
    (`catalog.schema.prefix`) means its `<prefix>_otel_spans` table; a full table name is taken as it is."""
    if engine == "spark" and Path(trace_table).expanduser().is_dir():
        from mlflow_eval_mcp.warehouse.spark_runner import SparkRunner

        spark_runner = SparkRunner()
        return spark_runner, spark_runner.register_path(Path(trace_table).expanduser(), _LOCAL_VIEW)
    table = quoted_table(trace_table)
    if engine == "spark":
        from mlflow_eval_mcp.warehouse.spark_runner import SparkRunner

        return SparkRunner(), table
    from mlflow_eval_mcp.warehouse.databricks_sql import DatabricksSqlRunner

    return DatabricksSqlRunner(), table


def quoted_table(trace_table: str) -> str:
    """`trace_table` as a quoted SQL identifier: only names of letters, digits and underscores are taken, since
    a table name cannot be a statement parameter."""
    parts = trace_table.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise InvalidArgumentError(
            f"trace_table must be catalog.schema.prefix (letters, digits, underscores) or an exported table's "
            f"directory; got {trace_table[:200]!r}."
        )
    if len(parts) == 3 and not parts[2].endswith(SPANS_SUFFIX):
        parts[2] += SPANS_SUFFIX
    return ".".join(f"`{part}`" for part in parts)
