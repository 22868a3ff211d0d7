"""analyze_traces with Claude: the real Anthropic SDK against a fake Messages API on 127.0.0.1."""

import json

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.claude.session import open_claude
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.layout import ANALYSIS_FILE, SuiteLayout
from tests.fake_anthropic import claude_settings, fake_anthropic, shown_trace_ids, tool_answer
from tests.suite_factory import experiment_with


def _answer(request, *, invented="tr-00000000000000000000000000000000"):
    shown = shown_trace_ids(request)
    return tool_answer(
        request,
        {
            "agent": {
                "agent_type": "order-status assistant with tools",
                "purpose": "tells customers where their order is",
                "domains": ["e-commerce"],
                "input_shape": "{'question': str}",
                "output_shape": "one sentence",
            },
            "cluster_names": [{"cluster_id": 0, "name": "order status questions"}],
            "semantic_findings": [
                {
                    "category": "unsupported_claim",
                    "title": "Says the order shipped although the lookup timed out",
                    "description": "The tool failed, yet the response states a shipping status.",
                    "severity": "high",
                    "trace_ids": [shown[0], invented],
                    "evidence": ["Your order has shipped."],
                    "guideline": "The response does not state an order status that no tool result supports.",
                },
                {
                    "category": "tone",
                    "title": "Invented everywhere",
                    "description": "Cites no trace that was shown.",
                    "severity": "low",
                    "trace_ids": [invented],
                    "evidence": [],
                    "guideline": "The response is polite.",
                },
            ],
        },
    )


def test_claude_adds_profile_cluster_names_and_semantic_findings_to_the_offline_ones(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    offline = analyze_traces(client, experiment_id=experiment_id)
    with fake_anthropic(_answer) as fake:
        claude = open_claude(claude_settings(fake, tmp_path / "ws"))
        analysis = analyze_traces(client, experiment_id=experiment_id, claude=claude)
    assert analysis.mode == "claude"
    assert analysis.agent.purpose == "tells customers where their order is"
    assert analysis.input_clusters[0].name == "order status questions"
    assert [f.id for f in analysis.findings[: len(offline.findings)]] == [f.id for f in offline.findings]
    semantic = [f for f in analysis.findings if f.kind == "semantic_pattern"]
    assert [f.id for f in semantic] == ["semantic_pattern:unsupported_claim"]
    assert semantic[0].source == "claude"
    assert semantic[0].trace_ids == [shown_trace_ids(fake.requests[0])[0]]
    assert semantic[0].details["guideline"].startswith("The response does not state")


def test_claude_usage_and_cost_are_accounted(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    with fake_anthropic(_answer) as fake:
        claude = open_claude(claude_settings(fake, tmp_path / "ws"))
        analysis = analyze_traces(client, experiment_id=experiment_id, claude=claude)
    assert analysis.claude.requests == 1
    assert (analysis.claude.input_tokens, analysis.claude.output_tokens) == (1200, 300)
    assert analysis.claude.cost_usd == round((1200 * 2 + 300 * 10) / 1e6, 6)
    sent = {fake.headers[0].get("x-api-key"), fake.headers[0].get("authorization")}
    assert sent & {"sk-test-not-a-real-key", "Bearer sk-test-not-a-real-key"}


def test_the_claude_analysis_is_written_to_the_suite(store_uri, tmp_path):
    client, experiment_id = experiment_with(store_uri)
    suite = SuiteLayout(tmp_path / "suite")
    with fake_anthropic(_answer) as fake:
        analyze_into_suite(
            client, suite, experiment_id=experiment_id, claude=open_claude(claude_settings(fake, tmp_path))
        )
    stored = json.loads(suite.path(ANALYSIS_FILE).read_text())
    assert stored["mode"] == "claude"
    assert any(f["kind"] == "semantic_pattern" for f in stored["findings"])
