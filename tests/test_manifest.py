import json
from importlib.metadata import version
from pathlib import Path

from mlflow_eval_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "server.json").read_text())


def test_manifest_versions_match_the_package():
    assert MANIFEST["version"] == version("mlflow-eval-mcp")
    assert [package["version"] for package in MANIFEST["packages"]] == [version("mlflow-eval-mcp")]


def test_every_setting_is_declared_in_the_manifest():
    declared = {variable["name"] for variable in MANIFEST["packages"][0]["environmentVariables"]}
    expected = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        expected.add(choices[-1] if choices else alias or f"MLFLOW_EVAL_MCP_{name.upper()}")
    assert expected == declared


def test_readme_carries_the_registry_name():
    assert f"<!-- mcp-name: {MANIFEST['name']} -->" in (ROOT / "README.md").read_text()
