"""Whether a candidate did worse than a baseline on the same cases: the exact McNemar test on the
cases whose verdict flipped. Standard library only: this package is copied into every generated suite."""

from __future__ import annotations

import math

SIGNIFICANCE = 0.05
"""A paired gate fails when more cases flip from pass to fail than back, at this p-value or below."""


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """Two-sided exact McNemar p-value: under no change, each flip is a fair coin."""
    flips = pass_to_fail + fail_to_pass
    if flips == 0:
        return 1.0
    tail = sum(math.comb(flips, k) for k in range(min(pass_to_fail, fail_to_pass) + 1)) / 2**flips
    return min(1.0, 2 * tail)


def regressed(pass_to_fail: int, fail_to_pass: int) -> bool:
    """More passes turned to failures than the other way, beyond chance."""
    return pass_to_fail > fail_to_pass and mcnemar_exact(pass_to_fail, fail_to_pass) <= SIGNIFICANCE
