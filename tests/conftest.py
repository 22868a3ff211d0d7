"""Shared fixtures: real MLflow sqlite stores, migrated once per run and copied per test."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlflow_eval_mcp.settings import Settings
from tests.environment import FOREIGN_ENV, OFFLINE_ENV

# For the whole process, session fixtures included (they are set up before any per-test fixture).
os.environ.update(OFFLINE_ENV)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_EVAL_MCP_WORKSPACE", str(tmp_path / "workspace"))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow sqlite database (migrations cost seconds; do them once)."""
    from mlflow_eval_mcp.tracking import open_client

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    open_client(f"sqlite:///{path}")
    return path


@pytest.fixture
def store_uri(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "store" / "mlflow.db"
    path.parent.mkdir()
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(store_uri: str, tmp_path: Path) -> Settings:
    return Settings(workspace=tmp_path / "workspace", tracking_uri=store_uri)


@dataclass(frozen=True)
class DemoStore:
    uri: str
    workspace: Path
    experiment_id: str
    planted: dict[str, list[str]]

    def settings(self) -> Settings:
        return Settings(workspace=self.workspace, tracking_uri=self.uri)

    def traces_with(self, mode: str) -> list[str]:
        return sorted(trace_id for trace_id, modes in self.planted.items() if mode in modes)


@pytest.fixture(scope="session")
def demo_template(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """The demo corpus (300 traces) seeded once into a workspace store."""
    from mlflow_eval_mcp.demo.runner import run_demo

    workspace = tmp_path_factory.mktemp("demo-workspace")
    shutil.copy(template_db, workspace / "mlflow.db")
    result = run_demo(Settings(workspace=workspace), n_traces=300)
    planted = json.loads(Path(result.manifest_path).read_text())
    return DemoStore(f"sqlite:///{workspace / 'mlflow.db'}", workspace, result.experiment_id, planted)


@pytest.fixture
def demo_store(demo_template: DemoStore, tmp_path: Path) -> DemoStore:
    """A private copy of the demo corpus that a test may modify."""
    workspace = tmp_path / "demo-workspace"
    shutil.copytree(demo_template.workspace, workspace)
    return DemoStore(
        f"sqlite:///{workspace / 'mlflow.db'}", workspace, demo_template.experiment_id, demo_template.planted
    )


@dataclass(frozen=True)
class DemoSuite:
    store: DemoStore
    suite_dir: Path


@pytest.fixture(scope="session")
def demo_suite(demo_template: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> DemoSuite:
    """A suite generated from the demo corpus (its own copy of the store), for tests that only read it."""
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.suite.layout import SuiteLayout
    from mlflow_eval_mcp.suite.pipeline import generate_suite

    workspace = tmp_path_factory.mktemp("demo-suite-workspace")
    shutil.copytree(demo_template.workspace, workspace, dirs_exist_ok=True)
    store = DemoStore(
        f"sqlite:///{workspace / 'mlflow.db'}", workspace, demo_template.experiment_id, demo_template.planted
    )
    suite_dir = workspace / "suites" / "demo"
    generate_suite(
        MlflowClient(tracking_uri=store.uri),
        workspace_suites=lambda name: SuiteLayout.resolve(suite_dir, workspace=workspace, default_name=name),
        experiment_id=store.experiment_id,
        max_traces=300,
    )
    return DemoSuite(store, suite_dir)
