"""A suite's state files: read back with errors that name the file and the step that rewrites
it (people read and edit these files), and the cases written by the two steps that change them."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import jsonl_line, write_text_atomic
from mlflow_eval_mcp.suite.layout import ANALYSIS_FILE, CASES_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, ScorerConfig
from mlflow_eval_mcp.suite.tasks import require

Model = TypeVar("Model", bound=BaseModel)


def read_analysis(suite: SuiteLayout) -> TraceAnalysis:
    require(suite, "analyze")
    return _read(suite, ANALYSIS_FILE, TraceAnalysis, "analyze_traces")


def read_config(suite: SuiteLayout) -> ScorerConfig:
    require(suite, "scorers")
    return _read(suite, SCORER_CONFIG_FILE, ScorerConfig, "generate_scorers")


def read_cases(suite: SuiteLayout) -> list[DatasetCase]:
    require(suite, "dataset")
    path = suite.path(CASES_FILE)
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            cases.append(DatasetCase.model_validate_json(line))
        except ValidationError as error:
            raise InvalidArgumentError(
                f"{path} line {number} is not a valid case ({_first(error)}); fix that line, or run "
                "generate_dataset(suite_dir=...) again to rewrite the file."
            ) from error
    return cases


def write_cases(suite: SuiteLayout, cases: list[DatasetCase]) -> None:
    write_text_atomic(suite.path(CASES_FILE), "".join(jsonl_line(case.model_dump(mode="json")) for case in cases))


def _read(suite: SuiteLayout, relative: str, model: type[Model], step: str) -> Model:
    path = suite.path(relative)
    try:
        return model.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidArgumentError(f"{path} is missing; run {step}(suite_dir=...) again.") from error
    except (ValidationError, json.JSONDecodeError) as error:
        raise InvalidArgumentError(
            f"{path} is not valid ({_first(error)}); undo the edit, or run {step}(suite_dir=...) again."
        ) from error


def _first(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
