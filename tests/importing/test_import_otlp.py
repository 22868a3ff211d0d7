"""The OTLP parser against spans made by the OpenTelemetry SDK and exported as OTLP JSON."""

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from mlflow.tracking import MlflowClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import SYNTHETIC_ROOT
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.otlp import FORMAT
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records
from mlflow_eval_mcp.importing.trace_writer import WriteReport, write_traces
from tests.importing.store_import import fresh_store
from tests.realdata import DATA_DIR, realdata

QUESTION = {"messages": [{"role": "user", "content": "Weather in Oslo?"}]}
ANSWER = {"role": "assistant", "content": "I could not reach the weather service."}
TOOL_OUTPUT = "error: the weather service did not answer in 5s"
EXPECTED_TYPES = {
    "weather agent": "AGENT",
    "ChatOpenAI": "CHAT_MODEL",
    "get_weather": "TOOL",
    "chat gpt-4o": "CHAT_MODEL",
    "format answer": "UNKNOWN",
    "search docs": "RETRIEVER",
}


def _sdk_export() -> tuple[dict[str, Any], list[ReadableSpan]]:
    """Two traces from an instrumented agent, as the OTLP exporters would send them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("openinference.instrumentation.test")
    agent_attributes = {
        "openinference.span.kind": "AGENT",
        "input.value": json.dumps(QUESTION),
        "output.value": json.dumps(ANSWER),
        "user.id": "user-7",
        "session.id": "session-3",
        # A roll-up of the model calls below, as agent instrumentations record it.
        "llm.token_count.total": 95,
    }
    with tracer.start_as_current_span("weather agent", attributes=agent_attributes):
        llm_attributes = {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 50,
            "llm.token_count.completion": 10,
            "llm.token_count.total": 60,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "Weather in Oslo?",
            "input.value": json.dumps(QUESTION),
            "output.value": json.dumps({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}),
        }
        with tracer.start_as_current_span("ChatOpenAI", attributes=llm_attributes):
            pass
        tool_attributes = {
            "openinference.span.kind": "TOOL",
            "input.value": '{"city": "Oslo"}',
            "tool.name": "get_weather",
        }
        with tracer.start_as_current_span("get_weather", attributes=tool_attributes) as tool:
            tool.set_attribute("output.value", TOOL_OUTPUT)
            try:
                raise TimeoutError("the weather service did not answer in 5s")
            except TimeoutError as error:
                tool.record_exception(error)
                tool.set_status(Status(StatusCode.ERROR, f"TimeoutError: {error}"))
        genai_attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
        }
        with tracer.start_as_current_span("chat gpt-4o", attributes=genai_attributes):
            pass
        plain_attributes = {
            "input.value": '{"looks": "like JSON"}',
            "input.mime_type": "text/plain",
            "retry.delays_ms": [100, 200],
            "retry.count": 2,
            "cache.hit": False,
            "cache.ratio": 0.25,
        }
        with tracer.start_as_current_span("format answer", attributes=plain_attributes):
            pass
    with tracer.start_as_current_span("search docs", attributes={"openinference.span.kind": "RETRIEVER"}):
        pass
    provider.shutdown()
    spans = list(exporter.get_finished_spans())
    return MessageToDict(encode_spans(spans)), spans


@dataclass(frozen=True)
class Imported:
    uri: str
    export: dict[str, Any]
    sdk_spans: list[ReadableSpan]
    results: list[ImportedTrace | Skipped]
    report: WriteReport

    def trace_of(self, span_name: str) -> Any:
        sdk_span = next(span for span in self.sdk_spans if span.name == span_name)
        source_id = f"{sdk_span.context.trace_id:032x}"
        result = next(result for result in self.results if result.source_id == source_id)
        return MlflowClient(tracking_uri=self.uri).get_trace(result.record.trace_id)

    def stored_span(self, name: str) -> Any:
        return next(span for span in self.trace_of(name).data.spans if span.name == name)


@pytest.fixture(scope="module")
def imported(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """The SDK export imported once into a private copy of the migrated store."""
    uri, experiment_id = fresh_store(template_db, tmp_path_factory, "otlp")
    export, sdk_spans = _sdk_export()
    results = _parse(export, experiment_id)
    records = [result.record for result in results if isinstance(result, ImportedTrace)]
    return Imported(uri, export, sdk_spans, results, write_traces(uri, experiment_id, records))


def _parse(value: Any, experiment_id: str = "1") -> list[ImportedTrace | Skipped]:
    record = SourceRecord("export.json", value, Path("export.json"))
    return list(FORMAT.parse(record, ParseContext(experiment_id, FORMAT.name, synthetic_start_ns=0)))


def _sdk(imported: Imported, name: str) -> ReadableSpan:
    return next(span for span in imported.sdk_spans if span.name == name)


def test_each_otel_trace_becomes_one_mlflow_trace(imported):
    trace_ids = {f"{span.context.trace_id:032x}" for span in imported.sdk_spans}
    assert sorted(result.source_id for result in imported.results) == sorted(trace_ids)
    assert (imported.report.written, imported.report.failed, imported.report.lost) == (2, [], [])


def test_the_protobuf_export_writes_base64_ids(imported):
    span = imported.export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 24 and span["traceId"].endswith("==")


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_span_kinds_map_to_mlflow_types(imported, name):
    assert imported.stored_span(name).span_type == EXPECTED_TYPES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_spans_keep_their_parents(imported, name):
    sdk_span = _sdk(imported, name)
    spans = {span.attributes["otel.span_id"]: span for span in imported.trace_of(name).data.spans}
    stored = spans[f"{sdk_span.context.span_id:016x}"]
    expected_parent = spans[f"{sdk_span.parent.span_id:016x}"].span_id if sdk_span.parent else None
    assert stored.parent_id == expected_parent


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_span_times_are_exact_to_the_nanosecond(imported, name):
    sdk_span, stored = _sdk(imported, name), imported.stored_span(name)
    assert (stored.start_time_ns, stored.end_time_ns) == (sdk_span.start_time, sdk_span.end_time)


def test_the_root_comes_first_and_parents_precede_children(imported):
    # The SDK exports children before their parents (in the order spans end).
    exported = [span["name"] for span in imported.export["resourceSpans"][0]["scopeSpans"][0]["spans"]]
    assert exported.index("ChatOpenAI") < exported.index("weather agent")
    agent_trace = next(r for r in imported.results if r.record.spans[0].name == "weather agent").record
    assert agent_trace.spans[0].parent_id is None
    seen = {agent_trace.spans[0].span_id}
    for span in agent_trace.spans[1:]:
        assert span.parent_id in seen
        seen.add(span.span_id)


def test_model_calls_carry_token_usage_and_model(imported):
    llm, genai = imported.stored_span("ChatOpenAI"), imported.stored_span("chat gpt-4o")
    assert llm.attributes[TOKEN_USAGE] == {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60}
    assert genai.attributes[TOKEN_USAGE] == {"input_tokens": 30, "output_tokens": 5, "total_tokens": 35}
    assert (llm.attributes[MODEL], genai.attributes[MODEL]) == ("gpt-4o-mini", "gpt-4o-2024-08-06")


def test_trace_total_counts_model_calls_and_not_the_agent_roll_up(imported):
    usage = imported.trace_of("weather agent").info.token_usage
    assert usage == {"input_tokens": 80, "output_tokens": 15, "total_tokens": 95}


def test_a_failed_tool_keeps_its_error_exception_and_output(imported):
    tool = imported.stored_span("get_weather")
    assert tool.status.status_code == "ERROR"
    assert tool.status.description == "TimeoutError: the weather service did not answer in 5s"
    [event] = tool.events
    assert event.attributes["exception.type"] == "TimeoutError"
    assert event.attributes["exception.message"] == "the weather service did not answer in 5s"
    assert "Traceback" in tool.attributes["exception.stacktrace"]
    assert tool.outputs == TOOL_OUTPUT


def test_json_payloads_become_values(imported):
    agent, tool = imported.stored_span("weather agent"), imported.stored_span("get_weather")
    assert (agent.inputs, agent.outputs) == (QUESTION, ANSWER)
    assert tool.inputs == {"city": "Oslo"}


def test_a_payload_marked_as_plain_text_stays_text(imported):
    # Checked before storing: MLflow's store strips one JSON layer from any string that holds JSON.
    spans = [span for result in _parse(imported.export) for span in result.record.spans]
    [plain] = [span for span in spans if span.name == "format answer"]
    assert plain.inputs == '{"looks": "like JSON"}'


def test_other_attributes_are_kept_with_their_types(imported):
    attributes = imported.stored_span("format answer").attributes
    assert attributes["retry.delays_ms"] == [100, 200]
    assert (attributes["retry.count"], attributes["cache.hit"], attributes["cache.ratio"]) == (2, False, 0.25)
    assert attributes["input.mime_type"] == "text/plain"
    assert "input.value" not in attributes
    assert attributes["otel.scope.name"] == "openinference.instrumentation.test"


def test_user_session_and_service_reach_the_trace(imported):
    info = imported.trace_of("weather agent").info
    assert (info.trace_metadata["mlflow.trace.user"], info.trace_metadata["mlflow.trace.session"]) == (
        "user-7",
        "session-3",
    )
    assert info.tags["otel.service.name"] == "weather-agent"


def _to_hex_ids(value: Any) -> Any:
    """The export as the OTLP/JSON protocol writes it: ids as hex instead of base64."""
    if isinstance(value, list):
        return [_to_hex_ids(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in ("traceId", "spanId", "parentSpanId") else _to_hex_ids(item)
            for key, item in value.items()
        }
    return value


def test_hex_and_base64_ids_give_the_same_traces(imported):
    assert _parse(_to_hex_ids(imported.export)) == _parse(imported.export)


def _hand_written(*spans: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]}
    return {
        "resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "manual"}, "spans": list(spans)}]}]
    }


TRACE = "5b8efff798038103d269b633813fc60c"


def _hex_span(span_id: str, parent: str, name: str, start: int, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1000),
        **fields,
    }


def test_a_hand_written_hex_export_is_read():
    export = _hand_written(
        _hex_span(
            "eee19b7ec3c1b174",
            "eee19b7ec3c1b173",
            "charge card",
            1_700_000_000_000_000_500,
            attributes=[
                {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                {"key": "attempt", "value": {"intValue": "3"}},
                {"key": "params", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"doubleValue": 1.5}}]}}},
            ],
            status={"code": 2, "message": "card declined"},
        ),
        _hex_span("eee19b7ec3c1b173", "", "checkout", 1_700_000_000_000_000_000),
    )
    [result] = _parse(export)
    root, tool = result.record.spans
    assert (result.source_id, root.name, root.parent_id, tool.parent_id) == (TRACE, "checkout", None, root.span_id)
    assert (tool.span_type, tool.error, tool.start_ns) == ("TOOL", "card declined", 1_700_000_000_000_000_500)
    assert (tool.attributes["attempt"], tool.attributes["params"]) == (3, {"a": 1.5})
    assert tool.attributes["otel.span_kind"] == "INTERNAL"


def test_a_span_whose_parent_is_missing_hangs_under_the_root():
    export = _hand_written(
        _hex_span("00000000000000a1", "", "request", 1_000_000_000_000_000_000),
        _hex_span("00000000000000b2", "00000000000000ff", "orphan", 1_000_000_000_000_000_100),
    )
    [result] = _parse(export)
    root, orphan = result.record.spans
    assert (root.name, orphan.parent_id) == ("request", root.span_id)
    assert orphan.attributes["otel.parent_span_id"] == "00000000000000ff"


def test_several_roots_get_a_synthetic_agent_root_spanning_them():
    export = _hand_written(
        _hex_span("00000000000000a1", "", "first", 1_000_000_000_000_000_000),
        _hex_span("00000000000000b2", "", "second", 1_000_000_000_000_005_000),
    )
    [result] = _parse(export)
    root, first, second = result.record.spans
    assert (root.name, root.span_type, root.attributes[SYNTHETIC_ROOT]) == ("billing", "AGENT", True)
    assert (first.parent_id, second.parent_id) == (root.span_id, root.span_id)
    assert (root.start_ns, root.end_ns) == (first.start_ns, second.end_ns)


def _cycle() -> dict[str, Any]:
    return _hand_written(
        _hex_span("00000000000000a1", "", "root", 1_000_000_000_000_000_000),
        _hex_span("00000000000000b2", "00000000000000c3", "b", 1_000_000_000_000_000_100),
        _hex_span("00000000000000c3", "00000000000000b2", "c", 1_000_000_000_000_000_200),
    )


def _bad_span_id() -> dict[str, Any]:
    return _hand_written(_hex_span("not-an-id", "", "root", 1_000_000_000_000_000_000))


def _duplicate_span_id() -> dict[str, Any]:
    span = _hex_span("00000000000000a1", "", "root", 1_000_000_000_000_000_000)
    return _hand_written(span, dict(span))


@pytest.mark.parametrize(
    ("export", "reason"),
    [(_cycle, "form a parent cycle"), (_bad_span_id, "no valid spanId"), (_duplicate_span_id, "occurs twice")],
)
def test_a_malformed_trace_is_skipped_with_a_reason(export, reason):
    [result] = _parse(export())
    assert isinstance(result, Skipped)
    assert result.ref == f"export.json trace {TRACE}"
    assert re.search(reason, result.reason)


def test_a_span_without_a_trace_id_is_skipped_and_the_rest_kept():
    good = _hex_span("00000000000000a1", "", "root", 1_000_000_000_000_000_000)
    skipped, imported_trace = _parse(_hand_written({**good, "traceId": ""}, good))
    assert isinstance(skipped, Skipped) and "no valid traceId" in skipped.reason
    assert isinstance(imported_trace, ImportedTrace)


def test_json_lines_hold_one_export_per_line(imported, tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text(
        f"{json.dumps(imported.export)}\n{json.dumps(_hand_written(_hex_span('00000000000000a1', '', 'x', 1)))}\n"
    )
    results = [result for record in read_records(path) for result in _parse(record.value)]
    assert len(results) == 3 and all(isinstance(result, ImportedTrace) for result in results)


def test_detect_recognises_otlp_exports(imported):
    assert FORMAT.detect(imported.export)
    assert FORMAT.detect({"resource_spans": []})


OTHER_DATA = [
    *sorted(DATA_DIR.glob("langfuse_framework_traces/*.json")),
    *sorted(DATA_DIR.glob("inspect_ai/*.json")),
    DATA_DIR / "who_and_when" / "Hand-Crafted" / "1.json",
    DATA_DIR / "mlflow_real_examples" / "mnorberg_mlflow3_traces.json",
]


@pytest.mark.parametrize("path", [pytest.param(path, marks=realdata, id=path.name) for path in OTHER_DATA])
def test_detect_rejects_other_formats(path):
    records = [item for item in read_records(path) if isinstance(item, SourceRecord)]
    assert records
    assert not any(FORMAT.detect(record.value) for record in records)
