"""Reading the traces `mlflow.gemini.autolog()` wrote around the Google GenAI SDK's
`client.models.generate_content` (tests/fixtures/autolog/gemini.json): MLflow stores the SDK's
`GenerateContentResponse` as its pydantic dump, so a tool call is a content part's `function_call`."""

from __future__ import annotations

from typing import Any

import pytest

from mlflow_eval_mcp.checks import signals
from tests.checks.fixture_reading import decoded_spans


def _model_calls(scenario: str) -> list[dict[str, Any]]:
    """The scenario's model spans in start order (`Models.generate_content` and the `_generate_content`
    it calls, both LLM)."""
    return decoded_spans("gemini", scenario, "LLM")


@pytest.mark.parametrize(
    ("scenario", "tools"),
    [
        ("tool_call", [["get_weather"], ["get_weather"], [], []]),
        ("multi_step", [["get_order_status"], ["get_order_status"], ["get_weather"], ["get_weather"], [], []]),
    ],
)
def test_a_tool_calling_step_names_its_tools_from_the_candidates_function_call_parts(scenario, tools):
    calls = _model_calls(scenario)
    assert [call["name"] for call in calls[:2]] == ["Models.generate_content", "Models._generate_content"]
    # The step's only part is a function call: no text, so without its tools the step says nothing.
    part = calls[0]["outputs"]["candidates"][0]["content"]["parts"][0]
    assert part["text"] is None and part["function_call"]["name"] == tools[0][0]
    assert signals.text_of(calls[0]["outputs"]) is None
    assert [signals.requested_tools(call["outputs"]) for call in calls] == tools


def test_a_function_call_part_is_read_in_the_rest_apis_camel_case_too():
    response = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                },
                "finishReason": "STOP",
            }
        ]
    }
    assert signals.requested_tools(response) == ["get_weather"]
    assert signals.finish_reason(response) == "stop"


def test_the_finish_reason_is_the_candidates_and_max_tokens_is_truncation():
    assert {signals.finish_reason(call["outputs"]) for call in _model_calls("truncated")} == {"max_tokens"}
    # A policy refusal is the model's own text with STOP (SAFETY would be a blocked, empty candidate).
    refusal = _model_calls("refusal")[0]["outputs"]
    assert signals.finish_reason(refusal) == "stop"
    assert signals.is_refusal(signals.text_of(refusal))


def test_a_model_calls_request_is_the_last_user_text_among_its_contents():
    # generate_content's inputs: {model, contents, config}; each Content has a role ("user" / "model")
    # and parts, where a user turn after a tool call holds only a `function_response` part.
    calls = _model_calls("tool_call")
    roles = [content["role"] for content in calls[-1]["inputs"]["contents"]]
    assert roles == ["user", "model", "user"]
    assert calls[-1]["inputs"]["contents"][-1]["parts"][0]["function_response"]["name"] == "get_weather"
    assert {signals.request_text(call["inputs"]) for call in calls} == {"What's the weather in Paris?"}
