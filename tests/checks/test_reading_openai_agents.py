"""Reading the traces `mlflow.openai.autolog()` wrote around the OpenAI Agents SDK
(tests/fixtures/autolog/openai_agents.json): MLflow's processor turns the SDK's own spans into MLflow
spans (agent, task, turn, generation, function, handoff) and the patched OpenAI client adds its own span
inside each `Generation`, so every model call is two nested CHAT_MODEL spans."""

from __future__ import annotations

import json

from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Conversation
from tests.checks.fixture_reading import recorded_conversation, recorded_trace

INTEGRATION = "openai_agents"


def _conversation(scenario: str) -> Conversation:
    return recorded_conversation(INTEGRATION, scenario)


def test_each_model_call_is_read_once_from_the_client_span_inside_the_sdks_generation():
    conversation = _conversation("tool_call")
    chat_spans = [span.name for span in conversation.spans if span.span_type == "CHAT_MODEL"]
    assert chat_spans == ["Generation", "AsyncCompletions", "Generation", "AsyncCompletions"]
    assert [call.name for call in conversation.model_calls] == ["AsyncCompletions", "AsyncCompletions"]
    assert [call.requested_tools for call in conversation.model_calls] == [["get_weather"], []]
    # Both spans of a call carry its tokens; read once, they add up to what MLflow sums for the trace.
    recorded = json.loads(recorded_trace(INTEGRATION, "tool_call")["info"]["trace_metadata"]["mlflow.trace.tokenUsage"])
    assert conversation.usage.input_tokens == recorded["input_tokens"]
    assert conversation.usage.output_tokens == recorded["output_tokens"]


def test_a_handoff_is_the_triage_agents_transfer_tool_call_and_a_handoff_span():
    conversation = _conversation("multi_step")
    assert conversation.model_calls[0].requested_tools == ["transfer_to_orders_agent"]
    assert conversation.handoffs == ["Handoff"]
    handoff = next(span for span in conversation.spans if span.name == "Handoff")
    assert (handoff.inputs, handoff.outputs) == ({"from_agent": "triage_agent"}, {"to_agent": "orders_agent"})
    assert [agent.name for agent in conversation.sub_agents] == ["triage_agent", "orders_agent"]
    # The transfer is no tool the application wrote: it has no TOOL span.
    assert [tool.name for tool in conversation.tool_calls] == ["get_order_status", "get_weather"]


def test_a_streamed_tool_step_names_its_tools_from_the_chunks_and_records_no_tokens():
    calls = _conversation("streamed").model_calls
    assert signals.requested_tools(calls[0].span.outputs) == []  # what MLflow rebuilt from the stream
    assert [call.requested_tools for call in calls] == [["get_weather"], []]
    assert [call.finish_reason for call in calls] == ["tool_calls", "stop"]
    # The SDK streams without stream_options.include_usage: no usage chunk, no tokens.
    assert _conversation("streamed").usage.input_tokens is None


def test_a_tool_error_the_sdk_hands_to_the_model_is_still_an_exception():
    (tool,) = _conversation("tool_raises_handled").tool_calls
    # The SDK's default failure_error_function: the model gets a fixed text, the span the SDK's error.
    assert tool.result == "An error occurred while running the tool. Please try again."
    assert (tool.span.status, tool.span.status_text) == ("ERROR", "Error running tool (non-fatal)")
    assert tool.outcome == "exception"
