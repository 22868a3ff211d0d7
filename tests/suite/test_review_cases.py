"""Edge cases a review found: traces without spans, interrupted writes, very deep trees,
odd content, leaked credentials, mistyped stores and misbehaving servers."""

import dataclasses
import http.server
import threading
import time

import pytest
from mcp import Client
from mlflow.entities import TraceInfo, TraceLocation, TraceState
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import ConfigurationError, InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, span_id_for, stable_trace_id, write_traces
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.traces import search_traces
from mlflow_eval_mcp.tracking import scrub
from tests.trace_factory import BASE_NS, MS, make_trace

pytestmark = pytest.mark.anyio


def _experiment(uri: str) -> str:
    return MlflowClient(tracking_uri=uri).create_experiment("edge")


def _start_without_spans(uri: str, experiment_id: str, trace_id: str, state: TraceState) -> None:
    store = MlflowClient(tracking_uri=uri)._tracking_client.store
    store.start_trace(
        TraceInfo(
            trace_id=trace_id,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=BASE_NS // MS,
            execution_duration=None,
            state=state,
        )
    )


def test_search_keeps_traces_whose_spans_are_not_stored(store_uri):
    experiment_id = _experiment(store_uri)
    write_traces(store_uri, experiment_id, [make_trace(1)])
    _start_without_spans(store_uri, experiment_id, stable_trace_id("running"), TraceState.IN_PROGRESS)
    result = search_traces(MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id)
    by_id = {trace.trace_id: trace for trace in result.traces}
    running = by_id[stable_trace_id("running")]
    assert (running.state, running.span_count) == ("IN_PROGRESS", None)
    assert "in progress" in running.spans_note
    assert by_id[make_trace(1).trace_id].span_count == 3


def test_in_progress_filter_finds_running_traces(store_uri):
    experiment_id = _experiment(store_uri)
    _start_without_spans(store_uri, experiment_id, stable_trace_id("running"), TraceState.IN_PROGRESS)
    result = search_traces(
        MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id, filter_string="trace.status = 'IN_PROGRESS'"
    )
    assert [trace.trace_id for trace in result.traces] == [stable_trace_id("running")]


def test_an_interrupted_write_is_repaired_not_skipped(store_uri):
    experiment_id = _experiment(store_uri)
    record = make_trace(1)
    _start_without_spans(store_uri, experiment_id, record.trace_id, TraceState.OK)  # as if killed mid-write
    report = write_traces(store_uri, experiment_id, [record])
    assert (report.written, report.skipped_existing, report.lost) == (1, 0, [])
    assert len(MlflowClient(tracking_uri=store_uri).get_trace(record.trace_id).data.spans) == 3


def _deep_trace(depth: int) -> TraceRecord:
    spans = [
        SpanRecord(
            span_id_for(level),
            span_id_for(level - 1) if level else None,
            f"level-{level}",
            "CHAIN",
            BASE_NS + level * MS,
            BASE_NS + (2 * depth - level) * MS,
        )
        for level in range(depth)
    ]
    return TraceRecord(stable_trace_id(f"deep-{depth}"), spans)


async def test_very_deep_traces_are_served(settings, store_uri):
    experiment_id = _experiment(store_uri)
    record = _deep_trace(300)
    write_traces(store_uri, experiment_id, [record])
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("get_trace", {"trace_id": record.trace_id})
    assert not result.is_error
    spans = result.structured_content["spans"]
    assert [span["depth"] for span in spans] == list(range(300))


async def test_odd_content_is_served(settings, store_uri):
    experiment_id = _experiment(store_uri)
    base = make_trace(1)
    llm = dataclasses.replace(
        base.spans[1],
        outputs={"text": "broken \ud800 surrogate, emoji \U0001f600, RTL \u202e"},
        attributes={
            "mlflow.llm.model": {"provider": "acme", "name": "m1"},
            "mlflow.chat.tokenUsage": {"input_tokens": 12.0, "output_tokens": "7", "total_tokens": None},
        },
    )
    record = dataclasses.replace(base, spans=[base.spans[0], llm, base.spans[2]])
    write_traces(store_uri, experiment_id, [record])
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("get_trace", {"trace_id": record.trace_id})
        page = await client.call_tool("search_traces", {"experiment_id": experiment_id})
    assert not result.is_error and not page.is_error
    llm_node = next(span for span in result.structured_content["spans"] if span["name"] == "generate_answer")
    assert "\U0001f600" in llm_node["outputs"]
    assert llm_node["token_usage"] == {"input_tokens": 12, "output_tokens": 7, "total_tokens": None}
    assert MlflowClient(tracking_uri=store_uri).get_trace(record.trace_id).info.token_usage["input_tokens"] == 12
    assert "acme" in llm_node["model"]


def test_credentials_are_scrubbed_from_any_url():
    text = "API request to http://alice:s3cret@127.0.0.1:5000/api failed; postgresql://u:pw@db/x"
    assert scrub(text) == "API request to http://127.0.0.1:5000/api failed; postgresql://db/x"


class _HealthyButBroken(http.server.BaseHTTPRequestHandler):
    """Answers its health check, then fails (503) or stalls on every API call."""

    stall_s = 0.0

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")
            return
        time.sleep(self.stall_s)
        self.send_response(503)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def test_server_errors_do_not_leak_credentials(settings):
    server = _serve(_HealthyButBroken)
    try:
        uri = f"http://alice:s3cret@127.0.0.1:{server.server_address[1]}"
        async with Client(create_server(settings)) as client:
            result = await client.call_tool("list_experiments", {"tracking_uri": uri})
    finally:
        server.shutdown()
    assert result.is_error
    assert "s3cret" not in result.content[0].text and "alice" not in result.content[0].text


async def test_a_stalling_server_is_bounded_by_the_http_timeout(settings, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    handler = type("Stalling", (_HealthyButBroken,), {"stall_s": 30.0})
    server = _serve(handler)
    try:
        started = time.monotonic()
        async with Client(create_server(settings)) as client:
            result = await client.call_tool(
                "list_experiments", {"tracking_uri": f"http://127.0.0.1:{server.server_address[1]}"}
            )
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    assert result.is_error
    assert elapsed < 15


async def test_a_mistyped_sqlite_path_is_an_error_not_a_new_store(settings, tmp_path):
    typo = tmp_path / "typo" / "mlfow.db"
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_experiments", {"tracking_uri": f"sqlite:///{typo}"})
    assert result.is_error and "No MLflow database" in result.content[0].text
    assert not typo.parent.exists()


def test_writers_may_create_a_new_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    assert Settings(workspace=tmp_path).check(uri, create_store=True) == uri
    with pytest.raises(ConfigurationError):
        Settings(workspace=tmp_path).check(uri)


def _timed_trace(index: int, duration_ms: int) -> TraceRecord:
    start = BASE_NS + index * 60_000 * MS
    root = SpanRecord(span_id_for(0), None, "agent", "AGENT", start, start + duration_ms * MS, {"i": index}, "ok")
    return TraceRecord(stable_trace_id(f"timed-{index}"), [root], tags={"rank": f"{index:02d}"})


def test_order_by_really_orders(store_uri):
    experiment_id = _experiment(store_uri)
    durations = [300, 50, 900, 120]
    write_traces(store_uri, experiment_id, [_timed_trace(i, d) for i, d in enumerate(durations)])
    client = MlflowClient(tracking_uri=store_uri)
    slowest = search_traces(client, experiment_id=experiment_id, order_by=["execution_time_ms DESC"])
    assert [t.duration_ms for t in slowest.traces] == sorted(durations, reverse=True)
    by_tag = search_traces(client, experiment_id=experiment_id, order_by=["tags.rank ASC"])
    assert [t.tags["rank"] for t in by_tag.traces] == ["00", "01", "02", "03"]


def test_order_by_a_field_that_crashes_mlflow_is_refused(store_uri):
    experiment_id = _experiment(store_uri)
    with pytest.raises(InvalidArgumentError, match="execution_time_ms"):
        search_traces(MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id, order_by=["end_time_ms DESC"])
