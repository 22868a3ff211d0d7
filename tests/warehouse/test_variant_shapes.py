"""A VARIANT cast once to a `Shape` reads, at each of its paths, what Spark's own path reading reads there."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from mlflow_eval_mcp.analysis.sql_statements import ATTRIBUTES, CONTENT, literal
from mlflow_eval_mcp.analysis.variant_shapes import Shape

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

VALUES = [
    {"choices": [{"message": {"content": "hi"}, "finish_reason": "length", "text": 5}], "model": "m"},
    {"choices": {"finish_reason": "stop"}, "finish_reason": {"a": 1}, "Choices": []},
    {"raw": "the crew's answer", "content": [{"text": "block"}], "stop_reason": "max_tokens"},
    {"raw": {"choices": [{"finish_reason": "length"}]}, "response_metadata": {"finish_reason": "stop"}},
    {"candidates": [1, {"content": {"parts": [{"text": "gemini"}]}, "finish_reason": "MAX_TOKENS"}]},
    {"messages": [{"role": "user", "content": "q"}, {"type": "ai", "content": [{"text": "a"}]}, "stray", None]},
    {"messages": "not a list", "question": "why?", "inputs": {"topic": "x"}},
    ["a", "list"],
    "just text",
    42,
]
MESSAGE_PATHS = ("$.role", "$.type", "$.content", "$.content[0].text", "$.parts[0].content")
TYPED_MESSAGE_PATHS = ("$.role", "$.type")
"""Read as strings (as a role is compared), the others as VARIANTs."""


def _read(
    spark: SparkSession, value: object, pairs: list[tuple[str, str]], shape: Shape = CONTENT
) -> list[tuple[object, object]]:
    """Each pair of readings (through the shape, by path) of `value`."""
    columns = ", ".join(f"{shaped} AS s{index}, {direct} AS d{index}" for index, (shaped, direct) in enumerate(pairs))
    parsed = f"SELECT parse_json({literal(json.dumps(value))}) AS v"
    row = spark.sql(f"SELECT {columns} FROM (SELECT v, {shape.cast('v')} AS s FROM ({parsed}))").collect()[0]
    return [(row[f"s{index}"], row[f"d{index}"]) for index in range(len(pairs))]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: json.dumps(value)[:40])
def test_every_path_of_a_shape_reads_what_the_path_reads(spark: SparkSession, value: object):
    paths = [path for path in CONTENT.paths if "[*]" not in path]
    pairs = [
        (f"to_json({CONTENT.at('s', path)})", f"to_json(try_variant_get(v, {literal(path)}, 'variant'))")
        for path in paths
    ]
    for path, (shaped, direct) in zip(paths, _read(spark, value, pairs), strict=True):
        assert shaped == direct, path


@pytest.mark.parametrize("value", VALUES[5:7], ids=["message list", "no list"])
def test_each_message_of_a_shape_reads_what_its_path_reads(spark: SparkSession, value: object):
    def as_text(expression: str, path: str) -> str:
        return expression if path in TYPED_MESSAGE_PATHS else f"to_json({expression})"

    pairs = [
        (
            as_text(CONTENT.at(f"get({CONTENT.at('s', '$.messages')}, {index})", path, within="$.messages[*]"), path),
            as_text(
                f"try_variant_get(v, {literal(f'$.messages[{index}]{path[1:]}')}, "
                f"'{'string' if path in TYPED_MESSAGE_PATHS else 'variant'}')",
                path,
            ),
        )
        for index in range(4)
        for path in MESSAGE_PATHS
    ]
    for shaped, direct in _read(spark, value, pairs):
        assert shaped == direct


ATTRIBUTE_VALUES = [
    {
        "mlflow.traceRequestId": '"tr-1"',
        "mlflow.spanType": "LLM",
        "session.id": ["s-1", "s-2"],
        "mlflow.chat.tokenUsage": {"input_tokens": 120, "output_tokens": 7.0, "prompt_tokens": "12"},
    },
    {"mlflow.chat.tokenUsage": {"completion_tokens": 3}, "user.id": 42, "mlflow.llm.model": {"name": "m"}},
    {"mlflow.chat.tokenUsage": "not usage"},
]


@pytest.mark.parametrize("value", ATTRIBUTE_VALUES, ids=["typical", "numbers elsewhere", "usage a string"])
def test_every_typed_attribute_of_a_shape_reads_what_its_path_reads(spark: SparkSession, value: object):
    pairs = [
        (ATTRIBUTES.at("s", path), f"try_variant_get(v, {literal(path)}, {literal(sql_type)})")
        for path, sql_type in ATTRIBUTES.typed
    ]
    for (path, _), (shaped, direct) in zip(ATTRIBUTES.typed, _read(spark, value, pairs, ATTRIBUTES), strict=True):
        assert shaped == direct, path


def test_token_counts_read_as_the_integers_they_are(spark: SparkSession):
    usage = '$["mlflow.chat.tokenUsage"]'
    pairs = [(ATTRIBUTES.at("s", f"{usage}.{key}"), "NULL") for key in ("input_tokens", "output_tokens")]
    read = [shaped for shaped, _ in _read(spark, ATTRIBUTE_VALUES[0], pairs, ATTRIBUTES)]
    assert [(count, type(count)) for count in read] == [(120, int), (7, int)]


def test_a_path_through_another_paths_end_is_read_from_that_end():
    shape = Shape(("$.raw", "$.raw.choices[0].finish_reason"))
    assert shape.type() == "struct<`raw`:variant>"
    assert shape.at("s", "$.raw.choices[0].finish_reason") == (
        "try_variant_get(s.`raw`, '$[\"choices\"][0][\"finish_reason\"]', 'variant')"
    )


def test_a_key_read_both_as_an_object_and_as_an_array_is_refused():
    with pytest.raises(ValueError, match="object where another path reads an array"):
        Shape(("$.content.text", "$.content[0].text"))
