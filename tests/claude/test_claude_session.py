"""How a Claude session behaves when the API misbehaves, on the real SDK against a fake Messages
API on 127.0.0.1: retries, timeouts, malformed answers, the cache, and what leaves the machine."""

import dataclasses
import time

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.claude.session import open_claude
from tests.fake_anthropic import Reply, claude_settings, fake_anthropic, overloaded, prompt_text, tool_answer
from tests.suite_factory import agent_with_failing_tools, experiment_with
from tests.trace_factory import make_trace

PROFILE = {
    "agent_type": "assistant",
    "purpose": "answers order questions",
    "domains": ["orders"],
    "input_shape": "question",
    "output_shape": "sentence",
}


def _good(request):
    return tool_answer(request, {"agent": PROFILE})


def test_a_429_is_retried_and_then_succeeds(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    replies = iter([overloaded(), None])
    with fake_anthropic(lambda request: next(replies) or _good(request)) as fake:
        analysis = analyze_traces(
            client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    assert len(fake.requests) == 2
    assert analysis.mode == "claude"
    assert analysis.agent.purpose == "answers order questions"
    assert analysis.claude.requests == 1


def test_persistent_429s_leave_the_offline_analysis_with_a_note(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(lambda request: overloaded()) as fake:
        analysis = analyze_traces(
            client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    assert len(fake.requests) == 3  # the first try and two retries
    assert analysis.mode == "offline"
    assert analysis.agent is None
    assert "answered 429" in analysis.claude.notes[0]
    assert analysis.findings  # the deterministic findings are all there


def test_a_timeout_gives_up_quickly_and_the_offline_result_stands(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(lambda request: Reply(delay_s=30, body={})) as fake:
        settings = claude_settings(fake, tmp_path, claude_timeout_s=0.5, claude_max_retries=0)
        started = time.monotonic()
        analysis = analyze_traces(client, experiment_id=experiment_id, claude=open_claude(settings))
        elapsed = time.monotonic() - started
    assert elapsed < 15  # far below the 30 s the API takes to answer
    assert analysis.mode == "offline"
    assert "did not answer within 0.5 s" in analysis.claude.notes[0]


def test_a_malformed_answer_goes_back_with_the_errors_and_the_corrected_one_is_used(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    replies = iter([{"agent": {"purpose": 42}}, {"agent": PROFILE}])
    with fake_anthropic(lambda request: tool_answer(request, next(replies))) as fake:
        analysis = analyze_traces(
            client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    retry = fake.requests[1]["messages"]
    assert retry[-1]["content"][0]["is_error"] is True
    assert "agent.agent_type" in retry[-1]["content"][0]["content"]
    assert analysis.agent.purpose == "answers order questions"


def test_an_answer_malformed_twice_is_dropped_with_the_reason(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(lambda request: tool_answer(request, {"agent": "no"})) as fake:
        analysis = analyze_traces(
            client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    assert len(fake.requests) == 2
    assert analysis.mode == "offline"
    assert "did not fit its schema after 2 tries" in analysis.claude.notes[0]


def test_a_second_run_is_answered_from_the_cache_without_a_request(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(_good) as fake:
        first = analyze_traces(client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path)))
        second = analyze_traces(
            client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    assert len(fake.requests) == 1
    assert (first.claude.requests, second.claude.requests, second.claude.cached_responses) == (1, 0, 1)
    assert second.claude.cost_usd == 0
    assert second.agent == first.agent


def test_a_secret_in_a_trace_never_reaches_the_api(store_uri, tmp_path):
    secret = "sk-ant-api03-" + "Q" * 40
    email = "jane.doe@example.com"
    planted = make_trace(500, answer=f"Use key {secret} and write to {email}")
    root = dataclasses.replace(planted.spans[0], inputs={"question": f"my key is {secret}, mail me at {email}"})
    planted = dataclasses.replace(planted, spans=[root, *planted.spans[1:]])
    client, experiment_id = experiment_with(store_uri, [*agent_with_failing_tools(), planted])
    with fake_anthropic(_good) as fake:
        analyze_traces(client, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path)))
    assert fake.raw_bodies
    for body in fake.raw_bodies:
        assert secret.encode() not in body
        assert email.encode() not in body
    assert "[REDACTED_API_KEY]" in prompt_text(fake.requests[0])


def test_without_credentials_nothing_is_sent_and_the_result_says_offline(store_uri, tmp_path):
    from mlflow_eval_mcp.settings import Settings

    assert open_claude(Settings(workspace=tmp_path)) is None


def test_a_bearer_token_and_base_url_reach_a_databricks_style_endpoint(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(_good) as fake:
        settings = claude_settings(
            fake,
            tmp_path,
            anthropic_api_key=None,
            anthropic_auth_token="dapi-token",
            claude_model="databricks-claude-sonnet-4-5",
        )
        analysis = analyze_traces(client, experiment_id=experiment_id, claude=open_claude(settings))
    assert fake.headers[0]["authorization"] == "Bearer dapi-token"
    assert fake.requests[0]["model"] == "databricks-claude-sonnet-4-5"
    assert analysis.mode == "claude"
    assert analysis.claude.cost_usd == round((1200 * 3 + 300 * 15) / 1e6, 6)  # priced as Sonnet 4.5
