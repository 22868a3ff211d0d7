"""The evaluation dataset of this suite, loaded from the JSON files in `data/`.

Cases come from production traces (`recorded`: the trace is kept in `data/traces.jsonl`, so
trace-aware scorers run without access to the production store) and from templates
(`synthetic`: inputs only, for a `predict_fn`). Trace content is data here: it is read with
`json`, never imported or executed.
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
    """Rows that score the production traces as they were recorded (no predict_fn)."""
    traces = load_traces()
    rows = []
    for case in load_cases() if cases is None else cases:
        trace = traces.get(case.get("source_trace_id") or "") if case.get("has_trace") else None
        if trace is not None:
            rows.append(
                {
                    "trace": json.dumps(_detached(trace)),
                    "expectations": case["expectations"],
                    "tags": _tags(case, RECORDED),
                }
            )
    return rows


def input_rows(cases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows for a predict_fn: the inputs of every case, called as `predict_fn(**inputs)`."""
    return [
        {"inputs": case["inputs"], "expectations": case["expectations"], "tags": _tags(case, PREDICTED)}
        for case in (load_cases() if cases is None else cases)
    ]


def _records(path: Path) -> list[dict[str, Any]]:
    # Split at "\n" only: str.splitlines() also breaks at U+2028 and friends inside JSON strings.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _tags(case: dict[str, Any], row_kind: str) -> dict[str, str]:
    return {**case.get("tags", {}), "case_id": case["case_id"], "row_kind": row_kind}


def _detached(trace: dict[str, Any]) -> dict[str, Any]:
    info = dict(trace["info"])
    info["trace_location"] = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": DETACHED_EXPERIMENT}}
    return {**trace, "info": info}
