"""Reading the traces `mlflow.bedrock.autolog()` wrote around boto3's Bedrock Runtime Converse API
(tests/fixtures/autolog/bedrock.json): the response's `output.message.content[]` blocks (`text`,
`toolUse`) and its camelCase `stopReason`, also as MLflow rebuilds them from a `converse_stream`."""

from __future__ import annotations

from typing import Any

import pytest

from mlflow_eval_mcp.checks import signals
from tests.checks.fixture_reading import decoded_spans


def _model_calls(scenario: str) -> list[dict[str, Any]]:
    return decoded_spans("bedrock", scenario, "CHAT_MODEL")


@pytest.mark.parametrize(
    ("scenario", "reasons"),
    [
        ("normal", ["end_turn"]),
        ("tool_call", ["tool_use", "end_turn"]),
        ("truncated", ["max_tokens"]),
        ("refusal", ["content_filtered"]),
        ("streamed", ["tool_use", "end_turn"]),
    ],
)
def test_the_finish_reason_is_the_converse_responses_stop_reason(scenario, reasons):
    assert [signals.finish_reason(call["outputs"]) for call in _model_calls(scenario)] == reasons


def test_a_truncated_converse_answer_is_truncated():
    outputs = _model_calls("truncated")[0]["outputs"]
    assert signals.is_truncated(signals.text_of(outputs), signals.finish_reason(outputs))


@pytest.mark.parametrize(
    ("scenario", "name", "tools"),
    [
        ("tool_call", "BedrockRuntime.converse", [["get_weather"], []]),
        ("multi_step", "BedrockRuntime.converse", [["get_order_status"], ["get_weather"], []]),
        # MLflow rebuilds a streamed message with a text block (here "") before the tool use, whose input
        # stays the streamed JSON string.
        ("streamed", "BedrockRuntime.converse_stream", [["get_weather"], []]),
    ],
)
def test_a_tool_calling_step_names_its_tools_from_the_tool_use_blocks(scenario, name, tools):
    calls = _model_calls(scenario)
    assert {call["name"] for call in calls} == {name}
    assert [signals.requested_tools(call["outputs"]) for call in calls] == tools


def test_the_answer_is_the_text_of_the_output_messages_content():
    outputs = _model_calls("streamed")[-1]["outputs"]
    assert outputs["output"]["message"]["content"] == [{"text": "It is 18 °C and sunny in Paris."}]
    assert signals.text_of(outputs) == "It is 18 °C and sunny in Paris."
