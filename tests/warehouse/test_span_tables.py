"""The SQL engine over OTel v2 span tables: on local Spark, the Python engine's findings computed where the spans
are, with only aggregates and bounded samples brought back; the exporter's table; the Databricks engine over the
statement execution API (real databricks-sdk, real HTTP, statements run on local Spark); the tools over MCP. One
module, so that one test process builds the demo table and its analyses."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.analysis.sql_engine import analyze_span_table
from mlflow_eval_mcp.analysis.sql_statements import SQL_FINDING_KINDS
from mlflow_eval_mcp.analysis.table_analysis import analyze_trace_table
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.warehouse.export import export_span_table
from mlflow_eval_mcp.warehouse.spark_runner import SparkRunner
from tests.fake_databricks_sql import FakeDatabricksSql, fake_databricks_sql
from tests.warehouse.conftest import SAMPLED_IDS, DemoTable

TOKEN = "dapi-table-engines-0123456789abcdef"
NEWEST = 80
STAND_IN_PLANNING = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.constraintPropagation.enabled": "false",
}
WAREHOUSE_ID = "0123456789abcdef"
# The Databricks v2 span table's columns and types (docs.databricks.com, OpenTelemetry tables reference).
V2_COLUMNS = {
    "record_id": "string",
    "time": "timestamp",
    "date": "date",
    "service_name": "string",
    "trace_id": "string",
    "span_id": "string",
    "trace_state": "string",
    "parent_span_id": "string",
    "flags": "int",
    "name": "string",
    "kind": "string",
    "start_time_unix_nano": "bigint",
    "end_time_unix_nano": "bigint",
    "attributes": "variant",
    "dropped_attributes_count": "int",
    "events": "array<struct<time_unix_nano:bigint,name:string,attributes:variant,dropped_attributes_count:int>>",
    "dropped_events_count": "int",
    "links": "array<struct<trace_id:string,span_id:string,trace_state:string,attributes:variant,"
    "dropped_attributes_count:int,flags:int>>",
    "dropped_links_count": "int",
    "status": "struct<message:string,code:string>",
    "resource": "struct<attributes:variant,dropped_attributes_count:int>",
    "resource_schema_url": "string",
    "instrumentation_scope": "struct<name:string,version:string,attributes:variant,dropped_attributes_count:int>",
    "span_schema_url": "string",
}


@pytest.fixture
def databricks_env(spark, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeDatabricksSql]:
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    with fake_databricks_sql(spark, token=TOKEN) as fake:
        monkeypatch.setenv("DATABRICKS_HOST", fake.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
        monkeypatch.setenv("MLFLOW_TRACING_SQL_WAREHOUSE_ID", WAREHOUSE_ID)
        yield fake


def _by_id(analysis: TraceAnalysis, sampled: int | None = None) -> dict[str, tuple[int, list[str]]]:
    """Finding id -> (count, trace ids), the ids cut to the `sampled` first (the SQL engine's sample)."""
    return {f.id: (f.count, sorted(f.trace_ids)[:sampled]) for f in analysis.findings if f.kind in SQL_FINDING_KINDS}


def test_the_demo_findings_are_the_python_engines(demo_table: DemoTable, demo_sql: TraceAnalysis):
    assert {kind for kind in SQL_FINDING_KINDS if kind != "span_errors"} <= {
        f.kind for f in demo_table.python.findings
    }, "the demo plants every kind the SQL engine computes"
    assert _by_id(demo_sql) == _by_id(demo_table.python, SAMPLED_IDS)


def test_each_finding_brings_back_a_bounded_sample_of_its_traces(demo_sql: TraceAnalysis):
    assert all(len(f.trace_ids) == min(SAMPLED_IDS, f.count) for f in demo_sql.findings)
    assert any(f.count > SAMPLED_IDS for f in demo_sql.findings)


def test_the_demo_statistics_are_the_python_engines(demo_table: DemoTable, demo_sql: TraceAnalysis):
    python = demo_table.python
    assert demo_sql.overview.traces_analyzed == python.overview.traces_analyzed == 300
    assert demo_sql.overview.states == python.overview.states
    assert demo_sql.latency.trace_ms == python.latency.trace_ms
    assert demo_sql.latency.by_span_name == python.latency.by_span_name
    assert demo_sql.tokens.input_per_trace == python.tokens.input_per_trace
    assert {
        tool.name: (tool.calls, tool.exceptions, tool.error_outputs, tool.repeated_identical_calls)
        for tool in demo_sql.tools
    } == {
        tool.name: (tool.calls, tool.exceptions, tool.error_outputs, tool.repeated_identical_calls)
        for tool in python.tools
    }
    assert [(c.signature, c.count) for c in demo_sql.error_clusters[:5]] == [
        (c.signature, c.count) for c in python.error_clusters[:5]
    ]


def test_the_result_says_which_engine_and_how_little_came_back(demo_sql: TraceAnalysis):
    assert demo_sql.engine == "spark"
    assert demo_sql.bytes_returned is not None and demo_sql.bytes_returned < 100_000
    assert demo_sql.input_clusters, "requests are clustered from the bounded sample the warehouse returns"


def test_the_default_window_leaves_out_spans_older_than_a_week(spark, demo_table: DemoTable):
    runner = SparkRunner(spark)
    try:
        recent = analyze_span_table(runner, runner.register_path(demo_table.path, "demo_recent_spans"))
    finally:
        runner.close()
    assert (recent.days, recent.overview.traces_analyzed, recent.findings) == (7, 0, [])


@pytest.mark.parametrize("days", [0, -1, 4000])
def test_a_window_out_of_range_is_refused_in_one_sentence(spark, days):
    from mlflow_eval_mcp.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="days must be between 0 and 3650"):
        analyze_span_table(SparkRunner(spark), "unused", days=days)


def test_the_export_has_the_v2_span_tables_columns(spark, demo_table: DemoTable):
    schema = spark.read.parquet(str(demo_table.path)).schema
    assert {field.name: field.dataType.simpleString() for field in schema.fields} == V2_COLUMNS
    assert list(V2_COLUMNS) == [field.name for field in schema.fields]


def test_exporting_again_replaces_the_table_whole(spark, demo_store, tmp_path: Path):
    client = MlflowClient(tracking_uri=demo_store.uri)
    out = tmp_path / "tables"
    first = export_span_table(client, out, prefix="again", experiment_id=demo_store.experiment_id, max_traces=40)
    second = export_span_table(client, out, prefix="again", experiment_id=demo_store.experiment_id, max_traces=40)
    assert (first.traces, first.spans) == (second.traces, second.spans) == (40, first.spans)
    assert sorted(path.name for path in out.iterdir()) == ["again_otel_spans"]
    assert spark.read.parquet(second.path).count() == second.spans


def test_the_databricks_engine_finds_what_the_python_engine_finds(
    spark, demo_store, tmp_path: Path, databricks_env: FakeDatabricksSql, request
):
    # The newest 80 demo traces: each warehouse statement repeats the span facts as subqueries, so a small table.
    client = MlflowClient(tracking_uri=demo_store.uri)
    exported = export_span_table(
        client, tmp_path, prefix="newest", experiment_id=demo_store.experiment_id, max_traces=NEWEST
    )
    spark.sql("DROP TABLE IF EXISTS spark_catalog.default.newest_otel_spans")
    spark.sql(f"CREATE TABLE spark_catalog.default.newest_otel_spans USING parquet LOCATION '{exported.path}'")
    # A warehouse plans each statement anew, the shared relations inlined: the local stand-in would spend minutes
    # compiling their large expressions and planning work for 80 traces, so it interprets them, on one shuffle
    # partition, without adaptive execution or constraint inference (the results are the same).
    for key, value in STAND_IN_PLANNING.items():
        spark.conf.set(key, value)
    request.addfinalizer(lambda: [spark.conf.unset(key) for key in STAND_IN_PLANNING])
    analysis = analyze_trace_table(
        client,
        trace_table="spark_catalog.default.newest",
        engine="databricks",
        days=3650,
        experiment_id=demo_store.experiment_id,
    )
    python = analyze_traces(client, experiment_id=demo_store.experiment_id, max_traces=NEWEST)
    assert analysis.engine == "databricks"
    assert _by_id(analysis) == _by_id(python) != {}
    received = databricks_env.received
    assert all(
        {"name": "since", "type": "TIMESTAMP"}.items() <= parameter.items()
        for statement in received
        for parameter in statement.parameters
        if parameter["name"] == "since"
    )
    assert all(":since" in statement.statement for statement in received if "newest_otel_spans" in statement.statement)
    assert TOKEN not in json.dumps(analysis.model_dump(mode="json"))


@pytest.mark.anyio
async def test_analyze_traces_runs_sql_on_an_exported_table_over_mcp(demo_table: DemoTable, demo_sql, tmp_path):
    settings = demo_table.store.settings().model_copy(update={"workspace": tmp_path})
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "analyze_traces",
            {
                "experiment_id": demo_table.store.experiment_id,
                "trace_table": str(demo_table.path),
                "days": 3650,
                "tracking_uri": demo_table.store.uri,
            },
        )
    assert not result.is_error, result.content[0].text
    text = result.content[0].text
    assert f"span table {demo_table.path} with SQL on spark" in text
    summary = result.structured_content
    assert summary["engine"] == "spark"
    assert {f["id"]: f["count"] for f in summary["findings"]} == {
        f.id: f.count for f in demo_sql.findings[: len(summary["findings"])]
    }


@pytest.mark.anyio
async def test_a_trace_table_that_is_no_name_is_refused_in_one_sentence(demo_table: DemoTable, tmp_path):
    settings = demo_table.store.settings().model_copy(update={"workspace": tmp_path})
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "analyze_traces",
            {
                "experiment_id": demo_table.store.experiment_id,
                "trace_table": "main.traces.x; DROP TABLE y",
                "tracking_uri": demo_table.store.uri,
            },
        )
    assert result.is_error
    message = result.content[0].text
    assert "trace_table must be catalog.schema.prefix" in message and message.count("\n") == 0


def test_a_sql_engine_without_a_table_is_refused(demo_table: DemoTable):
    from mlflow_eval_mcp.analysis.table_analysis import analyze_experiment
    from mlflow_eval_mcp.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="give trace_table"):
        analyze_experiment(
            MlflowClient(tracking_uri=demo_table.store.uri),
            engine="spark",
            experiment_id=demo_table.store.experiment_id,
        )


def test_a_unity_catalog_experiment_is_analysed_on_its_span_table(demo_store):
    from mlflow_eval_mcp.analysis.table_analysis import uc_spans_table

    client = MlflowClient(tracking_uri=demo_store.uri)
    client.set_experiment_tag(
        demo_store.experiment_id, "mlflow.experiment.databricksTraceDestinationPath", "main.agents.support"
    )
    assert uc_spans_table(client.get_experiment(demo_store.experiment_id)) == "main.agents.support_otel_spans"


def test_spark_runner_reads_a_directory_as_a_view(spark, demo_table: DemoTable):
    runner = SparkRunner(spark)
    view = runner.register_path(demo_table.path, "directory_view")
    assert runner.rows(f"SELECT count(DISTINCT trace_id) AS n FROM {view}", {}) == [{"n": 300}]


def test_two_analyses_in_one_spark_session_keep_their_own_relations(spark, demo_table: DemoTable):
    first, second = SparkRunner(spark), SparkRunner(spark)
    assert first.register_path(demo_table.path, "spans") != second.register_path(demo_table.path, "spans")
    mine = first.relation("SELECT 1 AS owner", {}, "eval_traces")
    theirs = second.relation("SELECT 2 AS owner", {}, "eval_traces")
    first.close()
    assert second.rows(f"SELECT owner FROM {theirs}", {}) == [{"owner": 2}]
    assert not spark.catalog.tableExists(mine)
    second.close()


# What the SQL engine finds of the Python engine's findings on the traces the real SDKs wrote under MLflow's
# autolog: the rest are shapes only the Python reading knows (see README, "Analysis at warehouse scale").
STRUCTURAL = {"trace_errors", "tool_exceptions", "span_errors", "latency_outliers"}
FOUND_AT_LEAST = {
    "empty_responses": 12,
    "refusals": 13,
    "truncated_responses": 8,
    "tool_error_outputs": 15,
    "token_outliers": 10,
}


def test_on_traces_real_sdks_wrote_sql_finds_only_what_python_finds(spark, store_uri, tmp_path: Path):
    from mlflow_eval_mcp.importing.importer import import_traces
    from tests.test_autolog_fixtures import FIXTURES

    client = MlflowClient(tracking_uri=store_uri)
    records = [
        record["trace"]
        for path in sorted(FIXTURES.glob("*.json"))
        for record in json.loads(path.read_text(encoding="utf-8"))["traces"]
    ]
    exported_traces = tmp_path / "autolog.jsonl"
    exported_traces.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    imported = import_traces(
        client, exported_traces, experiment_name="autolog", artifacts_dir=tmp_path / "artifacts", format_name="mlflow"
    )
    assert (imported.imported, imported.skipped) == (len(records), 0)
    experiment_id = client.get_experiment_by_name("autolog").experiment_id
    python = analyze_traces(client, experiment_id=experiment_id)
    table = export_span_table(client, tmp_path / "tables", prefix="autolog", experiment_id=experiment_id)
    runner = SparkRunner(spark)
    try:
        sql = analyze_span_table(runner, runner.register_path(Path(table.path), "autolog_otel_spans"), days=None)
    finally:
        runner.close()
    python_findings = {f.id: f for f in python.findings if f.kind in SQL_FINDING_KINDS}
    for finding in sql.findings:
        assert set(finding.trace_ids) <= set(python_findings[finding.id].trace_ids), finding.id
        if finding.kind in STRUCTURAL:
            assert finding.count == python_findings[finding.id].count, finding.id
    for finding in python_findings.values():
        if finding.kind in STRUCTURAL:
            assert finding.id in {f.id for f in sql.findings}, finding.id
    found = {f.kind: f.count for f in sql.findings}
    assert {kind: found.get(kind, 0) >= least for kind, least in FOUND_AT_LEAST.items()} == dict.fromkeys(
        FOUND_AT_LEAST, True
    )
