"""A suite's state files: read back with errors that name the file and the step that rewrites
it (people read and edit these files), the cases written by the two steps that change them, and
the lock that serialises the steps that read, compare and write the same assessments."""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import jsonl_line, write_text_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.layout import ANALYSIS_FILE, CASES_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, ScorerConfig
from mlflow_eval_mcp.suite.tasks import how_to_run, require

Model = TypeVar("Model", bound=BaseModel)
LOCK_FILE = "state/suite.lock"
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def read_analysis(suite: SuiteLayout) -> TraceAnalysis:
    require(suite, "analyze")
    return _read(suite, ANALYSIS_FILE, TraceAnalysis, "analyze_traces")


def read_config(suite: SuiteLayout) -> ScorerConfig:
    require(suite, "scorers")
    return _read(suite, SCORER_CONFIG_FILE, ScorerConfig, "generate_scorers")


def named_scorers(config: ScorerConfig, names: list[str]) -> list[str]:
    """`names` without repeats, after checking that the suite has a scorer of each name."""
    known = config.scorer_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidArgumentError(
            f"No scorer named {', '.join(map(repr, unknown))} in this suite; its scorers are: {', '.join(known)}."
        )
    return list(dict.fromkeys(names))


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
                f"{how_to_run('dataset')} again to rewrite the file."
            ) from error
    return cases


def write_cases(suite: SuiteLayout, cases: list[DatasetCase]) -> None:
    write_text_atomic(suite.path(CASES_FILE), "".join(jsonl_line(case.model_dump(mode="json")) for case in cases))


@contextmanager
def suite_lock(suite: SuiteLayout) -> Iterator[None]:
    """Hold the suite's lock: one holder at a time, across the threads of a server and across
    processes (two CLI runs, or the CLI and a server). A file lock alone would do on a local disk,
    but on network file systems flock can be per process; the thread lock covers that."""
    path = suite.path(LOCK_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(path, threading.Lock())
    with thread_lock, path.open("a") as handle:
        # Released when the file closes, also when the process dies: a crash never leaves it held.
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read(suite: SuiteLayout, relative: str, model: type[Model], step: str) -> Model:
    path = suite.path(relative)
    rerun = suggest(step, suite_dir=str(suite.root))
    try:
        return model.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidArgumentError(f"{path} is missing; run {rerun} again.") from error
    except (ValidationError, json.JSONDecodeError) as error:
        raise InvalidArgumentError(
            f"{path} is not valid ({_first(error)}); undo the edit, or run {rerun} again."
        ) from error


def _first(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
