"""List prices (USD per million input and output tokens) for estimating what a call cost.

Matched by substring so that dated ids and gateway names (`databricks-claude-sonnet-4-5`)
price like their model; first match wins, so specific versions come before families.
"""

from __future__ import annotations

_PER_MTOK: tuple[tuple[str, float, float], ...] = (
    ("fable-5", 10.0, 50.0),
    ("mythos-5", 10.0, 50.0),
    ("opus-5-5", 4.0, 20.0),
    ("opus-5", 5.0, 25.0),
    ("sonnet-5", 2.0, 10.0),
    ("haiku-5", 0.10, 0.50),
    ("opus-4-1", 15.0, 75.0),
    ("opus-4-0", 15.0, 75.0),
    ("opus-4-2025", 15.0, 75.0),
    ("opus-4", 5.0, 25.0),
    ("sonnet-4", 3.0, 15.0),
    ("haiku-4", 1.0, 5.0),
)


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The list-price cost of one call, or None for a model not in the table."""
    for fragment, input_price, output_price in _PER_MTOK:
        if fragment in model:
            return (input_tokens * input_price + output_tokens * output_price) / 1_000_000
    return None
