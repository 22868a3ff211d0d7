"""A read-only view of one stored span that decodes only the attributes the analysis reads.

Spans from a tracking store arrive as MLflow `LazySpan`s holding the stored dict. Touching any
`Span` property materialises an OpenTelemetry span (`Span.from_dict`), and `span.attributes`
JSON-decodes every attribute, including the often large inputs of model calls. Reading the dict
instead makes the analysis cost a fraction of fetching the traces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Span

_TYPE = "mlflow.spanType"
_INPUTS = "mlflow.spanInputs"
_OUTPUTS = "mlflow.spanOutputs"
_MISSING = object()


@dataclass
class SpanView:
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int | None
    end_ns: int | None
    status: str
    """OK, ERROR or UNSET."""
    status_text: str | None
    exception: str | None
    encoded_attributes: dict[str, Any]
    events: list[tuple[str, Any]]
    """(name, attributes) of each event: a streamed model call's chunks are events."""
    _decoded: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, span: Span) -> SpanView:
        stored = span.to_dict()
        status = stored.get("status") or {}
        return cls(
            span_id=str(stored.get("span_id")),
            parent_id=stored.get("parent_span_id") or None,
            name=str(stored.get("name") or "unnamed"),
            start_ns=_int(stored.get("start_time_unix_nano")),
            end_ns=_int(stored.get("end_time_unix_nano")),
            status=str(status.get("code") or "UNSET").removeprefix("STATUS_CODE_"),
            status_text=status.get("message") or None,
            exception=_exception(stored.get("events") or []),
            encoded_attributes=stored.get("attributes") or {},
            events=[
                (str(event.get("name") or ""), event.get("attributes"))
                for event in stored.get("events") or []
                if isinstance(event, dict)
            ],
        )

    def attribute(self, key: str) -> Any:
        value = self._decoded.get(key, _MISSING)
        if value is _MISSING:
            value = _decode(self.encoded_attributes.get(key))
            self._decoded[key] = value
        return value

    @property
    def span_type(self) -> str:
        return str(self.attribute(_TYPE) or "UNKNOWN")

    @property
    def inputs(self) -> Any:
        return self.attribute(_INPUTS)

    @property
    def outputs(self) -> Any:
        return self.attribute(_OUTPUTS)

    @property
    def duration_ms(self) -> float | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return max(0.0, (self.end_ns - self.start_ns) / 1e6)


def _decode(encoded: Any) -> Any:
    # MLflow stores attribute values JSON-encoded; a source that wrote a bare string keeps it.
    if not isinstance(encoded, str):
        return encoded
    try:
        return json.loads(encoded)
    except ValueError:
        return encoded


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _exception(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        if isinstance(event, dict) and event.get("name") == "exception":
            attributes = event.get("attributes") or {}
            kind, message = attributes.get("exception.type"), attributes.get("exception.message")
            return f"{kind}: {message}" if kind else str(message or "") or None
    return None
