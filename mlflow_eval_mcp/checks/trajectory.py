"""The tools a run called and with which key arguments, as MLflow's `expected_tool_calls`
expectation holds them (`[{"name": ..., "arguments": {...}}]`), and whether another run made them.

Key arguments are the identifiers, numbers and short codes a call was made with (an order id, a
customer id, a date); free text (a search query, a message) is left out, since another agent may
phrase it otherwise. Standard library only: this package is copied into every generated suite.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from .conversation import Conversation

Order = Literal["any", "same"]
_KEY_TEXT = re.compile(r"^[\w.:/@+-]{1,64}$")


def expected_tool_calls(conversation: Conversation) -> list[dict[str, Any]]:
    """The successful tool calls of a run, in order, each with its key arguments."""
    return [
        {"name": call.name, "arguments": key_arguments(call.arguments)}
        for call in conversation.tool_calls
        if call.outcome == "ok"
    ]


def key_arguments(arguments: Any) -> dict[str, Any]:
    """The arguments that identify what a call was about: numbers, booleans and short codes."""
    if not isinstance(arguments, dict):
        return {}
    return {
        key: value
        for key, value in arguments.items()
        if isinstance(value, bool | int | float) or (isinstance(value, str) and _KEY_TEXT.match(value.strip()))
    }


def trajectory_problems(
    conversation: Conversation, expected: list[dict[str, Any]], *, order: Order = "any", extra_calls: bool = True
) -> list[str]:
    """What the run did not do of `expected`: each expected call missing (no call of that tool with
    those key arguments), calls out of order (`order="same"`), or calls beyond them (`extra_calls=False`)."""
    made = [(call.name, call.arguments) for call in conversation.tool_calls if call.outcome == "ok"]
    problems: list[str] = []
    position = -1
    used: set[int] = set()
    for wanted in expected:
        name, arguments = wanted.get("name"), wanted.get("arguments") or {}
        matches = [index for index, call in enumerate(made) if index not in used and _matches(call, name, arguments)]
        if not matches:
            shown = ", ".join(f"{key}={value}" for key, value in arguments.items())
            problems.append(f"no successful {name}({shown}) call")
            continue
        later = [index for index in matches if index > position]
        if order == "same" and not later:
            problems.append(f"{name} called out of the expected order")
        chosen = (later or matches)[0]
        used.add(chosen)
        position = max(position, chosen)
    if not extra_calls:
        problems += [f"unexpected call: {made[index][0]}" for index in range(len(made)) if index not in used]
    return problems


def _matches(call: tuple[str, Any], name: Any, arguments: dict[str, Any]) -> bool:
    called, given = call
    if called != name:
        return False
    given = given if isinstance(given, dict) else {}
    return all(_same(given.get(key), value) for key, value in arguments.items())


def _same(actual: Any, expected: Any) -> bool:
    """Equal as numbers when both are (1249 and 1249.0), else as text, case aside."""
    try:
        return float(actual) == float(expected)
    except (TypeError, ValueError):
        return str(actual).strip().casefold() == str(expected).strip().casefold()
