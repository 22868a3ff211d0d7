"""`import_traces`: files from other tools in, MLflow traces out, nothing lost or duplicated."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_eval_mcp.errors import InvalidArgumentError, clip
from mlflow_eval_mcp.importing.builder import CONTENT_TAG
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.registry import FORMATS, format_named
from mlflow_eval_mcp.importing.sources import (
    DEFAULT_MAX_RECORD_BYTES,
    NESTED_TOO_DEEPLY,
    Skipped,
    SourceRecord,
    describe,
    read_records,
    source_files,
)
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, stored_traces, write_traces
from mlflow_eval_mcp.models import LISTED_SKIPS, FileImport, ImportResult, SkippedRecord
from mlflow_eval_mcp.tracking import get_or_create_experiment, redact_uri
from mlflow_eval_mcp.ui_links import traces_url

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

SOURCE_FORMAT_TAG = "mlflow_eval_mcp.import.format"
SOURCE_ID_TAG = "mlflow_eval_mcp.import.source_id"
SOURCE_FILE_TAG = "mlflow_eval_mcp.import.file"
_DETECTION_SAMPLE = 3
_TAG_LIMIT = 250
_DUPLICATE = "duplicate id, different content"


def import_traces(
    client: MlflowClient,
    path: str | Path,
    *,
    experiment_name: str,
    artifacts_dir: Path,
    format_name: str = "auto",
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import every record of `path` (a file or a directory) into experiment `experiment_name`."""
    if not experiment_name.strip():
        raise InvalidArgumentError("experiment_name is empty; name the experiment to import into.")
    files = source_files(Path(path))
    forced = None if format_name == "auto" else format_named(format_name)
    started = time.perf_counter()
    plans = [_plan(file, forced, max_record_bytes) for file in files]
    if all(plan.format is None for plan in plans):
        raise InvalidArgumentError(_no_format_message(plans))
    experiment_id = get_or_create_experiment(client, experiment_name.strip(), artifacts_dir)
    skips: list[Skipped] = []
    stored, partial = stored_traces(client, experiment_id, CONTENT_TAG)
    records = _converted(plans, experiment_id, skips, _IdClaims(stored))
    report = write_traces(
        client.tracking_uri, experiment_id, records, on_progress=on_progress, stored=(set(stored), partial)
    )
    seconds = time.perf_counter() - started
    return ImportResult(
        tracking_uri=redact_uri(client.tracking_uri),
        experiment_id=experiment_id,
        experiment_name=experiment_name.strip(),
        files=[FileImport(file=str(plan.file), format=plan.format.name if plan.format else None) for plan in plans],
        ui_url=traces_url(client.tracking_uri, experiment_id),
        imported=report.written,
        already_present=report.skipped_existing,
        skipped=len(skips),
        skipped_examples=[SkippedRecord(ref=skip.ref, reason=skip.reason) for skip in skips[:LISTED_SKIPS]],
        skipped_by_reason=dict(Counter(_reason_kind(skip.reason) for skip in skips)),
        failed=report.failed,
        lost=len(report.lost),
        seconds=round(seconds, 3),
        traces_per_second=round(report.written / seconds, 1) if report.written and seconds else 0.0,
    )


@dataclasses.dataclass
class _FilePlan:
    file: Path
    format: TraceFormat | None
    records: Iterator[SourceRecord | Skipped]
    sample: list[SourceRecord]
    first_skip: Skipped | None


def _plan(file: Path, forced: TraceFormat | None, max_record_bytes: int) -> _FilePlan:
    records = read_records(file, max_record_bytes)
    head = list(itertools.islice(records, _DETECTION_SAMPLE + 20))
    sample = [record for record in head if isinstance(record, SourceRecord)][:_DETECTION_SAMPLE]
    chosen = forced or _detect(sample)
    first_skip = next((record for record in head if isinstance(record, Skipped)), None)
    return _FilePlan(file, chosen, itertools.chain(head, records), sample, first_skip)


def _detect(sample: list[SourceRecord]) -> TraceFormat | None:
    """The format most of the sampled records are in (registry order breaks ties), so that one
    malformed early record does not hide the format of the rest: it is skipped with its reason."""
    scores = [(sum(_safe_detect(f, record) for record in sample), -index, f) for index, f in enumerate(FORMATS)]
    best_score, _, best = max(scores, key=lambda score: score[:2])
    return best if best_score else None


def _safe_detect(trace_format: TraceFormat, record: SourceRecord) -> bool:
    try:
        return trace_format.detect(record.value)
    except Exception:  # a detector must never abort an import; treat as "not this format"
        logger.debug("detector %s failed on %s", trace_format.name, record.ref, exc_info=True)
        return False


class _IdClaims:
    """Which content each trace id stands for, in the store and so far in this import, so that
    two different records with one id are never merged into one trace."""

    def __init__(self, stored: dict[str, str | None]) -> None:
        self._stored = stored
        self._claimed: dict[str, str] = {}

    def conflict(self, item: ImportedTrace) -> str | None:
        """Why `item` cannot be written, or None: a new id, or the same content again (which the
        writer counts as already present)."""
        trace_id, content = item.record.trace_id, item.record.tags[CONTENT_TAG]
        if self._stored.get(trace_id) not in (None, content):
            return (
                f"{_DUPLICATE}: the experiment already holds a different trace with id {item.source_id}; "
                "delete that trace or import into another experiment to keep both"
            )
        if self._claimed.setdefault(trace_id, content) != content:
            return f"{_DUPLICATE}: an earlier record of this import has id {item.source_id} and was kept"
        return None


def _converted(
    plans: list[_FilePlan], experiment_id: str, skips: list[Skipped], claims: _IdClaims
) -> Iterator[TraceRecord]:
    synthetic_start_ns = time.time_ns()
    for plan in plans:
        if plan.format is None:
            skips.extend(_unrecognised(plan))
            continue
        context = ParseContext(experiment_id, plan.format.name, synthetic_start_ns)
        for record in _whole_file(plan, skips) if plan.format.whole_file else plan.records:
            if isinstance(record, Skipped):
                skips.append(record)
                continue
            for item in _parse(plan.format, record, context):
                if isinstance(item, Skipped):
                    skips.append(item)
                elif conflict := claims.conflict(item):
                    skips.append(Skipped(record.ref, conflict))
                else:
                    yield _with_source_tags(item, plan)


def _unrecognised(plan: _FilePlan) -> list[Skipped]:
    """A file in no known format: its unreadable records with their own reasons (a file whose
    only record nests too deeply says so), and one skip for the readable rest."""
    skips: list[Skipped] = []
    readable = False
    for record in plan.records:
        if isinstance(record, Skipped):
            skips.append(record)
        else:
            readable = True
    if readable or not skips:
        skips.append(Skipped(plan.file.name, "no supported format recognised: " + describe(plan.file, plan.sample)))
    return skips


def _whole_file(plan: _FilePlan, skips: list[Skipped]) -> list[SourceRecord]:
    values = []
    for record in plan.records:
        if isinstance(record, Skipped):
            skips.append(record)
        else:
            values.append(record.value)
    return [SourceRecord(plan.file.name, values, plan.file)] if values else []


def _parse(trace_format: TraceFormat, record: SourceRecord, context: ParseContext) -> list[ImportedTrace | Skipped]:
    # Materialised per record so that a converter failing halfway skips the whole record:
    # never a partial conversion.
    try:
        return list(trace_format.parse(record, context))
    except RecursionError:
        # JSON text inside the record (tool arguments, encoded inputs) can nest past what was checked.
        return [Skipped(record.ref, NESTED_TOO_DEEPLY)]
    except Exception as error:
        logger.debug("converting %s failed", record.ref, exc_info=True)
        return [Skipped(record.ref, f"could not be converted as {trace_format.name}: {type(error).__name__}: {error}")]


def _with_source_tags(item: ImportedTrace, plan: _FilePlan) -> TraceRecord:
    assert plan.format is not None
    tags = {
        **item.record.tags,
        SOURCE_FORMAT_TAG: plan.format.name,
        SOURCE_ID_TAG: item.source_id[:_TAG_LIMIT],
        SOURCE_FILE_TAG: plan.file.name[:_TAG_LIMIT],
    }
    return dataclasses.replace(item.record, tags=tags)


def _no_format_message(plans: list[_FilePlan]) -> str:
    # The formats by name only: their descriptions are in the format argument's documentation.
    looked_like = "; ".join(clip(_looked_like(plan)) for plan in plans[:3])
    return (
        f"No supported format recognised ({looked_like}); supported: {', '.join(f.name for f in FORMATS)}. "
        "If the file is one of these, pass format explicitly to see why its records are skipped."
    )


def _looked_like(plan: _FilePlan) -> str:
    if not plan.sample and plan.first_skip is not None:
        return f"{plan.first_skip.ref}: {plan.first_skip.reason}"  # why nothing in it could be read
    return describe(plan.file, plan.sample)


def _reason_kind(reason: str) -> str:
    return " ".join(reason.split("(")[0].split(":")[0].split()[:4])
