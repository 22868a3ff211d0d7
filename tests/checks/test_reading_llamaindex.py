"""Reading the traces `mlflow.llama_index.autolog()` wrote around a real LlamaIndex `FunctionAgent`
(tests/fixtures/autolog/llamaindex.json): LlamaIndex's ChatMessage keeps its text in `blocks`, its
ChatResponse the provider's own response under `raw`, its ToolOutput the tool's result in `raw_output`."""

from __future__ import annotations

import pytest

from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.span_view import SpanView
from tests.checks.fixture_reading import recorded_conversation


def _conversation(scenario: str) -> Conversation:
    return recorded_conversation("llamaindex", scenario)


def _span(scenario: str, name: str, index: int = 0) -> SpanView:
    return [span for span in _conversation(scenario).spans if span.name == name][index]


@pytest.mark.parametrize(
    ("scenario", "answer"),
    [
        ("normal", "The capital of France is Paris."),
        ("multi_step", "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."),
        ("empty_answer", ""),
    ],
)
def test_the_answer_is_the_text_block_of_the_agent_outputs_response(scenario, answer):
    # {"result": {"response": {"role": "assistant", "blocks": [{"block_type": "text", "text": …}]}, …}};
    # an empty answer is a message without blocks.
    conversation = _conversation(scenario)
    assert conversation.answer_text == answer
    assert signals.is_empty(conversation.outputs) is (answer == "")


def test_a_refusal_is_seen_in_the_agent_output():
    assert signals.is_refusal(_conversation("refusal").answer_text)


def test_a_model_calls_request_and_answer_are_read_from_chat_message_blocks():
    call = _span("normal", "OpenAI.achat")
    assert "blocks" in call.inputs["messages"][-1] and "content" not in call.inputs["messages"][-1]
    assert signals.request_text(call.inputs) == "What is the capital of France?"
    assert signals.text_of(call.outputs) == "The capital of France is Paris."


def test_the_finish_reason_is_the_raw_provider_responses():
    assert signals.finish_reason(_span("truncated", "OpenAI.achat").outputs) == "length"
    assert signals.finish_reason(_span("tool_call", "OpenAI.achat").outputs) == "tool_calls"
    assert _conversation("truncated").finish_reason == "length"


def test_the_tools_a_call_asked_for_are_its_messages_tool_call_blocks():
    outputs = _span("multi_step", "OpenAI.achat", 1).outputs
    assert outputs["message"]["blocks"][0]["block_type"] == "tool_call"
    assert signals.requested_tools(outputs) == ["get_weather"]
    assert signals.text_of(outputs) is None


def test_a_tool_output_whose_text_is_an_error_is_a_tool_error():
    outputs = _span("tool_returns_error", "FunctionTool.acall").outputs
    assert outputs["is_error"] is False
    assert signals.error_in_output(outputs) == "Error: order Z-404 not found"
    assert signals.error_in_output(_span("tool_call", "FunctionTool.acall").outputs) is None


def test_the_span_that_only_prepares_a_request_is_not_a_model_call():
    # `OpenAI._prepare_chat_with_tools` is typed LLM (a method of the model) but returns the request.
    conversation = _conversation("multi_step")
    prepared = [span for span in conversation.spans if span.name == "OpenAI._prepare_chat_with_tools"]
    assert len(prepared) == 3 and all(signals.is_prepared_request(span.outputs) for span in prepared)
    assert [call.name for call in conversation.model_calls] == ["OpenAI.achat"] * 3
    assert not any(signals.is_prepared_request(call.span.outputs) for call in conversation.model_calls)


def test_a_streamed_call_whose_output_is_an_async_generators_repr_is_not_recorded():
    calls = _conversation("streamed").model_calls
    assert [call.span.outputs.startswith("<async_generator object ") for call in calls] == [True, True]
    assert [call.recorded for call in calls] == [False, False]
    assert _conversation("streamed").answer_text == "It is 18 °C and sunny in Paris."
