"""DatabricksSqlRunner with the real databricks-sdk over real HTTP, against a fake statement execution API
that runs the statements on the local SparkSession."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient

from mlflow_eval_mcp.cancellation import cancellable
from mlflow_eval_mcp.errors import ConfigurationError
from mlflow_eval_mcp.warehouse.databricks_sql import WAREHOUSE_ENV, DatabricksSqlRunner, WarehouseError
from mlflow_eval_mcp.warehouse.spark_runner import SparkRunner
from mlflow_eval_mcp.warehouse.sql_runner import Dialect
from tests.fake_databricks_sql import FakeDatabricksSql, fake_databricks_sql

TOKEN = "dapi0123456789abcdef0123456789abcdef"
WAREHOUSE_ID = "abcdef0123456789"
SPANS = "databricks_sql_test_spans"
DATABRICKS = Dialect("databricks")


def typed(key: str, sql_type: str) -> str:
    """A typed read of an attribute, spelled as both SQLs read it (as the analysis' struct casts are)."""
    return f"try_variant_get(attributes, '$.{key}', '{sql_type}')"


class ClientCancelled(Exception):
    """What the server's cancellation check raises when the MCP client cancels the call."""


@pytest.fixture(autouse=True)
def no_databricks_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # databricks-sdk reads every DATABRICKS_* variable and ~/.databrickscfg: none of the developer's may leak in.
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.delenv(WAREHOUSE_ENV, raising=False)


@pytest.fixture(scope="module")
def spans(spark) -> str:
    spark.sql(
        """
        SELECT * FROM VALUES
          ('t1', 's1', 'chat', 100L, timestamp'2025-03-01 10:00:00', array('rag', 'prod'),
           parse_json('{"tokens": 120, "cost": 0.25, "cached": true, "messages": [{"role": "user"}]}')),
          ('t1', 's2', 'search', 200L, timestamp'2025-03-01 10:00:01', array(),
           parse_json('{"tokens": 7, "cost": 0.5, "cached": false}')),
          ('t2', 's3', 'chat', 300L, timestamp'2025-03-02 09:00:00', array('prod'),
           parse_json('{"cost": 1.5}'))
        AS spans(trace_id, span_id, name, start_time_unix_nano, time, tags, attributes)
        """
    ).createOrReplaceTempView(SPANS)
    return SPANS


@pytest.fixture
def fake(spark) -> Iterator[FakeDatabricksSql]:
    with fake_databricks_sql(spark, token=TOKEN) as fake:
        yield fake


def runner_for(fake: FakeDatabricksSql, **options) -> DatabricksSqlRunner:
    return DatabricksSqlRunner(WorkspaceClient(host=fake.url, token=TOKEN), WAREHOUSE_ID, **options)


def test_rows_are_typed_by_the_result_manifest(fake, spans):
    sql = (
        f"SELECT trace_id, {typed('tokens', 'bigint')} AS tokens,"
        f" {typed('cost', 'double')} AS cost,"
        f" {typed('cached', 'boolean')} AS cached,"
        f" {DATABRICKS.variant('attributes', 'messages')} AS messages, tags, time"
        f" FROM {spans} WHERE span_id = 's1'"
    )

    assert runner_for(fake).rows(sql, {}) == [
        {
            "trace_id": "t1",
            "tokens": 120,
            "cost": 0.25,
            "cached": True,
            "messages": '[{"role":"user"}]',
            "tags": ["rag", "prod"],
            "time": datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        }
    ]


def test_absent_variant_fields_are_null(fake, spans):
    sql = f"SELECT {typed('tokens', 'bigint')} AS tokens FROM {spans} WHERE span_id = 's3'"

    assert runner_for(fake).rows(sql, {}) == [{"tokens": None}]


def test_a_statement_reads_the_same_through_either_dialect(fake, spans, spark):
    def statement(dialect: Dialect) -> str:
        return (
            f"SELECT span_id, {typed('tokens', 'bigint')} AS tokens,"
            f" {typed('cached', 'boolean')} AS cached,"
            f" {dialect.variant('attributes', 'messages')} AS messages, tags"
            f" FROM {spans} ORDER BY span_id"
        )

    assert runner_for(fake).rows(statement(DATABRICKS), {}) == SparkRunner(spark).rows(statement(Dialect("spark")), {})


def test_parameters_are_sent_typed_and_never_spliced_into_the_statement(fake, spans):
    sql = (
        f"SELECT span_id FROM {spans} WHERE trace_id = :trace AND start_time_unix_nano >= :since"
        f" AND {typed('cost', 'double')} < :max_cost"
        f" AND {typed('cached', 'boolean')} = :cached"
        " AND time >= :after AND :nothing IS NULL"
    )
    params = {
        "trace": "t1",
        "since": 150,
        "max_cost": 0.75,
        "cached": False,
        "after": datetime(2025, 3, 1, 10, 0, 1, tzinfo=UTC),
        "nothing": None,
    }

    assert runner_for(fake).rows(sql, params) == [{"span_id": "s2"}]
    assert fake.received[-1].statement == sql
    assert fake.received[-1].parameters == [
        {"name": "trace", "value": "t1", "type": "STRING"},
        {"name": "since", "value": "150", "type": "BIGINT"},
        {"name": "max_cost", "value": "0.75", "type": "DOUBLE"},
        {"name": "cached", "value": "false", "type": "BOOLEAN"},
        {"name": "after", "value": "2025-03-01T10:00:01+00:00", "type": "TIMESTAMP"},
        {"name": "nothing"},
    ]


def test_every_api_call_carries_the_bearer_token(fake):
    runner_for(fake).rows("SELECT 1 AS one", {})

    assert fake.api_authorizations
    assert set(fake.api_authorizations) == {f"Bearer {TOKEN}"}


def test_rows_follow_every_chunk(fake):
    fake.chunk_rows = 2

    rows = runner_for(fake).rows("SELECT id FROM range(7) ORDER BY id", {})

    assert rows == [{"id": index} for index in range(7)]


def test_a_statement_is_awaited_on_the_warehouse_then_left_running(fake):
    runner_for(fake).rows("SELECT 1 AS one", {})

    received = fake.received[-1]
    assert (received.disposition, received.format, received.wait_timeout, received.on_wait_timeout) == (
        "INLINE",
        "JSON_ARRAY",
        "30s",
        "CONTINUE",
    )


def test_a_slow_statement_is_polled_until_it_succeeds(fake):
    fake.delay_seconds = 1.0

    rows = runner_for(fake, wait_timeout_seconds=0).rows("SELECT 42 AS answer", {})

    assert rows == [{"answer": 42}]
    assert fake.received[-1].wait_timeout == "0s"


def test_a_statement_past_the_deadline_is_cancelled(fake):
    fake.delay_seconds = 30.0
    runner = runner_for(fake, timeout_seconds=0.5)
    started = time.monotonic()

    with pytest.raises(WarehouseError) as caught:
        runner.rows("SELECT 1 AS one", {})

    assert time.monotonic() - started < 5
    assert len(fake.cancelled) == 1
    assert "0.5 seconds" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_cancelled_call_cancels_its_statement(fake):
    fake.delay_seconds = 30.0

    def check() -> None:
        if fake.received:
            raise ClientCancelled

    with cancellable(check), pytest.raises(ClientCancelled):
        runner_for(fake, wait_timeout_seconds=0).rows("SELECT 1 AS one", {})

    assert len(fake.cancelled) == 1


def test_close_cancels_a_running_statement(fake):
    fake.delay_seconds = 30.0
    runner = runner_for(fake, wait_timeout_seconds=0)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            runner.rows("SELECT 1 AS one", {})
        except WarehouseError as error:
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    while not fake.received:
        time.sleep(0.02)
    runner.close()
    thread.join(timeout=10)

    assert len(fake.cancelled) == 1
    assert len(failures) == 1
    assert "cancelled" in str(failures[0])


def test_a_failed_statement_is_one_sentence_without_the_token(fake, spans):
    # The warehouse's message quotes the statement, which here quotes the token.
    with pytest.raises(WarehouseError) as caught:
        runner_for(fake).rows(f"SELECT `{TOKEN}` FROM {spans}", {})

    message = str(caught.value)
    assert "UNRESOLVED_COLUMN" in message
    assert "\n" not in message
    assert TOKEN not in message


def test_the_token_is_in_no_log(fake, caplog):
    caplog.set_level(logging.DEBUG)

    runner_for(fake, wait_timeout_seconds=0).rows("SELECT 1 AS one", {})

    assert "POST /api/2.0/sql/statements" in caplog.text
    assert TOKEN not in caplog.text


def test_sample_downloads_external_links_without_the_token(fake, spans):
    fake.chunk_rows = 2
    sql = f"SELECT span_id, tags, time, attributes FROM {spans} ORDER BY span_id"

    rows = runner_for(fake).sample(sql, {})

    assert [(row["span_id"], row["tags"]) for row in rows] == [("s1", ["rag", "prod"]), ("s2", []), ("s3", ["prod"])]
    assert rows[2]["attributes"] == '{"cost":1.5}'
    assert rows[2]["time"] == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert (fake.received[-1].disposition, fake.received[-1].format) == ("EXTERNAL_LINKS", "ARROW_STREAM")
    assert len(fake.download_headers) == 2
    assert not [headers for headers in fake.download_headers if "authorization" in headers]


def test_a_result_over_the_inline_limit_is_fetched_again_by_external_links(fake):
    fake.inline_byte_limit = 100

    rows = runner_for(fake).rows("SELECT id FROM range(50) ORDER BY id", {})

    assert rows == [{"id": index} for index in range(50)]
    assert [received.disposition for received in fake.received] == ["INLINE", "EXTERNAL_LINKS"]


def test_a_missing_warehouse_id_names_the_variable_to_set(fake):
    with pytest.raises(ConfigurationError, match=WAREHOUSE_ENV):
        DatabricksSqlRunner(WorkspaceClient(host=fake.url, token=TOKEN))


def test_the_warehouse_id_comes_from_the_environment(fake, monkeypatch):
    monkeypatch.setenv(WAREHOUSE_ENV, WAREHOUSE_ID)

    assert DatabricksSqlRunner(WorkspaceClient(host=fake.url, token=TOKEN)).warehouse_id == WAREHOUSE_ID


def test_missing_credentials_name_the_variables_to_set():
    with pytest.raises(ConfigurationError, match="DATABRICKS_HOST and DATABRICKS_TOKEN"):
        DatabricksSqlRunner(warehouse_id=WAREHOUSE_ID)


def test_a_refused_token_is_a_configuration_error_without_the_token(fake):
    runner = DatabricksSqlRunner(WorkspaceClient(host=fake.url, token=TOKEN + "0"), WAREHOUSE_ID)

    with pytest.raises(ConfigurationError, match="DATABRICKS_TOKEN") as caught:
        runner.rows("SELECT 1 AS one", {})

    assert TOKEN not in str(caught.value)


def test_a_relation_is_defined_again_in_each_later_statement_with_its_parameters(fake):
    runner = runner_for(fake)
    ones = runner.relation("SELECT :one AS one", {"one": 1}, "ones")
    twos = runner.relation(f"SELECT one + one AS two FROM {ones}", {}, "twos")
    rows = runner.rows(f"WITH threes AS (SELECT two + :one AS three FROM {twos}) SELECT three FROM threes", {"one": 1})
    assert rows == [{"three": 3}]
    sent = fake.received[-1]
    assert sent.statement.startswith("WITH ones AS (SELECT :one AS one),\ntwos AS (")
    assert [parameter["name"] for parameter in sent.parameters] == ["one"]
