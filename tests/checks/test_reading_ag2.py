"""Reading the traces `mlflow.ag2.autolog()` wrote around a real AG2 chat between a `UserProxyAgent`
and a `ConversableAgent` (tests/fixtures/autolog/ag2.json): the root's outputs are AG2's ChatResult."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlflow_eval_mcp.checks import signals
from tests.checks.fixture_reading import recorded_trace


def _root_outputs(scenario: str) -> Any:
    spans = recorded_trace("ag2", scenario)["data"]["spans"]
    ids = {span["span_id"] for span in spans}
    root = next(span for span in spans if span.get("parent_span_id") not in ids)
    return json.loads(root["attributes"]["mlflow.spanOutputs"])


@pytest.mark.parametrize(
    ("scenario", "answer"),
    [
        ("normal", "The capital of France is Paris."),
        ("multi_step", "Order A-1 has shipped to Lyon, where it is 18 °C and sunny."),
        ("streamed", "It is 18 °C and sunny in Paris."),
        ("empty_answer", ""),
    ],
)
def test_the_answer_is_the_chat_results_summary(scenario, answer):
    outputs = _root_outputs(scenario)
    assert set(outputs) >= {"chat_history", "summary"}
    assert signals.text_of(signals.final_answer(outputs)) == answer


def test_the_chat_history_names_roles_from_the_initiating_agents_side():
    # Why the history is not read as a conversation: the user's question is "assistant" there.
    history = _root_outputs("normal")["chat_history"]
    assert [(message["name"], message["role"]) for message in history] == [
        ("user", "assistant"),
        ("support_agent", "user"),
    ]
    assert signals.text_of(_root_outputs("normal")) != "What is the capital of France?"


def test_an_empty_answer_and_a_refusal_are_seen_in_the_chat_result():
    assert signals.is_empty(signals.final_answer(_root_outputs("empty_answer")))
    assert signals.is_refusal(signals.text_of(signals.final_answer(_root_outputs("refusal"))))
