from pathlib import Path

import pytest

from mlflow_eval_mcp.errors import ConfigurationError
from mlflow_eval_mcp.settings import Settings


def test_embedded_store_lives_in_the_workspace(tmp_path):
    settings = Settings(workspace=tmp_path / "ws")
    assert settings.resolve_tracking_uri() == f"sqlite:///{(tmp_path / 'ws' / 'mlflow.db').resolve()}"


def test_workspace_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_EVAL_MCP_WORKSPACE", str(tmp_path / "env-ws"))
    assert Settings().workspace == tmp_path / "env-ws"


def test_standard_mlflow_tracking_uri_is_honoured(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Settings().resolve_tracking_uri() == "http://127.0.0.1:5000"


def test_explicit_uri_beats_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Settings().resolve_tracking_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_check_creates_the_workspace_for_the_embedded_store(tmp_path):
    settings = Settings(workspace=tmp_path / "new" / "ws")
    assert settings.check() == settings.embedded_store_uri
    assert (tmp_path / "new" / "ws").is_dir()


@pytest.mark.parametrize("uri", ["ftp://example.com/x", "/just/a/path", "file:///tmp/mlruns"])
def test_unsupported_tracking_uri_is_rejected(uri, tmp_path):
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        Settings(workspace=tmp_path).check(uri)


def test_unwritable_workspace_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError, match="MLFLOW_EVAL_MCP_WORKSPACE"):
        Settings(workspace=blocker / "ws").check()


def test_databricks_without_credentials_says_how_to_authenticate(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    with pytest.raises(ConfigurationError, match="DATABRICKS_HOST"):
        Settings(workspace=tmp_path).check("databricks")


def test_databricks_host_in_environment_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", "https://example.cloud.databricks.com")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test")
    assert Settings(workspace=tmp_path).check("databricks") == "databricks"


def test_databricks_profile_from_config_file(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    (tmp_path / ".databrickscfg").write_text("[prod]\nhost = https://example.cloud.databricks.com\ntoken = x\n")
    assert Settings(workspace=tmp_path).check("databricks://prod") == "databricks://prod"
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "prod")
    assert Settings(workspace=tmp_path).check("databricks") == "databricks"
