"""The trace-reading library against a real sqlite store."""

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError
from mlflow_eval_mcp.importing.trace_writer import write_traces
from mlflow_eval_mcp.traces import get_trace, search_traces
from tests.trace_factory import make_trace


@pytest.fixture
def seeded(store_uri):
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("orders")
    records = [
        make_trace(i, tool_error="TimeoutError: order service timed out" if i % 4 == 0 else None) for i in range(12)
    ]
    write_traces(store_uri, experiment_id, records)
    return client, experiment_id, records


def test_search_summarises_each_trace(seeded):
    client, experiment_id, _ = seeded
    result = search_traces(client, experiment_name="orders", max_results=50)
    assert result.experiment_id == experiment_id
    assert len(result.traces) == 12
    newest = result.traces[0]
    assert newest.request_time == "2026-01-01T00:11:00.000+00:00"
    assert newest.duration_ms == 900
    assert newest.span_counts_by_type == {"AGENT": 1, "CHAT_MODEL": 1, "TOOL": 1}
    assert newest.token_usage.total_tokens == 150
    assert newest.user == "user-2" and newest.session == "session-1"
    assert newest.request_preview == '{"question": "where is order 11?"}'
    assert newest.tags == {"env": "test", "index": "11", "mlflow.traceName": "agent"}


def test_failed_spans_are_named(seeded):
    client, _, _ = seeded
    result = search_traces(client, experiment_name="orders", filter_string="span.status = 'ERROR'")
    assert sorted(t.tags["index"] for t in result.traces) == ["0", "4", "8"]
    assert all(t.error_span_names == ["lookup_order"] for t in result.traces)
    assert all(t.state == "OK" for t in result.traces)


def test_pages_cover_every_trace_exactly_once(seeded):
    client, experiment_id, records = seeded
    seen: list[str] = []
    token = None
    while True:
        page = search_traces(client, experiment_id=experiment_id, max_results=5, page_token=token)
        seen += [t.trace_id for t in page.traces]
        token = page.next_page_token
        if token is None:
            break
    assert sorted(seen) == sorted(r.trace_id for r in records)


def test_order_by_duration(seeded):
    client, experiment_id, _ = seeded
    result = search_traces(client, experiment_id=experiment_id, order_by=["execution_time_ms DESC"])
    assert result.order_by == ["execution_time_ms DESC"]


def test_unknown_order_field_lists_the_allowed_ones(seeded):
    client, experiment_id, _ = seeded
    with pytest.raises(InvalidArgumentError, match="execution_time_ms"):
        search_traces(client, experiment_id=experiment_id, order_by=["latency DESC"])


def test_unknown_experiment_lists_what_exists(seeded):
    client, _, _ = seeded
    with pytest.raises(NotFoundError) as raised:
        search_traces(client, experiment_name="ordrs")
    assert "'orders'" in str(raised.value)


def test_experiment_must_be_named_once(seeded):
    client, experiment_id, _ = seeded
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        search_traces(client, experiment_id=experiment_id, experiment_name="orders")


def test_filter_mlflow_rejects_is_reported_with_the_grammar(seeded):
    client, experiment_id, _ = seeded
    with pytest.raises(InvalidArgumentError, match="Filter grammar"):
        search_traces(client, experiment_id=experiment_id, filter_string="nonsense.field = 'x'")


def test_get_trace_returns_the_span_tree(seeded):
    client, _, records = seeded
    detail = get_trace(client, records[0].trace_id, max_chars=200)
    root, tool, llm = detail.spans
    assert (root.name, root.span_type, root.depth, root.parent_id) == ("agent", "AGENT", 0, None)
    assert [(span.name, span.depth, span.parent_id) for span in (tool, llm)] == [
        ("lookup_order", 1, root.span_id),
        ("generate_answer", 1, root.span_id),
    ]
    assert tool.status == "ERROR"
    assert tool.exception == "TimeoutError: order service timed out"
    assert tool.start_offset_ms == pytest.approx(10.0)
    assert tool.duration_ms == pytest.approx(80.0)
    assert llm.model == "claude-test" and llm.token_usage.input_tokens == 120
    assert llm.inputs.endswith("[truncated: 5047 chars]")
    assert detail.truncated_fields == 1


def test_unknown_trace_points_to_search(seeded):
    client, _, _ = seeded
    with pytest.raises(NotFoundError, match="search_traces"):
        get_trace(client, "tr-00000000000000000000000000000000")
