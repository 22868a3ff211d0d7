"""The demo corpus: deterministic, well-formed, and every planted failure (and only it) is visible."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from mlflow_eval_mcp.demo.sample_agent import FAILURE_MODES, DemoTrace, generate_corpus
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, span_id_for, stable_trace_id

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
REFUSAL = re.compile(r"\b(?:can't|cannot|unable to) (?:help|assist)\b", re.IGNORECASE)
SECOND_NS = 1_000_000_000


@pytest.fixture(scope="module")
def corpus() -> list[DemoTrace]:
    return list(generate_corpus(300))


@pytest.fixture(scope="module")
def large_corpus() -> list[DemoTrace]:
    return list(generate_corpus(2000, seed=11))


def _answer_span(record: TraceRecord):
    return next((span for span in record.spans if span.name == "generate_answer"), None)


def _is_error_payload(outputs) -> bool:
    if isinstance(outputs, dict):
        return "error" in outputs
    return isinstance(outputs, str) and outputs.startswith("Error")


def _longest_identical_tool_run(record: TraceRecord) -> int:
    calls = [(span.name, repr(span.inputs), repr(span.outputs)) for span in record.spans if span.span_type == "TOOL"]
    longest = run = 0
    for previous, current in zip([None, *calls], calls, strict=False):
        run = run + 1 if current == previous else 1
        longest = max(longest, run)
    return longest


def signatures(record: TraceRecord) -> set[str]:
    """What an analyser could see in a trace, one check per failure mode."""
    root, children = record.spans[0], record.spans[1:]
    tools = [span for span in children if span.span_type == "TOOL"]
    answer_span = _answer_span(record)
    answer = root.outputs if isinstance(root.outputs, str) else ""
    found = set()
    if any(span.error and span.exception_type for span in tools):
        found.add("tool_exception")
    if any(span.error is None and _is_error_payload(span.outputs) for span in tools):
        found.add("tool_error_output")
    if any(
        span.span_type in ("TOOL", "RETRIEVER") and span.end_ns - span.start_ns >= 5 * SECOND_NS for span in children
    ):
        found.add("slow_span")
    if _longest_identical_tool_run(record) >= 3:
        found.add("repeated_tool_calls")
    if root.outputs == "":
        found.add("empty_answer")
    if REFUSAL.search(answer):
        found.add("refusal")
    if answer_span and answer_span.attributes["mlflow.chat.tokenUsage"]["input_tokens"] >= 30_000:
        found.add("oversized_prompt")
    if answer_span and answer_span.outputs["choices"][0]["finish_reason"] == "length":
        found.add("truncated_answer")
    if EMAIL.search(answer) or PHONE.search(answer):
        found.add("pii_in_output")
    return found


def test_same_arguments_give_identical_records():
    assert list(generate_corpus(200, seed=3)) == list(generate_corpus(200, seed=3))


def test_seed_changes_the_corpus():
    first = [demo.record.spans[0].inputs for demo in generate_corpus(50, seed=1)]
    second = [demo.record.spans[0].inputs for demo in generate_corpus(50, seed=2)]
    assert first != second


def test_trace_ids_derive_from_seed_size_and_index_and_are_unique(corpus):
    ids = [demo.record.trace_id for demo in corpus]
    assert ids == [stable_trace_id(f"demo:7:{len(corpus)}:{index}") for index in range(len(corpus))]
    assert len(set(ids)) == len(ids)
    assert len({demo.record.client_request_id for demo in corpus}) == len(corpus)


def test_span_tree_is_well_formed(corpus):
    for demo in corpus:
        spans = demo.record.spans
        root = spans[0]
        assert root.parent_id is None and root.name == "support_agent" and root.span_type == "AGENT"
        assert [span.span_id for span in spans] == [span_id_for(index) for index in range(len(spans))]
        by_id = {span.span_id: span for span in spans}
        for child in spans[1:]:
            parent = by_id[child.parent_id]
            assert isinstance(child.start_ns, int) and isinstance(child.end_ns, int)
            assert parent.start_ns <= child.start_ns <= child.end_ns <= parent.end_ns


def test_spans_follow_the_agent_shape(corpus):
    allowed = {"CHAT_MODEL", "TOOL", "RETRIEVER"}
    for demo in corpus:
        children = demo.record.spans[1:]
        assert children[0].name == "classify_intent"
        assert {span.span_type for span in children} <= allowed
        assert sum(span.span_type == "RETRIEVER" for span in children) <= 1
        if demo.record.spans[0].error is None:
            assert children[-1].name == "generate_answer"


def test_retriever_returns_documents_with_uris(corpus):
    retrievals = [span for demo in corpus for span in demo.record.spans if span.span_type == "RETRIEVER"]
    assert len(retrievals) > len(corpus) / 2
    for span in retrievals:
        assert set(span.inputs) == {"query"}
        for document in span.outputs:
            assert document["page_content"]
            assert document["metadata"]["doc_uri"].startswith("kb://")
            assert document["metadata"]["chunk_id"]


def test_chat_spans_report_consistent_token_usage(corpus):
    models = Counter()
    for demo in corpus:
        for span in demo.record.spans:
            if span.span_type != "CHAT_MODEL":
                continue
            usage = span.attributes["mlflow.chat.tokenUsage"]
            assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
            assert span.outputs["usage"]["prompt_tokens"] == usage["input_tokens"]
            assert span.outputs["choices"][0]["message"]["role"] == "assistant"
            assert span.inputs["model"] == span.attributes["mlflow.llm.model"]
            models[(span.name, span.attributes["mlflow.llm.model"])] += 1
    assert len(models) == 2


def test_root_output_is_the_final_answer(corpus):
    for demo in corpus:
        answer_span = _answer_span(demo.record)
        if answer_span is not None:
            content = answer_span.outputs["choices"][0]["message"]["content"]
            assert demo.record.spans[0].outputs == content


def test_traces_spread_over_two_weeks_in_arrival_order(corpus):
    starts = [demo.record.spans[0].start_ns for demo in corpus]
    assert starts == sorted(starts)
    assert 12 * 86_400 * SECOND_NS < starts[-1] - starts[0] < 15 * 86_400 * SECOND_NS
    assert starts[0] >= 1_793_491_200_000 * 1_000_000


def test_metadata_tags_users_and_sessions(large_corpus):
    users, sessions = Counter(), Counter()
    for demo in large_corpus:
        record = demo.record
        users[record.metadata["mlflow.trace.user"]] += 1
        sessions[record.metadata["mlflow.trace.session"]] += 1
        assert record.tags["env"] == "production"
        assert record.tags["agent_version"] in {"v1.3.0", "v1.4.0"}
        assert record.tags["channel"] in {"web", "email", "chat"}
        assert re.fullmatch(r"req-\d{6}", record.client_request_id)
        assert re.fullmatch(r"C-\d{4}", record.spans[0].inputs["customer_id"])
    assert len(users) == 40
    assert sum(count > 1 for count in sessions.values()) > len(sessions) / 5


def test_questions_are_varied_with_some_non_english(large_corpus):
    questions = [demo.record.spans[0].inputs["question"] for demo in large_corpus]
    non_english = [q for q in questions if re.search(r"pedido|Bestellung", q)]
    assert len(set(questions)) > len(questions) / 3
    assert 0.02 < len(non_english) / len(questions) < 0.15


def test_every_mode_appears_at_least_five_times_and_most_traces_are_healthy(corpus):
    counts = Counter(mode for demo in corpus for mode in demo.planted)
    assert {mode: counts[mode] >= 5 for mode in FAILURE_MODES} == dict.fromkeys(FAILURE_MODES, True)
    healthy = sum(not demo.planted for demo in corpus)
    assert 0.55 <= healthy / len(corpus) <= 0.75


def test_a_trace_carries_at_most_two_modes(large_corpus):
    assert max(len(demo.planted) for demo in large_corpus) <= 2
    assert all(demo.planted <= set(FAILURE_MODES) for demo in large_corpus)


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_planted_mode_is_visible(corpus, large_corpus, mode):
    planted = [demo for demo in corpus + large_corpus if mode in demo.planted]
    assert planted
    assert [demo.record.trace_id for demo in planted if mode not in signatures(demo.record)] == []


def test_no_signature_appears_without_its_mode(corpus, large_corpus):
    invented = [
        (demo.record.trace_id, signatures(demo.record) - demo.planted)
        for demo in corpus + large_corpus
        if signatures(demo.record) - demo.planted
    ]
    assert invented == []


def test_healthy_traces_are_clean(large_corpus):
    for demo in (demo for demo in large_corpus if not demo.planted):
        answer = demo.record.spans[0].outputs
        assert all(span.error is None and span.exception_type is None for span in demo.record.spans)
        assert isinstance(answer, str) and answer[-1] in ".!?"
        assert signatures(demo.record) == set()


def test_healthy_latencies_and_prompt_sizes_are_normal(large_corpus):
    limits_ms = {"CHAT_MODEL": (300, 2500), "RETRIEVER": (40, 300), "TOOL": (30, 400)}
    for demo in (demo for demo in large_corpus if not demo.planted):
        for span in demo.record.spans[1:]:
            low, high = limits_ms[span.span_type]
            assert low <= (span.end_ns - span.start_ns) / 1_000_000 <= high
        assert 800 <= _answer_span(demo.record).attributes["mlflow.chat.tokenUsage"]["input_tokens"] <= 2500


def test_tool_exceptions_usually_recover_and_sometimes_propagate(large_corpus):
    failed = [demo.record for demo in large_corpus if "tool_exception" in demo.planted]
    propagated = [record for record in failed if record.spans[0].error]
    assert 0.2 < len(propagated) / len(failed) < 0.5
    for record in propagated:
        assert record.spans[0].outputs is None and record.spans[0].exception_type
        assert _answer_span(record) is None


def test_tool_exception_messages_vary_and_name_their_type(large_corpus):
    errors = [
        span for demo in large_corpus for span in demo.record.spans[1:] if span.span_type == "TOOL" and span.error
    ]
    assert all(span.error.startswith(f"{span.exception_type}: ") for span in errors)
    assert len({span.exception_type for span in errors}) >= 3
    assert len({span.error for span in errors}) > len(errors) / 2


def test_small_corpora_are_generated():
    assert list(generate_corpus(0)) == []
    assert len(list(generate_corpus(5))) == 5


def test_negative_size_is_rejected():
    with pytest.raises(ValueError, match="n_traces"):
        list(generate_corpus(-1))
