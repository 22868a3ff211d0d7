"""What crosses the subprocess boundary (the probe's reports, run_eval.py's result) is checked once
against suite.reports: a report that is not one fails as clearly as no report, in one sentence;
and validate_eval's check names are one Literal that the code keeps to."""

import ast
import json
import typing
from pathlib import Path

import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite import validation
from mlflow_eval_mcp.suite.claude_repair import CODE_DEFECT_CHECKS
from mlflow_eval_mcp.suite.feedback import push_feedback
from mlflow_eval_mcp.suite.models import ValidationCheckName
from mlflow_eval_mcp.suite.runner import RESULT_FILE
from mlflow_eval_mcp.suite.validation import validate_eval
from tests.suite_factory import built

PYDANTIC_DUMP = "validation error"
CHECK_HELPERS = ("_passed", "_failed")


def _check(result, name):
    return next(check for check in result.checks if check.name == name)


def _emitted_check_names() -> list[ast.expr]:
    """The name argument of every check validation.py builds: `_passed(name, …)`, `_failed(name, …)`
    and `ValidationCheck(name=…)` (outside those two helpers, which pass on their argument)."""
    tree = ast.parse(Path(validation.__file__).read_text(encoding="utf-8"))
    callers = [node for node in tree.body if not (isinstance(node, ast.FunctionDef) and node.name in CHECK_HELPERS)]
    names = []
    for node in (node for caller in callers for node in ast.walk(caller)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id in CHECK_HELPERS:
            names.append(node.args[0])
        elif node.func.id == "ValidationCheck":
            names += [keyword.value for keyword in node.keywords if keyword.arg == "name"]
    return names


def test_the_check_names_validation_emits_are_exactly_the_literal():
    names = _emitted_check_names()
    assert all(isinstance(name, ast.Constant) and isinstance(name.value, str) for name in names)
    assert {name.value for name in names if isinstance(name, ast.Constant)} == set(typing.get_args(ValidationCheckName))


def test_the_checks_claude_may_repair_are_validation_checks():
    assert set(typing.get_args(ValidationCheckName)) >= CODE_DEFECT_CHECKS


def test_a_probe_report_that_is_not_one_fails_the_imports_as_a_crash_in_one_sentence(store_uri, tmp_path):
    small = built(store_uri, tmp_path)
    dataset = small.suite.root / "evaluation" / "eval_dataset.py"
    # Printed at the probe's exit, so it is the last line of stdout, where the report belongs.
    dataset.write_text(dataset.read_text() + "\nimport atexit\natexit.register(print, '{\"imports\": 1}')\n")
    check = _check(validate_eval(small.client, small.suite, run=False), "modules_import")
    assert check.status == "failed" and check.message.startswith("the import check crashed")
    assert PYDANTIC_DUMP not in check.message


def test_a_run_result_that_is_not_one_fails_the_run_as_no_result_in_one_sentence(store_uri, tmp_path):
    small = built(store_uri, tmp_path)
    script = small.suite.root / "evaluation" / "run_eval.py"
    wrong = "    args = parse_args(argv)\n    write_json(args.output, {'rows': 'many'})\n    return 0\n"
    script.write_text(script.read_text().replace("    args = parse_args(argv)\n", wrong, 1))
    check = _check(validate_eval(small.client, small.suite), "run")
    assert check.status == "failed" and "exited with 0 without a result" in check.message
    assert PYDANTIC_DUMP not in check.message


def test_push_feedback_refuses_a_result_file_that_is_not_one_in_one_sentence(store_uri, tmp_path):
    small = built(store_uri, tmp_path)
    small.suite.path(RESULT_FILE).parent.mkdir(parents=True, exist_ok=True)
    small.suite.path(RESULT_FILE).write_text(json.dumps(["not", "a", "result"]), encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"is not a result run_eval\.py writes") as refused:
        push_feedback(small.client, small.suite)
    assert PYDANTIC_DUMP not in str(refused.value)
