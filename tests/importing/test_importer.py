"""import_traces end to end: detection, grouping, idempotency, volume, bad input, and the tool."""

import json
from pathlib import Path

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.importer import SOURCE_FILE_TAG, SOURCE_FORMAT_TAG, SOURCE_ID_TAG, import_traces
from tests.realdata import DATA_DIR

pytestmark = pytest.mark.anyio
TRACE_A = "5b8aa5a2d2c872e8321cf37308d69df2"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def _import(store_uri: str, path: Path, tmp_path: Path, **kwargs):
    return import_traces(
        MlflowClient(tracking_uri=store_uri), path, experiment_name="imported", artifacts_dir=tmp_path, **kwargs
    )


def _otlp_span(trace_id: str, span_id: str, parent: str, name: str, start_ms: int, end_ms: int) -> dict:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "startTimeUnixNano": str(start_ms * 1_000_000),
        "endTimeUnixNano": str(end_ms * 1_000_000),
        "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "TOOL" if parent else "AGENT"}}],
        "status": {},
    }


def _otlp_export(*spans: dict) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": list(spans)}]}]}


def _chat(index: int) -> dict:
    return {
        "id": f"conv-{index}",
        "messages": [{"role": "user", "content": f"question {index}"}, {"role": "assistant", "content": "answer"}],
    }


def test_a_trace_spread_over_export_batches_is_one_trace(store_uri, tmp_path):
    root = _otlp_span(TRACE_A, "a1a1a1a1a1a1a1a1", "", "agent", 1000, 1900)
    first_tool = _otlp_span(TRACE_A, "b2b2b2b2b2b2b2b2", "a1a1a1a1a1a1a1a1", "search", 1100, 1200)
    second_tool = _otlp_span(TRACE_A, "c3c3c3c3c3c3c3c3", "a1a1a1a1a1a1a1a1", "lookup", 1300, 1400)
    source = tmp_path / "batches.jsonl"
    source.write_text(json.dumps(_otlp_export(first_tool)) + "\n" + json.dumps(_otlp_export(root, second_tool)) + "\n")
    result = _import(store_uri, source, tmp_path)
    assert (result.imported, result.skipped) == (1, 0)
    (trace,) = MlflowClient(tracking_uri=store_uri).search_traces(locations=[result.experiment_id])
    assert sorted(span.name for span in trace.data.spans) == ["agent", "lookup", "search"]


def test_a_bare_list_of_otlp_spans_is_grouped_by_trace(store_uri, tmp_path):
    source = tmp_path / "spans.json"
    source.write_text(
        json.dumps(
            [
                _otlp_span(TRACE_A, "a1a1a1a1a1a1a1a1", "", "agent", 1000, 1900),
                _otlp_span(TRACE_B, "d4d4d4d4d4d4d4d4", "", "other", 2000, 2100),
                _otlp_span(TRACE_A, "b2b2b2b2b2b2b2b2", "a1a1a1a1a1a1a1a1", "search", 1100, 1200),
            ]
        )
    )
    result = _import(store_uri, source, tmp_path)
    assert (result.files[0].format, result.imported) == ("otlp", 2)


def test_a_malformed_first_record_does_not_hide_the_format(store_uri, tmp_path):
    source = tmp_path / "chats.jsonl"
    lines = [json.dumps({"id": "bad", "messages": "not a list"})] + [json.dumps(_chat(i)) for i in range(3)]
    source.write_text("\n".join(lines) + "\n")
    result = _import(store_uri, source, tmp_path)
    assert result.files[0].format == "chat"
    assert (result.imported, result.skipped) == (3, 1)


def test_an_unrecognised_file_names_the_formats_and_what_it_saw(store_uri, tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"prompt": "hi", "completion": "hello"}) + "\n")
    with pytest.raises(InvalidArgumentError) as raised:
        _import(store_uri, source, tmp_path)
    message = str(raised.value)
    assert "keys [completion, prompt]" in message
    assert "supported: mlflow, langfuse, otlp, inspect_ai, who_and_when, chat." in message
    assert len(message) < 600  # one sentence a model can afford, not every format's documentation


def test_unknown_format_name_is_rejected(store_uri, tmp_path):
    source = tmp_path / "x.json"
    source.write_text("{}")
    with pytest.raises(InvalidArgumentError, match="auto"):
        _import(store_uri, source, tmp_path, format_name="csv")


def test_thousands_of_records_with_bad_ones_lose_nothing(store_uri, tmp_path):
    source = tmp_path / "many.jsonl"
    lines = [json.dumps(_chat(i)) for i in range(1200)]
    lines[100] = '{"id": "broken", "messages": ['
    lines[700] = json.dumps({"id": "x", "messages": [{"content": "no role"}]})
    source.write_text("\n".join(lines) + "\n")
    progress: list[int] = []
    result = _import(store_uri, source, tmp_path, on_progress=progress.append)
    assert (result.imported, result.skipped, result.failed, result.lost) == (1198, 2, [], 0)
    assert {example.ref for example in result.skipped_examples} == {"many.jsonl line 101", "many.jsonl line 701"}
    assert progress[-1] == 1198
    stored = MlflowClient(tracking_uri=store_uri).search_traces(
        locations=[result.experiment_id], max_results=2000, include_spans=False
    )
    assert len(stored) == 1198


def test_reimporting_adds_nothing_and_tags_the_source(store_uri, tmp_path):
    source = tmp_path / "chats.jsonl"
    source.write_text("".join(json.dumps(_chat(i)) + "\n" for i in range(5)))
    _import(store_uri, source, tmp_path)
    again = _import(store_uri, source, tmp_path)
    assert (again.imported, again.already_present) == (0, 5)
    trace = MlflowClient(tracking_uri=store_uri).search_traces(locations=[again.experiment_id])[0]
    assert trace.info.tags[SOURCE_FORMAT_TAG] == "chat"
    assert trace.info.tags[SOURCE_FILE_TAG] == "chats.jsonl"
    assert trace.info.tags[SOURCE_ID_TAG].startswith("conv-")


def test_oversized_records_are_skipped_with_the_setting_to_raise(store_uri, tmp_path):
    source = tmp_path / "big.jsonl"
    huge = _chat(0) | {
        "messages": [{"role": "user", "content": "x" * 2_000_000}, {"role": "assistant", "content": "ok"}]
    }
    source.write_text(json.dumps(huge) + "\n" + json.dumps(_chat(1)) + "\n")
    result = _import(store_uri, source, tmp_path, max_record_bytes=1024 * 1024)
    assert (result.imported, result.skipped) == (1, 1)
    assert "max_record_mb" in result.skipped_examples[0].reason


async def test_import_tool_reports_progress_and_a_summary(settings, tmp_path):
    source = tmp_path / "chats.jsonl"
    source.write_text("".join(json.dumps(_chat(i)) + "\n" for i in range(150)))
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "import_traces", {"path": str(source), "experiment_name": "chats"}, progress_callback=on_progress
        )
    assert not result.is_error
    assert (result.structured_content["imported"], result.structured_content["mode"]) == (150, "offline")
    assert seen == [100, 150]


async def test_import_tool_missing_path_is_an_actionable_error(settings, tmp_path):
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("import_traces", {"path": str(tmp_path / "nope.jsonl"), "experiment_name": "x"})
    assert result.is_error and "absolute path" in result.content[0].text


@pytest.mark.realdata
@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="real data folder is absent")
def test_the_whole_shared_data_folder_imports_in_one_call(store_uri, tmp_path):
    result = _import(store_uri, DATA_DIR, tmp_path)
    formats = {}
    for file in result.files:
        formats[file.format] = formats.get(file.format, 0) + 1
    assert formats == {"langfuse": 13, "inspect_ai": 3, "who_and_when": 184, "mlflow": 1}
    assert (result.imported, result.skipped, result.failed, result.lost) == (13 + 7 + 184 + 2, 0, [], 0)
