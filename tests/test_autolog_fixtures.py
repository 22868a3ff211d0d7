"""Traces written by MLflow's own autolog around the real SDKs (tests/fixtures/autolog, recorded by
record.py against a scripted local model): each planted scenario gives its finding, with exactly its
traces, and no finding names a clean scenario. Suites generated from them: test_autolog_suites.py and
test_autolog_suites_run.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.span_view import SpanView
from mlflow_eval_mcp.importing.importer import import_traces

FIXTURES = Path(__file__).parent / "fixtures" / "autolog"
INTEGRATIONS = sorted(path.stem for path in FIXTURES.glob("*.json"))
SCENARIO_TAG = "fixture.scenario"
# Scenario → the finding kinds it plants. Scenarios not listed are clean and must be named by no finding.
PLANTED = {
    "tool_raises": {"tool_exceptions", "trace_errors"},
    "tool_raises_handled": {"tool_exceptions"},
    "tool_returns_error": {"tool_error_outputs"},
    "empty_answer": {"empty_responses"},
    "refusal": {"refusals"},
    "truncated": {"truncated_responses"},
}
# Kinds a scenario may show besides its own: a tool's exception escaping through LangGraph's `tools`
# node fails that step too; an app that drops a refusal (the Responses API's output_text) shows nothing;
# a framework that turns a tool's exception into its result (CrewAI) records an error output instead;
# and no scripted agent calls a failed tool again, which the conversation reading sees as giving up.
ALSO = {
    "tool_raises": {"span_errors", "gave_up_after_tool_error"},
    "refusal": {"empty_responses"},
    "tool_raises_handled": {"tool_error_outputs", "gave_up_after_tool_error"},
    "tool_returns_error": {"gave_up_after_tool_error"},
}
# Scenarios MLflow's autolog records too little of to see: DSPy's records no finish reason anywhere;
# CrewAI's neither (the LLM span's output is the text alone), and its TOOL span never sees the exception
# CrewAI catches, only the "Error executing tool: …" text it hands the model (an OK span).
UNRECORDED = {"dspy": {"truncated"}, "crewai": {"truncated", "tool_raises_handled"}}
# Findings about the whole corpus rather than a fault of some traces (a handful of fixture traces
# cannot say what is usual).
NOT_FAULTS = {"format_violations", "error_cluster"}


def _analysed(integration: str, store_uri: str, tmp_path: Path):
    records = json.loads((FIXTURES / f"{integration}.json").read_text(encoding="utf-8"))["traces"]
    exported = tmp_path / f"{integration}.jsonl"
    exported.write_text("".join(json.dumps(record["trace"]) + "\n" for record in records), encoding="utf-8")
    client = MlflowClient(tracking_uri=store_uri)
    result = import_traces(
        client, exported, experiment_name=integration, artifacts_dir=tmp_path / "artifacts", format_name="mlflow"
    )
    assert (result.imported, result.skipped) == (len(records), 0)
    analysis = analyze_traces(client, experiment_name=integration)
    scenarios = {
        trace.info.trace_id: trace.info.tags[SCENARIO_TAG]
        for trace in client.search_traces(locations=[analysis.experiment_id], max_results=100)
    }
    return analysis, scenarios


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_every_planted_scenario_gives_its_finding_with_exactly_its_traces(integration, store_uri, tmp_path):
    analysis, scenarios = _analysed(integration, store_uri, tmp_path)
    found: dict[str, set[str]] = {}
    for finding in analysis.findings:
        found.setdefault(finding.kind, set()).update(scenarios[trace_id] for trace_id in finding.trace_ids)
    for scenario, kinds in PLANTED.items():
        if scenario not in scenarios.values() or scenario in UNRECORDED.get(integration, set()):
            continue
        for kind in kinds:
            assert scenario in found.get(kind, set()), f"{integration}: {scenario} not in {kind}: {found}"
    for kind, named in found.items():
        expected = {scenario for scenario, kinds in PLANTED.items() if kind in kinds | ALSO.get(scenario, set())}
        if kind not in NOT_FAULTS:
            assert named <= expected, f"{integration}: {kind} names {named - expected}"


def _streamed_openai_calls(store_uri: str, tmp_path: Path) -> list[SpanView]:
    """The model calls of the OpenAI `streamed` scenario (a tool-call step, then the answer), imported.
    MLflow rebuilds a streamed call's output from its text only ("stop", no tool calls); the chunks it
    records as span events say how the stream really ended."""
    _, scenarios = _analysed("openai", store_uri, tmp_path)
    streamed = next(trace_id for trace_id, scenario in scenarios.items() if scenario == "streamed")
    trace = MlflowClient(tracking_uri=store_uri).get_trace(streamed)
    return sorted(
        (SpanView.of(span) for span in trace.data.spans if span.span_type == "CHAT_MODEL"),
        key=lambda view: view.start_ns or 0,
    )


def test_a_streamed_tool_call_step_keeps_its_finish_reason_through_import(store_uri, tmp_path):
    calls = _streamed_openai_calls(store_uri, tmp_path)
    assert [signals.finish_reason(view.outputs) for view in calls] == ["stop", "stop"]
    assert [signals.call_finish_reason(view.outputs, view.events) for view in calls] == ["tool_calls", "stop"]


def test_a_streamed_tool_call_step_names_its_tools_from_the_chunks(store_uri, tmp_path):
    first = _streamed_openai_calls(store_uri, tmp_path)[0]
    assert signals.requested_tools(first.outputs) == []  # what MLflow rebuilt from the stream
    assert signals.requested_tools(first.outputs, first.events) == ["get_weather"]
