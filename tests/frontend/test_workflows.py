"""MCP prompts for the workflows users follow."""

import re

import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.server import create_server

pytestmark = pytest.mark.anyio


async def test_the_five_workflows_are_listed_with_their_arguments(settings):
    async with Client(create_server(settings)) as client:
        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
    assert set(prompts) == {
        "first_evaluation_suite",
        "regression_check",
        "latency_and_token_profile",
        "close_the_loop",
        "trusted_judges",
    }
    required = {argument.name for argument in prompts["regression_check"].arguments if argument.required}
    assert required == {"suite_dir", "predict_fn"}
    assert prompts["close_the_loop"].title == "Close the loop with human feedback"


async def test_a_workflow_names_the_tools_in_order_with_the_arguments_given(settings):
    async with Client(create_server(settings)) as client:
        result = await client.get_prompt(
            "regression_check", {"suite_dir": "/suites/prod", "predict_fn": "agent.py:answer"}
        )
    text = result.messages[0].content.text
    assert text.index("validate_eval") < text.index("compare_runs")
    assert 'predict_fn="agent.py:answer"' in text and 'suite_dir="/suites/prod"' in text


async def test_every_tool_a_workflow_names_exists(settings):
    async with Client(create_server(settings)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        texts = [
            (await client.get_prompt("first_evaluation_suite", {"experiment_name": "x"})).messages[0].content.text,
            (await client.get_prompt("latency_and_token_profile", {"experiment_name": "x"})).messages[0].content.text,
            (await client.get_prompt("close_the_loop", {"suite_dir": "s"})).messages[0].content.text,
            (await client.get_prompt("trusted_judges", {"suite_dir": "s"})).messages[0].content.text,
        ]
    named = {name for text in texts for name in re.findall(r"\b([a-z]+(?:_[a-z]+)+)\(", text)}
    assert named and named <= tools, named - tools
