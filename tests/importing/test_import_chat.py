"""OpenAI-style chat transcripts converted to traces, written to a real store and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Span, Trace
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.builder import SYNTHETIC_TIME_TAG
from mlflow_eval_mcp.importing.chat_transcript import FORMAT
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.realdata import DATA_DIR, realdata
from tests.trace_factory import BASE_NS

SYSTEM = {"role": "system", "content": "You answer weather questions."}
USER = {"role": "user", "content": "Weather in Paris?"}
WEATHER_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ],
}
WEATHER_RESULT = {"role": "tool", "tool_call_id": "call_1", "content": "18 °C, clear sky"}
ANSWER = {"role": "assistant", "content": "It is 18 °C and clear in Paris."}


def _parse(*values: Any) -> list[ImportedTrace | Skipped]:
    context = ParseContext("0", "chat", BASE_NS)
    return [
        item
        for index, value in enumerate(values)
        for item in FORMAT.parse(SourceRecord(f"chat.jsonl line {index + 1}", value, Path("chat.jsonl")), context)
    ]


def _import(store_uri: str, value: Any) -> Trace:
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("chat")
    context = ParseContext(experiment_id, "chat", BASE_NS)
    [item] = FORMAT.parse(SourceRecord("chat.jsonl line 1", value, Path("chat.jsonl")), context)
    assert isinstance(item, ImportedTrace)
    report = write_traces(store_uri, experiment_id, [item.record])
    assert report.written == 1
    return client.get_trace(item.record.trace_id)


def _spans(trace: Trace) -> list[Span]:
    return sorted(trace.data.spans, key=lambda span: span.start_time_ns)


def test_tool_call_and_result_become_chat_and_tool_spans(store_uri: str) -> None:
    trace = _import(store_uri, {"messages": [SYSTEM, USER, WEATHER_CALL, WEATHER_RESULT, ANSWER]})

    root, first_call, tool, second_call = _spans(trace)
    assert (root.name, root.span_type, root.parent_id) == ("conversation", "AGENT", None)
    assert root.inputs == {"messages": [SYSTEM, USER]}
    assert root.outputs == ANSWER["content"]
    assert (first_call.name, first_call.span_type, first_call.parent_id) == (
        "chat_completion",
        "CHAT_MODEL",
        root.span_id,
    )
    assert first_call.inputs == {"messages": [SYSTEM, USER]}
    assert first_call.outputs == {"choices": [{"index": 0, "message": WEATHER_CALL, "finish_reason": "tool_calls"}]}
    assert (tool.name, tool.span_type, tool.parent_id) == ("get_weather", "TOOL", root.span_id)
    assert tool.inputs == {"city": "Paris"}
    assert tool.outputs == WEATHER_RESULT["content"]
    assert tool.status.status_code == "OK"
    assert second_call.inputs == {"messages": [SYSTEM, USER, WEATHER_CALL, WEATHER_RESULT]}
    assert second_call.outputs == {"choices": [{"index": 0, "message": ANSWER, "finish_reason": "stop"}]}
    assert trace.info.tags[SYNTHETIC_TIME_TAG] == "true"
    assert trace.info.state == "OK"


@pytest.mark.parametrize(
    "content",
    ['{"error": "unknown city Atlantis"}', "Error: unknown city Atlantis", "Traceback (most recent call last):\n..."],
)
def test_error_returned_as_tool_output_keeps_ok_status(store_uri: str, content: str) -> None:
    trace = _import(store_uri, [USER, WEATHER_CALL, {**WEATHER_RESULT, "content": content}, ANSWER])

    [tool] = trace.search_spans(span_type="TOOL")
    assert tool.status.status_code == "OK"


@pytest.mark.parametrize(
    "content",
    ['{"error": "unknown city Atlantis"}', "Error: unknown city Atlantis", "Traceback (most recent call last):\n..."],
)
def test_error_returned_as_tool_output_is_kept_verbatim(content: str) -> None:
    # Checked on the converted record: MLflow's sqlite store decodes any string span output that
    # is itself JSON, so '{"error": ...}' reads back from the store as a dict.
    [item] = _parse([USER, WEATHER_CALL, {**WEATHER_RESULT, "content": content}, ANSWER])

    assert isinstance(item, ImportedTrace)
    [tool] = [span for span in item.record.spans if span.span_type == "TOOL"]
    assert (tool.outputs, tool.error) == (content, None)


def test_tool_result_flagged_as_error_gets_error_status(store_uri: str) -> None:
    result = {**WEATHER_RESULT, "content": "upstream timeout", "is_error": True}
    trace = _import(store_uri, {"messages": [USER, WEATHER_CALL, result, ANSWER]})

    [tool] = trace.search_spans(span_type="TOOL")
    assert tool.status.status_code == "ERROR"
    assert tool.status.description == "upstream timeout"
    assert tool.outputs == "upstream timeout"
    assert trace.info.state == "OK"


def test_tool_call_without_result_has_no_outputs(store_uri: str) -> None:
    trace = _import(store_uri, [USER, WEATHER_CALL])

    root, _, tool = _spans(trace)
    assert tool.name == "get_weather"
    assert tool.outputs is None
    assert root.outputs is None


def test_unparseable_arguments_are_kept_as_written(store_uri: str) -> None:
    call = json.loads(json.dumps(WEATHER_CALL))
    call["tool_calls"][0]["function"]["arguments"] = "city=Paris"
    trace = _import(store_uri, [USER, call, WEATHER_RESULT, ANSWER])

    [tool] = trace.search_spans(span_type="TOOL")
    assert tool.inputs == "city=Paris"


def test_inputs_stop_before_the_final_assistant_turn(store_uri: str) -> None:
    first_answer = {"role": "assistant", "content": "Which city?"}
    follow_up = {"role": "user", "content": "Paris, please."}
    messages = [USER, first_answer, follow_up, WEATHER_CALL, WEATHER_RESULT, ANSWER]
    trace = _import(store_uri, {"messages": messages})

    root, *children = _spans(trace)
    assert root.inputs == {"messages": [USER, first_answer, follow_up]}
    assert root.outputs == ANSWER["content"]
    chat_spans = [span for span in children if span.span_type == "CHAT_MODEL"]
    assert [span.inputs["messages"] for span in chat_spans] == [messages[:1], messages[:3], messages[:5]]
    assert [span.span_type for span in children] == ["CHAT_MODEL", "CHAT_MODEL", "TOOL", "CHAT_MODEL"]


def test_message_usage_and_model_go_on_each_chat_span(store_uri: str) -> None:
    call = {**WEATHER_CALL, "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}}
    answer = {**ANSWER, "usage": {"prompt_tokens": 70, "completion_tokens": 15}}
    trace = _import(store_uri, {"model": "gpt-4o-mini", "messages": [USER, call, WEATHER_RESULT, answer]})

    first, second = trace.search_spans(span_type="CHAT_MODEL")
    assert first.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 40, "output_tokens": 12, "total_tokens": 52}
    assert second.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 70, "output_tokens": 15, "total_tokens": 85}
    assert first.attributes["mlflow.llm.model"] == "gpt-4o-mini"
    assert trace.info.token_usage == {"input_tokens": 110, "output_tokens": 27, "total_tokens": 137}


def test_record_usage_of_one_model_call_goes_on_its_span(store_uri: str) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    trace = _import(store_uri, {"messages": [USER, ANSWER], "usage": usage})

    [chat] = trace.search_spans(span_type="CHAT_MODEL")
    assert chat.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
    assert trace.info.token_usage == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}


def test_record_usage_of_several_model_calls_goes_on_the_root(store_uri: str) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 20}
    trace = _import(store_uri, {"messages": [USER, WEATHER_CALL, WEATHER_RESULT, ANSWER], "usage": usage})

    root = _spans(trace)[0]
    assert root.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}
    assert all("mlflow.chat.tokenUsage" not in span.attributes for span in trace.search_spans(span_type="CHAT_MODEL"))
    assert trace.info.token_usage == {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}


def test_legacy_function_role_answers_a_function_call(store_uri: str) -> None:
    call = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    result = {"role": "function", "name": "get_weather", "content": "-3 °C, snow"}
    trace = _import(store_uri, [USER, call, result, ANSWER])

    [tool] = trace.search_spans(span_type="TOOL")
    assert (tool.name, tool.inputs, tool.outputs) == ("get_weather", {"city": "Oslo"}, "-3 °C, snow")
    first_call = trace.search_spans(span_type="CHAT_MODEL")[0]
    assert first_call.outputs["choices"][0]["finish_reason"] == "function_call"


def test_result_without_its_call_still_becomes_a_tool_span(store_uri: str) -> None:
    orphan = {"role": "tool", "tool_call_id": "call_missing", "name": "lookup", "content": "42"}
    trace = _import(store_uri, [USER, orphan, ANSWER])

    [tool] = trace.search_spans(span_type="TOOL")
    assert (tool.name, tool.inputs, tool.outputs) == ("lookup", None, "42")


def test_message_timestamps_are_used(store_uri: str) -> None:
    messages = [
        {**USER, "timestamp": "2026-01-01T00:00:00Z"},
        {**WEATHER_CALL, "timestamp": "2026-01-01T00:00:01.5Z"},
        {**WEATHER_RESULT, "created_at": 1767225603},
        {**ANSWER, "timestamp": "2026-01-01T00:00:04Z"},
    ]
    trace = _import(store_uri, {"messages": messages})

    root, first_call, tool, second_call = _spans(trace)
    assert (root.start_time_ns, root.end_time_ns) == (BASE_NS, BASE_NS + 4_000_000_000)
    assert (first_call.start_time_ns, first_call.end_time_ns) == (BASE_NS, BASE_NS + 1_500_000_000)
    assert (tool.start_time_ns, tool.end_time_ns) == (BASE_NS + 1_500_000_000, BASE_NS + 3_000_000_000)
    assert (second_call.start_time_ns, second_call.end_time_ns) == (BASE_NS + 3_000_000_000, BASE_NS + 4_000_000_000)
    assert SYNTHETIC_TIME_TAG not in trace.info.tags


def test_user_session_and_metadata_become_trace_metadata_and_tags(store_uri: str) -> None:
    record = {
        "id": "conv-7",
        "messages": [USER, ANSWER],
        "metadata": {"user_id": "u-1", "session_id": "s-1", "channel": "web", "scores": [1, 2], "long": "x" * 5000},
    }
    trace = _import(store_uri, record)

    assert trace.info.trace_metadata["mlflow.trace.user"] == "u-1"
    assert trace.info.trace_metadata["mlflow.trace.session"] == "s-1"
    assert trace.info.tags["channel"] == "web"
    assert trace.info.tags["scores"] == "[1, 2]"
    assert trace.info.tags["long"] == "x" * 1000
    assert "user_id" not in trace.info.tags


def test_record_id_is_the_source_id() -> None:
    [item] = _parse({"conversation_id": 314, "messages": [USER, ANSWER]})

    assert isinstance(item, ImportedTrace)
    assert item.source_id == "314"


def test_records_without_id_get_stable_distinct_content_ids() -> None:
    first, again, other = _parse([USER, ANSWER], [USER, ANSWER], [USER, {**ANSWER, "content": "Sunny."}])

    assert isinstance(first, ImportedTrace) and isinstance(again, ImportedTrace) and isinstance(other, ImportedTrace)
    assert first.source_id == again.source_id != other.source_id
    assert first.record.trace_id == again.record.trace_id


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"messages": "hello"}, "not a chat transcript: 'messages' is not a list"),
        ({"messages": []}, "the conversation has no messages"),
        ({"messages": [USER, {"content": "no role"}]}, "message has no role (message 1)"),
        ([USER, "just text"], "message is not an object (message 1)"),
        ([USER, {"role": "assistant", "tool_calls": {"id": "x"}}], "'tool_calls' is not a list (message 1)"),
        ([USER, {"role": "assistant", "tool_calls": ["x"]}], "a tool call is not an object (message 1)"),
    ],
)
def test_malformed_records_are_skipped_with_a_reason(value: Any, reason: str) -> None:
    assert _parse(value) == [Skipped("chat.jsonl line 1", reason)]


def test_detects_conversations_and_bare_message_lists(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps({"messages": [USER, ANSWER]}) + "\n" + json.dumps([SYSTEM, USER, ANSWER]) + "\n")

    assert all(FORMAT.detect(record.value) for record in read_records(path))


@pytest.mark.parametrize(
    "value",
    [
        {"messages": [{"role": "Orchestrator (thought)", "content": "plan"}]},
        {"history": [USER, ANSWER]},
        [],
        {"info": {}, "data": {"spans": []}},
    ],
)
def test_does_not_detect_other_shapes(value: Any) -> None:
    assert not FORMAT.detect(value)


OTHER_FORMAT_FILES = [
    *sorted(DATA_DIR.glob("langfuse_framework_traces/*.json")),
    *sorted(DATA_DIR.glob("inspect_ai/*.json")),
    DATA_DIR / "who_and_when" / "Hand-Crafted" / "1.json",
    DATA_DIR / "mlflow_real_examples" / "mnorberg_mlflow3_traces.json",
]


@pytest.mark.parametrize("path", [pytest.param(path, marks=realdata, id=path.name) for path in OTHER_FORMAT_FILES])
def test_does_not_detect_other_formats_real_files(path: Path) -> None:
    records = [record for record in read_records(path) if isinstance(record, SourceRecord)]

    assert records
    assert not any(FORMAT.detect(record.value) for record in records)
