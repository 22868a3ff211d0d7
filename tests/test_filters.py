import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.filters import check_filter_string


@pytest.mark.parametrize(
    "filter_string",
    [
        "trace.status = 'ERROR'",
        "attributes.status IN ('OK', 'ERROR')",
        "trace.timestamp_ms > 1735689600000 AND trace.execution_time_ms >= 5000",
        "metadata.`mlflow.trace.user` = 'u1' AND span.type IN ('TOOL', 'LLM')",
        "tags.env = 'production' AND span.status = 'ERROR'",
        "trace.text ILIKE '%order%'",
        "span.attributes.`mlflow.llm.model` LIKE '%claude%'",
        "tags.note IS NOT NULL",
        "tags.x = 'it''s or not'",
    ],
)
def test_valid_filters_pass_unchanged(filter_string):
    assert check_filter_string(f"  {filter_string} ") == filter_string


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_filter_means_no_filter(blank):
    assert check_filter_string(blank) is None


@pytest.mark.parametrize(
    ("filter_string", "fix"),
    [
        ("trace.status = 'OK' OR trace.status = 'ERROR'", "trace.status IN ('OK', 'ERROR')"),
        ("trace.state = 'ERROR'", "trace.status = 'ERROR'"),
        ("state = 'OK'", "trace.status"),
        ("trace.timestamp_ms > '2024-01-01'", "trace.timestamp_ms > 1704067200000"),
        ("timestamp_ms >= '2025-06-01T12:00:00Z'", "timestamp_ms >= 1748779200000"),
        ("trace.execution_time_ms > 'slow'", "milliseconds"),
        ("trace.status = ERROR", "trace.status = 'ERROR'"),
        ("tags.env = production", "tags.env = 'production'"),
        ('trace.status = "OK"', "trace.status = 'OK'"),
        ("trace.status = 'FAILED'", "'OK', 'ERROR', 'IN_PROGRESS'"),
        ("tags.env IN ('prod', 'dev')", "LIKE"),
        ("span.attributes.model = 'claude'", "span.attributes.model LIKE '%claude%'"),
        ("text ILIKE '%refund%'", "trace.text ILIKE"),
        ("trace.status = 'OK", "unterminated quote"),
    ],
)
def test_common_mistakes_are_rejected_with_the_fix(filter_string, fix):
    with pytest.raises(InvalidArgumentError) as raised:
        check_filter_string(filter_string)
    assert fix in str(raised.value)


def test_or_inside_a_quoted_value_is_not_an_operator():
    assert check_filter_string("tags.topic = 'this OR that'") == "tags.topic = 'this OR that'"
