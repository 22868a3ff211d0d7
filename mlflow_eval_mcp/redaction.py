"""Redacting personal data and secrets from JSON values and whole exported traces, keeping their
structure, so that a redacted trace still loads with `Trace.from_dict`."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mlflow_eval_mcp.checks.sensitive import redact


class Redactor:
    """Redacts every string it is given (or passes them through when disabled) and counts what it
    removed, by kind."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.counts: Counter[str] = Counter()

    def value(self, value: Any) -> Any:
        if not self.enabled:
            return value
        if isinstance(value, str):
            return redact(value, self.counts)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value

    def trace_dict(self, exported: dict[str, Any]) -> dict[str, Any]:
        """A `Trace.to_dict()` with its texts redacted. Span attributes hold JSON-encoded values,
        which are decoded, redacted and encoded again rather than edited as text."""
        if not self.enabled:
            return exported
        info = self.value(exported.get("info", {}))
        data = dict(exported.get("data", {}))
        data["spans"] = [self._span(span) for span in data.get("spans", [])]
        return {**exported, "info": info, "data": data}

    def _span(self, span: dict[str, Any]) -> dict[str, Any]:
        attributes = {key: self._encoded(value) for key, value in (span.get("attributes") or {}).items()}
        events = [
            {**event, "attributes": self.value(event.get("attributes") or {})} for event in span.get("events") or []
        ]
        status = self.value(span.get("status") or {})
        return {
            **span,
            "name": self.value(span.get("name")),
            "attributes": attributes,
            "events": events,
            "status": status,
        }

    def _encoded(self, value: Any) -> Any:
        if not isinstance(value, str):
            return self.value(value)
        try:
            decoded = json.loads(value)
        except ValueError:
            return self.value(value)
        return json.dumps(self.value(decoded), ensure_ascii=False)
