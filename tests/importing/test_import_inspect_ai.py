"""Inspect AI eval logs imported into a real MLflow store, checked span by span against the logs."""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import SYNTHETIC_TIME_TAG, parse_time_ns
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.inspect_ai import FORMAT
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.importing.data_sets import documents, documents_in_other_formats
from tests.importing.store_import import import_files
from tests.realdata import DATA_DIR, realdata
from tests.trace_factory import BASE_NS

pytestmark = realdata

INSPECT_DIR = DATA_DIR / "inspect_ai"
BROWSER_LOG = INSPECT_DIR / "2025-05-12T20-27-36-04-00_browser.json"
POPULARITY_LOG = INSPECT_DIR / "2025-05-12T20-28-13-04-00_popularity.json"
MODEL_GRADED_SCORERS = {"model_graded_fact"}


@dataclass(frozen=True)
class Imported:
    uri: str
    experiment_id: str
    samples: dict[str, tuple[dict[str, Any], dict[str, Any]]]
    """trace id -> (the eval log, the sample it came from)"""
    skipped: list[Skipped]
    written: int


@pytest.fixture(scope="module")
def imported(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    store = import_files(
        template_db, tmp_path_factory, FORMAT, sorted(INSPECT_DIR.glob("*.json")), synthetic_start_ns=BASE_NS
    )
    samples = {
        trace.record.trace_id: (source.value, _sample_of(source.value, trace.source_id))
        for source, trace in store.parsed
    }
    return Imported(store.uri, store.experiment_id, samples, store.skipped, store.report.written)


def _sample_of(log: dict[str, Any], source_id: str) -> dict[str, Any]:
    task_id = log["eval"]["task_id"]
    return next(s for s in log["samples"] if f"{task_id}:{s['id']}:{s['epoch']}" == source_id)


def _events(sample: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for event in sample["events"] if event["event"] == kind]


def _non_tool_span_begins(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for event in _events(sample, "span_begin") if event.get("type") != "tool"]


def _resolved(value: Any, sample: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("attachment://"):
        return sample["attachments"][value.removeprefix("attachment://")]
    return value


def _span_at(trace: Any, name: str, timestamp: str) -> Any:
    """The one span of `trace` named `name` that starts at the event time `timestamp`."""
    start = parse_time_ns(timestamp)
    matches = [span for span in trace.data.spans if span.name == name and span.start_time_ns == start]
    assert len(matches) == 1, (name, timestamp, len(matches))
    return matches[0]


def _enclosing_span(trace: Any, sample: dict[str, Any], span_id: str | None) -> Any:
    """The MLflow span standing for Inspect span `span_id` (the root when there is none)."""
    begins = {event["id"]: event for event in _events(sample, "span_begin")}
    if span_id not in begins:
        return next(span for span in trace.data.spans if span.parent_id is None)
    return _span_at(trace, begins[span_id]["name"], begins[span_id]["timestamp"])


def _parse_log(log: dict[str, Any]) -> list[ImportedTrace | Skipped]:
    context = ParseContext("0", FORMAT.name, synthetic_start_ns=BASE_NS)
    return list(FORMAT.parse(SourceRecord("edited.json", log, Path("edited.json")), context))


def test_every_sample_becomes_one_trace_and_none_is_skipped(imported):
    logs = [json.loads(file.read_text()) for file in sorted(INSPECT_DIR.glob("*.json"))]
    assert imported.skipped == []
    assert imported.written == len(imported.samples) == sum(len(log["samples"]) for log in logs) == 7


def test_span_count_is_root_plus_spans_model_and_tool_events(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        trace = client.get_trace(trace_id)
        # A tool call is logged twice (a `tool` event and a span of type tool); it is one span.
        expected = 1 + len(_non_tool_span_begins(sample)) + len(_events(sample, "model")) + len(_events(sample, "tool"))
        assert len(trace.data.spans) == expected, trace_id
    browser = next(s for log, s in imported.samples.values() if log["eval"]["task"] == "browser")
    assert len(_events(browser, "tool")) == len([e for e in _events(browser, "span_begin") if e["type"] == "tool"]) == 4


def test_inspect_spans_keep_their_names_and_nesting(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        trace = client.get_trace(trace_id)
        ends = {event["id"]: event["timestamp"] for event in _events(sample, "span_end")}
        for begin in _non_tool_span_begins(sample):
            span = _span_at(trace, begin["name"], begin["timestamp"])
            assert span.span_type == "CHAIN"
            assert span.attributes["inspect.span_type"] == begin["type"]
            assert span.end_time_ns == parse_time_ns(ends[begin["id"]])
            assert span.parent_id == _enclosing_span(trace, sample, begin.get("parent_id")).span_id


def test_model_events_become_chat_model_spans_in_their_span(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    checked = 0
    for trace_id, (_, sample) in imported.samples.items():
        trace = client.get_trace(trace_id)
        for event in _events(sample, "model"):
            span = _span_at(trace, event["model"], event["timestamp"])
            usage = event["output"]["usage"]
            assert span.span_type == "CHAT_MODEL"
            assert span.attributes[MODEL] == event["model"]
            assert span.attributes[TOKEN_USAGE]["input_tokens"] == usage["input_tokens"]
            assert span.attributes[TOKEN_USAGE]["output_tokens"] == usage["output_tokens"]
            assert span.attributes[TOKEN_USAGE]["total_tokens"] == usage["total_tokens"]
            assert span.attributes[TOKEN_USAGE].get("cache_read_input_tokens", 0) == usage["input_tokens_cache_read"]
            assert [m["id"] for m in span.inputs["messages"]] == [m["id"] for m in event["input"]]
            assert [c["message"]["id"] for c in span.outputs["choices"]] == [
                c["message"]["id"] for c in event["output"]["choices"]
            ]
            assert span.parent_id == _enclosing_span(trace, sample, event["span_id"]).span_id
            checked += 1
    assert checked == 14


def test_tool_events_become_tool_spans_with_arguments_and_results(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    trace_id, (_, sample) = next((t, s) for t, s in imported.samples.items() if s[0]["eval"]["task"] == "browser")
    trace = client.get_trace(trace_id)
    tool_events = _events(sample, "tool")
    for event in tool_events:
        span = _span_at(trace, event["function"], event["timestamp"])
        assert span.span_type == "TOOL"
        assert span.inputs == event["arguments"]
        assert span.outputs == _resolved(event["result"], sample)
        assert span.attributes["inspect.tool_call_id"] == event["id"]
        assert span.status.status_code == "OK"
        assert span.parent_id == _enclosing_span(trace, sample, event["span_id"]).span_id
    tool_spans = [span.name for span in trace.data.spans if span.span_type == "TOOL"]
    assert tool_spans == [event["function"] for event in tool_events]


def test_attachment_references_are_replaced_by_their_text(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        assert "attachment://" in json.dumps(sample["events"])
        spans = client.get_trace(trace_id).data.spans
        assert "attachment://" not in json.dumps([[span.inputs, span.outputs] for span in spans]), trace_id


def test_token_usage_sums_to_the_samples_model_usage(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        trace = client.get_trace(trace_id)
        summed = Counter()
        for span in trace.data.spans:
            summed.update(span.attributes.get(TOKEN_USAGE) or {})
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            source_total = sum(usage[key] for usage in sample["model_usage"].values())
            assert summed[key] == source_total == trace.info.token_usage[key], (trace_id, key)


def test_span_times_are_the_event_times(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        trace = client.get_trace(trace_id)
        root = next(span for span in trace.data.spans if span.parent_id is None)
        assert SYNTHETIC_TIME_TAG not in trace.info.tags
        assert root.start_time_ns == parse_time_ns(sample["events"][0]["timestamp"])
        for event in _events(sample, "model") + _events(sample, "tool"):
            span = _span_at(trace, event.get("model") or event["function"], event["timestamp"])
            # A tool span also covers the tool's own span, which can close a moment after `completed`.
            assert span.end_time_ns >= parse_time_ns(event["completed"])
            assert span.end_time_ns - parse_time_ns(event["completed"]) < 5_000_000
        assert all(root.start_time_ns <= s.start_time_ns <= s.end_time_ns <= root.end_time_ns for s in trace.data.spans)


def test_root_span_holds_the_sample_input_and_final_completion(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (log, sample) in imported.samples.items():
        root = next(span for span in client.get_trace(trace_id).data.spans if span.parent_id is None)
        assert (root.name, root.span_type) == (log["eval"]["task"], "AGENT")
        expected_inputs = (
            {"messages": sample["input"]} if isinstance(sample["input"], list) else {"input": sample["input"]}
        )
        assert root.inputs == expected_inputs
        final = _resolved(sample["output"]["choices"][0]["message"]["content"], sample)
        assert root.outputs == final
        assert not final.startswith("attachment://")


def test_scores_become_feedback_and_the_target_an_expectation(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (_, sample) in imported.samples.items():
        assessments = {a.name: a for a in client.get_trace(trace_id).info.assessments}
        for scorer, score in sample["scores"].items():
            feedback = assessments[scorer]
            assert feedback.value == score["value"]
            assert feedback.rationale == score.get("explanation")
            expected_source = "LLM_JUDGE" if scorer in MODEL_GRADED_SCORERS else "CODE"
            assert feedback.source.source_type == expected_source
        if sample["target"]:
            assert assessments["expected_response"].expectation.value == sample["target"]
            assert assessments["expected_response"].source.source_type == "HUMAN"
        else:
            assert "expected_response" not in assessments


def test_tags_name_the_task_model_eval_and_sample(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    for trace_id, (log, sample) in imported.samples.items():
        tags = client.get_trace(trace_id).info.tags
        assert tags["inspect.task"] == log["eval"]["task"]
        assert tags["inspect.model"] == log["eval"]["model"]
        assert tags["inspect.eval_id"] == log["eval"]["eval_id"]
        assert (tags["inspect.sample_id"], tags["inspect.epoch"]) == (str(sample["id"]), str(sample["epoch"]))


def test_a_tool_error_becomes_the_tool_spans_error(store_uri):
    log = json.loads(BROWSER_LOG.read_text())
    tool_event = _events(log["samples"][0], "tool")[0]
    tool_event["error"] = {"type": "timeout", "message": "Command timed out before completing."}
    (imported_trace,) = _parse_log(log)
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("errors")
    write_traces(store_uri, experiment_id, [imported_trace.record])
    trace = MlflowClient(tracking_uri=store_uri).get_trace(imported_trace.record.trace_id)
    span = _span_at(trace, tool_event["function"], tool_event["timestamp"])
    assert span.status.status_code == "ERROR"
    assert span.status.description == "Command timed out before completing."
    assert [event.attributes["exception.type"] for event in span.events] == ["timeout"]


def test_a_model_call_without_completed_time_ends_after_its_working_time():
    log = json.loads(POPULARITY_LOG.read_text())
    model_event = _events(log["samples"][0], "model")[0]
    del model_event["completed"]
    imported_trace = _parse_log(log)[0]
    span = next(span for span in imported_trace.record.spans if span.span_type == "CHAT_MODEL")
    working_ns = round(model_event["working_time"] * 1_000_000_000)
    assert span.end_ns - span.start_ns == working_ns


def test_a_tool_event_logged_inside_its_tool_span_makes_the_same_tool_span():
    log = json.loads(BROWSER_LOG.read_text())
    (as_logged,) = _parse_log(copy.deepcopy(log))
    events = log["samples"][0]["events"]
    # Newer Inspect versions log the tool event inside the span of type tool that runs it.
    for index, event in enumerate(events):
        if event["event"] == "span_begin" and event.get("type") == "tool":
            tool_event = events.pop(index + 1)
            assert tool_event["event"] == "tool"
            tool_event["span_id"] = event["id"]
            events.insert(index + 1, tool_event)
    (as_nested,) = _parse_log(log)

    def tool_spans(trace: ImportedTrace) -> list[tuple[str, Any, Any, str | None]]:
        spans = {span.span_id: span for span in trace.record.spans}
        return [
            (span.name, span.inputs, span.start_ns, spans[span.parent_id].name)
            for span in trace.record.spans
            if span.span_type == "TOOL"
        ]

    assert tool_spans(as_nested) == tool_spans(as_logged)
    assert len(as_nested.record.spans) == len(as_logged.record.spans)


def test_a_completion_in_content_parts_keeps_only_its_text():
    log = json.loads(POPULARITY_LOG.read_text())
    log["samples"][0]["output"]["choices"][0]["message"]["content"] = [
        {"type": "reasoning", "reasoning": "The user asks about popularity."},
        {"type": "text", "text": "Yes"},
    ]
    imported_trace = _parse_log(log)[0]
    assert imported_trace.record.spans[0].outputs == "Yes"


def test_a_sample_error_marks_the_root_span():
    log = json.loads(POPULARITY_LOG.read_text())
    log["samples"][0]["error"] = {"message": "RuntimeError('sandbox died')", "traceback": "Traceback ..."}
    imported_trace = _parse_log(log)[0]
    assert imported_trace.record.spans[0].error == "RuntimeError('sandbox died')"


def test_detect_accepts_inspect_logs_and_rejects_the_other_data_sets():
    inspect_logs = documents(FORMAT.name)
    assert len(inspect_logs) == 3
    assert all(FORMAT.detect(log) for log in inspect_logs)
    assert not any(FORMAT.detect(other) for other in documents_in_other_formats(FORMAT.name))


def test_a_sample_without_events_is_skipped_and_the_others_import():
    log = json.loads(POPULARITY_LOG.read_text())
    log["samples"][1]["events"] = []
    results = _parse_log(log)
    skipped = [item for item in results if isinstance(item, Skipped)]
    assert len([item for item in results if isinstance(item, ImportedTrace)]) == 2
    assert [(item.ref, item.reason) for item in skipped] == [
        ("edited.json sample 2 epoch 1", "the sample has no events to build spans from")
    ]


def test_a_sample_that_is_not_an_object_is_skipped():
    log = json.loads(POPULARITY_LOG.read_text())
    log["samples"].append("not a sample")
    skipped = [item for item in _parse_log(log) if isinstance(item, Skipped)]
    assert [(item.ref, item.reason) for item in skipped] == [
        ("edited.json sample #3", "the sample is a JSON str, not an object")
    ]


def test_a_log_without_samples_is_skipped_with_a_reason():
    log = json.loads(POPULARITY_LOG.read_text())
    del log["samples"]
    (skipped,) = _parse_log(log)
    assert isinstance(skipped, Skipped)
    assert "no samples" in skipped.reason
