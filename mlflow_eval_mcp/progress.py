"""Progress bars on stderr for the CLI's long steps (stdout carries only the JSON result).

On a terminal the bar redraws in place; in a log (CI, a Databricks job) it prints a line at each
tenth of the way, so logs stay short.
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
        self._drawn = False

    def __call__(self, done: int, total: int | None = None) -> None:
        if total:
            fraction = min(1.0, done / total)
            filled = round(fraction * WIDTH)
            text = f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,}"
            tenth = int(fraction * 10)
        else:
            text, tenth = f"{self.label}: {done:,}", done // 100
        if self.interactive:
            self.stream.write(f"\r{text}")
            self._drawn = True
        elif tenth != self._last_tenth:
            self.stream.write(f"{text}\n")
        self._last_tenth = tenth
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
