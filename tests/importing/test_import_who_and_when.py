"""The 184 Who&When runs imported into a real MLflow store, checked step by step against the files."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.builder import SYNTHETIC_TIME_TAG
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.who_and_when import FORMAT, MISTAKE_ATTRIBUTE, ROOT_SPAN_NAME
from tests.importing.data_sets import documents, documents_in_other_formats
from tests.importing.store_import import import_files
from tests.realdata import DATA_DIR, realdata
from tests.trace_factory import BASE_NS

pytestmark = realdata

WHO_AND_WHEN_DIR = DATA_DIR / "who_and_when"
SUBSETS = {"Hand-Crafted": 58, "Algorithm-Generated": 126}


@dataclass(frozen=True)
class Imported:
    uri: str
    experiment_id: str
    runs: dict[str, tuple[Path, dict[str, Any]]]
    """trace id -> (the run's file, the run)"""
    skipped: list[Skipped]
    written: int


@pytest.fixture(scope="module")
def imported(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    store = import_files(
        template_db, tmp_path_factory, FORMAT, sorted(WHO_AND_WHEN_DIR.glob("*/*.json")), synthetic_start_ns=BASE_NS
    )
    runs = {trace.record.trace_id: (source.file, source.value) for source, trace in store.parsed}
    return Imported(store.uri, store.experiment_id, runs, store.skipped, store.report.written)


def _stored_traces(imported: Imported, *, include_spans: bool = True) -> dict[str, Any]:
    client = MlflowClient(tracking_uri=imported.uri)
    traces = client.search_traces(locations=[imported.experiment_id], max_results=1000, include_spans=include_spans)
    return {trace.info.trace_id: trace for trace in traces}


def _steps(trace: Any) -> list[Any]:
    """The step spans in time order (the root spans them all)."""
    return sorted((span for span in trace.data.spans if span.parent_id), key=lambda span: span.start_time_ns)


def _root(trace: Any) -> Any:
    return next(span for span in trace.data.spans if span.parent_id is None)


def _agent(step: dict[str, Any]) -> str:
    return step.get("name") or step["role"].split(" (")[0]


def _parse_run(run: dict[str, Any], file: Path = Path("Hand-Crafted/1.json")) -> list[ImportedTrace | Skipped]:
    context = ParseContext("0", FORMAT.name, synthetic_start_ns=BASE_NS)
    return list(FORMAT.parse(SourceRecord(file.name, run, file), context))


def _hand_crafted_run() -> dict[str, Any]:
    return json.loads((WHO_AND_WHEN_DIR / "Hand-Crafted" / "1.json").read_text())


def test_every_run_imports_and_none_is_skipped(imported):
    assert imported.skipped == []
    assert imported.written == len(imported.runs) == sum(SUBSETS.values()) == 184
    traces = _stored_traces(imported, include_spans=False)
    subsets = [trace.info.tags["who_and_when.subset"] for trace in traces.values()]
    assert {subset: subsets.count(subset) for subset in SUBSETS} == SUBSETS


def test_each_history_step_is_one_span_under_the_root_in_order(imported):
    traces = _stored_traces(imported)
    for trace_id, (file, run) in imported.runs.items():
        trace, history = traces[trace_id], run["history"]
        root, steps = _root(trace), _steps(trace)
        assert len(trace.data.spans) == len(history) + 1, file
        assert (root.name, root.span_type) == (ROOT_SPAN_NAME, "AGENT")
        assert root.inputs == {"question": run["question"]}
        assert root.outputs == history[-1]["content"]
        assert all(span.parent_id == root.span_id for span in steps)
        assert [span.name for span in steps] == [_agent(step) for step in history], file
        assert [span.inputs for span in steps] == [{"step": i, "role": step["role"]} for i, step in enumerate(history)]
        assert [span.outputs for span in steps] == [step["content"] for step in history], file


def _ran_nothing(step: dict[str, Any]) -> bool:
    return str(step["content"]).strip().startswith("There is no code from the last")


def _expected_type(step: dict[str, Any]) -> str:
    agent = _agent(step)
    if agent in ("ComputerTerminal", "Computer_terminal"):
        return "CHAIN" if _ran_nothing(step) else "TOOL"
    return "CHAIN" if agent == "human" else "AGENT"


def test_terminals_are_tools_the_human_question_a_chain_and_the_rest_agents(imported):
    traces = _stored_traces(imported)
    for trace_id, (file, run) in imported.runs.items():
        for span, step in zip(_steps(traces[trace_id]), run["history"], strict=True):
            assert span.span_type == _expected_type(step), (file, _agent(step))


def test_a_terminal_turn_that_ran_no_code_is_no_tool_call(imported):
    traces = _stored_traces(imported)
    idle = [
        (span, file)
        for trace_id, (file, run) in imported.runs.items()
        for span, step in zip(_steps(traces[trace_id]), run["history"], strict=True)
        if _agent(step) == "Computer_terminal" and _ran_nothing(step)
    ]
    assert len(idle) > 10
    assert {span.span_type for span, _ in idle} == {"CHAIN"}


def test_times_are_synthetic_monotonic_and_tagged_as_such(imported):
    traces = _stored_traces(imported)
    for trace in traces.values():
        root, steps = _root(trace), _steps(trace)
        assert trace.info.tags[SYNTHETIC_TIME_TAG] == "true"
        assert root.start_time_ns < steps[0].start_time_ns
        assert all(a.end_time_ns < b.start_time_ns for a, b in itertools.pairwise(steps))
        assert steps[-1].end_time_ns < root.end_time_ns


def test_the_labelled_mistake_step_is_marked(imported):
    traces = _stored_traces(imported)
    for trace_id, (file, run) in imported.runs.items():
        marked = [span for span in _steps(traces[trace_id]) if span.attributes.get(MISTAKE_ATTRIBUTE)]
        assert [span.inputs["step"] for span in marked] == [int(run["mistake_step"])], file
        assert marked[0].attributes[MISTAKE_ATTRIBUTE] is True


def test_the_labels_are_human_expectations_on_every_run(imported):
    traces = _stored_traces(imported, include_spans=False)
    for trace_id, (file, run) in imported.runs.items():
        assessments = {a.name: a for a in traces[trace_id].info.assessments}
        assert {name: a.expectation.value for name, a in assessments.items()} == {
            "mistake_agent": run["mistake_agent"],
            "mistake_step": int(run["mistake_step"]),
            "mistake_reason": run["mistake_reason"],
            "expected_response": run["ground_truth"],
        }, file
        assert {a.source.source_type for a in assessments.values()} == {"HUMAN"}


def test_the_labels_are_tags(imported):
    traces = _stored_traces(imported, include_spans=False)
    for trace_id, (file, run) in imported.runs.items():
        tags = traces[trace_id].info.tags
        assert tags["who_and_when.mistake_agent"] == run["mistake_agent"]
        assert tags["who_and_when.mistake_step"] == run["mistake_step"]
        assert tags["who_and_when.question_id"] == run["question_ID"]
        assert tags["who_and_when.subset"] == file.parent.name


def test_runs_can_be_filtered_by_the_expected_mistake_agent(imported):
    client = MlflowClient(tracking_uri=imported.uri)
    found = client.search_traces(
        locations=[imported.experiment_id],
        filter_string="expectation.mistake_agent = 'WebSurfer'",
        max_results=1000,
        include_spans=False,
    )
    expected = {trace_id for trace_id, (_, run) in imported.runs.items() if run["mistake_agent"] == "WebSurfer"}
    assert len(expected) == 31
    assert {trace.info.trace_id for trace in found} == expected


def test_failed_runs_keep_status_ok(imported):
    traces = _stored_traces(imported)
    assert {trace.info.state.value for trace in traces.values()} == {"OK"}
    assert all(span.status.status_code == "OK" for trace in traces.values() for span in trace.data.spans)


def test_source_ids_keep_runs_with_the_same_question_apart():
    hand_crafted = _parse_run(_hand_crafted_run(), Path("Hand-Crafted/1.json"))
    algorithm_generated = _parse_run(_hand_crafted_run(), Path("Algorithm-Generated/1.json"))
    assert [item.source_id for item in hand_crafted + algorithm_generated] == [
        "Hand-Crafted/1",
        "Algorithm-Generated/1",
    ]


def test_detect_accepts_who_and_when_runs_and_rejects_the_other_data_sets():
    runs = documents(FORMAT.name)
    assert len(runs) == 184
    assert all(FORMAT.detect(run) for run in runs)
    assert not any(FORMAT.detect(other) for other in documents_in_other_formats(FORMAT.name))


def test_a_history_kept_as_a_python_repr_imports_like_the_list():
    run = _hand_crafted_run()
    (as_list,) = _parse_run(run)
    (as_repr,) = _parse_run({**run, "history": repr(run["history"])})
    assert isinstance(as_repr, ImportedTrace)
    assert as_repr.record == as_list.record


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        ("__import__('os').system('echo no')", "`history` is a string that is not a Python list literal (ValueError)"),
        ("[{'role': 'human', 'content': 'unclosed'", "`history` is a string that is not a Python list literal"),
        ("{'role': 'human'}", "`history` is a dict, not a list of steps"),
        ([], "`history` has no steps"),
        (["just text"], "`history` holds steps that are not objects"),
    ],
)
def test_a_history_that_is_not_a_list_of_steps_is_skipped_with_the_reason(history, reason):
    (skipped,) = _parse_run({**_hand_crafted_run(), "history": history})
    assert isinstance(skipped, Skipped)
    assert skipped.ref == "1.json"
    assert skipped.reason.startswith(reason)
