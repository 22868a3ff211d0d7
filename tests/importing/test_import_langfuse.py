"""The Langfuse parser against the 13 real framework traces, read back from a real MLflow store."""

import calendar
import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import SYNTHETIC_ROOT
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.langfuse import FORMAT
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records
from mlflow_eval_mcp.importing.trace_writer import WriteReport
from tests.importing.store_import import import_files
from tests.realdata import DATA_DIR, realdata

pytestmark = realdata

LANGFUSE_DIR = DATA_DIR / "langfuse_framework_traces"
FILES = sorted(path.name for path in LANGFUSE_DIR.glob("*.json"))
EXPECTED_TYPES = {
    "GENERATION": "CHAT_MODEL",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "CHAIN": "CHAIN",
    "SPAN": "UNKNOWN",
}
OTHER_DATA = [
    *sorted(DATA_DIR.glob("inspect_ai/*.json")),
    DATA_DIR / "who_and_when" / "Hand-Crafted" / "1.json",
    DATA_DIR / "mlflow_real_examples" / "mnorberg_mlflow3_traces.json",
]


@dataclass(frozen=True)
class Imported:
    uri: str
    traces: dict[str, ImportedTrace]
    skipped: list[Skipped]
    report: WriteReport


@pytest.fixture(scope="module")
def imported(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """All 13 files imported once into a private copy of the migrated store."""
    store = import_files(
        template_db, tmp_path_factory, FORMAT, [LANGFUSE_DIR / name for name in FILES], synthetic_start_ns=0
    )
    traces = {source.file.name: trace for source, trace in store.parsed}
    return Imported(store.uri, traces, store.skipped, store.report)


def _source(name: str) -> dict[str, Any]:
    return json.loads((LANGFUSE_DIR / name).read_text())


def _stored(imported: Imported, name: str) -> Any:
    return MlflowClient(tracking_uri=imported.uri).get_trace(imported.traces[name].record.trace_id)


def _by_observation(trace: Any) -> dict[str, Any]:
    return {
        span.attributes["langfuse.observation_id"]: span
        for span in trace.data.spans
        if "langfuse.observation_id" in span.attributes
    }


def _root(trace: Any) -> Any:
    return next(span for span in trace.data.spans if span.parent_id is None)


def _top_level(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {observation["id"] for observation in observations}
    return [observation for observation in observations if observation.get("parentObservationId") not in ids]


def _iso_ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + moment.microsecond * 1000


def _json_value(value: Any) -> Any:
    """The value a JSON-encoded (possibly double-encoded) string stands for; other text as is."""
    while isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if not isinstance(decoded, str | dict | list):
            return value
        value = decoded
    return value


def _expected_usage(observation: dict[str, Any]) -> dict[str, int] | None:
    details = observation.get("usageDetails")
    if details is None:
        details = {key: observation.get(f"{key}Usage") for key in ("input", "output", "total")}
    if all(details.get(key) is None for key in ("input", "output", "total")):
        return None
    input_tokens, output_tokens = details.get("input") or 0, details.get("output") or 0
    total = details.get("total")
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": total if total is not None else input_tokens + output_tokens,
    }


def test_every_file_imports_as_one_trace_with_nothing_skipped(imported):
    assert len(FILES) == 13
    assert sorted(imported.traces) == FILES
    assert imported.skipped == []
    assert (imported.report.written, imported.report.failed, imported.report.lost) == (13, [], [])


@pytest.mark.parametrize("name", FILES)
def test_one_span_per_observation_plus_a_synthetic_root_when_needed(imported, name):
    observations = _source(name)["observations"]
    synthetic = len(_top_level(observations)) != 1
    assert len(_stored(imported, name).data.spans) == len(observations) + synthetic


@pytest.mark.parametrize("name", FILES)
def test_spans_keep_observation_names_and_map_types(imported, name):
    spans = _by_observation(_stored(imported, name))
    for observation in _source(name)["observations"]:
        span = spans[observation["id"]]
        assert span.name == (observation["name"] or "unnamed")
        assert span.span_type == EXPECTED_TYPES[observation["type"]]


@pytest.mark.parametrize("name", FILES)
def test_spans_nest_as_observations_do(imported, name):
    trace = _stored(imported, name)
    spans, root = _by_observation(trace), _root(trace)
    observations = _source(name)["observations"]
    top = _top_level(observations)
    for observation in observations:
        span = spans[observation["id"]]
        if observation in top:
            assert span.parent_id == (None if len(top) == 1 else root.span_id)
        else:
            assert span.parent_id == spans[observation["parentObservationId"]].span_id


@pytest.mark.parametrize("name", FILES)
def test_span_times_are_the_observation_times_to_the_nanosecond(imported, name):
    spans = _by_observation(_stored(imported, name))
    for observation in _source(name)["observations"]:
        span = spans[observation["id"]]
        start = _iso_ns(observation["startTime"])
        assert span.start_time_ns == start
        # The one open observation (a generation without an end) is closed at its start.
        assert span.end_time_ns == (_iso_ns(observation["endTime"]) if observation["endTime"] else start)


@pytest.mark.parametrize("name", FILES)
def test_each_generation_carries_its_token_usage_and_model(imported, name):
    spans = _by_observation(_stored(imported, name))
    for observation in _source(name)["observations"]:
        attributes = spans[observation["id"]].attributes
        if observation["type"] == "GENERATION":
            assert attributes.get(TOKEN_USAGE) == _expected_usage(observation)
            assert attributes[MODEL] == observation["model"]
        else:
            assert TOKEN_USAGE not in attributes


@pytest.mark.parametrize("name", FILES)
def test_trace_token_total_is_the_sum_over_generations(imported, name):
    usages = [
        usage
        for observation in _source(name)["observations"]
        if observation["type"] == "GENERATION" and (usage := _expected_usage(observation))
    ]
    total = {key: sum(usage[key] for usage in usages) for key in ("input_tokens", "output_tokens", "total_tokens")}
    assert _stored(imported, name).info.token_usage == total


@pytest.mark.parametrize("name", FILES)
def test_inputs_and_outputs_are_decoded_values(imported, name):
    source = _source(name)
    spans = _by_observation(_stored(imported, name))
    top = _top_level(source["observations"])
    for observation in source["observations"]:
        span = spans[observation["id"]]
        is_root = top == [observation]
        for key, stored in (("input", span.inputs), ("output", span.outputs)):
            value = observation.get(key)
            if value is None and is_root:
                value = source["trace"].get(key)
            assert stored == _json_value(value)


def test_double_encoded_trace_input_becomes_a_value(imported):
    root = _root(_stored(imported, "openai-assistants-2024-05-29.json"))
    assert root.inputs == {"args": ["I need to solve the equation `3x + 11 = 14`. Can you help me?"], "kwargs": {}}
    assert root.outputs.startswith("Sure, first subtract 11 from both sides")


def test_text_that_is_not_json_stays_text(imported):
    langgraph = _by_observation(_stored(imported, "langgraph-2025-08-22.json"))
    agno = _by_observation(_stored(imported, "agno-2025-06-11.json"))
    assert langgraph["21441266a9f21251"].inputs == "{'query': 'example'}"
    assert [span.outputs for span in agno.values() if span.name == "chat gpt-4o-mini"].count("None") == 1


def test_several_parentless_observations_hang_under_a_synthetic_agent_root(imported):
    name = "openai-assistants-2024-05-29.json"
    source = _source(name)
    trace = _stored(imported, name)
    root, spans = _root(trace), _by_observation(trace)
    children = [spans[observation["id"]] for observation in _top_level(source["observations"])]
    assert (root.name, root.span_type, root.attributes[SYNTHETIC_ROOT]) == ("run_math_tutor", "AGENT", True)
    assert [child.parent_id for child in children] == [root.span_id] * 3
    assert root.start_time_ns == _iso_ns(source["trace"]["timestamp"])
    assert root.end_time_ns == max(child.end_time_ns for child in children)


def test_a_single_parentless_observation_is_the_root(imported):
    root = _root(_stored(imported, "langgraph-2025-08-22.json"))
    assert (root.name, root.attributes["langfuse.observation_id"]) == ("LangGraph", "b024c7ee7680b708")
    assert SYNTHETIC_ROOT not in root.attributes


def test_a_root_without_input_takes_the_traces(imported):
    root = _root(_stored(imported, "autogen-2025-06-06.json"))
    assert (root.inputs, root.outputs) == ("Say 'Hello World!'", "Hello World!")


def test_user_session_tags_and_version_are_kept(imported):
    info = _stored(imported, "autogen-2025-06-06.json").info
    assert info.trace_metadata["mlflow.trace.user"] == "user_123"
    assert info.trace_metadata["mlflow.trace.session"] == "session_abc"
    assert info.tags["langfuse.tag.autogen"] == info.tags["langfuse.tag.dev"] == "true"
    assert info.tags["langfuse.trace_id"] == "1b72c51fabed12ae7df83bfd4a09f545"
    assert (info.tags["langfuse.version"], info.tags["langfuse.environment"]) == ("1.0.0", "default")


def test_scores_become_llm_judge_feedback(imported):
    name = "beeai-2025-08-01.json"
    scores = {score["name"]: score for score in _source(name)["trace"]["scores"]}
    feedback = {assessment.name: assessment for assessment in _stored(imported, name).info.assessments}
    assert sorted(feedback) == sorted(scores) == ["hallucination", "toxicity"]
    for score_name, score in scores.items():
        assert feedback[score_name].value == score["value"]
        assert feedback[score_name].rationale == score["comment"]
        assert feedback[score_name].source.source_type == "LLM_JUDGE"


@pytest.mark.parametrize("name", FILES)
def test_detect_recognises_langfuse_exports(name):
    assert FORMAT.detect(_source(name))


@pytest.mark.parametrize("path", OTHER_DATA, ids=lambda path: path.name)
def test_detect_rejects_other_formats(path):
    records = [item for item in read_records(path) if isinstance(item, SourceRecord)]
    assert records
    assert not any(FORMAT.detect(record.value) for record in records)


def _parse(value: Any) -> list[ImportedTrace | Skipped]:
    return list(FORMAT.parse(SourceRecord("broken.json", value, Path("broken.json")), ParseContext("1", "langfuse", 0)))


def _broken_observations(value: dict[str, Any]) -> None:
    value["observations"] = {"not": "a list"}


def _cycle(value: dict[str, Any]) -> None:
    # LangGraph's "tools" node and its Web-Search call become each other's parent.
    by_id = {observation["id"]: observation for observation in value["observations"]}
    by_id["c8a18a38a3a115cb"]["parentObservationId"] = "21441266a9f21251"


def _no_trace_id(value: dict[str, Any]) -> None:
    del value["trace"]["id"]


def _no_observation_id(value: dict[str, Any]) -> None:
    value["observations"][3]["id"] = None


def _id_listing(value: dict[str, Any]) -> None:
    value["observations"] = [observation["id"] for observation in value["observations"]]


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (_broken_observations, "not a list"),
        (_cycle, "form a parent cycle"),
        (_no_trace_id, "the trace has no id"),
        (_no_observation_id, "observation 3 .* has no id"),
        (_id_listing, "lists only ids"),
    ],
)
def test_malformed_records_are_skipped_with_a_reason(corrupt, reason):
    value = copy.deepcopy(_source("langgraph-2025-08-22.json"))
    corrupt(value)
    [result] = _parse(value)
    assert isinstance(result, Skipped)
    assert result.ref == "broken.json"
    assert re.search(reason, result.reason)


def test_an_error_level_marks_the_span_and_keeps_the_tool_output():
    value = copy.deepcopy(_source("microsoft-agent-2025-10-14.json"))
    tool = next(observation for observation in value["observations"] if observation["type"] == "TOOL")
    tool.update(level="ERROR", statusMessage="weather service timed out")
    [result] = _parse(value)
    span = next(span for span in result.record.spans if span.attributes["langfuse.observation_id"] == tool["id"])
    assert span.error == "weather service timed out"
    assert span.outputs == "The weather in Portland is stormy with a high of 19°C."


def test_an_api_trace_object_parses_like_the_export():
    source = _source("beeai-2025-08-01.json")
    [export] = _parse(source)
    [api] = _parse({**source["trace"], "observations": source["observations"]})
    assert api == export
