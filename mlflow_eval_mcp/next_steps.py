"""How results and errors tell the user which tool to run next.

The library writes `suggest("generate_scorers", suite_dir=...)` rather than a literal call: an MCP
client reads `generate_scorers(suite_dir='/abs/suite')`, while under the CLI, which registers its
commands with `cli_syntax`, the user reads `mlflow-eval-mcp generate-scorers --suite-dir /abs/suite`.
The CLI's parser, derived from the table of operations, maps tools to commands: each subcommand's
`tool` default names the tool, and each option's `dest` is the tool's argument name.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import EllipsisType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import Action, ArgumentParser

_cli_commands: ContextVar[Mapping[str, ArgumentParser] | None] = ContextVar("mlflow_eval_mcp_cli", default=None)


@contextmanager
def cli_syntax(commands: Mapping[str, ArgumentParser] | None) -> Iterator[None]:
    """Within this block (and threads started from it with its context), `suggest` writes command
    lines; `commands` maps each tool's name to its CLI subcommand's parser (None: tool calls)."""
    token = _cli_commands.set(commands)
    try:
        yield
    finally:
        _cli_commands.reset(token)


def suggest(tool: str, **arguments: object) -> str:
    """How to run `tool` with `arguments`; `...` stands for a value the user has to choose."""
    commands = _cli_commands.get()
    if commands is None:
        rendered = ", ".join(f"{name}={'...' if value is ... else repr(value)}" for name, value in arguments.items())
        return f"{tool}({rendered})"
    parser = commands[tool]
    actions = {action.dest: action for action in parser._actions}
    words = [parser.prog, *(word for name, value in arguments.items() for word in _words(actions[name], value))]
    return " ".join(words)


def _words(action: Action, value: object) -> list[str]:
    if action.nargs == 0:  # a switch (store_true / store_false): given only when it sets this value
        return action.option_strings[:1] if value == action.const else []
    if isinstance(value, list):  # a repeated flag, once per item
        return [word for item in value for word in _words(action, item)]
    shown = _placeholder(action) if isinstance(value, EllipsisType) else shlex.quote(str(value))
    return [*action.option_strings[:1], shown]


def _placeholder(action: Action) -> str:
    return action.metavar if isinstance(action.metavar, str) else action.dest.upper()
