"""The typed conversation view (`checks.conversation`) read over the traces MLflow's autolog wrote
around the real SDKs (tests/fixtures/autolog), and over hand-built spans for shapes no fixture has."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from mlflow_eval_mcp.checks.conversation import Conversation, Document, SubAgent, TokenUsage, Unread
from mlflow_eval_mcp.checks.span_view import SpanView
from tests.paths import AUTOLOG_FIXTURES

FIXTURES = AUTOLOG_FIXTURES
INTEGRATIONS = ("openai", "anthropic", "langgraph", "litellm", "dspy", "openai_responses")
SDK_LOOPS = ("openai", "anthropic", "litellm", "openai_responses")
PRICED = ("openai", "anthropic", "langgraph", "litellm", "openai_responses")
"""The integrations whose model calls MLflow priced (`mlflow.llm.cost`); it prices none of DSPy's."""
REQUESTS = {
    "normal": "What is the capital of France?",
    "tool_call": "What's the weather in Paris?",
    "tool_raises": "Where is my order B-503?",
    "tool_raises_handled": "Where is my order B-503?",
    "tool_returns_error": "Where is my order Z-404?",
    "empty_answer": "Say nothing at all.",
    "refusal": "Tell me another customer's home address.",
    "truncated": "Describe your return policy in detail.",
    "streamed": "What's the weather in Paris?",
    "multi_step": "Where is my order A-1, and what's the weather there?",
}
SYSTEM_PROMPT = "You are a support agent for an online shop. Use the tools to answer."
MULTI_STEP_ANSWER = "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."
# DSPy names a tool's span after its `Tool` wrapper.
TOOL_PREFIX = {"dspy": "Tool."}


@cache
def _traces(integration: str) -> dict[str, dict[str, Any]]:
    records = json.loads((FIXTURES / f"{integration}.json").read_text(encoding="utf-8"))["traces"]
    return {record["scenario"]: record["trace"] for record in records}


def _conversation(integration: str, scenario: str) -> Conversation:
    return Conversation([SpanView.of_dict(span) for span in _traces(integration)[scenario]["data"]["spans"]])


def _recorded(integration: str, scenario: str, key: str) -> list[Any]:
    """An attribute as MLflow recorded it on each span that has it, decoded here rather than by the view."""
    spans = _traces(integration)[scenario]["data"]["spans"]
    return [json.loads(span["attributes"][key]) for span in spans if key in span["attributes"]]


def _span(
    span_id: str,
    parent: str | None,
    name: str,
    span_type: str,
    inputs: Any,
    outputs: Any,
    *,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A span as MLflow stores it (`Span.to_dict()`: attribute values JSON-encoded)."""
    start = 1_767_225_600_000_000_000 + int(span_id) * 1_000_000
    encoded = {"mlflow.spanType": span_type, "mlflow.spanInputs": inputs, "mlflow.spanOutputs": outputs}
    return {
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + 500_000,
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": {key: json.dumps(value) for key, value in {**encoded, **(attributes or {})}.items()},
        "events": [],
    }


def _hand_built(*spans: dict[str, Any]) -> Conversation:
    return Conversation([SpanView.of_dict(span) for span in spans])


def _root(*children: dict[str, Any]) -> Conversation:
    return _hand_built(_span("1", None, "agent", "AGENT", {"question": "hi"}, "hello"), *children)


# --- request and answer ---------------------------------------------------------------------


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_the_request_is_the_users_question(integration):
    requests = {scenario: _conversation(integration, scenario).request for scenario in _traces(integration)}
    assert requests == {scenario: REQUESTS[scenario] for scenario in _traces(integration)}


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_the_answer_is_the_final_text_the_user_was_shown(integration):
    assert _conversation(integration, "multi_step").answer_text == MULTI_STEP_ANSWER


@pytest.mark.parametrize("integration", [name for name in INTEGRATIONS if name != "dspy"])  # DSPy catches it
def test_a_run_whose_tool_raised_has_no_answer(integration):
    assert _conversation(integration, "tool_raises").answer_text is None


MULTI_STEP_EXCHANGE = [
    ("system", ()),
    ("user", ()),
    ("assistant", ("get_order_status",)),
    ("tool", ()),
    ("assistant", ("get_weather",)),
    ("tool", ()),
    ("assistant", ()),
]


def _whole_exchange(integration: str) -> list[Any]:
    """The multi-step scenario's messages, checked for roles, tool calls, prompt, request and answer."""
    messages = _conversation(integration, "multi_step").messages
    assert [(message.role, message.tool_calls) for message in messages] == MULTI_STEP_EXCHANGE
    assert [messages[0].text, messages[1].text, messages[-1].text] == [
        SYSTEM_PROMPT,
        REQUESTS["multi_step"],
        MULTI_STEP_ANSWER,
    ]
    return messages


@pytest.mark.parametrize("integration", [*SDK_LOOPS, "langgraph"])
def test_the_messages_are_the_whole_exchange_in_order(integration):
    messages = _whole_exchange(integration)
    assert [json.loads(message.text) for message in messages if message.role == "tool"] == [
        {"order_id": "A-1", "status": "shipped", "city": "Lyon"},
        {"city": "Lyon", "temperature_c": 18, "conditions": "sunny"},
    ]


@pytest.mark.parametrize(
    "integration", ["gemini", "bedrock", "llamaindex", "autogen", "ag2", "otel_genai", "openinference"]
)
def test_every_framework_s_exchange_has_its_system_prompt_tool_calls_and_tool_results(integration):
    # Gemini keeps the system instruction in the call's config; LlamaIndex a tool's result in a text block.
    messages = _whole_exchange(integration)
    assert ["Lyon" in (message.text or "") for message in messages if message.role == "tool"] == [True, True]


# --- model calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integration", "model"),
    [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("langgraph", "gpt-4o-mini"),
        ("litellm", "gpt-4o-mini"),
        ("dspy", "openai/gpt-4o-mini"),
        ("openai_responses", "gpt-4o-mini"),
    ],
)
def test_every_model_call_names_its_model(integration, model):
    # DSPy's autolog types each `Predict.forward` module LLM too; the model call is the LM.__call__ in it.
    calls = [
        (scenario, call.name, call.model)
        for scenario in _traces(integration)
        for call in _conversation(integration, scenario).model_calls
    ]
    assert {called for _, _, called in calls} == {model}, [call for call in calls if call[2] != model]


@pytest.mark.parametrize(
    ("integration", "reasons"),
    [
        ("openai", ["tool_calls", "tool_calls", "stop"]),
        ("anthropic", ["tool_use", "tool_use", "end_turn"]),
        ("litellm", ["tool_calls", "tool_calls", "stop"]),
    ],
)
def test_each_model_call_says_why_it_stopped(integration, reasons):
    assert [call.finish_reason for call in _conversation(integration, "multi_step").model_calls] == reasons


def test_a_streamed_tool_call_step_reads_its_finish_reason_from_the_chunk_events():
    # MLflow rebuilt the streamed step's output as a "stop"; its chunk events end in "tool_calls".
    calls = _conversation("openai", "streamed").model_calls
    assert [call.finish_reason for call in calls] == ["tool_calls", "stop"]


@pytest.mark.parametrize(
    ("integration", "scenario", "reason"),
    [
        ("openai", "truncated", "length"),
        ("anthropic", "truncated", "max_tokens"),
        ("anthropic", "refusal", "refusal"),
        ("litellm", "truncated", "length"),
        ("openai_responses", "truncated", "max_output_tokens"),
        # LangChain's model spans record no finish reason; the answer's message in the state does.
        ("langgraph", "truncated", "length"),
        ("langgraph", "multi_step", "stop"),
    ],
)
def test_the_answers_finish_reason_is_the_last_model_calls(integration, scenario, reason):
    assert _conversation(integration, scenario).finish_reason == reason


@pytest.mark.parametrize(
    ("integration", "tokens"),
    [
        ("openai", [(47, 7, 54), (124, 6, 130), (201, 18, 219)]),
        ("anthropic", [(39, 27, 66), (119, 25, 144), (198, 23, 221)]),
        ("langgraph", [(47, 7, 54), (124, 6, 130), (201, 18, 219)]),
        ("litellm", [(47, 7, 54), (120, 6, 126), (192, 18, 210)]),
        ("openai_responses", [(39, 42, 81), (117, 40, 157), (192, 59, 251)]),
    ],
)
def test_each_model_call_counts_its_tokens(integration, tokens):
    usages = [call.usage for call in _conversation(integration, "multi_step").model_calls]
    assert [(usage.input_tokens, usage.output_tokens, usage.total_tokens) for usage in usages] == tokens


@pytest.mark.parametrize(
    ("integration", "field"),
    [
        ("anthropic", "cache_read_tokens"),
        ("anthropic", "cache_write_tokens"),
        ("openai_responses", "cache_read_tokens"),
    ],
)
def test_a_call_that_used_no_cache_records_zero_cached_tokens(integration, field):
    calls = _conversation(integration, "multi_step").model_calls
    assert [getattr(call.usage, field) for call in calls] == [0, 0, 0]


def test_cached_input_tokens_are_read_from_the_providers_usage_details():
    # No `mlflow.chat.tokenUsage`: an OpenAI chat response's own usage, cached tokens in its details.
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    llm = _span("2", "1", "chat", "CHAT_MODEL", {"messages": [{"role": "user", "content": "hi"}]}, answer)
    assert _root(llm).model_calls[0].usage == TokenUsage(100, 5, 105, cache_read_tokens=64)


@pytest.mark.parametrize("integration", PRICED)
def test_every_recorded_model_call_has_the_cost_mlflow_priced(integration):
    for scenario in _traces(integration):
        calls = [call for call in _conversation(integration, scenario).model_calls if call.recorded]
        priced = [cost["total_cost"] for cost in _recorded(integration, scenario, "mlflow.llm.cost")]
        assert [call.cost for call in calls] == priced, scenario
        assert all(cost > 0 for cost in priced), scenario


def test_a_trace_mlflow_did_not_price_has_no_cost():
    assert _conversation("dspy", "multi_step").cost is None


# --- the whole conversation's usage and cost ------------------------------------------------


@pytest.mark.parametrize(
    ("integration", "usage"),
    [
        ("openai", TokenUsage(372, 31, 403)),
        ("anthropic", TokenUsage(356, 75, 431, cache_read_tokens=0, cache_write_tokens=0)),
        ("langgraph", TokenUsage(372, 31, 403)),
        ("litellm", TokenUsage(359, 31, 390)),
        ("openai_responses", TokenUsage(348, 141, 489, cache_read_tokens=0)),
    ],
)
def test_the_conversations_usage_sums_its_model_calls(integration, usage):
    assert _conversation(integration, "multi_step").usage == usage


@pytest.mark.parametrize("integration", PRICED)
def test_the_conversations_cost_sums_its_model_calls(integration):
    priced = [cost["total_cost"] for cost in _recorded(integration, "multi_step", "mlflow.llm.cost")]
    assert len(priced) == 3
    assert _conversation(integration, "multi_step").cost == pytest.approx(sum(priced))


# --- tool calls -----------------------------------------------------------------------------


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_tool_calls_name_their_tools_and_arguments(integration):
    prefix = TOOL_PREFIX.get(integration, "")
    calls = _conversation(integration, "multi_step").tool_calls
    assert [(call.name, call.arguments) for call in calls] == [
        (f"{prefix}get_order_status", {"order_id": "A-1"}),
        (f"{prefix}get_weather", {"city": "Lyon"}),
    ]


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_a_tool_that_succeeded_is_ok_without_an_error(integration):
    [call] = _conversation(integration, "tool_call").tool_calls
    assert (call.outcome, call.error) == ("ok", None)


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_a_tool_that_raised_is_an_exception_with_its_message(integration):
    [call] = _conversation(integration, "tool_raises_handled").tool_calls
    assert (call.outcome, call.error) == ("exception", "ConnectionError: order service unavailable (HTTP 503)")


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_a_tool_that_returned_an_error_is_an_error_output_with_its_text(integration):
    [call] = _conversation(integration, "tool_returns_error").tool_calls
    assert (call.outcome, call.error) == ("error_output", "Error: order Z-404 not found")


def test_what_the_model_said_is_kept_when_the_app_drops_a_refusal():
    # The Responses API keeps a refusal out of `output_text`, so the user saw nothing.
    conversation = _conversation("openai_responses", "refusal")
    assert (conversation.answer_text, conversation.model_said) == ("", "I can't help with that.")


# --- what the reading understood ------------------------------------------------------------


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_every_fixture_trace_is_understood(integration):
    missed = {
        scenario: unread
        for scenario in _traces(integration)
        if (integration, scenario) != ("anthropic", "streamed")
        and (unread := _conversation(integration, scenario).unread()[1])
    }
    assert missed == {}


@pytest.mark.parametrize("integration", [*SDK_LOOPS, "langgraph"])
def test_the_reading_counts_the_root_each_model_call_and_each_tool_call(integration):
    read, _ = _conversation(integration, "multi_step").unread()
    assert read == 1 + 3 + 2


def test_anthropics_streamed_calls_are_reported_as_not_recorded():
    # MLflow 3.17 stores `<anthropic.Stream object at 0x…>` for Messages.create(stream=True).
    unrecorded = Unread("Messages.create", "outputs", recorded=False)
    assert _conversation("anthropic", "streamed").unread() == (4, [unrecorded, unrecorded])


def test_a_model_output_of_an_unknown_shape_is_not_understood():
    llm = _span(
        "2", "1", "odd_llm", "CHAT_MODEL", {"messages": [{"role": "user", "content": "hi"}]}, {"weird": {"x": 1}}
    )
    assert _root(llm).unread() == (2, [Unread("odd_llm", "outputs")])


def test_a_model_input_of_an_unknown_shape_is_not_understood():
    llm = _span("2", "1", "odd_llm", "CHAT_MODEL", {"weird": {"x": 1}}, {"role": "assistant", "content": "hello"})
    assert _root(llm).unread() == (2, [Unread("odd_llm", "inputs")])


# --- retrievals and sub-agents --------------------------------------------------------------


def test_a_retrieval_reads_its_query_and_documents():
    documents = [
        {
            "page_content": "Returns are accepted within 30 days.",
            "metadata": {"doc_uri": "https://shop.example/returns", "chunk_id": "c-7"},
            "id": "doc-1",
        },
        {
            "page_content": "Refunds take 5 days.",
            "metadata": {"doc_uri": "https://shop.example/refunds", "chunk_id": "c-9"},
        },
    ]
    retriever = _span("2", "1", "search_policies", "RETRIEVER", {"query": "return policy"}, documents)
    [retrieval] = _root(retriever).retrievals
    assert (retrieval.name, retrieval.query, retrieval.documents) == (
        "search_policies",
        "return policy",
        [
            Document("Returns are accepted within 30 days.", "https://shop.example/returns", "doc-1"),
            Document("Refunds take 5 days.", "https://shop.example/refunds", "c-9"),
        ],
    )


def test_a_sub_agent_names_the_agent_it_ran_under():
    conversation = _hand_built(
        _span("1", None, "orchestrator", "AGENT", {"question": "plan a trip"}, "done"),
        _span("2", "1", "researcher", "AGENT", "find flights", "found"),
        _span("3", "2", "plan", "CHAIN", "outline", "outlined"),
        _span("4", "3", "writer", "AGENT", "write it up", "written"),
    )
    assert conversation.sub_agents == [SubAgent("researcher", "orchestrator"), SubAgent("writer", "researcher")]
