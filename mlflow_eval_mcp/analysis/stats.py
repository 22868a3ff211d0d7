"""Order statistics for the analysis: percentiles and a robust outlier threshold."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlflow_eval_mcp.analysis.models import Percentiles


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values, q in [0, 100]."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def percentiles(values: Sequence[float]) -> Percentiles:
    ordered = sorted(values)
    if not ordered:
        return Percentiles(count=0)
    return Percentiles(
        count=len(ordered),
        p50=round(percentile(ordered, 50), 3),
        p90=round(percentile(ordered, 90), 3),
        p95=round(percentile(ordered, 95), 3),
        p99=round(percentile(ordered, 99), 3),
        max=round(ordered[-1], 3),
    )


def outlier_threshold(values: Sequence[float], *, min_samples: int = 20) -> float | None:
    """Values above this are outliers relative to the data: beyond Q3 + 3 IQR (Tukey's far-out
    fence) and at least twice the median, so a tight distribution does not flag ordinary noise.
    None when there are too few values to judge."""
    ordered = sorted(values)
    if len(ordered) < min_samples:
        return None
    q1, median, q3 = (percentile(ordered, q) for q in (25, 50, 75))
    return max(q3 + 3 * (q3 - q1), 2 * median)
