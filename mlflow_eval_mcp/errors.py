"""Errors the library raises for anticipated failures.

Every message says what went wrong and what to do next: the server turns these into
MCP `ToolError`s and the CLI prints them as one line, so the message is all the user sees.
"""


class MlflowEvalError(Exception):
    """Base class for anticipated, user-actionable failures."""


class ConfigurationError(MlflowEvalError):
    """The settings cannot work (bad tracking URI, missing credentials, unusable workspace)."""


class TrackingUnavailableError(MlflowEvalError):
    """The MLflow tracking store cannot be reached or opened."""


class NotFoundError(MlflowEvalError):
    """An experiment or trace that the caller named does not exist."""


class InvalidArgumentError(MlflowEvalError):
    """An argument is malformed: a filter string, a page token, an ordering."""
