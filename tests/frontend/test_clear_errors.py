"""Bad arguments get one clear sentence each, through the real MCP protocol: no pydantic reports, no bare
"Error executing tool", no internals, no unbounded echoes of what was sent."""

import base64
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path

import pytest
from mcp import Client
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import SHOWN_CHARS, InvalidArgumentError, shown
from mlflow_eval_mcp.frontend.args import MAX_LONG_TEXT, MAX_TEXT, check_judge_model
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.pipeline import generate_suite
from tests.raw_stdio import call_over_stdio
from tests.suite_factory import experiment_with

pytestmark = pytest.mark.anyio
MEGABYTE = "x" * 1_000_000
# Just enough for each tool to get past "missing argument"; the argument under test replaces its own.
REQUIRED = {
    "get_trace": {"trace_id": "tr-1"},
    "import_traces": {"path": "/nonexistent.json", "experiment_name": "imported"},
    "generate_dataset": {"suite_dir": "s"},
    "generate_scorers": {"suite_dir": "s"},
    "render_run_script": {"suite_dir": "s"},
    "validate_eval": {"suite_dir": "s"},
    "push_feedback": {"suite_dir": "s"},
    "pull_feedback": {"suite_dir": "s"},
    "compare_runs": {"baseline_run_id": "a", "candidate_run_id": "b"},
}


def _error_text(result) -> str:
    assert result.is_error, result
    return result.content[0].text


def _string_arguments(tool) -> dict[str, dict]:
    """Each string argument's schema (without the null of an optional one)."""
    found = {}
    for name, schema in tool.input_schema["properties"].items():
        for option in [schema, *schema.get("anyOf", [])]:
            if option.get("type") == "string":
                found[name] = option
    return found


async def _call(settings: Settings, tool: str, arguments: dict) -> str:
    async with Client(create_server(settings)) as client:
        return _error_text(await client.call_tool(tool, arguments))


async def test_a_megabyte_in_any_string_argument_is_refused_fast_naming_the_limit(settings):
    async with Client(create_server(settings)) as client:
        tools = (await client.list_tools()).tools
        checked = 0
        started = time.monotonic()
        for tool in tools:
            for name, schema in _string_arguments(tool).items():
                text = _error_text(await client.call_tool(tool.name, {**REQUIRED.get(tool.name, {}), name: MEGABYTE}))
                limit = MAX_LONG_TEXT if name in ("filter_string", "page_token") else MAX_TEXT
                allowed = "one of" if "enum" in schema else f"at most {limit:,} characters"
                assert f"{name} must be" in text and allowed in text, (tool.name, text)
                assert "got 1,000,000 characters" in text and len(text) < 500, (tool.name, text)
                checked += 1
    assert checked >= 30
    assert time.monotonic() - started < 10


async def test_a_nul_character_in_any_string_argument_is_named(settings):
    async with Client(create_server(settings)) as client:
        for tool in (await client.list_tools()).tools:
            for name in _string_arguments(tool):
                text = _error_text(await client.call_tool(tool.name, {**REQUIRED.get(tool.name, {}), name: "a\x00b"}))
                assert f"{name} contains a NUL character" in text, (tool.name, text)


async def test_a_nul_character_inside_a_list_is_named_by_its_position(settings):
    text = await _call(settings, "search_traces", {"experiment_name": "x", "order_by": ["name", "status\x00"]})
    assert "order_by[1] contains a NUL character" in text


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("search_traces", {"max_results": "abc"}, "max_results must be an integer from 1 to 500; got 'abc'."),
        ("search_traces", {"max_results": 0}, "max_results must be an integer from 1 to 500; got 0."),
        ("search_traces", {"max_results": 10**30}, "max_results must be an integer from 1 to 500; got 10000"),
        ("search_traces", {"order_by": "name"}, "order_by must be a list of at most 100 items, each a string"),
        ("search_traces", {"order_by": ["name"] * 101}, "order_by must be a list of at most 100 items"),
        (
            "import_traces",
            {"path": "/x.json", "experiment_name": "e", "format": "csv"},
            "format must be one of 'auto', 'mlflow', 'langfuse', 'otlp', 'inspect_ai', 'who_and_when', 'chat'; "
            "got 'csv'.",
        ),
        ("get_trace", {}, "trace_id is required: Trace id"),
        ("get_trace", {"trace_id": ""}, "trace_id must be a non-empty string of at most 4,096 characters; got ''."),
        ("list_experiments", {"limit": 5}, "list_experiments has no argument 'limit'; its arguments are tracking_uri."),
        ("render_run_script", {"suite_dir": "s", "gates": {"a": 2}}, "gates['a'] must be a number from 0 to 1; got 2."),
        ("render_run_script", {"suite_dir": "s", "gates": {"a": "high"}}, "gates['a'] must be a number from 0 to 1"),
        ("validate_eval", {"suite_dir": "s", "run": "maybe"}, "run must be true or false; got 'maybe'."),
        ("analyze_traces", {"generation": "gpt"}, "generation must be one of 'auto', 'offline', 'claude'; got 'gpt'."),
    ],
)
async def test_invalid_arguments_are_one_sentence_each(settings, tool, arguments, expected):
    text = await _call(settings, tool, arguments)
    assert text.startswith(f"Invalid arguments for {tool}: ")
    assert expected in text
    assert "validation error" not in text and "pydantic" not in text and "input_type" not in text


async def test_every_invalid_argument_gets_its_own_sentence(settings):
    text = await _call(settings, "get_trace", {"max_chars": 5, "extra": 1})
    assert "get_trace has no argument 'extra'" in text
    text = await _call(settings, "get_trace", {"max_chars": 5})
    assert "trace_id is required" in text and "max_chars must be an integer from 100 to 100,000; got 5." in text


async def test_an_echoed_invalid_value_is_cut_to_two_hundred_characters(settings):
    text = await _call(settings, "search_traces", {"max_results": "9" * 3000})
    assert "9" * SHOWN_CHARS + "…" in text and "9" * (SHOWN_CHARS + 1) not in text


async def test_library_messages_cut_long_echoed_values(settings):
    async with Client(create_server(settings)) as client:
        missing = _error_text(await client.call_tool("get_trace", {"trace_id": "t" * 4000}))
        ordering = _error_text(
            await client.call_tool("search_traces", {"experiment_id": "0", "order_by": ["o" * 4000]})
        )
    assert "was not found" in missing and len(missing) < 600
    assert "Cannot order by" in ordering and len(ordering) < 700


def test_shown_quotes_and_cuts():
    assert shown("abc") == "'abc'"
    assert shown("a" * 1000) == repr("a" * SHOWN_CHARS + "…")
    assert shown(list(range(1000))).endswith("…") and len(shown(list(range(1000)))) == SHOWN_CHARS + 1


async def test_a_file_that_is_not_a_database_is_explained_and_logged_with_its_traceback(settings, tmp_path, caplog):
    junk = tmp_path / "passwd"
    junk.write_text("root:x:0:0:root:/root:/bin/bash\n" * 50)
    with caplog.at_level(logging.ERROR, logger="mlflow_eval_mcp.frontend.server"):
        text = await _call(settings, "list_experiments", {"tracking_uri": f"sqlite:///{junk}"})
    assert "file is not a database" in text and "names an MLflow database file" in text
    assert text != "Error executing tool list_experiments"
    assert any(record.exc_info for record in caplog.records if record.name == "mlflow_eval_mcp.frontend.server")


@pytest.mark.parametrize(
    ("uri", "module", "advice"),
    [
        ("mysql://user@localhost/mlflow", "MySQLdb", "pip install pymysql and write the URI as mysql+pymysql://"),
        ("postgresql://user@localhost/mlflow", "psycopg", "pip install psycopg2-binary"),
    ],
)
async def test_a_database_uri_without_its_driver_says_what_to_install(settings, uri, module, advice):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    text = await _call(settings, "list_experiments", {"tracking_uri": uri})
    assert f"The Python module {module!r} is not installed" in text and advice in text


async def test_a_path_too_long_for_the_file_system_is_explained(settings):
    text = await _call(settings, "import_traces", {"path": "/" + "p" * 300, "experiment_name": "e"})
    assert "A path is too long for the file system" in text and "use a shorter one" in text


@pytest.mark.stdio
def test_an_unexpected_failure_logs_its_traceback_to_stderr_and_keeps_stdout_for_the_protocol(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as log:
        messages = call_over_stdio(
            "tools/call",
            {"name": "list_experiments", "arguments": {"tracking_uri": f"sqlite:///{junk}"}},
            env={"MLFLOW_EVAL_MCP_WORKSPACE": str(tmp_path / "workspace"), "PATH": str(Path(sys.executable).parent)},
            stderr=log,
        )
    answer = messages[-1]["result"]
    assert answer["isError"] and "file is not a database" in answer["content"][0]["text"]
    logged = stderr.read_text()
    assert "Traceback (most recent call last)" in logged and "DatabaseError" in logged


async def test_an_edited_page_token_is_refused_without_showing_its_contents(settings, store_uri):
    experiment_with(store_uri)
    async with Client(create_server(settings)) as client:
        first = await client.call_tool("search_traces", {"experiment_name": "agent", "max_results": 5})
        payload = json.loads(base64.urlsafe_b64decode(first.structured_content["next_page_token"]))
        payload["t"] = base64.b64encode(b"not json at all").decode()
        edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        result = await client.call_tool(
            "search_traces", {"experiment_name": "agent", "max_results": 5, "page_token": edited}
        )
    text = _error_text(result)
    assert "page_token is not one this server issued; pass next_page_token from the previous call unchanged" in text
    assert "decoded" not in text and "not json" not in text


@pytest.mark.parametrize("number", ["99999999999999999999", "-9223372036854775809", "9" * 5000])
async def test_a_filter_number_beyond_64_bits_is_refused_with_the_range(settings, store_uri, number):
    experiment_with(store_uri)
    text = await _call(
        settings, "search_traces", {"experiment_name": "agent", "filter_string": f"trace.timestamp_ms > {number}"}
    )
    assert (
        "trace.timestamp_ms is compared as a 64-bit integer, from -9223372036854775808 to 9223372036854775807" in text
    )
    assert "SQLite" not in text and len(text) < 600


async def test_filter_numbers_within_64_bits_still_search(settings, store_uri):
    experiment_with(store_uri)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "search_traces",
            {
                "experiment_name": "agent",
                "filter_string": "trace.timestamp_ms < 9223372036854775807",
                "max_results": 50,
            },
        )
    assert not result.is_error and len(result.structured_content["traces"]) == 24


@pytest.mark.parametrize(
    "judge_model",
    [
        "databricks",
        "openai:/gpt-4o-mini",
        "anthropic:/claude-sonnet-4-5",
        "bedrock:/anthropic.claude-v2:1",
        "vertex_ai:/gemini-1.5-pro",
        "endpoints:/my-endpoint",
    ],
)
def test_judge_model_uris_mlflow_accepts_are_accepted(judge_model):
    assert check_judge_model(judge_model) == judge_model


@pytest.mark.parametrize(
    "judge_model",
    ["not-a-uri", "openai:/", "openai:gpt-4", ":/gpt-4", "openai:/gpt\n4", "openai:/gpt\x004", "openai:/a b"],
)
async def test_a_judge_model_that_is_not_a_model_uri_is_refused_before_anything_is_written(settings, judge_model):
    text = await _call(settings, "generate_scorers", {"suite_dir": "s", "judge_model": judge_model})
    assert "judge_model" in text and ("'<provider>:/<model>'" in text or "NUL character" in text)
    assert not (settings.workspace / "suites" / "s").exists()


async def test_a_valid_judge_model_gets_past_the_argument_check(settings):
    text = await _call(settings, "generate_scorers", {"suite_dir": "s", "judge_model": "openai:/gpt-4o-mini"})
    assert "must be 'databricks'" not in text and "does not exist" in text


def test_the_library_refuses_a_bad_judge_model_before_any_analysis(store_uri, tmp_path):
    with pytest.raises(InvalidArgumentError, match="judge_model must be 'databricks' or a model URI"):
        generate_suite(
            MlflowClient(tracking_uri=store_uri),
            workspace_suites=lambda name: SuiteLayout(tmp_path / name),
            experiment_name="no such experiment",
            judge_model="gpt-4o",
        )
