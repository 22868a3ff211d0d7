"""What the analysis reads from span inputs and outputs, across the shapes agents log."""

import pytest

from mlflow_eval_mcp.checks import signals


@pytest.mark.parametrize(
    ("outputs", "text"),
    [
        ("plain", "plain"),
        ({"choices": [{"message": {"role": "assistant", "content": "openai"}}]}, "openai"),
        ({"content": [{"type": "text", "text": "anthropic"}], "stop_reason": "end_turn"}, "anthropic"),
        ({"candidates": [{"content": {"parts": [{"text": "gemini"}]}}]}, "gemini"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "last answer"}], "last answer"),
        ({"answer": "dict answer", "sources": [1]}, "dict answer"),
        ({"messages": [{"role": "ai", "content": "langchain"}]}, "langchain"),
        ({"order_id": 7, "status": "shipped"}, None),
        (42, None),
    ],
)
def test_text_of_recognises_common_response_shapes(outputs, text):
    assert signals.text_of(outputs) == text


@pytest.mark.parametrize(
    ("inputs", "text"),
    [
        ({"question": "where is my order?"}, "where is my order?"),
        ({"messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi there"}]}, "hi there"),
        ({"input": {"query": "nested"}}, "nested"),
        ("bare string", "bare string"),
        ({"order": 7}, None),
        (None, None),
    ],
)
def test_request_text_finds_the_users_words(inputs, text):
    assert signals.request_text(inputs) == text


@pytest.mark.parametrize(
    ("outputs", "reason"),
    [
        ({"choices": [{"finish_reason": "length"}]}, "length"),
        ({"stop_reason": "max_tokens"}, "max_tokens"),
        ({"candidates": [{"finishReason": "MAX_TOKENS"}]}, "max_tokens"),
        ({"response_metadata": {"finish_reason": "stop"}}, "stop"),
        ("text", None),
    ],
)
def test_finish_reason_across_providers(outputs, reason):
    assert signals.finish_reason(outputs) == reason


@pytest.mark.parametrize(
    ("outputs", "fmt"),
    [
        ('{"a": 1}', "json"),
        ({"order_id": 1}, "json"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "markdown_table"),
        ("## Steps\n- one\n- two", "markdown"),
        ("Just a sentence.", "prose"),
        ("  ", "empty"),
        (3.5, "non_text"),
    ],
)
def test_output_format(outputs, fmt):
    assert signals.output_format(outputs) == fmt


def test_error_signature_strips_what_varies():
    first = signals.error_signature("Order ORD-123 not found for 'alice' after 3 tries (id 9f8e7d6c5b4a)")
    second = signals.error_signature("Order ORD-999 not found for 'bob' after 12 tries (id 0a1b2c3d4e5f)")
    assert first == second == "Order <id> not found for <str> after <num> tries (id <id>)"


def test_a_traceback_is_summarised_by_the_exception_it_ended_with():
    output = "exitcode: 1 (execution failed)\nTraceback (most recent call last):\n  File \"/tmp/a1.py\"\nKeyError: 'x'"
    assert signals.error_in_output(output) == "exitcode: 1 (execution failed) … KeyError: 'x'"


def test_call_signature_ignores_key_order_but_not_values():
    assert signals.calls_signature("t", {"a": 1, "b": 2}) == signals.calls_signature("t", {"b": 2, "a": 1})
    assert signals.calls_signature("t", {"a": 1}) != signals.calls_signature("t", {"a": 2})
    assert signals.calls_signature("t", {"a": 1}) != signals.calls_signature("u", {"a": 1})


LANGGRAPH_STATE = {
    "messages": [
        {"type": "human", "content": "Change the email on my account to jane.doe@example.com"},
        {"type": "ai", "content": "", "tool_calls": [{"name": "update_email", "args": {}, "id": "c1"}]},
        {"type": "tool", "content": "ok", "tool_call_id": "c1", "status": "success"},
        {"type": "ai", "content": "Done: your email is updated.", "response_metadata": {"finish_reason": "length"}},
    ]
}


def test_a_conversation_state_is_read_as_its_final_answer():
    assert signals.final_answer(LANGGRAPH_STATE) == "Done: your email is updated."
    assert signals.output_format(LANGGRAPH_STATE) == "prose"
    assert signals.finish_reason(LANGGRAPH_STATE) == "length"
    assert signals.request_text(LANGGRAPH_STATE) == "Change the email on my account to jane.doe@example.com"


def test_personal_data_the_user_typed_is_not_personal_data_in_the_answer():
    assert signals.pii_kinds(LANGGRAPH_STATE) == set()
    leaked = {"messages": [*LANGGRAPH_STATE["messages"][:3], {"type": "ai", "content": "Mail jane.doe@example.com"}]}
    assert signals.pii_kinds(leaked) == {"email"}


def test_an_empty_last_ai_message_is_an_empty_answer():
    state = {"messages": [LANGGRAPH_STATE["messages"][0], {"type": "ai", "content": ""}]}
    assert signals.is_empty(state)


def test_a_tool_message_reporting_an_error_is_a_tool_error():
    failed = {"content": "Error: ConnectionError('down')", "type": "tool", "tool_call_id": "c1", "status": "error"}
    returned = {"content": "Error: order Z-404 not found", "type": "tool", "tool_call_id": "c1", "status": "success"}
    fine = {"content": "Order Z-100 shipped", "type": "tool", "tool_call_id": "c1", "status": "success"}
    assert signals.error_in_output(failed) == "Error: ConnectionError('down')"
    assert signals.error_in_output(returned) == "Error: order Z-404 not found"
    assert signals.error_in_output(fine) is None


def test_the_request_is_the_last_user_turn_that_says_something():
    messages = [
        {"role": "user", "content": "Where is order Z-100?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "shipped"}]},
    ]
    assert signals.request_text({"messages": messages}) == "Where is order Z-100?"


def test_the_tools_a_model_call_asked_for_are_named_in_every_shape():
    call = {"id": "c", "function": {"name": "lookup", "arguments": "{}"}}
    openai = {"choices": [{"message": {"tool_calls": [call]}}]}
    anthropic = {"content": [{"type": "text", "text": "Let me look."}, {"type": "tool_use", "name": "lookup"}]}
    langchain = {"type": "ai", "content": "", "tool_calls": [{"name": "lookup", "args": {}, "id": "c"}]}
    assert [signals.requested_tools(outputs) for outputs in (openai, anthropic, langchain)] == [["lookup"]] * 3
    assert signals.requested_tools({"choices": [{"message": {"content": "Hi"}}]}) == []


def test_an_inspect_ai_tool_call_names_its_function_as_a_string():
    outputs = {"tool_calls": [{"id": "call-1", "function": "web_browser_go", "arguments": {"url": "https://x.org"}}]}
    assert signals.requested_tools(outputs) == ["web_browser_go"]
