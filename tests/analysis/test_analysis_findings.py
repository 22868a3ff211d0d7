"""Each finding kind on hand-built traces in a real store: a healthy background of 40 traces plus
a few with one problem, and the finding must name exactly those few."""

import dataclasses
from typing import Any

from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.importing.builder import SYNTHETIC_TIME_TAG
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord, SpanRecord, TraceRecord, write_traces
from tests.trace_factory import MS, make_trace

HEALTHY = 40


def _analyse(store_uri: str, records: list[TraceRecord]):
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("findings")
    report = write_traces(store_uri, experiment_id, records)
    assert report.written == len(records)
    return analyze_traces(client, experiment_id=experiment_id)


def _with_spans(record: TraceRecord, **changes_by_index: dict) -> TraceRecord:
    spans = list(record.spans)
    for key, changes in changes_by_index.items():
        index = int(key.removeprefix("span"))
        spans[index] = dataclasses.replace(spans[index], **changes)
    return dataclasses.replace(record, spans=spans)


def _ids(analysis, kind: str) -> set[str]:
    return {trace_id for f in analysis.findings if f.kind == kind for trace_id in f.trace_ids}


def _background() -> list[TraceRecord]:
    return [make_trace(index) for index in range(HEALTHY)]


def _odd(index: int, **changes_by_index: dict) -> TraceRecord:
    return _with_spans(make_trace(100 + index), **changes_by_index)


def _answering(answers: list[Any], first_index: int = 0) -> list[TraceRecord]:
    """Odd traces from `first_index` on, each answering with one of `answers`."""
    return [_odd(first_index + i, span0={"outputs": answer}) for i, answer in enumerate(answers)]


def test_failed_requests_are_trace_errors(store_uri):
    failed = [_odd(i, span0={"error": "RuntimeError: agent crashed", "outputs": None}) for i in range(3)]
    analysis = _analyse(store_uri, _background() + failed)
    assert _ids(analysis, "trace_errors") == {r.trace_id for r in failed}
    assert analysis.overview.states == {"OK": HEALTHY, "ERROR": 3}


def test_tool_exceptions_are_found_even_when_the_agent_recovers(store_uri):
    failed = [make_trace(100 + i, tool_error="lookup timed out after 5 s") for i in range(3)]
    analysis = _analyse(store_uri, _background() + failed)
    assert _ids(analysis, "tool_exceptions") == {r.trace_id for r in failed}
    assert _ids(analysis, "trace_errors") == set()
    (tool,) = analysis.tools
    assert tool.exceptions == 3 and tool.calls == HEALTHY + 3


def test_errors_returned_as_tool_output_with_an_ok_status_are_found(store_uri):
    payloads = [
        {"error": "Order 7 not found"},
        "Error: rate limit exceeded (429)",
        {"status": "error", "message": "upstream unavailable"},
        '{"error": {"message": "invalid order id"}}',
        {"isError": True, "content": [{"type": "text", "text": "permission denied"}]},
        "Traceback (most recent call last):\n  File 'x.py', line 1\nKeyError: 'order'",
    ]
    failed = [_odd(i, span2={"outputs": payload}) for i, payload in enumerate(payloads)]
    analysis = _analyse(store_uri, _background() + failed)
    assert _ids(analysis, "tool_error_outputs") == {r.trace_id for r in failed}
    assert analysis.tools[0].error_outputs == len(payloads)


def test_ordinary_tool_results_that_mention_errors_are_not_errors(store_uri):
    lookalikes = [
        {"error": None, "status": "shipped"},
        {"errors": [], "status": "ok"},
        "Error handling is covered in chapter 3 of the manual.",
        {"status": "delivered", "note": "no errors"},
    ]
    records = _background() + [_odd(i, span2={"outputs": payload}) for i, payload in enumerate(lookalikes)]
    analysis = _analyse(store_uri, records)
    assert _ids(analysis, "tool_error_outputs") == set()


def test_repeated_identical_tool_calls_are_found(store_uri):
    def repeated(index: int) -> TraceRecord:
        record = make_trace(100 + index)
        again = dataclasses.replace(record.spans[2], span_id=f"{99:016x}", start_ns=record.spans[2].start_ns + 1)
        return dataclasses.replace(record, spans=[*record.spans, again])

    different_inputs = make_trace(200)
    other_call = dataclasses.replace(different_inputs.spans[2], span_id=f"{99:016x}", inputs={"order_id": -1})
    varied = dataclasses.replace(different_inputs, spans=[*different_inputs.spans, other_call])
    failed = [repeated(i) for i in range(3)]
    analysis = _analyse(store_uri, _background() + failed + [varied])
    assert _ids(analysis, "repeated_tool_calls") == {r.trace_id for r in failed}
    assert analysis.tools[0].repeated_identical_calls == 3


def test_spans_far_slower_than_their_usual_time_are_latency_outliers(store_uri):
    def slow(index: int) -> TraceRecord:
        record = make_trace(100 + index)
        tool = record.spans[2]
        return _with_spans(record, span2={"end_ns": tool.start_ns + 9_000 * MS})

    failed = [slow(i) for i in range(2)]
    analysis = _analyse(store_uri, _background() + failed)
    outliers = [f for f in analysis.findings if f.kind == "latency_outliers"]
    assert {f.details["span_name"] for f in outliers} == {"lookup_order"}
    assert set(outliers[0].trace_ids) == {r.trace_id for r in failed}
    assert outliers[0].suggested_scorer == "latency_budget_tool"


def test_slowness_nobody_would_notice_is_no_latency_finding(store_uri):
    """Framework glue (LangGraph's `Prompt`, a routing function) at 6 ms instead of 1 ms is far out
    statistically but costs nothing end to end."""

    def glue(record: TraceRecord, ms: float) -> TraceRecord:
        return _with_spans(record, span2={"end_ns": record.spans[2].start_ns + int(ms * MS)})

    background = [glue(make_trace(index), 1) for index in range(HEALTHY)]
    odd = [glue(make_trace(100 + index), 6) for index in range(2)]
    analysis = _analyse(store_uri, background + odd)
    assert _ids(analysis, "latency_outliers") == set()


def test_made_up_timestamps_of_imported_traces_yield_no_latency_findings(store_uri):
    background = [dataclasses.replace(r, tags={SYNTHETIC_TIME_TAG: "true"}) for r in _background()]
    slow = make_trace(100)
    slow = _with_spans(slow, span2={"end_ns": slow.spans[2].start_ns + 9_000 * MS})
    analysis = _analyse(store_uri, [*background, dataclasses.replace(slow, tags={SYNTHETIC_TIME_TAG: "true"})])
    assert _ids(analysis, "latency_outliers") == set()
    assert analysis.overview.traces_with_synthetic_times == HEALTHY + 1
    assert analysis.latency.trace_ms.count == 0


def test_requests_with_far_more_input_tokens_are_token_outliers(store_uri):
    usage = {"input_tokens": 60_000, "output_tokens": 30, "total_tokens": 60_030}
    failed = [
        _odd(i, span1={"attributes": {"mlflow.chat.tokenUsage": usage, "mlflow.llm.model": "claude-test"}})
        for i in range(2)
    ]
    analysis = _analyse(store_uri, _background() + failed)
    assert _ids(analysis, "token_outliers") == {r.trace_id for r in failed}
    assert analysis.tokens.by_model["claude-test"]["calls"] == HEALTHY + 2


def test_empty_responses_in_any_shape_are_found(store_uri):
    empties = ["", "   \n", {"content": ""}, {"choices": [{"message": {"content": ""}}]}, []]
    failed = _answering(empties)
    analysis = _analyse(store_uri, _background() + failed)
    assert _ids(analysis, "empty_responses") == {r.trace_id for r in failed}


def test_refusals_are_found_and_policy_answers_are_not(store_uri):
    refusals = [
        "I'm sorry, but I can't help with that.",
        "I cannot assist with this request.",
        "Lo siento, pero no puedo ayudar con eso.",
    ]
    policy = [
        "I can't refund this order because it is outside the 30-day window, but I can offer store credit.",
        "Sorry for the wait! Your order has shipped.",
        "I wasn't able to pull up order 7; could you check the number?",
    ]
    failed = _answering(refusals)
    analysis = _analyse(store_uri, _background() + failed + _answering(policy, first_index=10))
    assert _ids(analysis, "refusals") == {r.trace_id for r in failed}


def test_truncation_by_the_token_limit_or_mid_sentence_is_found(store_uri):
    cut_by_limit = _odd(
        0, span1={"outputs": {"choices": [{"message": {"content": "Your order"}, "finish_reason": "length"}]}}
    )
    mid_sentence = _odd(
        1,
        span0={
            "outputs": "Your order shipped on Monday and is on its way to the address on your account. "
            "The carrier usually delivers within three business days, and you will get an email "
            "with the tracking link as soon as the parcel reaches the local depot, where it is then"
        },
    )
    finished_list = _odd(
        2, span0={"outputs": "Here is what you can do:\n- check the tracking page\n- contact the carrier\n" * 5}
    )
    analysis = _analyse(store_uri, [*_background(), cut_by_limit, mid_sentence, finished_list])
    assert _ids(analysis, "truncated_responses") == {cut_by_limit.trace_id, mid_sentence.trace_id}


def test_personal_data_and_secrets_in_responses_are_found(store_uri):
    leaks = [
        "The account holder is reachable at jane.doe@example.com.",
        "Call the customer on (415) 555-0134.",
        "Use the key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 for access.",
        "The card on file is 4111 1111 1111 1111.",
    ]
    harmless = [
        "Order ORD-2026-01-15 ships on 2026-01-20 for $1,234.56, tracking 1Z999AA10123456784.",
        "Your order number is 1234567890123 and it weighs 1.5794863984375 kg.",
    ]
    failed = _answering(leaks)
    analysis = _analyse(store_uri, _background() + failed + _answering(harmless, first_index=10))
    assert _ids(analysis, "pii_in_outputs") == {r.trace_id for r in failed}
    assert analysis.outputs.pii == {"email": 1, "phone": 1, "api_key": 1, "card_number": 1}


def test_recurring_errors_are_clustered_by_message_shape(store_uri):
    failed = [make_trace(100 + i, tool_error=f"order ORD-{1000 + i} not found in region 'eu-{i}'") for i in range(3)]
    once = [make_trace(200, tool_error="disk full")]
    analysis = _analyse(store_uri, _background() + failed + once)
    clusters = [f for f in analysis.findings if f.kind == "error_cluster"]
    assert len(clusters) == 1
    assert set(clusters[0].trace_ids) == {r.trace_id for r in failed}
    assert clusters[0].details["signature"] == "TimeoutError: order <id> not found in region <str>"
    assert {c.count for c in analysis.error_clusters} == {3, 1}


def test_expectations_on_traces_lead_to_correctness_and_a_trace_dataset(store_uri):
    records = [
        dataclasses.replace(r, assessments=[AssessmentRecord("expected_response", "It has shipped.")])
        for r in _background()
    ]
    analysis = _analyse(store_uri, records)
    names = {s.name for s in analysis.recommended_scorers}
    assert "Correctness" in names
    assert "RetrievalGroundedness" not in names  # no RETRIEVER spans
    assert analysis.dataset_strategy.strategy == "traces"


def test_slow_traces_say_which_spans_dominate_them(store_uri):
    def slow(index: int) -> TraceRecord:
        record = make_trace(100 + index)
        root, llm = record.spans[0], record.spans[1]
        return _with_spans(
            record,
            span0={"end_ns": root.start_ns + 20_000 * MS},
            span1={"end_ns": llm.start_ns + 19_000 * MS},
        )

    analysis = _analyse(store_uri, _background() + [slow(i) for i in range(5)])
    dominant = analysis.latency.dominant_spans_in_slow_traces
    assert next(iter(dominant)) == "generate_answer"
    assert analysis.latency.by_span_type["CHAT_MODEL"].max >= 19_000


def test_structure_shows_tools_used_together(store_uri):
    def with_refund(index: int) -> TraceRecord:
        record = make_trace(100 + index)
        refund = SpanRecord(
            f"{50:016x}",
            record.spans[0].span_id,
            "issue_refund",
            "TOOL",
            record.spans[2].end_ns,
            record.spans[2].end_ns,
        )
        return dataclasses.replace(record, spans=[*record.spans, refund])

    analysis = _analyse(store_uri, _background() + [with_refund(i) for i in range(4)])
    together = {tuple(entry["tools"]): entry["traces"] for entry in analysis.structure.tool_co_occurrence}
    assert together == {("lookup_order",): HEALTHY, ("issue_refund", "lookup_order"): 4}
    assert analysis.structure.has_tools and not analysis.structure.has_retrieval
