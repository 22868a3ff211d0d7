"""Values that may arrive as JSON text (span attributes, streamed chunks, tool-call arguments)."""

import json

import pytest

from mlflow_eval_mcp.checks.json_text import from_json


@pytest.mark.parametrize(
    "text",
    ['"CHAT_MODEL"', '"a \\"quoted\\" word"', '{"order_id": 7}', "[1, 2]", "42", "null", '"é"', '"\\u00e9"'],
)
def test_json_text_becomes_the_value_it_stands_for(text):
    assert from_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ["plain words", '{"unclosed": ', "", '"'])
def test_text_that_is_not_json_is_kept_as_written(text):
    assert from_json(text) == text


@pytest.mark.parametrize("value", [{"already": "decoded"}, [1], 7, None])
def test_values_that_are_not_text_are_kept(value):
    assert from_json(value) is value
