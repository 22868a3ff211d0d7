"""server.json, the MCP registry entry: valid for the registry's 2025-12-11 schema (vendored in
tests/data), versioned like the package, and declaring every environment variable the server reads."""

import copy
import hashlib
import json
import re
import tomllib
import typing
from collections.abc import Callable

import jsonschema
import pytest
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

import mlflow_eval_mcp
from mlflow_eval_mcp.frontend.cli import _parser, _serve
from mlflow_eval_mcp.settings import Settings
from tests.paths import REPOSITORY, TEST_DATA

ROOT = REPOSITORY
MANIFEST = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SCHEMA_FILE = TEST_DATA / "server.schema.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
# sha256 of the file served at SCHEMA_URL. Moving to a newer schema is a deliberate change:
# replace the vendored file, this pin and the manifest's $schema together.
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
# The registry's server name grammar (internal/validators/validators.go), stricter than the schema's pattern.
SERVER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]/[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]")

PACKAGE = MANIFEST["packages"][0]
DECLARED = {variable["name"]: variable for variable in PACKAGE["environmentVariables"]}


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def settings_variables() -> dict[str, FieldInfo]:
    """Every environment variable `Settings` reads, with the field it fills."""
    prefix = Settings.model_config["env_prefix"]
    variables = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, AliasChoices):
            names = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            names = [alias]
        else:
            names = [f"{prefix}{name}"]
        variables.update({variable.upper(): field for variable in names})
    return variables


def package_source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "mlflow_eval_mcp").rglob("*.py"))


def test_the_vendored_schema_is_the_published_2025_12_11_one():
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$id"] == SCHEMA_URL == MANIFEST["$schema"]


def test_the_manifest_is_valid_for_the_registry_schema():
    errors = [f"{error.json_path}: {error.message}" for error in validator().iter_errors(MANIFEST)]
    assert errors == []


def _drop_name(manifest: dict) -> None:
    del manifest["name"]


def _two_slashes(manifest: dict) -> None:
    manifest["name"] = "io.github.mlflow-eval-mcp/mlflow/eval"


def _long_description(manifest: dict) -> None:
    manifest["description"] = "x" * 101


def _latest_package(manifest: dict) -> None:
    manifest["packages"][0]["version"] = "latest"


def _unknown_transport(manifest: dict) -> None:
    manifest["packages"][0]["transport"] = {"type": "websocket"}


def _unnamed_variable(manifest: dict) -> None:
    del manifest["packages"][0]["environmentVariables"][0]["name"]


def _secret_as_text(manifest: dict) -> None:
    manifest["packages"][0]["environmentVariables"][0]["isSecret"] = "yes"


def _unknown_format(manifest: dict) -> None:
    manifest["packages"][0]["environmentVariables"][0]["format"] = "url"


@pytest.mark.parametrize(
    "breaking",
    [
        _drop_name,
        _two_slashes,
        _long_description,
        _latest_package,
        _unknown_transport,
        _unnamed_variable,
        _secret_as_text,
        _unknown_format,
    ],
)
def test_the_schema_check_rejects_a_broken_manifest(breaking: Callable[[dict], None]):
    broken = copy.deepcopy(MANIFEST)
    breaking(broken)
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(broken)


def test_the_name_follows_the_registry_grammar():
    assert SERVER_NAME.fullmatch(MANIFEST["name"])
    namespace, _, server = MANIFEST["name"].partition("/")
    assert namespace.startswith("io.github.")
    assert server == PYPROJECT["name"]


def test_versions_match_the_package():
    assert MANIFEST["version"] == PACKAGE["version"] == mlflow_eval_mcp.__version__ == PYPROJECT["version"]


def test_one_pypi_package_run_with_uvx_over_stdio():
    assert len(MANIFEST["packages"]) == 1
    assert PACKAGE["registryType"] == "pypi"
    assert PACKAGE["registryBaseUrl"] == "https://pypi.org"
    assert PACKAGE["identifier"] == PYPROJECT["name"]
    assert PACKAGE["runtimeHint"] == "uvx"
    assert PACKAGE["transport"] == {"type": "stdio"}
    # `uvx mlflow-eval-mcp` with no arguments must serve MCP over stdio, so none are declared.
    assert "packageArguments" not in PACKAGE
    assert "runtimeArguments" not in PACKAGE
    assert PYPROJECT["scripts"][PACKAGE["identifier"]] == "mlflow_eval_mcp.frontend.cli:main"
    assert _parser().parse_args([]).handler is _serve


def test_the_readme_published_to_pypi_carries_the_registry_name():
    # The registry's ownership check: `mcp-name: <name>` in the PyPI description, not followed by
    # more name characters (internal/validators/registries/mcpname.go).
    assert PYPROJECT["readme"] == "README.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"mcp-name: {re.escape(MANIFEST['name'])}(?![a-zA-Z0-9._/-])", readme)


def test_every_variable_the_settings_read_is_declared():
    assert Settings.model_config["env_prefix"] == "MLFLOW_EVAL_MCP_"
    read = settings_variables()
    assert {"MLFLOW_EVAL_MCP_WORKSPACE", "MLFLOW_TRACKING_URI", "MLFLOW_EVAL_MCP_TRACKING_URI"} <= read.keys()
    assert sorted(read.keys() - DECLARED.keys()) == []


def test_every_declared_variable_is_read_somewhere():
    source = package_source()
    stale = [name for name in DECLARED if name not in settings_variables() and f'"{name}"' not in source]
    assert stale == []


def test_every_variable_is_described_and_says_whether_it_is_required_and_secret():
    assert len(DECLARED) == len(PACKAGE["environmentVariables"]), "a variable is declared twice"
    for name, variable in DECLARED.items():
        assert variable["description"].strip(), name
        assert isinstance(variable["isRequired"], bool), name
        assert isinstance(variable["isSecret"], bool), name


def test_tokens_keys_and_secret_settings_are_secret_and_nothing_else_is():
    secret_settings = {name for name, field in settings_variables().items() if _is_secret(field)}
    for name, variable in DECLARED.items():
        expected = "TOKEN" in name or "KEY" in name or name in secret_settings
        assert variable["isSecret"] is expected, name


def test_defaults_and_choices_are_the_settings_own():
    read = settings_variables()
    for name, variable in DECLARED.items():
        field = read.get(name)
        if field is None:
            continue
        choices = [str(choice) for choice in typing.get_args(field.annotation)]
        if typing.get_origin(field.annotation) is typing.Literal:
            assert variable.get("choices") == choices, name
        if "default" in variable:
            default = variable["default"]
            if variable["format"] == "number":
                assert float(default) == field.default, name
            else:
                assert default == str(field.default), name
        numeric = field.annotation in (int, float)
        assert (variable["format"] == "number") is numeric, name


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)
