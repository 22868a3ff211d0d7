"""A local fake of Databricks' SQL statement execution API on 127.0.0.1 that runs the statements on a local
SparkSession, for `DatabricksSqlRunner` with the real databricks-sdk over real HTTP.

It serves the paths databricks-sdk's `StatementExecutionAPI` calls (databricks/sdk/service/sql.py):
`POST /api/2.0/sql/statements`, `GET /api/2.0/sql/statements/{id}`, `POST /api/2.0/sql/statements/{id}/cancel`
and `GET /api/2.0/sql/statements/{id}/result/chunks/{n}`, with the JSON fields of `StatementResponse`,
`ResultManifest` and `ResultData`. Like a warehouse it:

- runs each statement in the background, PENDING for `delay_seconds` before Spark runs it, and holds the
  submitting request up to its `wait_timeout` (then CONTINUEs, or CANCELs as `on_wait_timeout` says);
- binds the named parameters by their declared type (a value is text, cast to `type`; no type is STRING);
- answers INLINE + JSON_ARRAY with every value as text (or null) in chunks of `chunk_rows` rows, failing a
  result over `inline_byte_limit` with the warehouse's "Inline byte limit exceeded" message;
- answers EXTERNAL_LINKS + ARROW_STREAM with links to Arrow streams that it serves itself under /storage/,
  "presigned" (a signature in the query, and a header the link says to send);
- reports a statement Spark rejects as FAILED with Spark's message;
- cancels a statement still PENDING (one Spark already runs ends CANCELED, its result dropped).

Every statement received is recorded (text and parameters, so a test can see that no value was spliced
in), as are the Authorization header of every API call and the headers of every link download, and the ids
of the statements cancelled. A request without `Bearer <token>` gets a 401 as from a workspace.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pyarrow.ipc

from tests.local_http import send_json, serving

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

STATEMENTS_PATH = "/api/2.0/sql/statements"
HOST_METADATA_PATH = "/.well-known/databricks-config"
WORKSPACE_ID = "1234567890123456"
STORAGE_PATH = "/storage"
STORAGE_KEY_HEADER = "x-fake-storage-key"
DEFAULT_WAIT_TIMEOUT = "10s"  # the API's default when a request sets none
INLINE_BYTE_LIMIT = 25 * 1024 * 1024
INLINE_LIMIT_MESSAGE = (
    "Inline byte limit exceeded. Statements executed with disposition=INLINE can have a result size of at most "
    "{limit} bytes. Please execute the statement with disposition=EXTERNAL_LINKS if you want to download the "
    "full result."
)

# Open-source Spark 4 does not parse Databricks' `col:['key']` path syntax: what Dialect("databricks") writes is
# rewritten into the `try_variant_get` call Dialect("spark") writes for the same read (a warehouse runs the
# statement as it is; only this fake translates). Keys are constants without quotes (Dialect checks).
_VARIANT_PATH = re.compile(r"([\w.`]+):\['([^'\"\\]+)'\]")

_PARAMETER_TYPES: dict[str, Callable[[str], Any]] = {
    "STRING": str,
    "BIGINT": int,
    "INT": int,
    "SMALLINT": int,
    "TINYINT": int,
    "DOUBLE": float,
    "FLOAT": float,
    "BOOLEAN": lambda text: {"true": True, "false": False}[text.lower()],
    "TIMESTAMP": datetime.fromisoformat,
    "DATE": date.fromisoformat,
}


def spark_sql(statement: str) -> str:
    """`statement` with Databricks' variant paths spelled as open-source Spark reads them."""
    return _VARIANT_PATH.sub(lambda match: f"try_variant_get({match[1]}, '$[\"{match[2]}\"]', 'variant')", statement)


@dataclass(frozen=True)
class ReceivedStatement:
    """A statement as the API received it."""

    statement: str
    parameters: list[dict[str, Any]]
    disposition: str
    format: str
    wait_timeout: str
    on_wait_timeout: str


@dataclass
class _Statement:
    id: str
    request: ReceivedStatement
    state: str = "PENDING"
    error: dict[str, str] | None = None
    manifest: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)

    def response(self) -> dict[str, Any]:
        """The statement as `StatementResponse`: its manifest and first chunk once it SUCCEEDED."""
        status: dict[str, Any] = {"state": self.state}
        if self.error:
            status["error"] = self.error
        body: dict[str, Any] = {"statement_id": self.id, "status": status}
        if self.state == "SUCCEEDED":
            body["manifest"] = self.manifest
            if self.chunks:
                body["result"] = self.chunks[0]
        return body

    def end(self, state: str, error: dict[str, str] | None = None) -> None:
        self.state, self.error = state, error
        self.done.set()


class FakeDatabricksSql:
    def __init__(
        self,
        spark: SparkSession,
        *,
        token: str,
        chunk_rows: int = 1000,
        delay_seconds: float = 0.0,
        inline_byte_limit: int = INLINE_BYTE_LIMIT,
    ) -> None:
        self.spark = spark
        self.token = token
        self.chunk_rows = chunk_rows
        self.delay_seconds = delay_seconds
        self.inline_byte_limit = inline_byte_limit
        self.received: list[ReceivedStatement] = []
        self.api_authorizations: list[str | None] = []
        self.download_headers: list[dict[str, str]] = []
        self.cancelled: list[str] = []
        self._statements: dict[str, _Statement] = {}
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0].rstrip("/")
        if path.startswith(STORAGE_PATH + "/"):
            self._download(handler, path.removeprefix(STORAGE_PATH + "/"))
            return
        if path == HOST_METADATA_PATH:
            # What databricks-sdk asks a host first (Config._resolve_host_metadata), unauthenticated.
            send_json(handler, 200, {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": WORKSPACE_ID})
            return
        if not path.startswith(STATEMENTS_PATH):
            send_json(handler, 404, {"error_code": "NOT_FOUND", "message": f"the fake serves no {path}"})
            return
        authorization = handler.headers.get("Authorization")
        with self._lock:
            self.api_authorizations.append(authorization)
        if authorization != f"Bearer {self.token}":
            send_json(handler, 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
            return
        body = json.loads(handler.rfile.read(int(handler.headers.get("content-length", 0))) or b"{}")
        parts = path.removeprefix(STATEMENTS_PATH).strip("/").split("/")
        try:
            status, reply = self._route(method, parts, body)
        except Exception as error:  # a request this fake cannot serve, shown to the client as a bad request
            status, reply = 400, {"error_code": "BAD_REQUEST", "message": f"the fake cannot serve it: {error!r}"}
        send_json(handler, status, reply)

    def _route(self, method: str, parts: list[str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and parts == [""]:
            return 200, self._submit(body)
        statement = self._statements.get(parts[0])
        if statement is None:
            return 404, {"error_code": "NOT_FOUND", "message": f"no statement {parts[0]}"}
        if method == "GET" and len(parts) == 1:
            return 200, statement.response()
        if method == "POST" and parts[1:] == ["cancel"]:
            self._cancel(statement)
            return 200, {}
        if method == "GET" and parts[1:3] == ["result", "chunks"] and len(parts) == 4:
            index = int(parts[3])
            if statement.state != "SUCCEEDED" or index >= len(statement.chunks):
                return 404, {"error_code": "NOT_FOUND", "message": f"no chunk {index} of statement {statement.id}"}
            return 200, statement.chunks[index]
        return 404, {"error_code": "NOT_FOUND", "message": f"the fake serves no {method} {'/'.join(parts)}"}

    def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        request = ReceivedStatement(
            statement=body["statement"],
            parameters=body.get("parameters", []),
            disposition=body.get("disposition", "INLINE"),
            format=body.get("format", "JSON_ARRAY"),
            wait_timeout=body.get("wait_timeout", DEFAULT_WAIT_TIMEOUT),
            on_wait_timeout=body.get("on_wait_timeout", "CONTINUE"),
        )
        if (request.disposition, request.format) not in (("INLINE", "JSON_ARRAY"), ("EXTERNAL_LINKS", "ARROW_STREAM")):
            raise ValueError(f"{request.disposition} with {request.format} is not served")
        statement = _Statement(id=str(uuid.uuid4()), request=request)
        with self._lock:
            self.received.append(request)
            self._statements[statement.id] = statement
        threading.Thread(target=self._execute, args=(statement,), daemon=True).start()
        if not statement.done.wait(float(request.wait_timeout.removesuffix("s"))) and (
            request.on_wait_timeout == "CANCEL"
        ):
            self._cancel(statement)
            statement.done.wait()
        return statement.response()

    def _cancel(self, statement: _Statement) -> None:
        with self._lock:
            self.cancelled.append(statement.id)
        statement.cancel.set()

    def _execute(self, statement: _Statement) -> None:
        if statement.cancel.wait(self.delay_seconds):
            statement.end("CANCELED")
            return
        statement.state = "RUNNING"
        request = statement.request
        try:
            frame = self.spark.sql(spark_sql(request.statement), args=_bound(request.parameters))
            if request.disposition == "INLINE":
                manifest, chunks = self._inline(frame, statement.id)
            else:
                manifest, chunks = self._linked(frame, statement.id)
        except _InlineLimit:
            statement.end(
                "FAILED",
                {"error_code": "BAD_REQUEST", "message": INLINE_LIMIT_MESSAGE.format(limit=self.inline_byte_limit)},
            )
            return
        except Exception as error:  # what Spark rejects, as a warehouse reports it
            statement.end("FAILED", {"error_code": "BAD_REQUEST", "message": str(error)})
            return
        if statement.cancel.is_set():
            statement.end("CANCELED")
            return
        statement.manifest, statement.chunks = manifest, chunks
        statement.end("SUCCEEDED")

    def _inline(self, frame: DataFrame, statement_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from pyspark.sql import functions

        texts = frame.select(*[_as_text(functions.col(f"`{f.name}`"), f.dataType).alias(f.name) for f in frame.schema])
        rows = [list(row) for row in texts.collect()]
        if len(json.dumps(rows)) > self.inline_byte_limit:
            raise _InlineLimit
        spans = _chunk_spans(len(rows), self.chunk_rows)
        chunks = [
            {
                **_chunk_info(statement_id, index, offset, length, len(spans)),
                "data_array": rows[offset : offset + length],
            }
            for index, offset, length in spans
        ]
        return _manifest(frame, "JSON_ARRAY", chunks, len(rows)), chunks

    def _linked(self, frame: DataFrame, statement_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from pyspark.sql import functions

        # Spark writes a VARIANT to Arrow as its binary encoding; a warehouse sends its JSON text.
        table = frame.select(
            *[
                (
                    functions.to_json(functions.col(f"`{f.name}`"))
                    if _has_variant(f.dataType)
                    else functions.col(f"`{f.name}`")
                ).alias(f.name)
                for f in frame.schema
            ]
        ).toArrow()
        chunks = []
        expiration = (datetime.now(UTC) + timedelta(minutes=15)).isoformat()
        spans = _chunk_spans(table.num_rows, self.chunk_rows)
        for index, offset, length in spans:
            sink = io.BytesIO()
            with pyarrow.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table.slice(offset, length))
            name = f"{statement_id}/{index}"
            self._files[name] = sink.getvalue()
            link = {
                **_chunk_info(statement_id, index, offset, length, len(spans)),
                "byte_count": len(self._files[name]),
                "external_link": f"{self.url}{STORAGE_PATH}/{name}?X-Amz-Signature={uuid.uuid4().hex}",
                "expiration": expiration,
                "http_headers": {STORAGE_KEY_HEADER: statement_id},
            }
            chunks.append({"external_links": [link]})
        return _manifest(frame, "ARROW_STREAM", chunks, table.num_rows), chunks

    def _download(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        headers = {key.lower(): value for key, value in handler.headers.items()}
        with self._lock:
            self.download_headers.append(headers)
        payload = self._files.get(name)
        if payload is None or headers.get(STORAGE_KEY_HEADER) != name.split("/")[0]:
            send_json(handler, 403, {"error": "AccessDenied"})
            return
        handler.send_response(200)
        handler.send_header("content-type", "application/vnd.apache.arrow.stream")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


class _InlineLimit(Exception):
    pass


@contextmanager
def fake_databricks_sql(spark: SparkSession, *, token: str, **options: Any) -> Iterator[FakeDatabricksSql]:
    fake = FakeDatabricksSql(spark, token=token, **options)
    with serving(fake.server):
        yield fake


def _bound(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters as Spark binds them: each value converted by its declared type, as a warehouse casts it."""
    bound = {}
    for parameter in parameters:
        value = parameter.get("value")
        bound[parameter["name"]] = None if value is None else _PARAMETER_TYPES[parameter.get("type", "STRING")](value)
    return bound


def _as_text(column: Column, data_type: DataType) -> Column:
    """A column as JSON_ARRAY sends it: nested values and VARIANTs as JSON, timestamps in ISO 8601 UTC."""
    from pyspark.sql import functions
    from pyspark.sql.types import ArrayType, MapType, StructType, TimestampType, VariantType

    if isinstance(data_type, ArrayType | MapType | StructType | VariantType):
        return functions.to_json(column)
    if isinstance(data_type, TimestampType):
        return functions.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
    return column.cast("string")


def _has_variant(data_type: DataType) -> bool:
    from pyspark.sql.types import ArrayType, MapType, StructType, VariantType

    if isinstance(data_type, VariantType):
        return True
    if isinstance(data_type, ArrayType):
        return _has_variant(data_type.elementType)
    if isinstance(data_type, MapType):
        return _has_variant(data_type.keyType) or _has_variant(data_type.valueType)
    if isinstance(data_type, StructType):
        return any(_has_variant(f.dataType) for f in data_type.fields)
    return False


def _chunk_spans(total_rows: int, size: int) -> list[tuple[int, int, int]]:
    """(index, row offset, row count) of each chunk of at most `size` rows."""
    return [(index, offset, min(size, total_rows - offset)) for index, offset in enumerate(range(0, total_rows, size))]


def _chunk_info(statement_id: str, index: int, offset: int, rows: int, count: int) -> dict[str, Any]:
    """Where a chunk lies, and which follows it (on an INLINE chunk, or on an EXTERNAL_LINKS chunk's link)."""
    info: dict[str, Any] = {"chunk_index": index, "row_offset": offset, "row_count": rows}
    if index + 1 < count:
        info["next_chunk_index"] = index + 1
        info["next_chunk_internal_link"] = f"{STATEMENTS_PATH}/{statement_id}/result/chunks/{index + 1}"
    return info


def _manifest(frame: DataFrame, result_format: str, chunks: list[dict[str, Any]], total_rows: int) -> dict[str, Any]:
    columns = [
        {
            "name": f.name,
            "position": position,
            "type_name": _type_name(f.dataType),
            "type_text": f.dataType.simpleString().upper(),
        }
        for position, f in enumerate(frame.schema)
    ]
    infos = [chunk["external_links"][0] if "external_links" in chunk else chunk for chunk in chunks]
    return {
        "format": result_format,
        "schema": {"column_count": len(columns), "columns": columns},
        "total_chunk_count": len(chunks),
        "chunks": [{key: info[key] for key in ("chunk_index", "row_offset", "row_count")} for info in infos],
        "total_row_count": total_rows,
        "truncated": False,
    }


def _type_name(data_type: DataType) -> str:
    """The `type_name` a warehouse gives a column: Spark's type name in upper case, but INT and NULL."""
    name = data_type.typeName().upper()
    return {"INTEGER": "INT", "VOID": "NULL"}.get(name, name)
