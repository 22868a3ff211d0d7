"""The evaluation dataset of this suite, loaded from the JSON files in `data/`.

Cases come from production traces (`recorded`: the trace is kept in `data/traces.jsonl`, so
trace-aware scorers run without access to the production store), from whole recorded conversations
(`session`: every trace of the session is kept, and scored one by one and, by the session-level
scorers, together) and from templates (`synthetic`: inputs only, for a `predict_fn`). Trace content
is data here: it is read with `json`, never imported or executed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
CASES_FILE = DATA_DIR / "cases.jsonl"
TRACES_FILE = DATA_DIR / "traces.jsonl"
RECORDED = "recorded"
"""Row tag `row_kind`: the production trace itself is scored (its results may go back onto it)."""
PREDICTED = "predict_fn"
"""Row tag `row_kind`: a new response from predict_fn is scored (it says nothing about production)."""
SESSION = "session"
"""Case kind: a whole conversation, its traces grouped for MLflow's session-level scorers."""
SESSION_KEY = "mlflow.trace.session"
DETACHED_EXPERIMENT = "mlflow-eval-mcp-source"
"""Stands in for the production experiment id in loaded traces, so that MLflow always copies them
into the evaluation experiment (it writes onto traces it believes are already there)."""


def load_cases() -> list[dict[str, Any]]:
    """Every case: case_id, kind, inputs, expectations, tags, source_trace_id, has_trace."""
    return _records(CASES_FILE)


def load_traces() -> dict[str, dict[str, Any]]:
    """Source traces by id, as `Trace.to_dict()` dictionaries."""
    if not TRACES_FILE.exists():
        return {}
    return {entry["trace_id"]: entry["trace"] for entry in _records(TRACES_FILE)}


def recorded_rows(cases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows that score the production traces as they were recorded (no predict_fn), each trace once.
    Every row has the tag `row_id` (its case id, or `<session case>:<turn>` for a session's other
    turns). A trace of a session case carries that case's id as its session (tag `session_case_id`
    too), so MLflow's session-level scorers see each session whole and no other trace as one."""
    cases = load_cases() if cases is None else cases
    traces = load_traces()
    session_of = {
        trace_id: case["case_id"] for case in cases if case.get("kind") == SESSION for trace_id in case["trace_ids"]
    }
    rows: list[dict[str, Any]] = []
    emitted: set[str] = set()
    for case in cases:
        is_session = case.get("kind") == SESSION
        trace_ids = (
            case["trace_ids"] if is_session else [case.get("source_trace_id") or ""] if case.get("has_trace") else []
        )
        for turn, trace_id in enumerate(trace_ids, start=1):
            if trace_id in emitted or trace_id not in traces:
                continue
            emitted.add(trace_id)
            tags = _tags(case, RECORDED)
            if is_session:
                tags.update(source_trace_id=trace_id, row_id=f"{case['case_id']}:{turn}")
            session = session_of.get(trace_id)
            if session is not None:
                tags["session_case_id"] = session
            rows.append(
                {
                    "trace": json.dumps(_detached(traces[trace_id], session)),
                    "expectations": {} if is_session else case["expectations"],
                    "tags": tags,
                }
            )
    return rows


def input_rows(cases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows for a predict_fn: the inputs of every case but the sessions (see `session_test_cases`),
    called as `predict_fn(**inputs)`."""
    return [
        {"inputs": case["inputs"], "expectations": case["expectations"], "tags": _tags(case, PREDICTED)}
        for case in (load_cases() if cases is None else cases)
        if case.get("kind") != SESSION
    ]


def session_test_cases(cases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The session cases as test cases for MLflow's ConversationSimulator (goal, simulation_guidelines)."""
    return [case["inputs"] for case in (load_cases() if cases is None else cases) if case.get("kind") == SESSION]


def _records(path: Path) -> list[dict[str, Any]]:
    # Split at "\n" only: str.splitlines() also breaks at U+2028 and friends inside JSON strings.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _tags(case: dict[str, Any], row_kind: str) -> dict[str, str]:
    return {**case.get("tags", {}), "case_id": case["case_id"], "row_id": case["case_id"], "row_kind": row_kind}


def _detached(trace: dict[str, Any], session: str | None) -> dict[str, Any]:
    """The trace as a copy to score: in no known experiment, and in the session `session` (a case id,
    never the recorded one, which redaction may have made equal across sessions) or in none."""
    info = dict(trace["info"])
    info["trace_location"] = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": DETACHED_EXPERIMENT}}
    metadata = {key: value for key, value in (info.get("trace_metadata") or {}).items() if key != SESSION_KEY}
    if session is not None:
        metadata[SESSION_KEY] = session
    info["trace_metadata"] = metadata
    return {**trace, "info": info}
