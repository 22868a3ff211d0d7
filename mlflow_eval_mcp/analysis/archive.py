"""Every analysis kept whole on disk, so that what a client is shown can stay summary-sized while
any list in it (a finding's traces, a cluster's members) can still be read in full, page by page.

Analyses live in WORKSPACE/analyses/<analysis_id>.json, written atomically; the newest `KEPT` are
kept. An id is the time it was made plus random hex, so ids sort by age and cannot name a path.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from mlflow_eval_mcp.analysis.models import Finding, TraceAnalysis
from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.limits import FINDING_PAGE_SIZE
from mlflow_eval_mcp.page_tokens import decode_page_token, encode_page_token, query_fingerprint

KEPT = 50
_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}")


class FindingTrace(BaseModel):
    trace_id: str
    evidence: str | None = Field(description="What shows the problem in this trace, where it was recorded.")


class FindingPage(BaseModel):
    """One page of a finding's traces (`get_finding`)."""

    analysis_id: str
    finding_id: str
    kind: str
    title: str
    severity: str
    count: int = Field(description="Every trace the finding names; the pages together list each once.")
    suggested_scorer: str
    traces: list[FindingTrace]
    next_page_token: str | None = Field(description="Pass it back for the next page; null on the last one.")


def archive_analysis(directory: Path, analysis: TraceAnalysis) -> str:
    """Write `analysis` under a new id (set on it) and drop the oldest beyond `KEPT`."""
    analysis.analysis_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    write_json_atomic(directory / f"{analysis.analysis_id}.json", analysis.model_dump(mode="json"))
    for stale in sorted(directory.glob("*.json"), reverse=True)[KEPT:]:
        stale.unlink(missing_ok=True)
    return analysis.analysis_id


def load_analysis(directory: Path, analysis_id: str) -> TraceAnalysis:
    if not _ID.fullmatch(analysis_id):
        raise InvalidArgumentError(
            f"analysis_id {analysis_id[:40]!r} is not one analyze_traces returned (like 20261202T171500-1a2b3c4d); "
            "pass the analysis_id of its result unchanged."
        )
    path = directory / f"{analysis_id}.json"
    try:
        return TraceAnalysis.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise NotFoundError(
            f"No analysis {analysis_id} in {directory} (only the newest {KEPT} are kept); run analyze_traces again."
        ) from None
    except (ValueError, ValidationError) as error:
        raise NotFoundError(f"Analysis {analysis_id} could not be read; run analyze_traces again.") from error


def finding_page(
    analysis: TraceAnalysis, finding_id: str, *, page_token: str | None = None, page_size: int = FINDING_PAGE_SIZE
) -> FindingPage:
    """The traces of one finding from `page_token` on, `page_size` at a time, in the finding's order."""
    finding = _finding(analysis, finding_id)
    fingerprint = query_fingerprint(analysis.analysis_id, finding_id, page_size)
    start = _offset(decode_page_token(page_token, fingerprint), len(finding.trace_ids))
    end = start + page_size
    return FindingPage(
        analysis_id=str(analysis.analysis_id),
        finding_id=finding.id,
        kind=finding.kind,
        title=finding.title,
        severity=finding.severity,
        count=finding.count,
        suggested_scorer=finding.suggested_scorer,
        traces=[
            FindingTrace(trace_id=trace_id, evidence=finding.trace_evidence.get(trace_id))
            for trace_id in finding.trace_ids[start:end]
        ],
        next_page_token=encode_page_token(str(end), fingerprint) if end < len(finding.trace_ids) else None,
    )


def _finding(analysis: TraceAnalysis, finding_id: str) -> Finding:
    found = next((finding for finding in analysis.findings if finding.id == finding_id), None)
    if found is None:
        known = ", ".join(finding.id for finding in analysis.findings[:20]) or "none"
        raise NotFoundError(
            f"Analysis {analysis.analysis_id} has no finding {finding_id[:80]!r}; its findings: {known}."
        )
    return found


def _offset(raw: bytes | str | None, total: int) -> int:
    # The token's checksum was verified, so its text is one this function wrote.
    offset = int(raw) if isinstance(raw, str) else 0
    return min(max(offset, 0), total)
