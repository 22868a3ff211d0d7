"""Progress bars on stderr for the CLI's long steps (stdout carries only the JSON result).

On a terminal the bar redraws in place; in a log (CI, a Databricks job) it prints a line at each
tenth of the way, or, while the total is unknown, at 1, 2, 5, 10, 20, 50… so logs stay short.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_tenth = -1
        self._next_count = 0
        self._drawn = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        if total:
            fraction = min(1.0, done / total)
            filled = round(fraction * WIDTH)
            text = f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,}"
            due = int(fraction * 10) != self._last_tenth
            self._last_tenth = int(fraction * 10)
        else:
            text, due = f"{self.label}: {done:,}", done >= self._next_count
            if due:
                self._next_count = _next_round(done)
        if self.interactive:
            # Padding wipes what a longer previous line left behind.
            self.stream.write(f"\r{text.ljust(self._drawn)}")
            self._drawn = len(text)
        elif due:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


def _next_round(done: int) -> int:
    """The first of 1, 2, 5, 10, 20, 50, 100… above `done`."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale > done:
                return step * scale
        scale *= 10
