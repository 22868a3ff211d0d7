import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.entities import SpanStatusCode, SpanType
from mlflow.entities.trace_state import TraceState
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.filters import SPAN_STATUS_VALUES, SPAN_TYPES, TRACE_STATUS_VALUES, check_filter_string
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.trace_factory import make_trace

# (filter, whether it matches the seeded traces). Every one must pass the checker unchanged
# and be accepted by MLflow; the matching ones must find at least one seeded trace.
VALID = [
    ("trace.status = 'OK'", True),
    ('trace.status = "OK"', True),
    ("attributes.status IN ('OK', 'ERROR')", True),
    ("trace.status LIKE 'OK%'", True),
    ("trace.status RLIKE '^O'", True),
    ("trace.status ILIKE 'ok'", True),
    ("trace.timestamp_ms > 1735689600000 AND trace.execution_time_ms >= 500", True),
    ("trace.timestamp_ms > '1735689600000'", True),
    ('trace.timestamp_ms > "1735689600000"', True),
    ("trace.timestamp_ms > 0", True),
    ("trace.execution_time_ms > '500'", True),
    ("trace.execution_time_ms < 5", False),
    ("metadata.`mlflow.trace.user` = 'user-1' AND span.type IN ('TOOL', 'LLM')", True),
    ("tags.env = 'test' AND span.status = 'ERROR'", True),
    ('tags.env = "test"', True),
    ("tags.env LIKE 'te%'", True),
    ("tag.env = 'test'", True),
    ('span.name = "agent"', True),
    ('span.name LIKE "look%"', True),
    ("span.name IN ('agent', 'other')", True),
    ("span.type = 'CHAT_MODEL'", True),
    ("span.type = 'my_custom_type'", False),
    ("span.status = 'UNSET'", False),
    ("trace.text ILIKE '%order%'", True),
    ("span.attributes.`mlflow.llm.model` LIKE '%claude%'", True),
    ('span.attributes.`mlflow.llm.model` ILIKE "%CLAUDE%"', True),
    ("span.attributes.`mlflow.llm.model` RLIKE '^claude'", True),
    ("tags.note IS NOT NULL", False),
    ("tags.x = 'it''s or not'", False),
    ("tags.topic = 'this OR that'", False),
]

# (filter, text the checker's error must contain). MLflow either rejects these itself, with a
# less helpful message, or accepts them and returns no rows or every row.
MISTAKES = [
    ("trace.status = 'OK' OR trace.status = 'ERROR'", "trace.status IN ('OK', 'ERROR')"),
    ("trace.state = 'ERROR'", "trace.status = 'ERROR'"),
    ("state = 'OK'", "trace.status"),
    ("trace.timestamp_ms > '2024-01-01'", "trace.timestamp_ms > 1704067200000"),
    ("timestamp_ms >= '2025-06-01T12:00:00Z'", "timestamp_ms >= 1748779200000"),
    ("trace.timestamp_ms > 1735689600", "trace.timestamp_ms > 1735689600000"),
    ("trace.end_time_ms < '1798761600'", "trace.end_time_ms < 1798761600000"),
    ("trace.execution_time_ms > 'slow'", "duration in milliseconds"),
    ("trace.status = ERROR", "trace.status = 'ERROR'"),
    ("tags.env = production", "tags.env = 'production'"),
    ("span.type = tool", "span.type = 'TOOL'"),
    ("trace.status = 'FAILED'", "'OK', 'ERROR', 'IN_PROGRESS'"),
    ("trace.status = 'ok'", "trace.status = 'OK'"),
    ("trace.status != 'ok'", "trace.status != 'OK'"),
    ("span.type = 'tool'", "span.type = 'TOOL'"),
    ("span.type IN ('tool', 'LLM')", "span.type IN ('TOOL', 'LLM')"),
    ("span.status = 'FAILED'", "'OK', 'ERROR', 'UNSET'"),
    ("span.status = 'error'", "span.status = 'ERROR'"),
    ("span.status NOT IN ('ok')", "span.status NOT IN ('OK')"),
    ("tags.env IN ('test', 'prod')", "LIKE"),
    ("tag.env IN ('test')", "tags.env LIKE"),
    ("metadata.`mlflow.trace.user` IN ('user-1')", "LIKE"),
    ("span.attributes.`mlflow.llm.model` = 'claude-test'", "span.attributes.`mlflow.llm.model` LIKE '%claude-test%'"),
    ("span.attributes.`mlflow.llm.model` != 'gpt'", "span.attributes.`mlflow.llm.model` LIKE '%gpt%'"),
    (
        "span.attributes.`mlflow.llm.model` IN ('claude-test')",
        "span.attributes.`mlflow.llm.model` LIKE '%claude-test%'",
    ),
    ("span.attributes.`mlflow.llm.model` NOT IN ('gpt')", "span.attributes.`mlflow.llm.model` LIKE '%gpt%'"),
    ("span.attributes.`mlflow.llm.model` LIKE 'claude%'", "span.attributes.`mlflow.llm.model` LIKE '%claude%'"),
    ("duration_ms > 500", "trace.execution_time_ms > 500"),
    ("trace.duration_ms > 500", "trace.execution_time_ms > 500"),
    ("latency > 5", "trace.execution_time_ms"),
    ("trace.latency_ms > 500", "trace.execution_time_ms > 500"),
    ("text ILIKE '%refund%'", "trace.text ILIKE"),
    ("trace.status = 'OK", "unterminated quote"),
]


@dataclass(frozen=True)
class SeededStore:
    client: MlflowClient
    experiment_id: str
    total: int

    def search(self, filter_string: str) -> int:
        found = self.client.search_traces(
            locations=[self.experiment_id], filter_string=filter_string, include_spans=False
        )
        return len(found)


@pytest.fixture(scope="module")
def seeded(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    """Three traces, the second with a failed tool call, in a store shared by this module."""
    path = tmp_path_factory.mktemp("filters") / "mlflow.db"
    shutil.copy(template_db, path)
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("filters")
    records = [make_trace(0), make_trace(1, tool_error="TimeoutError: order service timed out"), make_trace(2)]
    report = write_traces(uri, experiment_id, records)
    assert report.written == len(records)
    return SeededStore(client, experiment_id, len(records))


@pytest.mark.parametrize(("filter_string", "matches"), VALID)
def test_valid_filters_pass_the_checker_unchanged(filter_string, matches):
    assert check_filter_string(f"  {filter_string} ") == filter_string


@pytest.mark.parametrize(("filter_string", "matches"), VALID)
def test_valid_filters_work_in_mlflow(seeded, filter_string, matches):
    found = seeded.search(filter_string)
    assert found >= 1 if matches else found == 0


@pytest.mark.parametrize(("filter_string", "fix"), MISTAKES)
def test_mistakes_are_rejected_with_the_fix(filter_string, fix):
    with pytest.raises(InvalidArgumentError) as raised:
        check_filter_string(filter_string)
    assert fix in str(raised.value)


@pytest.mark.parametrize(("filter_string", "fix"), MISTAKES)
def test_mistakes_fail_or_mislead_in_mlflow(seeded, filter_string, fix):
    try:
        found = seeded.search(filter_string)
    except MlflowException:
        return
    assert found in (0, seeded.total)


def test_singular_tag_prefix_is_an_mlflow_alias_for_tags(seeded):
    assert check_filter_string("tag.index = '1'") == "tag.index = '1'"
    assert seeded.search("tag.index = '1'") == seeded.search("tags.index = '1'") == 1


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_filter_means_no_filter(blank):
    assert check_filter_string(blank) is None


def test_or_inside_a_quoted_value_is_not_an_operator():
    assert check_filter_string("tags.topic = 'this OR that'") == "tags.topic = 'this OR that'"


def test_or_is_named_even_before_text_the_grammar_does_not_have():
    with pytest.raises(InvalidArgumentError, match="do not support OR"):
        check_filter_string("trace.status = 'OK' OR 1=1; DROP TABLE traces")


def test_execution_time_is_described_as_a_duration_not_epoch_time():
    with pytest.raises(InvalidArgumentError) as raised:
        check_filter_string("trace.execution_time_ms > '2024-01-01'")
    assert "epoch" not in str(raised.value)


def test_small_durations_are_not_mistaken_for_seconds():
    assert check_filter_string("trace.execution_time_ms > 1500") == "trace.execution_time_ms > 1500"


def test_custom_span_types_pass_in_any_case():
    assert check_filter_string("span.type IN ('my_step', 'RANKER')") == "span.type IN ('my_step', 'RANKER')"


def test_span_types_are_mlflows():
    builtin = {value for name, value in vars(SpanType).items() if not name.startswith("_") and isinstance(value, str)}
    assert set(SPAN_TYPES) == builtin


def test_span_status_values_are_mlflows():
    assert set(SPAN_STATUS_VALUES) == {code.value for code in SpanStatusCode}


def test_trace_status_values_are_mlflows():
    assert set(TRACE_STATUS_VALUES) == {state.value for state in TraceState} - {"STATE_UNSPECIFIED"}
