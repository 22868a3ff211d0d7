"""The suite directory: where it is, what may be written in it, and its task state."""

import json

import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.tasks import load_tasks, record, require


def test_relative_and_default_suites_live_under_the_workspace(tmp_path):
    workspace = tmp_path / "ws"
    assert SuiteLayout.resolve("prod", workspace=workspace, default_name="x").root == workspace / "suites" / "prod"
    assert SuiteLayout.resolve(None, workspace=workspace, default_name="My Agent!").root == (
        workspace / "suites" / "my-agent"
    )
    assert SuiteLayout.resolve(tmp_path / "abs", workspace=workspace, default_name="x").root == tmp_path / "abs"


def test_dot_dot_in_the_suite_dir_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"'\.\.'"):
        SuiteLayout.resolve("suites/../../etc", workspace=tmp_path, default_name="x")


def test_a_non_empty_directory_that_is_not_a_suite_is_refused(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="not a suite"):
        SuiteLayout.resolve(tmp_path / "home", workspace=tmp_path, default_name="x")


def test_a_file_is_not_a_suite_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgumentError, match="is a file"):
        SuiteLayout.resolve(tmp_path / "file", workspace=tmp_path, default_name="x")


@pytest.mark.parametrize("relative", ["../outside.json", "/etc/passwd", "evaluation/../../x"])
def test_paths_outside_the_suite_are_refused(tmp_path, relative):
    suite = SuiteLayout(tmp_path / "suite")
    with pytest.raises(InvalidArgumentError, match="not a path inside"):
        suite.path(relative)


def test_a_symlink_out_of_the_suite_is_refused(tmp_path):
    root = tmp_path / "suite"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "evaluation").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidArgumentError, match="leads outside"):
        SuiteLayout(root).path("evaluation/run_eval.py")


def test_steps_need_their_predecessors(tmp_path):
    suite = SuiteLayout(tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"no completed 'analyze' step yet; run analyze_traces"):
        require(suite, "analyze")


def test_rerunning_a_step_marks_later_steps_stale(tmp_path):
    suite = SuiteLayout(tmp_path)
    for step in ("analyze", "dataset", "scorers"):
        record(suite, step, outputs=[f"{step}.json"])
    record(suite, "analyze", outputs=["state/analysis.json"])
    statuses = {step.name: step.status for step in load_tasks(suite).steps}
    assert statuses == {
        "analyze": "completed",
        "dataset": "stale",
        "scorers": "stale",
        "script": "pending",
        "validate": "pending",
    }
    assert json.loads((tmp_path / "eval_tasks.json").read_text())["suite_id"] == suite.name


def test_a_corrupt_task_file_says_how_to_recover(tmp_path):
    (tmp_path / "eval_tasks.json").write_text("{not json")
    with pytest.raises(InvalidArgumentError, match="fix or delete it"):
        load_tasks(SuiteLayout(tmp_path))
