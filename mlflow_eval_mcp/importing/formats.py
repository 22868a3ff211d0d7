"""The contract between the importer and one source format's parser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlflow_eval_mcp.importing.builder import TraceBuilder
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, stable_trace_id

_SYNTHETIC_STEP_NS = 60 * 1_000_000_000


@dataclass(frozen=True)
class ImportedTrace:
    """A converted trace and the id of the record it came from in the source tool."""

    source_id: str
    record: TraceRecord


@dataclass(frozen=True)
class TraceFormat:
    name: str
    description: str
    """One line for error messages: what such a file looks like."""
    detect: Callable[[Any], bool]
    """True if a record (a parsed JSON value) is in this format."""
    parse: Callable[[SourceRecord, ParseContext], Iterator[ImportedTrace | Skipped]]
    """One source record can hold several traces (a log of samples) or none."""
    whole_file: bool = False
    """When True, `parse` receives one record per file whose value is the list of all the file's
    record values: for formats where one trace can be spread over several records (OTLP exports
    written batch by batch)."""


class ParseContext:
    """What parsers need from the import: stable trace ids and a clock for synthetic times."""

    def __init__(self, experiment_id: str, format_name: str, synthetic_start_ns: int) -> None:
        self.experiment_id = experiment_id
        self.format_name = format_name
        self._next_synthetic_ns = synthetic_start_ns

    def trace_id(self, source_id: str) -> str:
        """Stable per experiment and source record, so importing a file twice adds nothing."""
        return stable_trace_id(f"{self.experiment_id}:{self.format_name}:{source_id}")

    def builder(self, source_id: str) -> TraceBuilder:
        # Each trace gets its own minute of synthetic time, so synthetic times stay monotonic
        # across the traces of one import as well as within one trace.
        start = self._next_synthetic_ns
        self._next_synthetic_ns += _SYNTHETIC_STEP_NS
        return TraceBuilder(self.trace_id(source_id), start)
