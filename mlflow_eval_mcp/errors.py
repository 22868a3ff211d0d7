"""Errors the library raises for anticipated failures.

Every message says what went wrong and what to do next: the server turns these into
MCP `ToolError`s and the CLI prints them as one line, so the message is all the user sees.
"""

import errno
import sqlite3

from mlflow_eval_mcp.secrets import scrub


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


SHOWN_CHARS = 200
"""The most characters of a caller's value a message repeats: a 1 MB argument must not come back as a 1 MB error."""

# Database drivers that MLflow's stores import on first use, and how to install each.
_DRIVER_INSTALLS = {
    "MySQLdb": "pip install mysqlclient, or pip install pymysql and write the URI as mysql+pymysql://…",
    "psycopg": "pip install 'psycopg[binary]', or pip install psycopg2-binary and write the URI as postgresql+psycopg2://…",
    "psycopg2": "pip install psycopg2-binary",
    "pymssql": "pip install pymssql",
    "pyodbc": "pip install pyodbc",
}


def clip(text: str) -> str:
    """`text` cut to SHOWN_CHARS characters followed by "…", for messages that repeat a caller's text."""
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def shown(value: object) -> str:
    """`value` as a message quotes it (`repr`), cut to SHOWN_CHARS characters followed by "…"."""
    return repr(clip(value)) if isinstance(value, str) else clip(repr(value))


def describe_unexpected(error: BaseException) -> str:
    """One sentence for a failure nobody anticipated: what went wrong and what to do about it.
    The traceback belongs in the log; this is what the caller reads instead."""
    chain = _causes(error)
    for cause in chain:
        if isinstance(cause, ModuleNotFoundError) and cause.name:
            module = cause.name.split(".")[0]
            install = _DRIVER_INSTALLS.get(module, "install the package that provides it")
            return (
                f"The Python module {module!r} is not installed where mlflow-eval-mcp runs: "
                f"{install}; then restart the server or run the command again."
            )
        if isinstance(cause, OSError) and cause.errno == errno.ENAMETOOLONG:
            return f"A path is too long for the file system ({shown(cause.filename)}); use a shorter one."
        if isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError):
            return (
                f"The sqlite database could not be used ({_first_line(cause)}); check that the tracking URI "
                "names an MLflow database file (sqlite:////absolute/path/mlflow.db)."
            )
    return (
        f"Unexpected {type(error).__name__}: {_first_line(error)}. Check the arguments; if they are right, "
        "report this with the log (stderr), which has the details."
    )


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _first_line(error: BaseException) -> str:
    # Scrubbed before the cut: a cut through a credential would leave a part no pattern recognises.
    lines = scrub(str(error).strip()).splitlines()
    return clip(lines[0] if lines else type(error).__name__)
