"""Importing test data into a private copy of the migrated store, for tests that read the traces back."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records
from mlflow_eval_mcp.importing.trace_writer import WriteReport, write_traces


@dataclass(frozen=True)
class StoreImport:
    uri: str
    experiment_id: str
    parsed: list[tuple[SourceRecord, ImportedTrace]]
    """Each trace the format made, with the source record it made it from."""
    skipped: list[Skipped]
    """Records that could not be read, and those the format refused."""
    report: WriteReport


def fresh_store(template_db: Path, tmp_path_factory: pytest.TempPathFactory, experiment: str) -> tuple[str, str]:
    """A private copy of the migrated store holding one new, empty experiment: (tracking URI, experiment id)."""
    path = tmp_path_factory.mktemp(f"{experiment}-store") / "mlflow.db"
    shutil.copy(template_db, path)
    uri = f"sqlite:///{path}"
    return uri, MlflowClient(tracking_uri=uri).create_experiment(experiment)


def import_files(
    template_db: Path,
    tmp_path_factory: pytest.TempPathFactory,
    trace_format: TraceFormat,
    files: Iterable[Path],
    *,
    synthetic_start_ns: int,
) -> StoreImport:
    """`files` parsed as `trace_format` and written into a fresh store, in an experiment named after the format."""
    uri, experiment_id = fresh_store(template_db, tmp_path_factory, trace_format.name)
    context = ParseContext(experiment_id, trace_format.name, synthetic_start_ns=synthetic_start_ns)
    parsed: list[tuple[SourceRecord, ImportedTrace]] = []
    skipped: list[Skipped] = []
    for file in files:
        for source in read_records(file):
            if isinstance(source, Skipped):
                skipped.append(source)
                continue
            for item in trace_format.parse(source, context):
                if isinstance(item, Skipped):
                    skipped.append(item)
                else:
                    parsed.append((source, item))
    report = write_traces(uri, experiment_id, [trace.record for _, trace in parsed])
    return StoreImport(uri, experiment_id, parsed, skipped, report)
