"""MCP resources: the skills and the suites' state, read through the protocol."""

import json

import pytest
from mcp import Client

from mlflow_eval_mcp import skills
from mlflow_eval_mcp.frontend.server import create_server

pytestmark = pytest.mark.anyio


async def test_every_skill_and_reference_is_listed_as_a_markdown_resource(settings):
    async with Client(create_server(settings)) as client:
        listed = {str(resource.uri): resource for resource in (await client.list_resources()).resources}
    expected = {"skill://mlflow-evaluation"} | {
        f"skill://mlflow-evaluation/references/{name}" for name in skills.reference_names("mlflow-evaluation")
    }
    assert expected <= set(listed)
    assert len(expected) > 1
    assert all(listed[uri].mime_type == "text/markdown" for uri in expected)


async def test_a_skill_resource_holds_the_skill_text(settings):
    async with Client(create_server(settings)) as client:
        result = await client.read_resource("skill://mlflow-evaluation/references/gotchas")
    assert result.contents[0].text == skills.read_reference("mlflow-evaluation", "gotchas")


async def test_a_suites_analysis_and_the_index_are_readable_after_analyze_traces(demo_store):
    async with Client(create_server(demo_store.settings())) as client:
        await client.call_tool(
            "analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 50, "suite_dir": "first"}
        )
        index = json.loads((await client.read_resource("suite://index")).contents[0].text)
        analysis = json.loads((await client.read_resource("suite://first/analysis")).contents[0].text)
    assert index[0]["suite"] == "first" and index[0]["steps"]["analyze"] == "completed"
    assert analysis["overview"]["traces_analyzed"] == 50


async def test_a_missing_suite_file_says_which_step_writes_it(demo_store):
    async with Client(create_server(demo_store.settings())) as client:
        await client.call_tool(
            "analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 20, "suite_dir": "first"}
        )
        with pytest.raises(Exception, match=r"has no state/validation_results\.json yet"):
            await client.read_resource("suite://first/validation")
        with pytest.raises(Exception, match="the suites are: first"):
            await client.read_resource("suite://nope/analysis")
