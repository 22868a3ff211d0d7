"""generate_dataset on real stores: which cases, what they hold, what is redacted, and the MLflow
dataset sync."""

import dataclasses
import json

import pytest
from mlflow.entities import Trace
from mlflow.genai.datasets import get_dataset
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.sensitive import find_sensitive
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import CASES_FILE, TRACES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase
from tests.suite_factory import analysed
from tests.trace_factory import make_trace


def _cases(suite_dir) -> list[DatasetCase]:
    lines = (suite_dir / CASES_FILE).read_text().splitlines()
    return [DatasetCase.model_validate_json(line) for line in lines]


def _analysed(store_uri, tmp_path, records):
    small = analysed(store_uri, tmp_path, records)
    return small.client, small.suite, small.analysis


def test_every_finding_is_represented_and_clean_traces_too(demo_suite):
    cases = _cases(demo_suite.suite_dir)
    analysis = json.loads((demo_suite.suite_dir / "state" / "analysis.json").read_text())
    reasons = {reason for case in cases for reason in case.reasons}
    assert {finding["id"] for finding in analysis["findings"]} <= reasons
    clean = [case for case in cases if case.kind == "recorded" and not demo_suite.store.planted[case.source_trace_id]]
    assert len(clean) >= 10


def test_every_case_keeps_its_source_trace(demo_suite):
    cases = _cases(demo_suite.suite_dir)
    assert all(case.source_trace_id in demo_suite.store.planted for case in cases)
    assert len({case.case_id for case in cases}) == len(cases) == 50


def test_recorded_cases_carry_their_traces_which_load_as_mlflow_traces(demo_suite):
    entries = [json.loads(line) for line in (demo_suite.suite_dir / TRACES_FILE).read_text().splitlines()]
    cases = _cases(demo_suite.suite_dir)
    recorded = [case.source_trace_id for case in cases if case.kind == "recorded" and case.has_trace]
    in_sessions = [trace_id for case in cases if case.kind == "session" for trace_id in case.trace_ids]
    assert in_sessions and not set(in_sessions) & set(recorded)
    assert [entry["trace_id"] for entry in entries] == recorded + in_sessions
    trace = Trace.from_dict(entries[0]["trace"])
    assert trace.info.trace_id == entries[0]["trace_id"] and trace.data.spans


def test_synthetic_edge_cases_keep_the_observed_input_shape(demo_suite):
    synthetic = {case.case_id: case for case in _cases(demo_suite.suite_dir) if case.kind == "synthetic"}
    assert set(synthetic) == {
        "synthetic-empty",
        "synthetic-whitespace_only",
        "synthetic-very_long",
        "synthetic-prompt_injection",
        "synthetic-out_of_scope",
        "synthetic-non_english",
    }
    recorded_keys = {tuple(sorted(case.inputs)) for case in _cases(demo_suite.suite_dir) if case.has_trace}
    assert all(tuple(sorted(case.inputs)) in recorded_keys for case in synthetic.values())
    assert all(case.expectations["guidelines"] and not case.has_trace for case in synthetic.values())


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_personal_data_is_redacted_from_every_data_file(demo_suite):
    for name in (CASES_FILE, TRACES_FILE):
        for line in (demo_suite.suite_dir / name).read_text().splitlines():
            for text in _strings(json.loads(line)):
                raw = text.replace("[REDACTED_EMAIL]", "").replace("[REDACTED_PHONE]", "")
                assert find_sensitive(raw) == set(), (name, text[:200])


def test_redaction_can_be_turned_off_and_says_what_it_removed(store_uri, tmp_path):
    leak = make_trace(0, answer="Reach Jane at jane@example.com or 415-555-0134.")
    client, suite, _ = _analysed(store_uri, tmp_path, [leak, *(make_trace(i) for i in range(1, 30))])
    redacted = generate_dataset(client, suite, max_cases=40, include_synthetic=False)
    assert set(redacted.redacted) == {"email", "phone"}  # every occurrence: answer, model output, preview
    assert "jane@example.com" not in (suite.root / CASES_FILE).read_text()
    assert "jane@example.com" not in (suite.root / TRACES_FILE).read_text()
    kept = generate_dataset(client, suite, max_cases=40, include_synthetic=False, redact=False)
    assert kept.redacted == {} and "jane@example.com" in (suite.root / CASES_FILE).read_text()


def test_expectations_come_from_assessments_and_human_feedback(store_uri, tmp_path):
    labelled = dataclasses.replace(
        make_trace(0),
        assessments=[
            AssessmentRecord("expected_response", "It shipped on Monday."),
            AssessmentRecord("helpful", True, kind="feedback", source_type="HUMAN"),
            AssessmentRecord("tone", 0.2, kind="feedback", source_type="LLM_JUDGE"),
        ],
    )
    client, suite, _ = _analysed(store_uri, tmp_path, [labelled])
    generate_dataset(client, suite, include_synthetic=False)
    (case,) = [case for case in _cases(suite.root) if case.source_trace_id == labelled.trace_id]
    # The recorded expectation wins over the one derived from the answer; the tool call is derived.
    assert case.expectations == {
        "expected_response": "It shipped on Monday.",
        "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": 0}}],
        "human_assessments": {"helpful": True},
    }


def test_near_duplicate_requests_become_one_case(store_uri, tmp_path):
    same = [dataclasses.replace(make_trace(i), trace_id=f"tr-{i:032x}") for i in range(5)]
    same = [
        dataclasses.replace(r, spans=[dataclasses.replace(r.spans[0], inputs={"question": "where is my order?"})])
        for r in same
    ]
    client, suite, _ = _analysed(store_uri, tmp_path, same)
    result = generate_dataset(client, suite, include_synthetic=False)
    assert (result.cases, result.near_duplicates_removed) == (1, 4)


def test_manual_strategy_keeps_inputs_only(store_uri, tmp_path):
    client, suite, _ = _analysed(store_uri, tmp_path, [make_trace(i) for i in range(10)])
    result = generate_dataset(client, suite, strategy="manual")
    assert result.recorded == 0 and result.inputs_only == result.cases
    assert not (suite.root / TRACES_FILE).exists()


def test_sync_upserts_into_an_mlflow_dataset_idempotently(store_uri, tmp_path, monkeypatch):
    client, suite, _ = _analysed(store_uri, tmp_path, [make_trace(i) for i in range(10)])
    first = generate_dataset(client, suite, sync=True)
    second = generate_dataset(client, suite, sync=True)
    assert (first.sync.inserted, first.sync.updated) == (first.cases, 0)
    assert (second.sync.inserted, second.sync.updated) == (0, first.cases)
    assert second.sync.dataset_id == first.sync.dataset_id
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)  # MLflow's dataset entity reads the global store
    assert len(get_dataset(dataset_id=first.sync.dataset_id).to_df()) == first.cases


def test_a_dataset_needs_an_analysis_first(store_uri, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="run analyze_traces"):
        generate_dataset(MlflowClient(tracking_uri=store_uri), SuiteLayout(tmp_path / "empty"))


def test_max_cases_is_bounded(store_uri, tmp_path):
    client, suite, _ = _analysed(store_uri, tmp_path, [make_trace(0)])
    with pytest.raises(InvalidArgumentError, match="1,000"):
        generate_dataset(client, suite, max_cases=1001)
