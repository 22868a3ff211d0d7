"""Summary first, details on demand: analyze_traces' default result stays small, and get_finding
pages through every trace of a finding, each exactly once, through the MCP protocol."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from mlflow_eval_mcp.analysis.archive import KEPT, archive_analysis, load_analysis
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server

pytestmark = pytest.mark.anyio
RESULT_LIMIT = 12_000


async def _analysed(client: Client, detail: str = "summary") -> dict:
    arguments = {"experiment_name": "mlflow-eval-demo", "max_traces": 300, "generation": "offline", "detail": detail}
    result = await client.call_tool("analyze_traces", arguments)
    assert not result.is_error, result.content[0].text
    return result


async def test_the_default_analysis_fits_a_clients_context_and_names_its_drill_down(demo_template):
    async with Client(create_server(demo_template.settings())) as client:
        result = await _analysed(client)
    text, structured = result.content[0].text, result.structured_content
    assert len(text) <= RESULT_LIMIT and len(json.dumps(structured)) <= RESULT_LIMIT
    assert structured["findings_total"] >= len(structured["findings"]) > 0
    assert f'get_finding(analysis_id="{structured["analysis_id"]}"' in text
    assert text.startswith("Analysed 300 traces")


async def test_drilling_down_returns_every_trace_of_a_finding_once_across_its_pages(demo_template):
    async with Client(create_server(demo_template.settings())) as client:
        full = (await _analysed(client, "full")).structured_content
        finding = max(full["findings"], key=lambda item: item["count"])
        seen: list[str] = []
        token = None
        while True:
            arguments = {"analysis_id": full["analysis_id"], "finding_id": finding["id"], "page_size": 7}
            page = await client.call_tool("get_finding", arguments | ({"page_token": token} if token else {}))
            assert not page.is_error, page.content[0].text
            seen += [trace["trace_id"] for trace in page.structured_content["traces"]]
            token = page.structured_content["next_page_token"]
            if token is None:
                break
    assert finding["count"] > 7
    assert seen == finding["trace_ids"]
    assert len(set(seen)) == len(seen)


async def test_each_trace_of_a_signal_finding_comes_with_its_evidence(demo_template):
    async with Client(create_server(demo_template.settings())) as client:
        summary = (await _analysed(client)).structured_content
        arguments = {"analysis_id": summary["analysis_id"], "finding_id": "tool_exceptions"}
        page = (await client.call_tool("get_finding", arguments)).structured_content
    assert page["traces"] and all(trace["evidence"] for trace in page["traces"])


async def test_an_unknown_finding_is_refused_with_the_findings_there_are(demo_template):
    async with Client(create_server(demo_template.settings())) as client:
        summary = (await _analysed(client)).structured_content
        result = await client.call_tool("get_finding", {"analysis_id": summary["analysis_id"], "finding_id": "nope"})
    assert result.is_error
    assert "no finding 'nope'" in result.content[0].text and summary["findings"][0]["id"] in result.content[0].text


async def test_an_edited_page_token_is_refused(demo_template):
    async with Client(create_server(demo_template.settings())) as client:
        summary = (await _analysed(client)).structured_content
        arguments = {"analysis_id": summary["analysis_id"], "finding_id": summary["findings"][0]["id"]}
        result = await client.call_tool("get_finding", arguments | {"page_token": "eyJxIjogIngifQ=="})
    assert result.is_error and "page_token is not one this server issued" in result.content[0].text


def test_an_analysis_id_that_could_name_a_path_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match="is not one analyze_traces returned"):
        load_analysis(tmp_path, "../../etc/passwd")


def test_only_the_newest_analyses_are_kept(demo_template, tmp_path):
    analysis = load_analysis(*_one_archived(demo_template))
    for _ in range(KEPT + 3):
        archive_analysis(tmp_path, analysis)
    assert len(list(tmp_path.glob("*.json"))) == KEPT


def _one_archived(demo_template):
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.analysis.archive import archive_analysis
    from mlflow_eval_mcp.analysis.engine import analyze_traces

    directory = demo_template.settings().analyses_dir
    analysis = analyze_traces(MlflowClient(tracking_uri=demo_template.uri), experiment_name="mlflow-eval-demo")
    return directory, archive_analysis(directory, analysis)
