"""What a new user does first, done the way they do it: the demo's closing hints pasted into a shell
that has not activated the virtual environment, and a suite's run_eval.py run by hand as its README
says, with no tracking URI set."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.demo.runner import render_summary, run_demo
from mlflow_eval_mcp.suite.layout import ANALYSIS_FILE, SuiteLayout
from mlflow_eval_mcp.suite.run_script import STORE_FILE, recorded_store, refresh_run_script
from tests.environment import FOREIGN_ENV
from tests.suite_factory import built

# A shell whose PATH lacks the virtual environment's bin directory: only the system's commands.
BARE_PATH = "/usr/bin:/bin"


def _user_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_ENV}
    return {**env, "PATH": BARE_PATH, **extra}


def _hint(summary: str, marker: str) -> str:
    (line,) = [line for line in summary.splitlines() if marker in line]
    return line.split(marker, 1)[1] if marker.endswith(": ") else line.strip()


def test_the_demos_shell_hints_run_without_an_activated_environment(demo_store, tmp_path):
    summary = render_summary(run_demo(demo_store.settings(), n_traces=300))
    search = _hint(summary, "search-traces")
    done = subprocess.run(search, shell=True, cwd=tmp_path, env=_user_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["traces"]
    ui = shlex.split(_hint(summary, "Browse in the MLflow UI: "))
    assert ui[-3:] == ["ui", "--backend-store-uri", demo_store.uri]
    version = subprocess.run([*ui[:-3], "--version"], cwd=tmp_path, env=_user_env(), capture_output=True, text=True)
    assert version.returncode == 0 and "version" in version.stdout, version.stderr


def _run_by_hand(cwd: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, script, "--no-llm-judges", *args],
        cwd=cwd,
        env=_user_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _stray_stores(suite: SuiteLayout) -> list[Path]:
    return sorted(path for path in suite.root.rglob("*") if path.suffix == ".db" or path.name == "mlruns")


@pytest.mark.parametrize(("directory", "script"), [(".", "evaluation/run_eval.py"), ("evaluation", "run_eval.py")])
def test_run_eval_by_hand_logs_to_the_store_the_suite_came_from(store_uri, tmp_path, directory, script):
    suite = built(store_uri, tmp_path).suite
    done = _run_by_hand(suite.root / directory, script)
    assert done.returncode == 0, done.stderr
    assert _stray_stores(suite) == []
    result = json.loads(suite.path("evaluation/results/latest.json").read_text())
    assert MlflowClient(tracking_uri=store_uri).get_run(result["run_id"]).info.experiment_id == result["experiment_id"]
    assert f"in {store_uri} (the store this suite was generated from" in done.stderr


def test_the_flag_beats_the_environment_which_beats_the_recorded_store(store_uri, tmp_path, template_db):
    suite = built(store_uri, tmp_path).suite
    other = tmp_path / "other.db"
    other.write_bytes(template_db.read_bytes())
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(template_db.read_bytes())
    by_env = _run_by_hand(suite.root, "evaluation/run_eval.py", MLFLOW_TRACKING_URI=f"sqlite:///{other}")
    assert by_env.returncode == 0, by_env.stderr
    run_id = json.loads(suite.path("evaluation/results/latest.json").read_text())["run_id"]
    assert MlflowClient(tracking_uri=f"sqlite:///{other}").get_run(run_id)
    by_flag = _run_by_hand(
        suite.root,
        "evaluation/run_eval.py",
        "--tracking-uri",
        f"sqlite:///{elsewhere}",
        MLFLOW_TRACKING_URI=f"sqlite:///{other}",
    )
    assert by_flag.returncode == 0, by_flag.stderr
    run_id = json.loads(suite.path("evaluation/results/latest.json").read_text())["run_id"]
    assert MlflowClient(tracking_uri=f"sqlite:///{elsewhere}").get_run(run_id)
    assert f"in sqlite:///{elsewhere} (--tracking-uri)" in by_flag.stderr


def test_a_store_uri_that_may_carry_credentials_is_not_kept_and_the_script_asks_for_one(store_uri, tmp_path):
    suite = built(store_uri, tmp_path).suite
    analysis_path = suite.path(ANALYSIS_FILE)
    analysis = json.loads(analysis_path.read_text())
    # As the analysis records it: the login already removed, a password left in the query string.
    analysis["tracking_uri"] = "postgresql://db.internal:5432/mlflow?password=hunter2"
    analysis_path.write_text(json.dumps(analysis))
    rendered = refresh_run_script(suite)
    assert STORE_FILE in rendered.files
    for relative in rendered.files:
        assert "hunter2" not in suite.path(relative).read_text(), relative
    assert json.loads(suite.path(STORE_FILE).read_text())["tracking_uri"] is None
    readme = suite.path("evaluation/README.md").read_text()
    assert "`postgresql://db.internal:5432/mlflow`, whose URI is not kept" in readme
    done = _run_by_hand(suite.root, "evaluation/run_eval.py")
    assert done.returncode == 2
    assert "set MLFLOW_TRACKING_URI (or pass --tracking-uri)" in done.stderr and "hunter2" not in done.stderr
    assert _stray_stores(suite) == []
    done = _run_by_hand(suite.root, "evaluation/run_eval.py", "--tracking-uri", store_uri)
    assert done.returncode == 0, done.stderr


def test_a_recorded_store_missing_on_this_machine_is_not_created_afresh(store_uri, tmp_path):
    suite = built(store_uri, tmp_path).suite
    database = Path(store_uri.removeprefix("sqlite:///"))
    database.rename(database.with_suffix(".moved"))
    done = _run_by_hand(suite.root, "evaluation/run_eval.py")
    assert done.returncode == 2
    assert f"{store_uri}, does not exist on this machine" in done.stderr
    assert not database.exists()


def test_the_suite_readme_says_where_results_go(store_uri, tmp_path):
    suite = built(store_uri, tmp_path).suite
    readme = suite.path("evaluation/README.md").read_text()
    assert f"Results are logged to `{store_uri}`, the store this suite was generated from" in readme
    assert json.loads(suite.path(STORE_FILE).read_text())["tracking_uri"] == store_uri


@pytest.mark.parametrize(
    ("uri", "kept", "shown"),
    [
        ("sqlite:////data/mlflow.db", "sqlite:////data/mlflow.db", "sqlite:////data/mlflow.db"),
        ("sqlite:///mlflow.db", None, "sqlite:///mlflow.db"),
        ("/data/mlruns", "/data/mlruns", "/data/mlruns"),
        ("file:///data/mlruns", "file:///data/mlruns", "file:///data/mlruns"),
        ("http://mlflow.internal:5000", "http://mlflow.internal:5000", "http://mlflow.internal:5000"),
        ("https://alice:s3cret@mlflow.internal", "https://mlflow.internal", "https://mlflow.internal"),
        ("https://mlflow.internal/?token=s3cret", None, "https://mlflow.internal/"),
        ("databricks://my-profile:prefix", "databricks", "databricks"),
        ("postgresql://mlflow.internal/mlflow", None, "postgresql://mlflow.internal/mlflow"),
        ("mysql+pymysql://bob:s3cret@db/mlflow", None, "mysql+pymysql://db/mlflow"),
    ],
)
def test_what_the_suite_keeps_of_its_store(uri, kept, shown):
    store = recorded_store(uri)
    assert (store["tracking_uri"], store["generated_from"]) == (kept, shown)
    assert "s3cret" not in json.dumps(store)
