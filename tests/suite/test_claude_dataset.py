"""generate_dataset with Claude: synthetic cases grounded in recorded ones, checked before they are
kept (real SDK, fake Messages API on 127.0.0.1)."""

from mlflow_eval_mcp.claude.session import open_claude
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.state import read_cases
from tests.fake_anthropic import claude_settings, fake_anthropic, tool_answer
from tests.suite_factory import agent_with_failing_tools, analysed


def _case(scenario, inputs, grounded_in=("case-001",), guidelines=("Says where the order is.",), facts=()):
    return {
        "scenario": scenario,
        "inputs": inputs,
        "grounded_in": list(grounded_in),
        "rationale": "varies a recorded request",
        "expectations": {"guidelines": list(guidelines), "expected_facts": list(facts)},
    }


PROPOSALS = {
    "cases": [
        _case("expedite", {"question": "where is order 77, and can it come sooner?"}, facts=["The order has shipped."]),
        _case("invented_date", {"question": "when does order 78 arrive?"}, facts=["The order arrives on 12 June."]),
        _case("wrong_keys", {"query": "where is my order?"}),
        _case("ungrounded", {"question": "where is order 79?"}, grounded_in=["case-999"]),
        _case("contact", {"question": "where is order 80? mail me at jane.doe@example.com"}),
    ]
}


def _dataset(store_uri, tmp_path, respond, **options):
    built = analysed(store_uri, tmp_path, agent_with_failing_tools())
    with fake_anthropic(respond) as fake:
        result = generate_dataset(
            built.client, built.suite, claude=open_claude(claude_settings(fake, tmp_path / "ws")), **options
        )
    return built, result, fake


def test_grounded_cases_are_added_and_the_others_dropped_with_reasons(store_uri, tmp_path):
    built, result, _ = _dataset(store_uri, tmp_path, lambda request: tool_answer(request, PROPOSALS))
    claude = [case for case in read_cases(built.suite) if case.case_id.startswith("claude-")]
    assert result.mode == "claude"
    assert [case.inputs["question"][:17] for case in claude] == [
        "where is order 77",
        "when does order 7",
        "where is order 80",
    ]
    dropped = "\n".join(result.dropped)
    assert "wrong_keys: input keys ['query'] differ" in dropped
    assert "ungrounded: cites no example case" in dropped


def test_expected_facts_are_kept_only_when_the_cited_trace_establishes_them(store_uri, tmp_path):
    built, result, _ = _dataset(store_uri, tmp_path, lambda request: tool_answer(request, PROPOSALS))
    by_scenario = {case.tags["case"]: case for case in read_cases(built.suite)}
    assert by_scenario["synthetic:claude:expedite"].expectations["expected_facts"] == ["The order has shipped."]
    assert "expected_facts" not in by_scenario["synthetic:claude:invented_date"].expectations
    assert "invented_date: 1 expected fact(s) the cited traces do not establish" in "\n".join(result.dropped)


def test_claude_cases_fit_the_budget(store_uri, tmp_path):
    built, result, _ = _dataset(store_uri, tmp_path, lambda request: tool_answer(request, PROPOSALS), max_cases=12)
    cases = read_cases(built.suite)
    assert result.cases == len(cases) <= 12
    assert sum(case.case_id.startswith("claude-") for case in cases) == 2
    assert "contact: more cases than asked for (2)" in result.dropped


def test_claude_cases_are_redacted(store_uri, tmp_path):
    built, _, _ = _dataset(store_uri, tmp_path, lambda request: tool_answer(request, PROPOSALS))
    contact = next(case for case in read_cases(built.suite) if case.tags["case"] == "synthetic:claude:contact")
    assert contact.inputs["question"] == "where is order 80? mail me at [REDACTED_EMAIL]"


def test_when_claude_fails_the_offline_dataset_is_written(store_uri, tmp_path):
    built, result, _ = _dataset(store_uri, tmp_path, lambda request: tool_answer(request, {"cases": "none"}))
    assert result.mode == "offline"
    assert result.cases == len(read_cases(built.suite)) > 0
    assert "dataset:" in result.claude.notes[0]
