"""One SparkSession per test process: starting the JVM costs seconds, and Spark allows one context anyway."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from tests.conftest import DemoStore

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    pytest.importorskip("pyspark")
    from mlflow_eval_mcp.warehouse.spark_runner import local_spark

    return local_spark()


SAMPLED_IDS = 5


@dataclass(frozen=True)
class DemoTable:
    """The demo corpus exported as an OTel v2 span table, with the Python engine's analysis of the same traces."""

    path: Path
    store: DemoStore
    python: TraceAnalysis


@pytest.fixture(scope="session")
def demo_table(spark: SparkSession, demo_template: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> DemoTable:
    from mlflow_eval_mcp.analysis.engine import analyze_traces
    from mlflow_eval_mcp.warehouse.export import export_span_table

    client = MlflowClient(tracking_uri=demo_template.uri)
    exported = export_span_table(
        client, tmp_path_factory.mktemp("span-tables"), prefix="demo", experiment_id=demo_template.experiment_id
    )
    python = analyze_traces(client, experiment_id=demo_template.experiment_id)
    return DemoTable(Path(exported.path), demo_template, python)


@pytest.fixture(scope="session")
def demo_sql(spark: SparkSession, demo_table: DemoTable) -> TraceAnalysis:
    """The Spark engine's analysis of the whole demo table (its traces are weeks old: no time bound), bringing back
    SAMPLED_IDS trace ids per finding."""
    from mlflow_eval_mcp.analysis.sql_engine import analyze_span_table
    from mlflow_eval_mcp.warehouse.spark_runner import SparkRunner

    runner = SparkRunner(spark)
    try:
        return analyze_span_table(
            runner, runner.register_path(demo_table.path, "demo_otel_spans"), days=None, max_trace_ids=SAMPLED_IDS
        )
    finally:
        runner.close()
