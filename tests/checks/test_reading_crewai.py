"""Reading the traces `mlflow.crewai.autolog()` wrote around a real one-agent CrewAI crew
(tests/fixtures/autolog/crewai.json): the request is `Crew.kickoff(inputs=…)`, the answer a CrewOutput's
`raw`, a tool's result `{"result": …}`, and a tool-calling reply's tool calls unserialised (`[{}]`)."""

from __future__ import annotations

import pytest

from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Conversation
from tests.checks.fixture_reading import recorded_conversation


def _conversation(scenario: str) -> Conversation:
    return recorded_conversation("crewai", scenario)


def test_the_request_is_the_kickoff_inputs():
    conversation = _conversation("normal")
    assert conversation.request_inputs == {"inputs": {"question": "What is the capital of France?"}}
    assert conversation.request == "What is the capital of France?"


@pytest.mark.parametrize(
    ("scenario", "answer"),
    [
        ("normal", "The capital of France is Paris."),
        ("multi_step", "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."),
    ],
)
def test_the_answer_is_the_crew_outputs_raw_text(scenario, answer):
    conversation = _conversation(scenario)
    assert conversation.outputs["raw"] == answer and "tasks_output" in conversation.outputs
    assert conversation.answer_text == answer


def test_a_refusal_is_seen_in_the_crew_output():
    assert signals.is_refusal(_conversation("refusal").answer_text)


@pytest.mark.parametrize("scenario", ["tool_returns_error", "tool_raises_handled"])
def test_a_tool_result_wrapped_under_result_that_is_an_error_text_is_a_tool_error(scenario):
    # CrewAI catches a tool's exception and hands the model "Error executing tool: …": the span is OK.
    (tool,) = _conversation(scenario).tool_calls
    assert tool.span.status == "OK" and isinstance(tool.result["result"], str)
    assert tool.outcome == "error_output"
    assert tool.error in ("Error: order Z-404 not found", "Error executing tool: order service unavailable (HTTP 503)")
    assert _conversation("tool_call").tool_calls[0].outcome == "ok"


def test_a_tool_calling_reply_whose_calls_mlflow_could_not_serialise_is_not_recorded():
    calls = _conversation("multi_step").model_calls
    assert [call.span.outputs for call in calls[:2]] == [[{}], [{}]]
    assert [call.recorded for call in calls] == [False, False, True]
    assert calls[-1].answer == "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."
