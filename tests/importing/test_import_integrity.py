"""import_traces keeps records apart: one id never merges two records, one tool message gives one
TOOL span, and a record nested too deeply costs only itself. Real sqlite stores, real MCP client."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mlflow.entities import Trace
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.importer import import_traces
from mlflow_eval_mcp.importing.sources import MAX_NESTING, NESTED_TOO_DEEPLY
from mlflow_eval_mcp.importing.trace_writer import write_traces
from mlflow_eval_mcp.models import ImportResult
from tests.realdata import DATA_DIR, realdata
from tests.trace_factory import make_trace

pytestmark = pytest.mark.anyio
DEEP = 10_000
USER = {"role": "user", "content": "Book me a flight to Boston and tell me the total."}


def _import(store_uri: str, path: Path, tmp_path: Path) -> ImportResult:
    client = MlflowClient(tracking_uri=store_uri)
    return import_traces(client, path, experiment_name="imported", artifacts_dir=tmp_path / "artifacts")


def _traces(store_uri: str, result: ImportResult) -> list[Trace]:
    return MlflowClient(tracking_uri=store_uri).search_traces(locations=[result.experiment_id], max_results=500)


def _write_lines(path: Path, *records: Any) -> Path:
    path.write_text("".join((record if isinstance(record, str) else json.dumps(record)) + "\n" for record in records))
    return path


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def _result(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def _weather_chat(record_id: str, city: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "messages": [
            {"role": "user", "content": f"Weather in {city}?"},
            _call("call_1", "get_weather", {"city": city}),
            _result("call_1", f"sunny in {city}"),
            {"role": "assistant", "content": f"It is sunny in {city}."},
        ],
    }


# --- 1. records that share an id are never merged -----------------------------------------------


def test_a_second_record_with_the_same_id_and_other_content_is_skipped_not_merged(store_uri, tmp_path):
    first = _weather_chat("dup-A", "Paris")
    second = {"id": "dup-A", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    source = _write_lines(tmp_path / "chats.jsonl", first, second, _weather_chat("other", "Oslo"))

    result = _import(store_uri, source, tmp_path)

    assert (result.imported, result.already_present, result.skipped) == (2, 0, 1)
    [skip] = result.skipped_examples
    assert skip.ref == "chats.jsonl line 2"
    assert skip.reason.startswith("duplicate id, different content: ") and "dup-A" in skip.reason
    assert result.skipped_by_reason == {"duplicate id, different content": 1}
    [kept] = [
        trace for trace in _traces(store_uri, result) if trace.info.tags["mlflow_eval_mcp.import.source_id"] == "dup-A"
    ]
    # The whole of the first record, nothing of the second.
    assert sorted(span.name for span in kept.data.spans) == [
        "chat_completion",
        "chat_completion",
        "conversation",
        "get_weather",
    ]
    assert kept.data.spans[0].inputs == {"messages": first["messages"][:1]}


def test_the_same_record_twice_is_written_once_and_counted_as_already_present(store_uri, tmp_path):
    source = _write_lines(tmp_path / "chats.jsonl", _weather_chat("dup-A", "Paris"), _weather_chat("dup-A", "Paris"))

    result = _import(store_uri, source, tmp_path)

    assert (result.imported, result.already_present, result.skipped, result.failed) == (1, 1, 0, [])
    [trace] = _traces(store_uri, result)
    assert len(trace.data.spans) == 4


def test_reimporting_a_file_stays_idempotent_despite_synthetic_times(store_uri, tmp_path):
    # No timestamps: every import synthesizes different times, which must not count as other content.
    source = _write_lines(tmp_path / "chats.jsonl", *(_weather_chat(f"conv-{i}", "Rome") for i in range(3)))

    first = _import(store_uri, source, tmp_path)
    again = _import(store_uri, source, tmp_path)

    assert (first.imported, first.skipped) == (3, 0)
    assert (again.imported, again.already_present, again.skipped) == (0, 3, 0)


def test_a_record_whose_id_is_already_stored_with_other_content_is_skipped(store_uri, tmp_path):
    _import(store_uri, _write_lines(tmp_path / "monday.jsonl", _weather_chat("dup-A", "Paris")), tmp_path)

    result = _import(store_uri, _write_lines(tmp_path / "tuesday.jsonl", _weather_chat("dup-A", "Lima")), tmp_path)

    assert (result.imported, result.already_present, result.skipped) == (0, 0, 1)
    reason = result.skipped_examples[0].reason
    assert "already holds a different trace with id dup-A" in reason and "another experiment" in reason
    [trace] = _traces(store_uri, result)
    assert trace.data.spans[0].outputs == "It is sunny in Paris."


def _langfuse(trace_id: str, tool_output: str) -> dict[str, Any]:
    def observation(observation_id: str, kind: str, parent: str | None, start: int, output: str) -> dict[str, Any]:
        return {
            "id": observation_id,
            "type": kind,
            "name": kind.lower(),
            "parentObservationId": parent,
            "startTime": f"2026-01-01T00:00:0{start}Z",
            "endTime": f"2026-01-01T00:00:0{start + 1}Z",
            "output": output,
        }

    return {
        "trace": {"id": trace_id, "timestamp": "2026-01-01T00:00:00Z", "name": "agent"},
        "observations": [observation("o1", "AGENT", None, 0, "done"), observation("o2", "TOOL", "o1", 1, tool_output)],
    }


def test_langfuse_traces_sharing_an_id_across_two_files_are_not_merged(store_uri, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(_langfuse("lf-1", "first answer")))
    (folder / "b.json").write_text(json.dumps(_langfuse("lf-1", "second answer")))
    (folder / "c.json").write_text(json.dumps(_langfuse("lf-1", "first answer")))

    result = _import(store_uri, folder, tmp_path)

    assert (result.imported, result.already_present, result.skipped) == (1, 1, 1)
    assert result.skipped_examples[0].ref == "b.json"
    [trace] = _traces(store_uri, result)
    assert [span.outputs for span in trace.data.spans] == ["done", "first answer"]


@pytest.mark.parametrize("name", [pytest.param("agno-2025-06-11.json", marks=realdata)])
def test_a_real_langfuse_trace_edited_after_import_is_not_merged_into_it(store_uri, tmp_path, name):
    real = DATA_DIR / "langfuse_framework_traces" / name
    original = _import(store_uri, real, tmp_path)
    edited = json.loads(real.read_text())
    edited["observations"][-1]["output"] = "edited after the first export"
    copy = tmp_path / real.name
    copy.write_text(json.dumps(edited))

    result = _import(store_uri, copy, tmp_path)

    assert original.imported == 1
    assert (result.imported, result.already_present, result.skipped) == (0, 0, 1)
    assert result.skipped_examples[0].reason.startswith("duplicate id, different content")


def test_the_writer_never_merges_two_records_with_one_id(store_uri):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("writer")
    first, other = make_trace(1), make_trace(2)
    clash = dataclasses.replace(other, trace_id=first.trace_id)

    report = write_traces(store_uri, experiment_id, [first, clash])

    assert (report.written, report.skipped_existing) == (1, 1)
    trace = MlflowClient(tracking_uri=store_uri).get_trace(first.trace_id)
    assert sorted(span.span_id for span in trace.data.spans) == sorted(span.span_id for span in first.spans)
    assert trace.data.spans[0].inputs == first.spans[0].inputs


# --- 2. a reused tool_call id gives one TOOL span per tool message -------------------------------


def _tau_bench_like(index: int) -> dict[str, Any]:
    """tau-bench trajectories reuse an id for later, different calls in one conversation."""
    reused = f"call_{index}"
    return {
        "id": f"task-{index}",
        "messages": [
            USER,
            _call(reused, "book_reservation", {"destination": "BOS"}),
            _result(reused, '{"reservation_id": "R1", "price": 320}'),
            _call(reused, "calculate", {"expression": "320 * 1.08"}),
            _result(reused, "345.6"),
            {"role": "assistant", "content": "Booked R1; the total is $345.60."},
        ],
    }


def test_a_reused_tool_call_id_pairs_each_result_with_the_nearest_earlier_call(store_uri, tmp_path):
    result = _import(store_uri, _write_lines(tmp_path / "tau.jsonl", _tau_bench_like(0)), tmp_path)

    [trace] = _traces(store_uri, result)
    tools = [(span.name, span.inputs, span.outputs) for span in trace.search_spans(span_type="TOOL")]
    assert sorted(tools) == [
        ("book_reservation", {"destination": "BOS"}, {"reservation_id": "R1", "price": 320}),
        ("calculate", {"expression": "320 * 1.08"}, "345.6"),
    ]


def test_two_hundred_conversations_with_reused_ids_give_one_tool_span_per_tool_message(store_uri, tmp_path):
    conversations = [_tau_bench_like(index) for index in range(200)]
    tool_messages = sum(message["role"] == "tool" for record in conversations for message in record["messages"])

    result = _import(store_uri, _write_lines(tmp_path / "tau.jsonl", *conversations), tmp_path)

    assert result.imported == 200
    tool_spans = sum(len(trace.search_spans(span_type="TOOL")) for trace in _traces(store_uri, result))
    assert tool_spans == tool_messages == 400


def test_several_calls_of_one_message_sharing_an_id_are_answered_in_order(store_uri, tmp_path):
    both = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_x", "type": "function", "function": {"name": "first", "arguments": "{}"}},
            {"id": "call_x", "type": "function", "function": {"name": "second", "arguments": "{}"}},
        ],
    }
    record = {"messages": [USER, both, _result("call_x", "one"), _result("call_x", "two")]}

    result = _import(store_uri, _write_lines(tmp_path / "parallel.jsonl", record), tmp_path)

    [trace] = _traces(store_uri, result)
    assert sorted((span.name, span.outputs) for span in trace.search_spans(span_type="TOOL")) == [
        ("first", "one"),
        ("second", "two"),
    ]


# --- 3. a record nested too deeply is skipped, the rest of its file imported ----------------------


def _deep_chat_line(record_id: str, depth: int = DEEP) -> str:
    return json.dumps({"id": record_id, "messages": [USER]})[:-3] + ', "extra": ' + "[" * depth + "]" * depth + "}]}"


def _chat(record_id: str) -> dict[str, Any]:
    return {"id": record_id, "messages": [USER, {"role": "assistant", "content": "Done."}]}


@pytest.mark.parametrize("deep_at", [0, 1, 2])
def test_a_deep_json_line_is_skipped_and_the_other_lines_are_imported(store_uri, tmp_path, deep_at):
    lines: list[Any] = [_chat("a"), _chat("b")]
    lines.insert(deep_at, _deep_chat_line("deep"))
    source = _write_lines(tmp_path / "chats.jsonl", *lines)

    result = _import(store_uri, source, tmp_path)

    assert (result.imported, result.skipped) == (2, 1)
    [skip] = result.skipped_examples
    assert (skip.ref, skip.reason) == (f"chats.jsonl line {deep_at + 1}", NESTED_TOO_DEEPLY)


@pytest.mark.parametrize("separator", [",", ",\n  "], ids=["compact", "pretty"])
def test_a_deep_item_of_a_json_array_is_skipped_and_the_other_items_are_imported(store_uri, tmp_path, separator):
    items = [json.dumps(_chat("a")), _deep_chat_line("deep"), json.dumps(_chat("b, [not] {a} bracket"))]
    source = tmp_path / "chats.json"
    source.write_text("[" + separator.join(items) + "]")

    result = _import(store_uri, source, tmp_path)

    assert (result.imported, result.skipped) == (2, 1)
    assert (result.skipped_examples[0].ref, result.skipped_examples[0].reason) == (
        "chats.json item 1",
        NESTED_TOO_DEEPLY,
    )
    assert {trace.info.tags["mlflow_eval_mcp.import.source_id"] for trace in _traces(store_uri, result)} == {
        "a",
        "b, [not] {a} bracket",
    }


def test_a_deep_single_json_file_is_skipped_and_the_other_files_are_imported(store_uri, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "deep.json").write_text(_deep_chat_line("deep"))
    (folder / "fine.json").write_text(json.dumps(_chat("fine")))

    result = _import(store_uri, folder, tmp_path)

    assert (result.imported, result.skipped) == (1, 1)
    assert (result.skipped_examples[0].ref, result.skipped_examples[0].reason) == ("deep.json", NESTED_TOO_DEEPLY)


def test_a_file_holding_only_a_deep_record_says_why_nothing_was_imported(store_uri, tmp_path):
    (tmp_path / "deep.json").write_text(_deep_chat_line("deep"))

    with pytest.raises(InvalidArgumentError, match=r"deep\.json: nested too deeply \(more than 100 levels\)"):
        _import(store_uri, tmp_path / "deep.json", tmp_path)


def test_a_record_just_over_the_limit_is_skipped_and_one_at_it_is_imported(store_uri, tmp_path):
    # The record, its messages and the user message are 3 levels; `extra` (in the message) adds its own.
    at_limit = _deep_chat_line("at-limit", MAX_NESTING - 3)
    over = _deep_chat_line("over", MAX_NESTING - 2)
    result = _import(store_uri, _write_lines(tmp_path / "edge.jsonl", at_limit, over), tmp_path)

    assert (result.imported, result.skipped) == (1, 1)
    assert (result.skipped_examples[0].ref, result.skipped_examples[0].reason) == (
        "edge.jsonl line 2",
        NESTED_TOO_DEEPLY,
    )


def test_deep_json_text_inside_a_record_is_skipped_when_converted(store_uri, tmp_path):
    deep_arguments = {**_call("call_1", "search", {}), "tool_calls": [{"id": "call_1", "function": {"name": "search"}}]}
    deep_arguments["tool_calls"][0]["function"]["arguments"] = "[" * DEEP + "]" * DEEP
    record = {"id": "deep-args", "messages": [USER, deep_arguments, _result("call_1", "none")]}

    result = _import(store_uri, _write_lines(tmp_path / "chats.jsonl", record, _chat("fine")), tmp_path)

    assert (result.imported, result.skipped) == (1, 1)
    assert (result.skipped_examples[0].ref, result.skipped_examples[0].reason) == (
        "chats.jsonl line 1",
        NESTED_TOO_DEEPLY,
    )


async def test_the_import_tool_skips_a_deep_record_with_its_reason(settings, tmp_path):
    source = _write_lines(tmp_path / "chats.jsonl", _chat("a"), _deep_chat_line("deep"), _chat("b"))

    async with Client(create_server(settings)) as client:
        result = await client.call_tool("import_traces", {"path": str(source), "experiment_name": "chats"})

    assert not result.is_error, result.content
    summary = result.structured_content
    assert (summary["imported"], summary["skipped"]) == (2, 1)
    assert summary["skipped_examples"] == [
        {"ref": "chats.jsonl line 2", "reason": "nested too deeply (more than 100 levels)"}
    ]


@pytest.mark.parametrize("name", [pytest.param("mnorberg_mlflow3_traces.json", marks=realdata)])
def test_real_traces_beside_a_deep_record_all_import(store_uri, tmp_path, name):
    real = json.loads((DATA_DIR / "mlflow_real_examples" / name).read_text())
    source = tmp_path / name
    source.write_text("[" + ", ".join([json.dumps(real[0]), "[" * DEEP + "]" * DEEP, json.dumps(real[1])]) + "]")

    result = _import(store_uri, source, tmp_path)

    assert (result.files[0].format, result.imported, result.skipped) == ("mlflow", 2, 1)
    assert result.skipped_examples[0].reason == NESTED_TOO_DEEPLY
