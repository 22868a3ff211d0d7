"""Pausing Python's cyclic garbage collector while the analysis walks its pages.

A page of traces is hundreds of thousands of small objects (decoded span payloads). Each full
collection scans every one of them, and the analysis allocates enough to trigger several: a
measurable share of its time (see benchmarks/analysis.py) for no garbage, since span payloads
hold no reference cycles and each page is freed by reference counting once it is read.
Concurrent analyses share one pause: the collector comes back when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
