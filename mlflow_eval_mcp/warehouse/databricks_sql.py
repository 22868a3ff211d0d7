"""The SQL analysis on a Databricks SQL warehouse, through databricks-sdk's statement execution API.

Each statement stands alone: it is submitted with its named parameters, awaited for up to `wait_timeout`
seconds, then polled until it ends; past the deadline, or when the caller cancels, it is cancelled on the
warehouse too. Results come INLINE as JSON arrays of strings, typed here by the result manifest; a result
over INLINE's 25 MiB cap comes again as EXTERNAL_LINKS to Arrow streams, which are downloaded from their
presigned URLs without the workspace's credentials."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pyarrow.ipc
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, PermissionDenied, Unauthenticated
from databricks.sdk.service.sql import (
    ColumnInfo,
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    ExternalLink,
    Format,
    ResultData,
    ResultManifest,
    StatementParameterListItem,
    StatementResponse,
    StatementState,
)

from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.errors import ConfigurationError, MlflowEvalError, TrackingUnavailableError, clip
from mlflow_eval_mcp.secrets import REDACTED, scrub
from mlflow_eval_mcp.warehouse.sql_runner import Dialect, SqlValue, used_parameters

logger = logging.getLogger(__name__)

WAREHOUSE_ENV = "MLFLOW_TRACING_SQL_WAREHOUSE_ID"
DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_WAIT_TIMEOUT_SECONDS = 30
"""How long `execute_statement` holds the request before the statement is polled instead (the API allows
0, which returns at once, or 5 to 50 seconds)."""
FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 2.0
DOWNLOAD_TIMEOUT_SECONDS = 60.0

_UNFINISHED = (StatementState.PENDING, StatementState.RUNNING)
# What a warehouse says when an INLINE result passes 25 MiB ("Inline byte limit exceeded. Statements executed
# with disposition=INLINE can have a result size of at most 26214400 bytes. ...").
_INLINE_LIMIT = "inline byte limit"
# Both spellings of each type: the SDK's `type_name` enum (LONG, SHORT, BYTE) and the SQL one in `type_text`.
_INTEGERS = frozenset({"INT", "INTEGER", "BIGINT", "LONG", "SMALLINT", "SHORT", "TINYINT", "BYTE"})
_FRACTIONS = frozenset({"DOUBLE", "FLOAT", "REAL", "DECIMAL", "DEC", "NUMERIC"})
_NESTED = frozenset({"ARRAY", "MAP", "STRUCT"})
_TYPE_WORD = re.compile(r"[A-Za-z_]+")
_LEADING_WITH = re.compile(r"\s*WITH\s+", re.IGNORECASE)

T = TypeVar("T")


class WarehouseError(MlflowEvalError):
    """The SQL warehouse failed a statement, cancelled it, or did not finish it in time."""


class _InlineLimitExceeded(Exception):
    """The result is too large for INLINE: the statement is run again with EXTERNAL_LINKS."""


class DatabricksSqlRunner:
    """Statements run on a Databricks SQL warehouse, authenticated by databricks-sdk's unified auth
    (DATABRICKS_HOST and DATABRICKS_TOKEN, or the profile DATABRICKS_CONFIG_PROFILE names)."""

    dialect = Dialect("databricks")

    def __init__(
        self,
        client: WorkspaceClient | None = None,
        warehouse_id: str | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        wait_timeout_seconds: int = DEFAULT_WAIT_TIMEOUT_SECONDS,
    ) -> None:
        if wait_timeout_seconds != 0 and not 5 <= wait_timeout_seconds <= 50:
            raise ValueError(f"wait_timeout_seconds is 0 or between 5 and 50, not {wait_timeout_seconds}")
        # The warehouse first: its message is the actionable one, and needs no round trip to the workspace.
        self.warehouse_id = warehouse_id or _warehouse_from_env()
        self.client = client or _workspace_client()
        self.timeout_seconds = timeout_seconds
        self.wait_timeout_seconds = wait_timeout_seconds
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._relations: dict[str, str] = {}

    def rows(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        """The result INLINE, or, when it passes INLINE's 25 MiB, from EXTERNAL_LINKS (within the same deadline)."""
        sql, params = self._standalone(sql, params)
        deadline = time.monotonic() + self.timeout_seconds
        try:
            response = self._run(sql, params, Disposition.INLINE, Format.JSON_ARRAY, deadline)
        except _InlineLimitExceeded:
            return self._linked_rows(sql, params, deadline)
        columns = _columns(response.manifest)
        return [
            {name: _from_text(value, sql_type) for (name, sql_type), value in zip(columns, values, strict=True)}
            for chunk in self._chunks(response, deadline)
            for values in chunk.data_array or []
        ]

    def sample(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        """`rows` for results that may be large: Arrow streams fetched from EXTERNAL_LINKS, whatever their size."""
        sql, params = self._standalone(sql, params)
        return self._linked_rows(sql, params, time.monotonic() + self.timeout_seconds)

    def relation(self, sql: str, params: Mapping[str, SqlValue], name: str) -> str:
        # Named once and defined as a CTE of each later statement: inlined as subqueries, the relations reading
        # relations multiplied the statement's text, and planning it took seconds per statement.
        self._relations[name] = sql
        return name

    def _standalone(self, sql: str, params: Mapping[str, SqlValue]) -> tuple[str, dict[str, SqlValue]]:
        """`sql` with the relations defined so far as its common table expressions, and the parameters it uses."""
        if self._relations:
            definitions = ",\n".join(f"{name} AS ({body})" for name, body in self._relations.items())
            own_with = _LEADING_WITH.match(sql)
            sql = f"WITH {definitions},\n{sql[own_with.end() :]}" if own_with else f"WITH {definitions}\n{sql}"
        return sql, used_parameters(sql, params)

    def close(self) -> None:
        with self._lock:
            running = list(self._running)
        for statement_id in running:
            self._cancel(statement_id)

    def _linked_rows(self, sql: str, params: Mapping[str, SqlValue], deadline: float) -> list[dict[str, Any]]:
        response = self._run(sql, params, Disposition.EXTERNAL_LINKS, Format.ARROW_STREAM, deadline)
        columns = _columns(response.manifest)
        rows: list[dict[str, Any]] = []
        for chunk in self._chunks(response, deadline):
            for link in chunk.external_links or []:
                table = pyarrow.ipc.open_stream(self._download(link, deadline)).read_all()
                values = [column.to_pylist(maps_as_pydicts="strict") for column in table.columns]
                rows.extend(
                    {name: _from_arrow(value, sql_type) for (name, sql_type), value in zip(columns, row, strict=True)}
                    for row in zip(*values, strict=True)
                )
        return rows

    def _run(
        self,
        sql: str,
        params: Mapping[str, SqlValue],
        disposition: Disposition,
        result_format: Format,
        deadline: float,
    ) -> StatementResponse:
        """The statement run to its end: SUCCEEDED, or an error saying why not."""
        raise_if_cancelled()
        response = self._call(
            lambda: self.client.statement_execution.execute_statement(
                statement=sql,
                warehouse_id=self.warehouse_id,
                parameters=[_parameter(name, value) for name, value in params.items()],
                disposition=disposition,
                format=result_format,
                wait_timeout=self._wait_timeout(deadline),
                on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
            )
        )
        statement_id = response.statement_id or ""
        with self._lock:
            self._running.add(statement_id)
        try:
            response = self._await(response, statement_id, deadline)
        finally:
            with self._lock:
                self._running.discard(statement_id)
        state = response.status.state if response.status else None
        if state == StatementState.SUCCEEDED:
            return response
        if state == StatementState.FAILED:
            error = response.status.error if response.status else None
            message = (error.message if error else None) or "no reason given"
            if disposition == Disposition.INLINE and _INLINE_LIMIT in message.lower():
                raise _InlineLimitExceeded
            raise WarehouseError(
                f"The SQL warehouse failed the statement ({self._clean(message)}); check the span table's name "
                "and that you may read it."
            )
        if state == StatementState.CANCELED:
            raise WarehouseError("The statement was cancelled on the SQL warehouse before it finished; run it again.")
        raise WarehouseError(f"The SQL warehouse ended the statement as {state.value if state else 'unknown'}.")

    def _await(self, response: StatementResponse, statement_id: str, deadline: float) -> StatementResponse:
        delay = FIRST_POLL_SECONDS
        while response.status and response.status.state in _UNFINISHED:
            self._checkpoint(deadline, statement_id)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(2 * delay, MAX_POLL_SECONDS)
            response = self._call(lambda: self.client.statement_execution.get_statement(statement_id))
        return response

    def _chunks(self, response: StatementResponse, deadline: float) -> Iterator[ResultData]:
        """The result's chunks: the first comes with the statement, the others by index."""
        chunk = response.result
        while chunk is not None:
            yield chunk
            next_index = _next_chunk_index(chunk)
            if next_index is None:
                return
            self._checkpoint(deadline, None)
            chunk = self._call(
                lambda index=next_index: self.client.statement_execution.get_statement_result_chunk_n(
                    response.statement_id or "", index
                )
            )

    def _checkpoint(self, deadline: float, running: str | None) -> None:
        """Stop when the caller cancelled or the deadline passed, cancelling the statement still `running`."""
        try:
            raise_if_cancelled()
        except BaseException:
            if running:
                self._cancel(running)
            raise
        if time.monotonic() >= deadline:
            if running:
                self._cancel(running)
            stopped = "the statement was cancelled" if running else "its result was not read to the end"
            raise WarehouseError(
                f"The SQL warehouse did not finish within {self.timeout_seconds:g} seconds, so {stopped}; narrow "
                "the analysis (a shorter time window, fewer traces) or allow more time."
            )

    def _cancel(self, statement_id: str) -> None:
        try:
            self.client.statement_execution.cancel_execution(statement_id)
        except (DatabricksError, requests.RequestException, TimeoutError) as error:
            # Best effort: the warehouse ends an abandoned statement itself; the caller's error matters more.
            logger.warning("Could not cancel statement %s: %s", statement_id, self._clean(str(error)))

    def _download(self, link: ExternalLink, deadline: float) -> bytes:
        # The URL is presigned: it carries its own credential, and the workspace token must not travel to the
        # cloud storage (nor may the URL appear in a message). Its `http_headers` are required, not credentials.
        request = urllib.request.Request(link.external_link or "", headers=dict(link.http_headers or {}))
        timeout = max(1.0, min(DOWNLOAD_TIMEOUT_SECONDS, deadline - time.monotonic()))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise WarehouseError(
                f"The cloud storage refused a result chunk of the SQL warehouse (HTTP {error.code}); run the "
                "analysis again, since the links expire after 15 minutes."
            ) from None
        except OSError as error:
            raise TrackingUnavailableError(
                f"A result chunk of the SQL warehouse could not be downloaded ({type(error).__name__}); check "
                "that this machine reaches the workspace's cloud storage."
            ) from None

    def _wait_timeout(self, deadline: float) -> str:
        # Never held past the deadline: a shorter wait than the API's minimum of 5 s becomes "return at once".
        seconds = min(self.wait_timeout_seconds, int(deadline - time.monotonic()))
        return f"{seconds if seconds >= 5 else 0}s"

    def _call(self, request: Callable[[], T]) -> T:
        """One request of the API, its failures in the library's terms."""
        try:
            return request()
        except (Unauthenticated, PermissionDenied) as error:
            raise ConfigurationError(
                f"Databricks refused the request ({self._clean(str(error))}); check DATABRICKS_TOKEN or the "
                f"profile's login, and that you may use SQL warehouse {self.warehouse_id!r}."
            ) from None
        except DatabricksError as error:
            raise WarehouseError(
                f"The Databricks SQL API refused the request ({self._clean(str(error))}); check that SQL "
                f"warehouse {self.warehouse_id!r} ({WAREHOUSE_ENV}) exists and is running."
            ) from None
        except (requests.RequestException, TimeoutError) as error:
            raise TrackingUnavailableError(
                f"The Databricks workspace could not be reached ({type(error).__name__}); check DATABRICKS_HOST "
                "and the network."
            ) from None

    def _clean(self, text: str) -> str:
        """`text` from the warehouse as part of one sentence: its first line, without credentials, clipped."""
        token = self.client.config.token
        if token:
            text = text.replace(token, REDACTED)
        lines = scrub(text.strip()).splitlines()
        return clip(lines[0].strip() if lines else "no details")


def _warehouse_from_env() -> str:
    warehouse_id = os.environ.get(WAREHOUSE_ENV, "").strip()
    if not warehouse_id:
        raise ConfigurationError(
            f"The Databricks SQL engine needs a SQL warehouse: set {WAREHOUSE_ENV} to its id (SQL Warehouses > "
            "the warehouse > Connection details in the workspace)."
        )
    return warehouse_id


def _workspace_client() -> WorkspaceClient:
    try:
        return WorkspaceClient()
    except ValueError:
        # The SDK's message lists the configuration it found; the remedy is the same whatever is missing.
        raise ConfigurationError(
            "The Databricks SQL engine needs Databricks credentials: set DATABRICKS_HOST and DATABRICKS_TOKEN, "
            "or DATABRICKS_CONFIG_PROFILE to a profile of ~/.databrickscfg (databricks auth login)."
        ) from None


def _parameter(name: str, value: SqlValue) -> StatementParameterListItem:
    """A named parameter as the API takes it: its value as text, and the SQL type the warehouse casts it to."""
    if value is None:
        return StatementParameterListItem(name=name)
    if isinstance(value, bool):
        return StatementParameterListItem(name=name, value=str(value).lower(), type="BOOLEAN")
    if isinstance(value, int):
        return StatementParameterListItem(name=name, value=str(value), type="BIGINT")
    if isinstance(value, float):
        return StatementParameterListItem(name=name, value=repr(value), type="DOUBLE")
    if isinstance(value, datetime):
        # A naive datetime is taken as UTC, the time zone of the span table's timestamps.
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return StatementParameterListItem(name=name, value=utc.isoformat(), type="TIMESTAMP")
    if isinstance(value, str):
        return StatementParameterListItem(name=name, value=value, type="STRING")
    raise TypeError(f"parameter {name!r} has a type the warehouse does not take: {type(value).__name__}")


def _columns(manifest: ResultManifest | None) -> list[tuple[str, str]]:
    """Each result column's name and base SQL type, in order."""
    columns = manifest.schema.columns if manifest and manifest.schema and manifest.schema.columns else []
    return [(column.name or "", _base_type(column)) for column in sorted(columns, key=lambda c: c.position or 0)]


def _base_type(column: ColumnInfo) -> str:
    # The SDK's `type_name` enum has no VARIANT (an unknown name parses as None); `type_text` spells every
    # type in SQL: BIGINT, ARRAY<STRING>, DECIMAL(10,2), VARIANT.
    if column.type_name is not None:
        return column.type_name.value
    word = _TYPE_WORD.match(column.type_text or "")
    return word.group(0).upper() if word else "STRING"


def _next_chunk_index(chunk: ResultData) -> int | None:
    # INLINE results say it on the chunk; EXTERNAL_LINKS results on each link.
    if chunk.next_chunk_index is not None:
        return chunk.next_chunk_index
    links = chunk.external_links or []
    return links[-1].next_chunk_index if links else None


def _from_text(text: str | None, sql_type: str) -> Any:
    """A JSON_ARRAY value (the text of any non-null value) as the Python value of its column's type."""
    if text is None:
        return None
    if sql_type in _INTEGERS:
        return int(text)
    if sql_type in _FRACTIONS:
        return float(text)
    if sql_type == "BOOLEAN":
        return text.lower() == "true"
    if sql_type in _NESTED:
        return json.loads(text)
    try:
        if sql_type == "TIMESTAMP":
            return _utc(datetime.fromisoformat(text))
        if sql_type == "DATE":
            return date.fromisoformat(text)
    except ValueError:
        return text  # a spelling fromisoformat does not read is still worth showing as it is
    return text  # STRING, and VARIANT as its JSON text


def _from_arrow(value: Any, sql_type: str) -> Any:
    """An Arrow value as `_from_text` types it: nested values and VARIANTs may come as JSON text."""
    if value is None or isinstance(value, str):
        return _from_text(value, sql_type)
    if sql_type in _FRACTIONS:
        return float(value)
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
