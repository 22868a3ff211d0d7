"""Copying the fixed suite files (templates and the checks package) into a suite, atomically."""

from __future__ import annotations

from importlib import resources

from mlflow_eval_mcp.files import write_text_atomic
from mlflow_eval_mcp.suite.layout import CHECKS_PACKAGE, EVALUATION_DIR, SuiteLayout


def install_template(suite: SuiteLayout, name: str) -> str:
    """Copy `templates/<name>` to `evaluation/<name>`; returns the path relative to the suite."""
    text = resources.files("mlflow_eval_mcp.suite.templates").joinpath(name).read_text(encoding="utf-8")
    relative = f"{EVALUATION_DIR}/{name}"
    write_text_atomic(suite.path(relative), text)
    return relative


def install_checks(suite: SuiteLayout) -> list[str]:
    """Copy the `mlflow_eval_mcp.checks` package into the suite as `mlflow_eval_checks`, so that
    its scorers decide exactly as the analysis did, with only MLflow installed."""
    source = resources.files("mlflow_eval_mcp.checks")
    written = []
    for module in sorted(item.name for item in source.iterdir() if item.name.endswith(".py")):
        relative = f"{CHECKS_PACKAGE}/{module}"
        write_text_atomic(suite.path(relative), source.joinpath(module).read_text(encoding="utf-8"))
        written.append(relative)
    return written
