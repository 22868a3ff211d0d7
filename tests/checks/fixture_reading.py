"""What the autolog fixtures (tests/fixtures/autolog/<integration>.json) recorded, as the reading tests look
at it: a scenario's trace as MLflow stored it, its spans decoded in start order, or its `Conversation`."""

from __future__ import annotations

import json
from typing import Any

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.span_view import SpanView
from tests.paths import AUTOLOG_FIXTURES


def recorded_scenarios(integration: str) -> list[dict[str, Any]]:
    """The fixture's records: each a `scenario` name and the `trace` MLflow stored for it."""
    return json.loads((AUTOLOG_FIXTURES / f"{integration}.json").read_text(encoding="utf-8"))["traces"]


def recorded_trace(integration: str, scenario: str) -> dict[str, Any]:
    return next(record["trace"] for record in recorded_scenarios(integration) if record["scenario"] == scenario)


def conversation_of(trace: dict[str, Any]) -> Conversation:
    return Conversation([SpanView.of_dict(span) for span in trace["data"]["spans"]])


def recorded_conversation(integration: str, scenario: str) -> Conversation:
    return conversation_of(recorded_trace(integration, scenario))


def decoded_spans(integration: str, scenario: str, span_type: str | None = None) -> list[dict[str, Any]]:
    """The scenario's spans (only those of `span_type` when it is given) in start order, as their name, type,
    inputs and outputs decoded from the JSON attributes MLflow keeps them in (None where a span has none)."""
    spans = sorted(
        recorded_trace(integration, scenario)["data"]["spans"], key=lambda span: span["start_time_unix_nano"]
    )
    decoded = [
        {
            "name": span["name"],
            "type": json.loads(span["attributes"]["mlflow.spanType"]),
            "inputs": json.loads(span["attributes"].get("mlflow.spanInputs", "null")),
            "outputs": json.loads(span["attributes"].get("mlflow.spanOutputs", "null")),
        }
        for span in spans
    ]
    return [span for span in decoded if span_type is None or span["type"] == span_type]
