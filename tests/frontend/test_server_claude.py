"""The generation tools with Claude through the MCP protocol (real SDK, fake Messages API)."""

import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.server import create_server
from tests.fake_anthropic import claude_settings, fake_anthropic, plausible_answer

pytestmark = pytest.mark.anyio


async def test_generate_suite_with_claude_says_claude_in_every_step(demo_store, tmp_path):
    with fake_anthropic(plausible_answer) as fake:
        settings = claude_settings(fake, demo_store.workspace, tracking_uri=demo_store.uri)
        async with Client(create_server(settings)) as client:
            result = await client.call_tool(
                "generate_suite",
                {
                    "experiment_name": "mlflow-eval-demo",
                    "suite_dir": str(tmp_path / "suite"),
                    "max_cases": 30,
                    "detail": "full",
                },
            )
    assert not result.is_error, result
    content = result.structured_content
    assert content["mode"] == "claude"
    assert (content["dataset"]["mode"], content["scorers"]["mode"]) == ("claude", "claude")
    assert fake.tasks() == ["trace_analysis", "dataset_cases", "scorer_proposals"]
    assert content["claude"]["requests"] == 3
    assert "answers_the_question" in {judge["name"] for judge in content["scorers"]["judges"]}


async def test_offline_generation_sends_nothing_even_with_credentials(demo_store, tmp_path):
    with fake_anthropic(plausible_answer) as fake:
        settings = claude_settings(fake, demo_store.workspace, tracking_uri=demo_store.uri)
        async with Client(create_server(settings)) as client:
            result = await client.call_tool(
                "analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 50, "generation": "offline"}
            )
    assert result.structured_content["mode"] == "offline"
    assert result.structured_content["claude"] is None
    assert fake.requests == []


async def test_requiring_claude_without_credentials_says_how_to_configure_it(demo_store):
    async with Client(create_server(demo_store.settings())) as client:
        result = await client.call_tool(
            "analyze_traces", {"experiment_name": "mlflow-eval-demo", "max_traces": 50, "generation": "claude"}
        )
    assert result.is_error
    assert "set ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL with ANTHROPIC_AUTH_TOKEN" in result.content[0].text
