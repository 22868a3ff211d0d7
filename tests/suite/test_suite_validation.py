"""validate_eval on deliberately broken suites: each defect fails the right check, with where it
is and what to do."""

import json

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.layout import CASES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.tasks import load_tasks
from mlflow_eval_mcp.suite.validation import validate_eval
from tests.suite_factory import built


def _suite(store_uri, tmp_path) -> tuple[MlflowClient, SuiteLayout]:
    small = built(store_uri, tmp_path)
    return small.client, small.suite


def _check(result, name):
    return next(check for check in result.checks if check.name == name)


def test_a_sound_suite_passes_the_static_checks_without_running(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    result = validate_eval(client, suite, run=False)
    assert result.status == "passed" and result.run_id is None
    assert _check(result, "code_scorers_dry_run").status == "passed"


def test_a_syntax_error_is_reported_with_file_and_line_and_nothing_runs(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    scorers = suite.root / "evaluation" / "scorers.py"
    scorers.write_text(scorers.read_text() + "\ndef broken(:\n")
    result = validate_eval(client, suite)
    check = _check(result, "files_compile")
    assert result.status == "failed" and check.status == "failed"
    (issue,) = check.issues
    assert issue.file == str(scorers) and issue.line == len(scorers.read_text().splitlines())
    assert _check(result, "run").status == "skipped"
    assert load_tasks(suite).step("validate").status == "failed"


def test_rows_that_break_mlflow_s_schema_are_named(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    cases_path = suite.root / CASES_FILE
    cases = [json.loads(line) for line in cases_path.read_text().splitlines()]
    cases[1]["inputs"] = "where is my order?"
    cases_path.write_text("".join(json.dumps(case) + "\n" for case in cases))
    result = validate_eval(client, suite, run=False)
    check = _check(result, "dataset_schema")
    assert check.status == "failed" and "inputs must be a dict" in check.issues[0].message
    assert check.issues[0].row == cases[1]["case_id"] and check.fix


@pytest.mark.parametrize(("returned", "said"), [('{"ok": True}', "Got dict"), ('"maybe"', "cannot aggregate")])
def test_a_scorer_returning_what_mlflow_cannot_aggregate_fails_the_dry_run(store_uri, tmp_path, returned, said):
    client, suite = _suite(store_uri, tmp_path)
    scorers = suite.root / "evaluation" / "scorers.py"
    scorers.write_text(
        scorers.read_text()
        + f'\nCHECKS["trace_succeeded"] = lambda spec: scorer(name=spec["name"])(lambda outputs: {returned})\n'
    )
    result = validate_eval(client, suite, run=False)
    check = _check(result, "code_scorers_dry_run")
    assert check.status == "failed"
    assert {issue.scorer for issue in check.issues} == {"trace_succeeded"}
    assert said in check.issues[0].message and "Feedback" in check.fix


def test_a_module_that_fails_on_import_is_located(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    dataset = suite.root / "evaluation" / "eval_dataset.py"
    dataset.write_text(dataset.read_text() + "\nraise RuntimeError('missing credentials file')\n")
    result = validate_eval(client, suite, run=False)
    issues = _check(result, "modules_import").issues
    assert any(i.file == str(dataset) and "missing credentials file" in i.message for i in issues)


def test_a_run_that_hangs_is_killed_at_the_timeout(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    script = suite.root / "evaluation" / "run_eval.py"
    script.write_text(script.read_text().replace("    config = load_config()\n", "    time.sleep(3600)\n", 1))
    result = validate_eval(client, suite, timeout_s=10)
    check = _check(result, "run")
    assert check.status == "failed" and "killed" in check.message and "timeout_s" in check.fix
    assert result.seconds < 60


def test_a_scorer_that_never_fails_although_failures_exist_is_degenerate(store_uri, tmp_path):
    client, suite = _suite(store_uri, tmp_path)
    scorers = suite.root / "evaluation" / "scorers.py"
    scorers.write_text(
        scorers.read_text()
        + '\nCHECKS["tool_call_errors"] = lambda spec: scorer(name=spec["name"])(lambda outputs: True)\n'
    )
    result = validate_eval(client, suite)
    check = _check(result, "no_degenerate_scorer")
    assert check.status == "failed" and check.issues[0].scorer == "tool_call_errors"
    assert "passes every row" in check.issues[0].message


def test_validation_needs_a_complete_suite(store_uri, tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InvalidArgumentError, match="run analyze_traces"):
        validate_eval(MlflowClient(tracking_uri=store_uri), SuiteLayout(tmp_path / "nothing"))


def test_judges_that_cannot_be_reached_are_time_boxed_and_reported(store_uri, tmp_path, monkeypatch):
    client, suite = _suite(store_uri, tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-that-reaches-no-one-000000")  # a key, but no usable network
    result = validate_eval(client, suite, timeout_s=40)
    check = _check(result, "every_scorer_produced_values")
    assert check.status == "failed" and "--no-llm-judges" in check.fix
    assert {"safety", "relevance_to_query"} <= {issue.scorer for issue in check.issues}
    assert all(issue.scorer not in ("trace_succeeded", "tool_call_errors") for issue in check.issues)
    # Time-boxed: within the validation's own timeout plus a loaded machine's slack, not MLflow's minutes of retries.
    assert result.seconds < 60


@pytest.mark.parametrize(
    ("predict_fn", "says"),
    [
        ("no_such_module_xyz:predict", "cannot be found"),
        ("/nowhere/agent.py:predict", "does not exist"),
        ("agent.py", "must look like module:function"),
    ],
)
def test_a_predict_fn_that_cannot_load_is_refused_before_the_run(store_uri, tmp_path, predict_fn, says):
    client, suite = _suite(store_uri, tmp_path)
    with pytest.raises(InvalidArgumentError, match=says):
        validate_eval(client, suite, predict_fn=predict_fn)
    assert not suite.path("evaluation/results/latest.json").exists()
