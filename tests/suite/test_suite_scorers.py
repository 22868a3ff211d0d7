"""generate_scorers: which scorers a suite gets, that the generated files are clean code, and that
the code scorers fail exactly the demo traces with each planted failure."""

import ast
import dataclasses
import json
import subprocess
import sys
import typing
from importlib import resources
from pathlib import Path

import pytest

from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import SCORER_CONFIG_FILE
from mlflow_eval_mcp.suite.models import CheckName
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from tests.suite_factory import analysed
from tests.trace_factory import make_trace

# Every demo trace through the suite's own scorers, in a fresh interpreter (the suite imports its
# modules by plain names from its folder), printing {trace_id: {scorer: passed}}.
_SCORE_ALL = """
import json, sys
sys.path.insert(0, sys.argv[1])
from mlflow.tracking import MlflowClient
import scorers
client = MlflowClient(tracking_uri=sys.argv[2])
code = [s for s in scorers.get_scorers(include_judges=False) if not s.is_session_level_scorer]
verdicts, token = {}, None
while True:
    page = client.search_traces(locations=[sys.argv[3]], max_results=200, page_token=token)
    for trace in page:
        root = next(span for span in trace.data.spans if span.parent_id is None)
        verdicts[trace.info.trace_id] = {
            s.name: s.run(inputs=root.inputs, outputs=root.outputs, trace=trace).value for s in code
        }
    token = page.token
    if not token:
        break
print(json.dumps(verdicts))
"""


def _config(suite_dir: Path) -> dict:
    return json.loads((suite_dir / SCORER_CONFIG_FILE).read_text())


def test_demo_suite_gets_a_code_scorer_per_finding_kind_plus_guards(demo_suite):
    names = {spec["name"] for spec in _config(demo_suite.suite_dir)["code_scorers"]}
    assert names == {
        "trace_succeeded",
        "non_empty_response",
        "tool_call_errors",
        "repeated_tool_calls",
        "no_refusal",
        "not_truncated",
        "no_pii_in_output",
        "token_budget",
        "latency_budget_agent",
        "latency_budget_chat_model",
        "latency_budget_retriever",
        "latency_budget_tool",
        # The demo's conversations: repeated questions, tool failures given up on, claims no tool backs,
        # sessions ending on the user's word (a session far longer than the others shows only as a whole).
        "no_user_friction",
        "tool_errors_recovered",
        "claims_backed_by_tools",
        "conversation_completed",
        # What only whole sessions show: a question asked again in a later turn, a write repeated in one, a
        # session far longer than the others.
        "no_user_friction_in_session",
        "no_repeated_writes_in_session",
        # What the good recordings did, that any agent given their requests must do too.
        "calls_expected_tools",
        "states_expected_facts",
        "no_invented_figures",
        "answers_the_request",
        "same_language_as_request",
        "response_shape",
    }


def test_demo_suite_judges_follow_their_prerequisites(demo_suite):
    judges = {spec["name"]: spec for spec in _config(demo_suite.suite_dir)["judges"]}
    assert {"safety", "relevance_to_query", "retrieval_groundedness", "tool_call_efficiency"} <= set(judges)
    assert judges["correctness"]["requires_expectations"] == ["expected_response"]  # from the good recordings
    assert judges["expectations_guidelines"]["requires_expectations"] == ["guidelines"]
    guideline = judges["no_third_party_personal_data"]["guidelines"][0]
    assert "response" in guideline and "request" in guideline


def test_latency_budgets_come_from_the_observed_data(demo_suite):
    config = _config(demo_suite.suite_dir)
    analysis = json.loads((demo_suite.suite_dir / "state" / "analysis.json").read_text())
    (tool,) = [spec for spec in config["code_scorers"] if spec["name"] == "latency_budget_tool"]
    fences = {
        f["details"]["span_name"]: f["details"]["threshold_ms"]
        for f in analysis["findings"]
        if f["kind"] == "latency_outliers" and f["details"]["span_type"] == "TOOL"
    }
    assert {name: tool["params"]["budgets_ms"][name] for name in fences} == fences


def _suite_for(store_uri, tmp_path, records, judge_model=None):
    small = analysed(store_uri, tmp_path, records)
    generate_dataset(small.client, small.suite)
    return generate_scorers(small.suite, judge_model=judge_model)


def test_a_healthy_agent_gets_guards_and_no_retrieval_judges(store_uri, tmp_path):
    result = _suite_for(store_uri, tmp_path, [make_trace(i) for i in range(30)])
    assert [spec.name for spec in result.code_scorers] == [
        *("trace_succeeded", "non_empty_response", "tool_call_errors"),
        *("calls_expected_tools", "no_invented_figures", "answers_the_request", "same_language_as_request"),
        "response_shape",
    ]
    assert not any(judge.judge.startswith("Retrieval") for judge in result.judges)
    assert any("no RETRIEVER spans" in reason for reason in result.not_used)


def test_correctness_is_used_only_with_expected_responses(store_uri, tmp_path):
    records = [
        dataclasses.replace(make_trace(i), assessments=[AssessmentRecord("expected_response", "Shipped.")])
        for i in range(5)
    ]
    result = _suite_for(store_uri, tmp_path, records)
    (correctness,) = [judge for judge in result.judges if judge.judge == "Correctness"]
    assert correctness.requires_expectations == ["expected_response"]


def test_the_judge_model_is_configuration_not_code(store_uri, tmp_path):
    _suite_for(store_uri, tmp_path, [make_trace(0)], judge_model="anthropic:/claude-sonnet-4-5")
    suite_dir = tmp_path / "suite"
    assert _config(suite_dir)["judge_model"] == "anthropic:/claude-sonnet-4-5"
    assert "claude" not in (suite_dir / "evaluation" / "scorers.py").read_text()


def test_generated_python_compiles_and_passes_ruff(demo_suite):
    evaluation = demo_suite.suite_dir / "evaluation"
    files = sorted(evaluation.rglob("*.py"))
    assert {path.name for path in files} >= {"eval_dataset.py", "scorers.py", "run_eval.py", "signals.py"}
    for path in files:
        compile(path.read_text(), str(path), "exec")
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--line-length",
            "120",
            "--select",
            "E,F,W,B",
            str(evaluation),
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout


@pytest.fixture(scope="module")
def demo_verdicts(demo_suite) -> dict[str, dict[str, bool]]:
    evaluation = demo_suite.suite_dir / "evaluation"
    store = demo_suite.store
    output = subprocess.run(
        [sys.executable, "-c", _SCORE_ALL, str(evaluation), store.uri, store.experiment_id],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("mode", "scorers"),
    [
        ("tool_exception", {"tool_call_errors"}),
        ("tool_error_output", {"tool_call_errors"}),
        ("repeated_tool_calls", {"repeated_tool_calls"}),
        ("empty_answer", {"non_empty_response"}),
        ("refusal", {"no_refusal"}),
        ("truncated_answer", {"not_truncated"}),
        ("pii_in_output", {"no_pii_in_output"}),
        ("oversized_prompt", {"token_budget"}),
        ("slow_span", {"latency_budget_tool", "latency_budget_retriever"}),
    ],
)
def test_each_planted_failure_is_caught_and_clean_traces_pass(demo_verdicts, demo_suite, mode, scorers):
    planted = demo_suite.store.planted
    failed = {trace_id for trace_id, verdict in demo_verdicts.items() if any(not verdict[s] for s in scorers)}
    affected = {trace_id for trace_id, modes in planted.items() if mode in modes}
    clean = {trace_id for trace_id, modes in planted.items() if not modes}
    assert affected <= failed  # recall 1
    assert not failed & clean  # no false positive on a healthy trace


def test_every_check_a_scorer_config_may_name_is_one_the_suite_template_runs():
    template = resources.files("mlflow_eval_mcp.suite.templates").joinpath("scorers.py").read_text(encoding="utf-8")
    table = next(
        node.value
        for node in ast.parse(template).body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "CHECKS"
    )
    assert isinstance(table, ast.Dict)
    assert {key.value for key in table.keys if isinstance(key, ast.Constant)} == set(typing.get_args(CheckName))
