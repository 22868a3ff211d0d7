import dataclasses

from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.trace_writer import (
    AssessmentRecord,
    SpanRecord,
    TraceRecord,
    span_id_for,
    stable_trace_id,
    write_traces,
)
from tests.trace_factory import BASE_NS, make_trace


def _experiment(uri: str, name: str = "writer") -> str:
    return MlflowClient(tracking_uri=uri).create_experiment(name)


def test_written_traces_read_back_span_by_span(store_uri):
    experiment_id = _experiment(store_uri)
    record = make_trace(1, tool_error="TimeoutError: order service timed out")
    report = write_traces(store_uri, experiment_id, [record])
    assert (report.written, report.lost) == (1, [])

    trace = MlflowClient(tracking_uri=store_uri).get_trace(record.trace_id)
    spans = {span.name: span for span in trace.data.spans}
    assert trace.info.state.value == "OK"
    assert trace.info.token_usage == {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    assert trace.info.trace_metadata["mlflow.trace.user"] == "user-1"
    assert trace.info.tags["env"] == "test"
    assert trace.info.client_request_id == "req-1"
    assert spans["agent"].parent_id is None
    assert spans["lookup_order"].parent_id == spans["agent"].span_id
    assert spans["lookup_order"].status.status_code == "ERROR"
    assert spans["lookup_order"].events[0].attributes["exception.type"] == "TimeoutError"
    assert spans["generate_answer"].span_type == "CHAT_MODEL"
    assert spans["generate_answer"].attributes["mlflow.llm.model"] == "claude-test"
    assert spans["agent"].inputs == {"question": "where is order 1?"}


def test_root_error_makes_the_trace_an_error(store_uri):
    experiment_id = _experiment(store_uri)
    root = SpanRecord(span_id_for(0), None, "agent", "AGENT", BASE_NS, BASE_NS + 10, {"q": 1}, None, error="boom")
    record = TraceRecord(stable_trace_id("root-error"), [root])
    write_traces(store_uri, experiment_id, [record])
    assert MlflowClient(tracking_uri=store_uri).get_trace(record.trace_id).info.state.value == "ERROR"


def test_rewriting_the_same_records_adds_nothing(store_uri):
    experiment_id = _experiment(store_uri)
    records = [make_trace(i) for i in range(5)]
    write_traces(store_uri, experiment_id, records)
    again = write_traces(store_uri, experiment_id, records)
    assert (again.written, again.skipped_existing) == (0, 5)
    assert len(MlflowClient(tracking_uri=store_uri).search_traces(locations=[experiment_id])) == 5


def test_large_batches_lose_nothing(store_uri):
    experiment_id = _experiment(store_uri)
    progress: list[int] = []
    report = write_traces(
        store_uri, experiment_id, (make_trace(i) for i in range(450)), batch_size=100, on_progress=progress.append
    )
    assert (report.requested, report.written, report.lost) == (450, 450, [])
    assert progress == [100, 200, 300, 400, 450]


def test_a_failing_record_costs_only_itself_and_leaves_no_partial_trace(store_uri):
    experiment_id = _experiment(store_uri)
    good_before, good_after = make_trace(1), make_trace(3)
    broken = make_trace(2)
    root = dataclasses.replace(broken.spans[0], start_ns=None)  # fails after the batch began writing
    broken = dataclasses.replace(broken, spans=[root, *broken.spans[1:]])
    report = write_traces(store_uri, experiment_id, [good_before, broken, good_after])
    assert report.written == 2
    assert [failure.trace_id for failure in report.failed] == [broken.trace_id]
    client = MlflowClient(tracking_uri=store_uri)
    stored = client.search_traces(locations=[experiment_id])
    assert sorted(trace.info.trace_id for trace in stored) == sorted([good_before.trace_id, good_after.trace_id])
    assert all(len(trace.data.spans) == 3 for trace in stored)


def test_assessments_are_stored_and_filterable(store_uri):
    experiment_id = _experiment(store_uri)
    record = dataclasses.replace(
        make_trace(1),
        assessments=[
            AssessmentRecord("expected_response", "It shipped on Monday."),
            AssessmentRecord("correct", False, kind="feedback", source_type="CODE", rationale="wrong day"),
        ],
    )
    write_traces(store_uri, experiment_id, [record])
    client = MlflowClient(tracking_uri=store_uri)
    assessments = {a.name: a for a in client.get_trace(record.trace_id).info.assessments}
    assert assessments["expected_response"].value == "It shipped on Monday."
    assert assessments["expected_response"].source.source_type == "HUMAN"
    assert (assessments["correct"].value, assessments["correct"].rationale) == (False, "wrong day")
    found = client.search_traces(locations=[experiment_id], filter_string="feedback.correct = 'false'")
    assert [trace.info.trace_id for trace in found] == [record.trace_id]


def test_rewriting_assessed_traces_adds_no_duplicate_assessments(store_uri):
    experiment_id = _experiment(store_uri)
    record = dataclasses.replace(make_trace(1), assessments=[AssessmentRecord("expected_response", "x")])
    write_traces(store_uri, experiment_id, [record])
    write_traces(store_uri, experiment_id, [record])
    assert len(MlflowClient(tracking_uri=store_uri).get_trace(record.trace_id).info.assessments) == 1
