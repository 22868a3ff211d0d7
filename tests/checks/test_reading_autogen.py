"""Reading the traces `mlflow.autogen.autolog()` wrote around a real AutoGen `AssistantAgent`
(tests/fixtures/autolog/autogen.json): AutoGen's own message shapes, named by class in `type`."""

from __future__ import annotations

from typing import Any

import pytest

from mlflow_eval_mcp.checks import signals
from tests.checks.fixture_reading import decoded_spans


def _spans(scenario: str) -> list[dict[str, Any]]:
    return decoded_spans("autogen", scenario)


def _model_calls(scenario: str) -> list[dict[str, Any]]:
    return decoded_spans("autogen", scenario, "LLM")


@pytest.mark.parametrize(
    ("scenario", "answer"),
    [
        ("normal", "The capital of France is Paris."),
        ("multi_step", "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."),
        ("empty_answer", ""),
    ],
)
def test_the_answer_is_the_agents_last_text_message_in_the_task_result(scenario, answer):
    # The root's outputs are AutoGen's TaskResult: TextMessage / ToolCall*Event dicts whose speaker
    # is `source` ("user" or the agent's name), not a `role`.
    outputs = _spans(scenario)[0]["outputs"]
    assert outputs["messages"][-1]["type"] == "TextMessage"
    assert signals.final_answer(outputs) == answer
    assert signals.text_of(outputs) == answer


def test_a_refusal_and_an_empty_answer_are_seen_in_the_task_result():
    assert signals.is_refusal(signals.final_answer(_spans("refusal")[0]["outputs"]))
    assert signals.is_empty(signals.final_answer(_spans("empty_answer")[0]["outputs"]))


def test_a_model_calls_request_is_the_user_message_among_autogens_model_messages():
    # SystemMessage, UserMessage, AssistantMessage, FunctionExecutionResultMessage: no `role` anywhere.
    last = _model_calls("tool_call")[-1]
    kinds = [message["type"] for message in last["inputs"]["messages"]]
    assert kinds == ["SystemMessage", "UserMessage", "AssistantMessage", "FunctionExecutionResultMessage"]
    assert signals.request_text(last["inputs"]) == "What's the weather in Paris?"


def test_a_tool_calling_reply_names_its_function_calls():
    # A CreateResult whose content is a list of untyped FunctionCall {id, name, arguments}.
    first, second, answer = _model_calls("multi_step")
    assert first["outputs"]["finish_reason"] == "function_calls"
    assert signals.requested_tools(first["outputs"]) == ["get_order_status"]
    assert signals.requested_tools(second["outputs"]) == ["get_weather"]
    assert signals.requested_tools(answer["outputs"]) == []
    assert signals.text_of(answer["outputs"]) == "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."


def test_roles_of_autogen_messages():
    task_result = _spans("tool_call")[0]["outputs"]["messages"]
    assert [signals.role_of(message) for message in task_result] == ["user", "assistant", "tool", "assistant"]
    model_messages = _model_calls("tool_call")[-1]["inputs"]["messages"]
    assert [signals.role_of(message) for message in model_messages] == ["system", "user", "assistant", "tool"]


def test_a_source_names_a_speaker_only_on_a_message_or_event():
    # A retrieved document also has `type` and `source`: it is not a message from that source.
    assert signals.role_of({"type": "Document", "source": "returns.pdf", "content": "30 days"}) == "document"
    assert signals.text_of([{"type": "Document", "source": "returns.pdf", "content": "30 days"}]) is None
