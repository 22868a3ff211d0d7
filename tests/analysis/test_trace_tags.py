"""analyze_traces(tag_traces=True) writes each finding onto its traces as a tag, idempotently."""

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.importer import import_traces
from tests.conversations import write_transcripts


def _imported(store_uri, tmp_path) -> dict[str, str]:
    """Case name -> trace id of the hand-built conversations, imported into experiment "talks"."""
    client = MlflowClient(tracking_uri=store_uri)
    source = write_transcripts(tmp_path / "talks.jsonl", ["clean_question", "unbacked", "gave_up"])
    import_traces(client, str(source), experiment_name="talks", artifacts_dir=tmp_path / "artifacts")
    experiment_id = client.get_experiment_by_name("talks").experiment_id
    return {trace.info.tags["case"]: trace.info.trace_id for trace in client.search_traces(locations=[experiment_id])}


def _finding_tags(store_uri: str, trace_id: str) -> dict[str, str]:
    tags = MlflowClient(tracking_uri=store_uri).get_trace(trace_id).info.tags
    return {key: value for key, value in tags.items() if key.startswith("mlflow_eval.finding.")}


@pytest.mark.anyio
async def test_each_finding_is_a_tag_on_its_traces_and_clean_traces_get_none(store_uri, settings, tmp_path):
    traces = _imported(store_uri, tmp_path)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "analyze_traces", {"experiment_name": "talks", "tag_traces": True, "detail": "full"}
        )
    assert result.structured_content["traces_tagged"] == 2
    assert _finding_tags(store_uri, traces["unbacked"]) == {"mlflow_eval.finding.unbacked_claims": "unbacked_claims"}
    assert _finding_tags(store_uri, traces["gave_up"])["mlflow_eval.finding.gave_up_after_tool_error"] == (
        "gave_up_after_tool_error"
    )
    assert _finding_tags(store_uri, traces["clean_question"]) == {}


@pytest.mark.anyio
async def test_tagging_the_same_analysis_again_changes_no_tag(store_uri, settings, tmp_path):
    traces = _imported(store_uri, tmp_path)
    async with Client(create_server(settings)) as client:
        await client.call_tool("analyze_traces", {"experiment_name": "talks", "tag_traces": True})
        first = {name: _finding_tags(store_uri, trace_id) for name, trace_id in traces.items()}
        await client.call_tool("analyze_traces", {"experiment_name": "talks", "tag_traces": True})
    assert {name: _finding_tags(store_uri, trace_id) for name, trace_id in traces.items()} == first


@pytest.mark.anyio
async def test_without_tag_traces_nothing_is_written_onto_the_traces(store_uri, settings, tmp_path):
    traces = _imported(store_uri, tmp_path)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("analyze_traces", {"experiment_name": "talks", "detail": "full"})
    assert result.structured_content["traces_tagged"] is None
    assert _finding_tags(store_uri, traces["unbacked"]) == {}
