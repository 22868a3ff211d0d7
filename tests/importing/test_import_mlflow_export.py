"""Exported MLflow traces imported back into a store: real redacted exports and a round trip."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.entities import AssessmentSource, Span, Trace
from mlflow.entities.trace_location import MlflowExperimentLocation
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.mlflow_export import FORMAT, STRUCTURE_TAG
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.realdata import DATA_DIR, realdata
from tests.trace_factory import BASE_NS

REAL_EXPORT = DATA_DIR / "mlflow_real_examples" / "mnorberg_mlflow3_traces.json"
# Describe the store a trace was written to, not the trace; the target store sets its own.
STORE_TAGS = {"mlflow.artifactLocation", "mlflow.trace.spansLocation"}
STORE_METADATA = {"mlflow.trace.sizeStats", "mlflow.trace.sizeBytes", "mlflow.trace.infoFinalized"}
FIELD_ATTRIBUTES = {"mlflow.traceRequestId", "mlflow.spanInputs", "mlflow.spanOutputs"}


def _parse_file(path: Path, experiment_id: str = "0") -> list[ImportedTrace | Skipped]:
    context = ParseContext(experiment_id, "mlflow", BASE_NS)
    items: list[ImportedTrace | Skipped] = []
    for record in read_records(path):
        assert isinstance(record, SourceRecord)
        items.extend(FORMAT.parse(record, context))
    return items


def _import_file(store_uri: str, path: Path, experiment: str) -> list[Trace]:
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment(experiment)
    items = _parse_file(path, experiment_id)
    records = [item.record for item in items if isinstance(item, ImportedTrace)]
    assert len(records) == len(items)
    report = write_traces(store_uri, experiment_id, records)
    assert (report.written, report.failed, report.lost) == (len(records), [], [])
    return [client.get_trace(record.trace_id) for record in records]


def _by_name(trace: Trace) -> dict[str, Span]:
    return {span.name: span for span in trace.data.spans}


def _real_data(test: Callable[..., None]) -> Callable[..., None]:
    for mark in realdata:
        test = mark(test)
    return test


# --- real, redacted Databricks exports -----------------------------------------------------


@_real_data
def test_redacted_ids_rebuild_structure_from_times(store_uri: str) -> None:
    traces = _import_file(store_uri, REAL_EXPORT, "real")

    for trace in traces:
        spans = _by_name(trace)
        assert set(spans) == {"predict", "Completions"}
        assert (spans["predict"].span_type, spans["predict"].parent_id) == ("AGENT", None)
        assert spans["Completions"].span_type == "CHAT_MODEL"
        assert spans["Completions"].parent_id == spans["predict"].span_id
        assert trace.info.tags[STRUCTURE_TAG] == "inferred"


@_real_data
def test_redacted_export_keeps_times_and_io_exactly(store_uri: str) -> None:
    source = json.loads(REAL_EXPORT.read_text())
    traces = _import_file(store_uri, REAL_EXPORT, "real")

    for raw, trace in zip(source, traces, strict=True):
        spans = _by_name(trace)
        for raw_span in raw["data"]["spans"]:
            span = spans[raw_span["name"]]
            assert (span.start_time_ns, span.end_time_ns) == (
                raw_span["start_time_unix_nano"],
                raw_span["end_time_unix_nano"],
            )
            assert span.inputs == json.loads(raw_span["attributes"]["mlflow.spanInputs"])
            assert span.attributes["mlflow.message.format" if span.name == "Completions" else "mlflow.spanFunctionName"]
        assert trace.info.request_time == raw["data"]["spans"][0]["start_time_unix_nano"] // 1_000_000


@_real_data
def test_redacted_export_keeps_token_usage_and_metadata(store_uri: str) -> None:
    recipe, refusal = _import_file(store_uri, REAL_EXPORT, "real")

    usage = {"input_tokens": 27, "output_tokens": 641, "total_tokens": 668}
    assert _by_name(recipe)["Completions"].attributes["mlflow.chat.tokenUsage"] == usage
    assert recipe.info.token_usage == usage
    assert recipe.info.trace_metadata["app_version_id"] == "<redacted>"
    assert recipe.info.trace_metadata["is_truncated"] == "false"
    assert refusal.info.token_usage is None


@_real_data
def test_content_filter_refusal_is_an_error_span_in_an_ok_trace(store_uri: str) -> None:
    _, refusal = _import_file(store_uri, REAL_EXPORT, "real")

    completions = _by_name(refusal)["Completions"]
    assert completions.status.status_code == "ERROR"
    assert completions.status.description.startswith("BadRequestError: Error code: 400")
    [event] = completions.events
    assert event.attributes["exception.type"] == "BadRequestError"
    assert "content_filter" in event.attributes["exception.message"]
    assert not event.attributes["exception.message"].startswith("BadRequestError")
    assert completions.outputs is None
    assert _by_name(refusal)["predict"].outputs["output"][0]["content"][0]["text"] == (
        "This question has been flagged as inappropriate"
    )
    assert refusal.info.state == "OK"


@_real_data
def test_redacted_traces_get_distinct_stable_source_ids() -> None:
    first = _parse_file(REAL_EXPORT)
    again = _parse_file(REAL_EXPORT)

    ids = [item.source_id for item in first if isinstance(item, ImportedTrace)]
    assert len(set(ids)) == 2
    assert all(source_id.startswith("sha256:") for source_id in ids)
    assert ids == [item.source_id for item in again if isinstance(item, ImportedTrace)]


@_real_data
def test_detects_the_real_export() -> None:
    records = [record for record in read_records(REAL_EXPORT) if isinstance(record, SourceRecord)]

    assert len(records) == 2
    assert all(FORMAT.detect(record.value) for record in records)


OTHER_FORMAT_FILES = [
    *sorted(DATA_DIR.glob("langfuse_framework_traces/*.json")),
    *sorted(DATA_DIR.glob("inspect_ai/*.json")),
    DATA_DIR / "who_and_when" / "Hand-Crafted" / "1.json",
]


@pytest.mark.parametrize("path", [pytest.param(path, marks=realdata, id=path.name) for path in OTHER_FORMAT_FILES])
def test_does_not_detect_other_formats_real_files(path: Path) -> None:
    records = [record for record in read_records(path) if isinstance(record, SourceRecord)]

    assert records
    assert not any(FORMAT.detect(record.value) for record in records)


def test_detects_a_trace_json_string() -> None:
    # A JSON-lines file whose lines are `Trace.to_json()` output JSON-encoded once more.
    assert FORMAT.detect(json.dumps({"info": {}, "data": {"spans": []}}))


def test_does_not_detect_a_chat_transcript() -> None:
    assert not FORMAT.detect({"messages": [{"role": "user", "content": "hi"}]})


# --- structure without usable ids ----------------------------------------------------------


def _span(name: str, start: int, end: int, span_id: str = "<redacted>", parent: str | None = "<redacted>") -> dict:
    return {
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_time_unix_nano": BASE_NS + start,
        "end_time_unix_nano": BASE_NS + end,
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": {"mlflow.spanType": '"CHAIN"'},
    }


def _parents(spans: list[dict], info: dict | None = None) -> tuple[dict[str, str | None], dict[str, str]]:
    [item] = FORMAT.parse(
        SourceRecord("t.json", {"info": info or {}, "data": {"spans": spans}}, Path("t.json")),
        ParseContext("0", "mlflow", BASE_NS),
    )
    assert isinstance(item, ImportedTrace)
    names = {span.span_id: span.name for span in item.record.spans}
    return {span.name: names.get(span.parent_id) for span in item.record.spans}, item.record.tags


def test_time_containment_picks_the_tightest_enclosing_span() -> None:
    spans = [
        _span("tool", 30, 40),
        _span("llm", 10, 20),
        _span("step", 5, 50),
        _span("agent", 0, 100, parent=None),
        _span("late", 60, 90),
        _span("late_child", 70, 80),
    ]

    parents, tags = _parents(spans)
    assert parents == {
        "agent": None,
        "step": "agent",
        "llm": "step",
        "tool": "step",
        "late": "agent",
        "late_child": "late",
    }
    assert tags[STRUCTURE_TAG] == "inferred"


def test_duplicate_ids_are_not_trusted() -> None:
    spans = [
        _span("agent", 0, 100, span_id="AAAAAAAAAAE=", parent=None),
        _span("llm", 10, 20, span_id="AAAAAAAAAAI=", parent="AAAAAAAAAAE="),
        _span("tool", 12, 18, span_id="AAAAAAAAAAI=", parent="AAAAAAAAAAE="),
    ]

    parents, tags = _parents(spans)
    assert parents == {"agent": None, "llm": "agent", "tool": "llm"}
    assert tags[STRUCTURE_TAG] == "inferred"


def test_valid_ids_give_the_structure_even_against_times() -> None:
    # V2 shape: hex ids under `context`, `parent_id`, `start_time`/`end_time`, `status_code`.
    def v2(name: str, span_id: str, parent: str | None, start: int, end: int) -> dict:
        return {
            "name": name,
            "context": {"span_id": span_id, "trace_id": "0x" + "ab" * 16},
            "parent_id": parent,
            "start_time": BASE_NS + start,
            "end_time": BASE_NS + end,
            "status_code": "OK",
            "status_message": "",
            "attributes": {"mlflow.spanType": '"AGENT"'},
            "events": [],
        }

    spans = [
        v2("agent", "0x" + "01" * 8, None, 0, 100),
        v2("outer", "0x" + "02" * 8, "0x" + "01" * 8, 10, 90),
        v2("sibling", "0x" + "03" * 8, "0x" + "01" * 8, 20, 30),
    ]

    parents, tags = _parents(spans, {"request_id": "ab" * 16, "status": "OK"})
    assert parents == {"agent": None, "outer": "agent", "sibling": "agent"}
    assert STRUCTURE_TAG not in tags


def test_error_state_without_root_error_marks_the_root() -> None:
    [item] = FORMAT.parse(
        SourceRecord("t.json", {"info": {"state": "ERROR"}, "data": {"spans": [_span("agent", 0, 9)]}}, Path("t")),
        ParseContext("0", "mlflow", BASE_NS),
    )

    assert isinstance(item, ImportedTrace)
    assert item.record.spans[0].error


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"info": {}, "data": {"spans": []}}, "the trace has no spans (exported without span data?)"),
        ({"info": {}, "data": {"spans": {}}}, "'data.spans' is not a list"),
        ({"info": {}, "data": {"spans": [_span("a", 0, 1), 7]}}, "span is not an object (span 1)"),
    ],
)
def test_malformed_exports_are_skipped_with_a_reason(value: dict, reason: str) -> None:
    items = list(FORMAT.parse(SourceRecord("t.json", value, Path("t.json")), ParseContext("0", "mlflow", BASE_NS)))

    assert items == [Skipped("t.json", reason)]


# --- round trip of a trace made with MLflow's fluent API -----------------------------------


@pytest.fixture
def fluent_trace(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trace]:
    """A real trace: an agent whose tool raises, an LLM call with usage, and two assessments."""
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)  # recorded, so teardown restores it
    mlflow.set_tracking_uri(store_uri)
    # An explicit destination rather than set_experiment, which would leave a process-wide experiment.
    source = MlflowExperimentLocation(MlflowClient(tracking_uri=store_uri).create_experiment("source"))
    with mlflow.start_span("agent", span_type="AGENT", trace_destination=source) as root:
        root.set_inputs({"question": "weather in Atlantis?"})
        mlflow.update_current_trace(
            tags={"team": "eval"}, metadata={"mlflow.trace.user": "u-1"}, client_request_id="r-1"
        )
        try:
            with mlflow.start_span("lookup_city", span_type="TOOL") as tool:
                tool.set_inputs({"city": "Atlantis"})
                raise LookupError("unknown city Atlantis")
        except LookupError:
            pass
        with mlflow.start_span("answer", span_type="CHAT_MODEL") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": "weather in Atlantis?"}]})
            llm.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18})
            llm.set_attribute("mlflow.llm.model", "claude-test")
            llm.set_outputs({"role": "assistant", "content": "I could not find Atlantis."})
        root.set_outputs("I could not find Atlantis.")
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.log_expectation(trace_id=trace_id, name="expected_response", value={"answer": "Atlantis is fictional"})
    mlflow.log_feedback(
        trace_id=trace_id,
        name="helpful",
        value=False,
        rationale="did not explain",
        metadata={"round": "1"},
        source=AssessmentSource(source_type="LLM_JUDGE", source_id="judge-1"),
    )
    yield MlflowClient(tracking_uri=store_uri).get_trace(trace_id)
    mlflow.set_tracking_uri(None)


def _export(trace: Trace, directory: Path, form: str) -> Path:
    if form == "json":
        path = directory / "export.json"
        path.write_text(json.dumps([trace.to_dict()]))
    else:
        path = directory / "export.jsonl"
        path.write_text(trace.to_json() + "\n")
    return path


def _span_shape(span: Span, names: dict[str, str]) -> dict[str, Any]:
    return {
        "type": span.span_type,
        "parent": names.get(span.parent_id),
        "times": (span.start_time_ns, span.end_time_ns),
        "status": (span.status.status_code, span.status.description),
        "exceptions": [
            (event.attributes["exception.type"], event.attributes["exception.message"])
            for event in span.events
            if event.name == "exception"
        ],
        "inputs": span.inputs,
        "outputs": span.outputs,
        "attributes": {key: value for key, value in span.attributes.items() if key not in FIELD_ATTRIBUTES},
    }


def _spans_shape(trace: Trace) -> dict[str, dict[str, Any]]:
    names = {span.span_id: span.name for span in trace.data.spans}
    return {span.name: _span_shape(span, names) for span in trace.data.spans}


def _assessments(trace: Trace) -> set[tuple[Any, ...]]:
    return {
        (
            type(a).__name__,
            a.name,
            json.dumps(a.value),
            a.source.source_type,
            a.source.source_id,
            a.rationale,
            json.dumps(a.metadata),
        )
        for a in trace.info.assessments
    }


@pytest.mark.parametrize("form", ["json", "jsonl"])
def test_round_trip_keeps_every_span(store_uri: str, fluent_trace: Trace, tmp_path: Path, form: str) -> None:
    [imported] = _import_file(store_uri, _export(fluent_trace, tmp_path, form), "imported")

    assert _spans_shape(imported) == _spans_shape(fluent_trace)
    assert _spans_shape(imported)["lookup_city"]["exceptions"] == [("LookupError", "unknown city Atlantis")]
    assert STRUCTURE_TAG not in imported.info.tags


@pytest.mark.parametrize("form", ["json", "jsonl"])
def test_round_trip_keeps_trace_fields(store_uri: str, fluent_trace: Trace, tmp_path: Path, form: str) -> None:
    [imported] = _import_file(store_uri, _export(fluent_trace, tmp_path, form), "imported")

    source, copy = fluent_trace.info, imported.info
    assert {k: v for k, v in source.tags.items() if k not in STORE_TAGS}.items() <= copy.tags.items()
    assert {k: v for k, v in source.trace_metadata.items() if k not in STORE_METADATA}.items() <= (
        copy.trace_metadata.items()
    )
    assert (copy.client_request_id, copy.state, copy.request_time, copy.token_usage) == (
        source.client_request_id,
        source.state,
        source.request_time,
        source.token_usage,
    )


@pytest.mark.parametrize("form", ["json", "jsonl"])
def test_round_trip_keeps_assessments(store_uri: str, fluent_trace: Trace, tmp_path: Path, form: str) -> None:
    [imported] = _import_file(store_uri, _export(fluent_trace, tmp_path, form), "imported")

    assert len(fluent_trace.info.assessments) == 2
    assert _assessments(imported) == _assessments(fluent_trace)


def test_real_trace_id_is_the_source_id_and_reimport_adds_nothing(
    store_uri: str, fluent_trace: Trace, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("imported")
    path = _export(fluent_trace, tmp_path, "jsonl")
    [item] = _parse_file(path, experiment_id)
    assert isinstance(item, ImportedTrace)
    write_traces(store_uri, experiment_id, [item.record])

    [again] = _parse_file(_export(fluent_trace, tmp_path, "json"), experiment_id)
    assert isinstance(again, ImportedTrace)
    report = write_traces(store_uri, experiment_id, [again.record])
    assert item.source_id == fluent_trace.info.trace_id
    assert (report.written, report.skipped_existing) == (0, 1)
