"""Reading OpenTelemetry traces that reached MLflow over OTLP (tests/fixtures/autolog/otel_genai.json and
openinference.json, recorded through a real `mlflow server`): OTel GenAI messages are
`{role, parts: [{type: "text", content} | {type: "tool_call", name} | {type: "tool_call_response", response}]}`,
and MLflow's ingestion skips an empty OpenInference `output.value`. The same spans as OTLP JSON exports
(`*.otlp.jsonl`) read through the project's `otlp` importer give the same findings."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Message
from mlflow_eval_mcp.importing.importer import import_traces
from tests.checks.fixture_reading import recorded_conversation, recorded_scenarios
from tests.paths import AUTOLOG_FIXTURES

FIXTURES = AUTOLOG_FIXTURES


def test_genai_text_parts_are_the_request_and_the_answer():
    conversation = recorded_conversation("otel_genai", "tool_call")
    assert conversation.root is not None and conversation.root.inputs == [
        {"role": "user", "parts": [{"content": "What's the weather in Paris?", "type": "text"}]}
    ]
    assert conversation.request == "What's the weather in Paris?"
    assert conversation.answer_text == "It is 18 °C and sunny in Paris."
    assert recorded_conversation("otel_genai", "empty_answer").answer_text == ""


def test_genai_tool_call_parts_name_the_tools_a_call_asked_for():
    calls = recorded_conversation("otel_genai", "multi_step").model_calls
    assert [call.requested_tools for call in calls] == [["get_order_status"], ["get_weather"], []]
    assert [call.finish_reason for call in calls] == ["tool_calls", "tool_calls", "stop"]
    assert signals.requested_tools(calls[0].span.outputs) == ["get_order_status"]


def test_genai_messages_carry_the_tool_calls_and_their_results():
    last = recorded_conversation("otel_genai", "tool_call").model_calls[-1]
    assert last.messages == [
        Message("system", "You are a support agent for an online shop. Use the tools to answer."),
        Message("user", "What's the weather in Paris?"),
        Message("assistant", None, ("get_weather",)),
        Message("tool", '{"city": "Paris", "temperature_c": 18, "conditions": "sunny"}'),
    ]


def test_an_empty_openinference_output_mlflow_did_not_store_is_read_from_the_span():
    conversation = recorded_conversation("openinference", "empty_answer")
    root = conversation.root
    assert root is not None and "mlflow.spanOutputs" not in root.encoded_attributes
    assert root.attribute("output.value") == ""
    assert root.outputs == ""
    assert signals.is_empty(conversation.outputs)


def _findings(client: MlflowClient, experiment: str, scenario_of: dict[str, str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in analyze_traces(client, experiment_name=experiment).findings:
        found.setdefault(finding.kind, set()).update(scenario_of[trace_id] for trace_id in finding.trace_ids)
    return found


@pytest.mark.parametrize("integration", ["otel_genai", "openinference"])
def test_the_otlp_export_reads_as_mlflow_stored_it(integration, store_uri, tmp_path):
    client = MlflowClient(tracking_uri=store_uri)
    records = recorded_scenarios(integration)
    stored = tmp_path / "stored.jsonl"
    stored.write_text("".join(json.dumps(record["trace"]) + "\n" for record in records), encoding="utf-8")
    exported = FIXTURES / f"{integration}.otlp.jsonl"
    for name, path, format_name in (("stored", stored, "mlflow"), ("exported", exported, "otlp")):
        result = import_traces(
            client, path, experiment_name=name, artifacts_dir=tmp_path / name, format_name=format_name
        )
        assert (result.imported, result.skipped) == (len(records), 0)
    # MLflow names an OTLP trace "tr-" + its OTel trace id; the importer tags the id it read.
    by_otel_id = {record["trace"]["info"]["trace_id"].removeprefix("tr-"): record["scenario"] for record in records}
    experiment = client.get_experiment_by_name("exported").experiment_id
    imported = client.search_traces(locations=[experiment], max_results=100)
    exported_scenarios = {trace.info.trace_id: by_otel_id[trace.info.tags["otel.trace_id"]] for trace in imported}
    stored_scenarios = {
        trace.info.trace_id: trace.info.tags["fixture.scenario"]
        for trace in client.search_traces(
            locations=[client.get_experiment_by_name("stored").experiment_id], max_results=100
        )
    }
    found = _findings(client, "exported", exported_scenarios)
    assert found == _findings(client, "stored", stored_scenarios)
    assert found["empty_responses"] == {"empty_answer"} and found["truncated_responses"] == {"truncated"}
