"""Corpora for the context recommendations: records in formats the project imports (chat transcripts,
Langfuse traces, Inspect AI logs) written to a real MLflow store and read back trace by trace the way
the analysis passes them to `ContextTally`, and the recorded autolog fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.context import ContextRecommendation, ContextReport, ContextTally
from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.dialogue import session_of
from mlflow_eval_mcp.checks.tags import SYNTHETIC_TIME_TAG
from mlflow_eval_mcp.importing.formats import TraceFormat
from tests.checks.fixture_reading import conversation_of, recorded_scenarios
from tests.importing.store_import import import_files
from tests.trace_factory import BASE_NS

PAGE = 100


@dataclass(frozen=True)
class Imported:
    report: ContextReport
    trace_ids: dict[str, str]
    """Source record id -> the id of the trace made from it."""


def imported_report(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory, trace_format: TraceFormat, records: list[Any]
) -> Imported:
    """The context report of `records`, imported as `trace_format` into a fresh store and read back."""
    source = tmp_path_factory.mktemp(f"{trace_format.name}-records") / "records.jsonl"
    source.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    store = import_files(template_db, tmp_path_factory, trace_format, [source], synthetic_start_ns=BASE_NS)
    assert not store.skipped, store.skipped
    ids = {trace.source_id: trace.record.trace_id for _, trace in store.parsed}
    return Imported(stored_report(store.uri, store.experiment_id), ids)


def stored_report(uri: str, experiment_id: str) -> ContextReport:
    client = MlflowClient(tracking_uri=uri)
    tally = ContextTally()
    token = None
    while True:
        page = client.search_traces(locations=[experiment_id], max_results=PAGE, page_token=token)
        for trace in page:
            info = trace.info
            tally.add(
                info.trace_id,
                Conversation.of_trace(trace),
                session=session_of(info.trace_metadata),
                request_ms=info.request_time,
                timed=(info.tags or {}).get(SYNTHETIC_TIME_TAG) != "true",
            )
        token = page.token
        if not token:
            return tally.report()


def fixture_conversations(*integrations: str) -> list[tuple[str, Conversation]]:
    """(trace id, conversation) of every scenario the autolog fixtures of `integrations` recorded."""
    return [
        (record["trace"]["info"]["trace_id"], conversation_of(record["trace"]))
        for integration in integrations
        for record in recorded_scenarios(integration)
    ]


def fixture_report(*integrations: str) -> ContextReport:
    tally = ContextTally()
    for trace_id, conversation in fixture_conversations(*integrations):
        tally.add(trace_id, conversation, session=None, request_ms=None, timed=True)
    return tally.report()


def recommendations(report: ContextReport, kind: str, **numbers: Any) -> list[ContextRecommendation]:
    """The report's recommendations of `kind` whose numbers include `numbers`."""
    return [
        found
        for found in report.recommendations
        if found.kind == kind and all(found.numbers.get(key) == value for key, value in numbers.items())
    ]


def words(topic: str, count: int) -> str:
    """`count` distinct words made of `topic` and a letter suffix ("giftab giftac ..."): text whose terms
    belong to it alone (no digits, which would turn up inside other numbers)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join(f"{topic}{letters[index // 26 % 26]}{letters[index % 26]}" for index in range(count))


def sized(word: str, chars: int) -> str:
    """Text of exactly `chars` characters: `word` repeated."""
    return (f"{word} " * (chars // (len(word) + 1) + 1))[:chars]
