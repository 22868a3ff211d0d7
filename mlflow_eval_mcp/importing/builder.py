"""Building a `TraceRecord` from another tool's spans, events or messages.

Format parsers add spans in the source's order, with times when the source has them. When any
span lacks a time, the whole trace gets synthetic, monotonic times (1 ms steps, parents spanning
their children) and is tagged as such, so nobody mistakes them for measured latency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mlflow_eval_mcp.checks.tags import SYNTHETIC_TIME_TAG
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord, SpanRecord, TraceRecord, span_id_for

CONTENT_TAG = "mlflow_eval_mcp.import.content_id"
"""Trace tag: a hash of everything the trace holds but synthetic times, so that a record reusing
another's id can be told apart from the same record imported again."""
SYNTHETIC_ROOT = "mlflow_eval_mcp.synthetic_root"
"""Span attribute on a root span the importer added to hold a source's several top-level spans."""
_MS = 1_000_000
_FRACTION = re.compile(r"\.(\d+)")


class TraceBuilder:
    """Collects spans for one trace; `build()` checks the tree and fills in missing times."""

    def __init__(self, trace_id: str, synthetic_start_ns: int) -> None:
        self.trace_id = trace_id
        self.synthetic_start_ns = synthetic_start_ns
        self._spans: dict[str, SpanRecord] = {}
        """The spans in the order added; `build` sets their times from `_times`."""
        self._times: dict[str, tuple[int | None, int | None]] = {}
        """Span id -> (start, end) as the source gave them, None where it did not."""
        self._children: dict[str, list[str]] = defaultdict(list)

    def add_span(
        self,
        name: str,
        span_type: str,
        *,
        parent_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        inputs: Any = None,
        outputs: Any = None,
        attributes: dict[str, Any] | None = None,
        error: str | None = None,
        exception_type: str | None = None,
        events: tuple[dict[str, Any], ...] = (),
    ) -> str:
        """Add a span and return its id. The first span added without a parent is the root;
        later parentless spans are attached to the root."""
        span_id = span_id_for(len(self._spans))
        if parent_id is None and self._spans:
            parent_id = next(iter(self._spans))
        if parent_id is not None and parent_id not in self._spans:
            raise ValueError(f"span {name!r} names an unknown parent {parent_id}")
        self._spans[span_id] = SpanRecord(
            span_id,
            parent_id,
            name or "unnamed",
            span_type,
            start_ns=0,
            end_ns=0,
            inputs=inputs,
            outputs=outputs,
            attributes=dict(attributes or {}),
            error=error,
            exception_type=exception_type,
            events=events,
        )
        ended = end_ns is not None and start_ns is not None and end_ns >= start_ns
        self._times[span_id] = (start_ns, end_ns if ended else None)
        if parent_id is not None:
            self._children[parent_id].append(span_id)
        return span_id

    def set_outputs(self, span_id: str, outputs: Any) -> None:
        self._spans[span_id] = replace(self._spans[span_id], outputs=outputs)

    def set_error(self, span_id: str, error: str, exception_type: str | None = None) -> None:
        self._spans[span_id] = replace(self._spans[span_id], error=error, exception_type=exception_type)

    @property
    def root_id(self) -> str | None:
        return next(iter(self._spans), None)

    def build(
        self,
        *,
        tags: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
        client_request_id: str | None = None,
        assessments: list[AssessmentRecord] | None = None,
    ) -> TraceRecord:
        if not self._spans:
            raise ValueError("a trace needs at least one span")
        tags = dict(tags or {})
        synthetic = any(start is None for start, _ in self._times.values())
        if synthetic:
            tags[SYNTHETIC_TIME_TAG] = "true"
        times = self._synthetic_times() if synthetic else self._closed_times()
        record = TraceRecord(
            trace_id=self.trace_id,
            spans=[
                replace(span, start_ns=times[span_id][0], end_ns=times[span_id][1])
                for span_id, span in self._spans.items()
            ],
            tags=tags,
            metadata=dict(metadata or {}),
            client_request_id=client_request_id,
            assessments=list(assessments or []),
        )
        return replace(record, tags={**tags, CONTENT_TAG: _content_fingerprint(record, synthetic)})

    def _synthetic_times(self) -> dict[str, tuple[int, int]]:
        times: dict[str, tuple[int, int]] = {}
        clock = self.synthetic_start_ns

        def visit(span_id: str) -> None:
            nonlocal clock
            start = clock
            clock += _MS
            for child_id in self._children.get(span_id, ()):
                visit(child_id)
            times[span_id] = (start, clock)
            clock += _MS

        visit(next(iter(self._spans)))
        return times

    def _closed_times(self) -> dict[str, tuple[int, int]]:
        # A span without an end (still running when exported) ends with its last child, or at once.
        times: dict[str, tuple[int, int]] = {}
        for span_id in reversed(self._times):
            start, end = self._times[span_id]
            latest = max([start or 0, *(times[child_id][1] for child_id in self._children.get(span_id, ()))])
            times[span_id] = (start or 0, latest if end is None or end < latest else end)
        return times


def _content_fingerprint(record: TraceRecord, synthetic_times: bool) -> str:
    # Synthetic times depend on when and where in an import a record came, not on the record.
    untimed = {"start_ns", "end_ns"} if synthetic_times else set()
    return content_id(
        {
            "spans": [{key: value for key, value in vars(span).items() if key not in untimed} for span in record.spans],
            "tags": record.tags,
            "metadata": record.metadata,
            "client_request_id": record.client_request_id,
            "assessments": [vars(assessment) for assessment in record.assessments],
        }
    )


def parse_time_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from an ISO 8601 string or an epoch number in s, ms, us or ns."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        magnitude = abs(value)
        scale = 10**9 if magnitude < 1e11 else 10**6 if magnitude < 1e14 else 10**3 if magnitude < 1e17 else 1
        return value * scale if isinstance(value, int) else round(value * scale)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return parse_time_ns(int(text))
        return _parse_iso_ns(text)
    return None


def _parse_iso_ns(text: str) -> int | None:
    fraction = _FRACTION.search(text)
    nanos = int((fraction.group(1) + "000000000")[:9]) if fraction else 0
    base = _FRACTION.sub("", text, count=1).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(base)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def token_usage(input_tokens: Any, output_tokens: Any, total_tokens: Any = None) -> dict[str, int] | None:
    """The `mlflow.chat.tokenUsage` attribute value, or None when the source has no counts."""
    counts = {
        "input_tokens": _count(input_tokens),
        "output_tokens": _count(output_tokens),
        "total_tokens": _count(total_tokens),
    }
    if counts["input_tokens"] is None and counts["output_tokens"] is None and counts["total_tokens"] is None:
        return None
    if counts["total_tokens"] is None:
        counts["total_tokens"] = (counts["input_tokens"] or 0) + (counts["output_tokens"] or 0)
    return {key: value or 0 for key, value in counts.items()}


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def decode_json_text(value: Any) -> Any:
    """A value stored as JSON text, decoded (repeatedly: Langfuse double-encodes some trace inputs);
    other text is kept. Bare JSON scalars stay text: a tool that answered "42" or "null" answered in
    words, and turning that into a number or None would change what it said."""
    while isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if not isinstance(decoded, str | dict | list):
            return value
        value = decoded
    return value


def content_id(value: Any) -> str:
    """An id for a source record that has none: its content, so re-imports stay idempotent."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def decode_id_hex(value: Any, size: int) -> str | None:
    """A `size`-byte trace or span id as lowercase hex, from hex (optionally "0x"-prefixed: OTLP/JSON,
    MLflow V2) or base64 of the bytes (protobuf JSON, MLflow V3); None if it is neither."""
    if not isinstance(value, str) or not value:
        return None
    hex_text = value.removeprefix("0x")
    if len(hex_text) == 2 * size:
        try:
            bytes.fromhex(hex_text)
            return hex_text.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size else None
