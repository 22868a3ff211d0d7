"""Suites built from traces that are unusual in ways production traces often are: mostly-JSON
responses, errors in model calls, roots whose parent lives in another service, names no ASCII
slug can hold, hand-edited state files, a predict_fn module in the project directory."""

import dataclasses

import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.layout import CASES_FILE, slug
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.runner import run_suite
from tests.suite_copies import write_ahead
from tests.suite_factory import built
from tests.trace_factory import make_trace


def _build(store_uri, tmp_path, records):
    write_ahead(store_uri)
    small = built(store_uri, tmp_path, records, max_cases=60, include_synthetic=False)
    return small.client, small.suite, small.analysis, small.scorers, small.script


def _answered(index: int, answer) -> object:
    record = make_trace(index)
    root = dataclasses.replace(record.spans[0], inputs={"question": f"question {index} about topic{index}"})
    return dataclasses.replace(record, spans=[dataclasses.replace(root, outputs=answer), *record.spans[1:]])


def test_a_few_prose_answers_among_json_ones_are_a_finding_and_the_gates_hold(store_uri, tmp_path):
    records = [_answered(i, {"status": "shipped", "order": i}) for i in range(25)]
    records += [_answered(100 + i, "Your order has shipped.") for i in range(3)]
    _, suite, analysis, scorers, script = _build(store_uri, tmp_path, records)
    (finding,) = [f for f in analysis.findings if f.kind == "format_violations"]
    assert set(finding.trace_ids) == {r.trace_id for r in records[25:]}
    assert "output_is_json" in {spec.name for spec in scorers.code_scorers}
    assert script.gates["output_is_json"] == pytest.approx(25 / 28, abs=1e-4)
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges"])
    assert run.exit_code == 0, run.result and run.result.gates


def test_errors_in_model_calls_get_their_own_scorer(store_uri, tmp_path):
    def failing_model(index: int):
        record = make_trace(100 + index)
        model = dataclasses.replace(record.spans[1], error="RateLimitError: 429 too many requests")
        return dataclasses.replace(record, spans=[record.spans[0], model, record.spans[2]])

    records = [make_trace(i) for i in range(25)] + [failing_model(i) for i in range(3)]
    _, _, analysis, scorers, script = _build(store_uri, tmp_path, records)
    assert {r.trace_id for r in records[25:]} <= {
        t for f in analysis.findings if f.kind == "span_errors" for t in f.trace_ids
    }
    (spec,) = [spec for spec in scorers.code_scorers if spec.name == "no_span_errors"]
    assert "span_errors" in spec.findings and script.gates["no_span_errors"] < 1.0


def test_a_root_whose_parent_is_elsewhere_is_still_scored(store_uri, tmp_path):
    def detached(index: int):
        record = make_trace(index)
        root = dataclasses.replace(record.spans[0], parent_id=f"{999:016x}")
        return dataclasses.replace(record, spans=[root, *record.spans[1:]])

    _, suite, *_ = _build(store_uri, tmp_path, [detached(i) for i in range(3)] + [make_trace(10 + i) for i in range(5)])
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges"])
    assert run.exit_code == 0, run.stderr_tail
    assert all(stats.missing == 0 for stats in run.result.scorers.values())


def test_a_subset_of_cases_is_held_to_production_s_rate_on_that_subset(store_uri, tmp_path):
    records = [make_trace(i) for i in range(20)] + [make_trace(100 + i, tool_error="timed out") for i in range(4)]
    _, suite, *_ = _build(store_uri, tmp_path, records)
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges", "--max-cases", "2"])
    assert run.exit_code == 0 and all(gate.passed for gate in run.result.gates)


def test_a_predict_fn_module_is_found_in_the_directory_it_is_run_from(store_uri, tmp_path):
    _, suite, *_ = _build(store_uri, tmp_path, [make_trace(i) for i in range(5)])
    (suite.root / "my_agent.py").write_text("def answer(question):\n    return 'It has shipped.'\n")
    run = run_suite(suite, tracking_uri=store_uri, args=["--no-llm-judges", "--predict-fn", "my_agent:answer"])
    assert run.exit_code == 0, run.stderr_tail
    assert run.result.mode == "predict_fn"


def test_names_without_latin_letters_or_too_long_still_get_distinct_directories():
    assert slug("生产") != slug("评估")
    long = "customer-support-agent-" * 4
    assert slug(long + "prod") != slug(long + "staging")
    assert len(slug(long + "prod")) <= 60 and slug("Prod Agent") == "prod-agent"


def test_a_suite_belongs_to_one_experiment(store_uri, tmp_path):
    client, suite, *_ = _build(store_uri, tmp_path, [make_trace(i) for i in range(5)])
    other = client.create_experiment("other")
    with pytest.raises(InvalidArgumentError, match="holds the suite of experiment 'agent'"):
        analyze_into_suite(client, suite, experiment_id=other)


def test_a_hand_broken_cases_file_names_the_line_and_the_step(store_uri, tmp_path):
    _, suite, *_ = _build(store_uri, tmp_path, [make_trace(i) for i in range(5)])
    path = suite.root / CASES_FILE
    path.write_text(path.read_text() + '{"case_id": "mine", "kind": "recorded"\n')
    with pytest.raises(InvalidArgumentError, match=r"cases.jsonl line \d+ is not a valid case.*generate_dataset"):
        render_run_script(suite)
