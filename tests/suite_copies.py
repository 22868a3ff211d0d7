"""Copies of a suite and its store (`root/suite`, `root/store/mlflow.db`), for module-scoped fixtures
that prepare one once (the demo suite narrowed to the scorers and cases their tests need, run; or a suite
built step by step) and copy it into each test or later fixture that changes it.

A run of run_eval.py is mostly SQLite commits: MLflow commits every span, tag and assessment of every row
on its own. So a module runs its suite on the rows and scorers its assertions read, and its store in WAL
mode, where a commit costs one fsync instead of the rollback journal's several."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Collection
from contextlib import closing
from pathlib import Path

from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.suite.layout import GATES_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, JudgeSpec
from mlflow_eval_mcp.suite.state import read_cases, read_config, write_cases
from tests.conftest import DemoSuite


def store_uri(root: Path) -> str:
    """The store of the suite in `root`."""
    return f"sqlite:///{root / 'store' / 'mlflow.db'}"


def copy_demo_suite(demo_suite: DemoSuite, root: Path) -> SuiteLayout:
    """The demo suite in `root/suite` and its store in `root/store`, the store in WAL mode."""
    shutil.copytree(demo_suite.store.workspace, root / "store", ignore=shutil.ignore_patterns("suites"))
    shutil.copytree(demo_suite.suite_dir, root / "suite")
    write_ahead(store_uri(root))
    return SuiteLayout(root / "suite")


def write_ahead(uri: str) -> None:
    """The sqlite store at `uri` in WAL mode, for a store of this module's or test's own: never one that
    tests of concurrent writers use, whose locking they test as a user's default store has it."""
    with closing(sqlite3.connect(uri.removeprefix("sqlite:///"))) as database:
        database.execute("PRAGMA journal_mode=WAL")


def narrow(
    suite: SuiteLayout,
    *,
    code_scorers: Collection[str],
    judges: list[JudgeSpec] | None = None,
    judge_model: str | None = None,
    cases: Callable[[list[DatasetCase]], list[DatasetCase]] | None = None,
) -> None:
    """Keep only the code scorers named and their gates (run_eval.py re-measures production's rate on
    the cases kept); replace the judges when `judges` is given; keep the cases `cases` picks."""
    config = read_config(suite)
    kept = [spec for spec in config.code_scorers if spec.name in code_scorers]
    missing = set(code_scorers) - {spec.name for spec in kept}
    assert not missing, f"the suite has no code scorer {missing}"
    update: dict[str, object] = {"code_scorers": kept}
    if judges is not None:
        update |= {"judges": judges, "judge_model": judge_model}
    write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_copy(update=update).model_dump(mode="json"))
    gates = json.loads(suite.path(GATES_FILE).read_text(encoding="utf-8"))
    gates["gates"] = {name: minimum for name, minimum in gates["gates"].items() if name in code_scorers}
    write_json_atomic(suite.path(GATES_FILE), gates)
    if cases is not None:
        write_cases(suite, cases(read_cases(suite)))


def recorded(cases: list[DatasetCase]) -> list[DatasetCase]:
    """The cases that replay one recorded production trace each."""
    return [case for case in cases if case.kind == "recorded"]


def copy_prepared(template: Path, root: Path) -> None:
    """A copy of `template` (a root holding suite/ and store/, and whatever else a fixture kept there) in
    `root`, with the paths the suite's files record moved there too."""
    shutil.copytree(template, root, dirs_exist_ok=True)
    for path in (root / "suite").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md"):
            path.write_text(path.read_text(encoding="utf-8").replace(str(template), str(root)), encoding="utf-8")
