"""The supported import formats, in detection order: most specific first, chat (the most
generic shape) last."""

from __future__ import annotations

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.importing import chat_transcript, inspect_ai, langfuse, mlflow_export, otlp, who_and_when
from mlflow_eval_mcp.importing.formats import TraceFormat

FORMATS: tuple[TraceFormat, ...] = (
    mlflow_export.FORMAT,
    langfuse.FORMAT,
    otlp.FORMAT,
    inspect_ai.FORMAT,
    who_and_when.FORMAT,
    chat_transcript.FORMAT,
)
FORMAT_NAMES = tuple(trace_format.name for trace_format in FORMATS)


def format_named(name: str) -> TraceFormat:
    for trace_format in FORMATS:
        if trace_format.name == name:
            return trace_format
    raise InvalidArgumentError(f"Unknown format {name!r}; use 'auto' or one of: {', '.join(FORMAT_NAMES)}.")
