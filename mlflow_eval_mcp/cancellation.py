"""Cooperative cancellation of long library calls.

The server runs each tool call in a worker thread and installs a check that raises when the
client cancelled the call; long loops and subprocess waits call `raise_if_cancelled` between
steps, so a cancelled analysis stops reading and a cancelled validation kills its run. Outside the
server (the CLI, tests) there is no check and the calls run to the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_check: ContextVar[Callable[[], None] | None] = ContextVar("mlflow_eval_mcp_cancellation_check", default=None)


def raise_if_cancelled() -> None:
    check = _check.get()
    if check is not None:
        check()


@contextmanager
def cancellable(check: Callable[[], None]) -> Iterator[None]:
    """Within the block, `raise_if_cancelled` calls `check` (which raises when cancelled)."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)
