"""Configuration from the environment (prefix `MLFLOW_EVAL_MCP_`) plus the standard variables
that MLflow, Databricks and Anthropic users already set."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlflow_eval_mcp.errors import ConfigurationError
from mlflow_eval_mcp.secrets import scrub

DEFAULT_WORKSPACE = Path.home() / ".mlflow-eval-mcp"
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_SUPPORTED = "sqlite:///path/to/mlflow.db, postgresql://…, mysql://…, http(s)://host:port, databricks"


class Settings(BaseSettings):
    """Everything the server and CLI need to know before they touch MLflow."""

    model_config = SettingsConfigDict(env_prefix="MLFLOW_EVAL_MCP_", extra="ignore", populate_by_name=True)

    workspace: Path = Field(
        default=DEFAULT_WORKSPACE,
        description="Directory for the embedded MLflow store (mlflow.db), its artifacts and suites.",
    )
    tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_EVAL_MCP_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; when unset, an embedded sqlite store in the workspace.",
    )
    databricks_host: str | None = Field(default=None, validation_alias="DATABRICKS_HOST")
    databricks_token: SecretStr | None = Field(default=None, validation_alias="DATABRICKS_TOKEN")
    databricks_config_profile: str | None = Field(default=None, validation_alias="DATABRICKS_CONFIG_PROFILE")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_auth_token: SecretStr | None = Field(
        default=None,
        validation_alias="ANTHROPIC_AUTH_TOKEN",
        description="Bearer token instead of an API key, e.g. a Databricks token with ANTHROPIC_BASE_URL.",
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias="ANTHROPIC_BASE_URL",
        description="Another Messages API endpoint, e.g. https://<workspace>/serving-endpoints/anthropic.",
    )
    claude: Literal["auto", "off"] = Field(
        default="auto", description="auto: use Claude when credentials are set; off: always offline."
    )
    claude_model: str = Field(default="claude-sonnet-5-5", min_length=1)
    claude_timeout_s: float = Field(default=120.0, gt=0, le=900, description="Per request, retries excluded.")
    claude_max_retries: int = Field(default=3, ge=0, le=10, description="Retries on 429, 5xx and dropped connections.")
    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="How long to wait for a remote tracking server to answer."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http_token: SecretStr | None = Field(
        default=None, description="Bearer token the Streamable HTTP transport requires (serve --transport http)."
    )

    @property
    def embedded_store_uri(self) -> str:
        return f"sqlite:///{self.workspace.expanduser().resolve() / 'mlflow.db'}"

    @property
    def claude_cache_dir(self) -> Path:
        return self.workspace.expanduser().resolve() / "cache" / "claude"

    @property
    def analyses_dir(self) -> Path:
        """Where analyses are kept whole, for get_finding (see analysis.archive)."""
        return self.workspace.expanduser().resolve() / "analyses"

    @property
    def artifacts_dir(self) -> Path:
        return self.workspace.expanduser().resolve() / "artifacts"

    def resolve_tracking_uri(self, explicit: str | None = None) -> str:
        """An explicit argument wins, then the environment, then the embedded store."""
        return explicit or self.tracking_uri or self.embedded_store_uri

    def check(self, explicit_tracking_uri: str | None = None, *, create_store: bool = False) -> str:
        """Validate what can be validated offline; returns the tracking URI that will be used.

        A sqlite store other than the workspace's must already exist unless `create_store`:
        a mistyped path should be an error, not a new empty store that a search finds empty.
        """
        uri = self.resolve_tracking_uri(explicit_tracking_uri)
        embedded = uri == self.embedded_store_uri
        check_tracking_uri(uri, self, create_store=create_store or embedded)
        if embedded:
            _ensure_writable_dir(self.workspace.expanduser())
        return uri


def check_tracking_uri(uri: str, settings: Settings, *, create_store: bool = True) -> None:
    # Every message shows the URI scrubbed: a tracking URI may carry a password or a signed query.
    shown = scrub(uri)
    # "databricks" alone is a valid URI that urlparse sees as a path with no scheme.
    scheme = (urlparse(uri).scheme or uri).split("+")[0]
    if scheme == "databricks":
        _check_databricks_auth(uri, shown, settings)
    elif scheme == "sqlite":
        if not uri.startswith("sqlite:///"):
            raise ConfigurationError(f"Tracking URI {shown!r} is not a sqlite file URI; use sqlite:///absolute/path.db")
        database = Path(uri.removeprefix("sqlite:///")).expanduser()
        if not create_store and not database.is_file():
            raise ConfigurationError(
                f"No MLflow database at {scrub(str(database))}; check the path in the tracking URI "
                "(importing traces or `mlflow-eval-mcp demo --tracking-uri …` creates one)."
            )
        _ensure_writable_dir(database.parent)
    elif scheme in ("http", "https"):
        if not urlparse(uri).hostname:
            raise ConfigurationError(f"Tracking URI {shown!r} has no host; use e.g. http://127.0.0.1:5000")
    elif scheme not in _DB_SCHEMES:
        raise ConfigurationError(f"Tracking URI {shown!r} is not supported for traces; use one of: {_SUPPORTED}.")


def _check_databricks_auth(uri: str, shown: str, settings: Settings) -> None:
    # Mirrors databricks-sdk unified auth: explicit host (+ token or other env auth), or a
    # profile in ~/.databrickscfg (named by the URI, DATABRICKS_CONFIG_PROFILE, or DEFAULT).
    if settings.databricks_host:
        return
    # As in MLflow, databricks://profile:key-prefix names the profile before the colon; what
    # follows may be a password mistakenly given as user info, so it is never shown.
    profile = urlparse(uri).netloc.split(":")[0] or settings.databricks_config_profile or "DEFAULT"
    config_file = Path.home() / ".databrickscfg"
    parser = configparser.ConfigParser()
    parser.read(config_file)
    if profile == "DEFAULT" and parser.defaults().get("host"):
        return
    if parser.has_section(profile) and parser.get(profile, "host", fallback=None):
        return
    raise ConfigurationError(
        f"Tracking URI {shown!r} needs Databricks credentials: set DATABRICKS_HOST and DATABRICKS_TOKEN, "
        f"or add profile [{scrub(profile)}] to {config_file} (databricks auth login), "
        "or set DATABRICKS_CONFIG_PROFILE."
    )


def _ensure_writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(
            f"Cannot create directory {path}: {error.strerror}. Set MLFLOW_EVAL_MCP_WORKSPACE to a writable directory."
        ) from error
    if not path.is_dir():
        raise ConfigurationError(f"{path} is not a directory; set MLFLOW_EVAL_MCP_WORKSPACE elsewhere.")
