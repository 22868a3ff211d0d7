"""A read-only view of one stored span that decodes only the attributes the analysis reads.

Spans from a tracking store arrive as MLflow `LazySpan`s holding the stored dict. Touching any
`Span` property materialises an OpenTelemetry span (`Span.from_dict`), and `span.attributes`
JSON-decodes every attribute, including the often large inputs of model calls. Reading the dict
instead makes the analysis cost a fraction of fetching the traces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from .json_text import from_json

SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
TOKEN_USAGE = "mlflow.chat.tokenUsage"
MODEL = "mlflow.llm.model"
# The OpenTelemetry payloads MLflow's OTLP ingestion turns into outputs. It skips an empty one (an
# OpenInference `output.value` of ""), which then stays only under its own key.
_OTEL_OUTPUTS = ("output.value", "gen_ai.output.messages", "gen_ai.tool.call.result")
_MISSING = object()
_T = TypeVar("_T")


class cached_reading(Generic[_T]):
    """`functools.cached_property` without the lock Python 3.11 takes on each first read, which costs
    more than most readings themselves. A reading is a pure function of its view: two threads racing
    on one view would only compute the same value twice."""

    def __init__(self, read: Callable[[Any], _T]) -> None:
        self._read = read
        self._name = read.__name__
        self.__doc__ = read.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_reading[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> _T | cached_reading[_T]:
        if instance is None:
            return self
        # Stored under the descriptor's own name: later reads find the value before the descriptor.
        value = instance.__dict__[self._name] = self._read(instance)
        return value


@dataclass(slots=True)
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
    span_type: str = "UNKNOWN"
    _decoded: dict[str, Any] = field(default_factory=dict, repr=False)
    _outputs: Any = field(default=_MISSING, init=False, repr=False, compare=False)
    """The outputs once found (see `outputs`): every reading of a span asks for them."""

    @classmethod
    def of(cls, span: Any) -> SpanView:
        """The view of an MLflow `Span` (anything with its `to_dict()`)."""
        return cls.of_dict(span.to_dict())

    @classmethod
    def of_dict(cls, stored: dict[str, Any]) -> SpanView:
        """The view of a span as MLflow stores it (`Span.to_dict()`, attribute values JSON-encoded)."""
        status = stored.get("status") or {}
        attributes = stored.get("attributes") or {}
        events = stored.get("events") or []
        # Most spans have no events: the comprehension and the exception's search are skipped for them.
        read_events = (
            [(str(e.get("name") or ""), e.get("attributes")) for e in events if isinstance(e, dict)] if events else []
        )
        return cls(
            span_id=str(stored.get("span_id")),
            parent_id=stored.get("parent_span_id") or None,
            name=str(stored.get("name") or "unnamed"),
            start_ns=_int(stored.get("start_time_unix_nano")),
            end_ns=_int(stored.get("end_time_unix_nano")),
            status=str(status.get("code") or "UNSET").removeprefix("STATUS_CODE_"),
            status_text=status.get("message") or None,
            exception=_exception(events) if events else None,
            encoded_attributes=attributes,
            events=read_events,
            span_type=str(from_json(attributes.get(SPAN_TYPE)) or "UNKNOWN"),
        )

    def attribute(self, key: str) -> Any:
        decoded = self._decoded
        if key in decoded:
            return decoded[key]
        value = decoded[key] = from_json(self.encoded_attributes.get(key))
        return value

    @property
    def inputs(self) -> Any:
        return self.attribute(SPAN_INPUTS)

    @property
    def outputs(self) -> Any:
        outputs = self._outputs
        if outputs is _MISSING:
            outputs = self._outputs = self._find_outputs()
        return outputs

    def _find_outputs(self) -> Any:
        outputs = self.attribute(SPAN_OUTPUTS)
        if outputs is None:
            present = (key for key in _OTEL_OUTPUTS if key in self.encoded_attributes)
            return self.attribute(next(present, SPAN_OUTPUTS))
        return outputs

    @property
    def duration_ms(self) -> float | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return max(0.0, (self.end_ns - self.start_ns) / 1e6)


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
