"""Reading the traces `mlflow.pydantic_ai.autolog()` wrote around a Pydantic AI agent
(tests/fixtures/autolog/pydantic_ai.json): a model request span (`OpenAIChatModel.request`, LLM) takes
Pydantic AI's own messages (`ModelRequest`/`ModelResponse`: `kind` and typed `parts`, no role) and
returns a `ModelResponse`, whose text and tool calls are parts (`part_kind` "text", "tool-call")."""

from __future__ import annotations

from typing import Any

from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Unread
from tests.checks.fixture_reading import conversation_of, decoded_spans, recorded_conversation, recorded_scenarios

INTEGRATION = "pydantic_ai"


def _model_calls(scenario: str) -> list[dict[str, Any]]:
    """The scenario's model request spans in start order."""
    return decoded_spans(INTEGRATION, scenario, "LLM")


def test_a_model_responses_text_is_its_text_parts():
    outputs = _model_calls("tool_call")[-1]["outputs"]
    assert outputs["kind"] == "response" and [part["part_kind"] for part in outputs["parts"]] == ["text"]
    assert signals.text_of(outputs) == "It is 18 °C and sunny in Paris."


def test_a_tool_calling_step_names_its_tools_from_its_tool_call_parts():
    calls = _model_calls("multi_step")
    assert signals.text_of(calls[0]["outputs"]) is None
    assert [signals.requested_tools(call["outputs"]) for call in calls] == [["get_order_status"], ["get_weather"], []]
    # Pydantic AI's own finish reasons ("tool_call", "stop"), the provider's in provider_details.
    assert [signals.finish_reason(call["outputs"]) for call in calls] == ["tool_call", "tool_call", "stop"]


def test_a_model_requests_request_is_the_last_user_prompt_part_before_the_tool_returns():
    inputs = _model_calls("tool_returns_error")[-1]["inputs"]
    # request (user-prompt), response (tool-call), request (tool-return only)
    kinds = [[part["part_kind"] for part in message["parts"]] for message in inputs["messages"]]
    assert kinds == [["user-prompt"], ["tool-call"], ["tool-return"]]
    assert signals.request_text(inputs) == "Where is my order Z-404?"


def test_every_model_call_of_every_scenario_is_understood():
    for record in recorded_scenarios(INTEGRATION):
        _, unread = conversation_of(record["trace"]).unread()
        assert [span for span in unread if span.recorded] == [], record["scenario"]


def test_a_streamed_run_whose_output_mlflow_could_not_serialise_is_reported_as_not_recorded():
    conversation = recorded_conversation(INTEGRATION, "streamed")
    assert conversation.unread()[1] == [Unread("Agent.run_stream_sync", "outputs", recorded=False)]
    assert conversation.outputs is None
