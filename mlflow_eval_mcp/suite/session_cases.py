"""Session-level cases: whole conversations recorded as one trace per turn, kept so that MLflow's
session-level scorers can judge them as one.

A session case keeps every trace of its session (they are scored together, grouped by their
`mlflow.trace.session` metadata) and, as its inputs, a test case in the form MLflow's
`ConversationSimulator` takes (`goal`, `simulation_guidelines`): the first thing the user asked and
what they went on to say, so a simulated user can hold the same conversation with a new agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.analysis.conversations import needs_whole_sessions
from mlflow_eval_mcp.analysis.models import SessionSample, TraceAnalysis
from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.dialogue import dialogue_of, session_dialogue
from mlflow_eval_mcp.redaction import Redactor
from mlflow_eval_mcp.suite.models import DatasetCase
from mlflow_eval_mcp.traces import load_traces

if TYPE_CHECKING:
    from mlflow.entities import Trace
    from mlflow.tracking import MlflowClient

MAX_SESSION_CASES = 20
GOAL_CHARS = 2_000
GUIDELINE_TURNS = 8
GUIDELINE_CHARS = 500


def session_budget(analysis: TraceAnalysis, max_cases: int) -> int:
    """How many of `max_cases` go to whole sessions: a tenth (at least two, so a session that passes
    can stand beside one that fails) when some finding shows only in whole sessions, so that the
    session-level scorers have sessions to judge; else none, as each of their traces can be a case."""
    samples = analysis.conversations.session_samples if analysis.conversations else []
    if max_cases < 4 or not any(needs_whole_sessions(finding) for finding in analysis.findings):
        return 0
    return min(len(samples), MAX_SESSION_CASES, max(2, max_cases // 10))


def session_cases(
    client: MlflowClient, analysis: TraceAnalysis, redactor: Redactor, *, budget: int, first_number: int = 1
) -> tuple[list[DatasetCase], list[Trace]]:
    """Up to `budget` session cases from the analysis' session samples, with all their traces.
    A session whose traces are no longer all in the store is left out: scored in part, it would
    show signals (an unanswered last word) it does not have."""
    samples = analysis.conversations.session_samples if analysis.conversations else []
    reasons_of = _finding_ids_by_trace(analysis)
    cases: list[DatasetCase] = []
    traces: list[Trace] = []
    for sample in samples:
        if len(cases) >= budget:
            break
        loaded = load_traces(client, sample.trace_ids)
        if len(loaded) != len(sample.trace_ids):
            continue
        number = first_number + len(cases)
        cases.append(_case(sample, loaded, redactor, number, reasons_of))
        traces.extend(loaded)
    return cases, traces


def _case(
    sample: SessionSample, traces: list[Trace], redactor: Redactor, number: int, reasons_of: dict[str, list[str]]
) -> DatasetCase:
    ordered = sorted(traces, key=lambda trace: trace.info.request_time)
    dialogue = session_dialogue(dialogue_of(Conversation.of_trace(trace), trace.info.trace_id) for trace in ordered)
    said = [turn.text for turn in dialogue.turns if turn.role == "user" and turn.text.strip()]
    inputs: dict[str, Any] = {"goal": redactor.value(said[0][:GOAL_CHARS] if said else "(no user message recorded)")}
    if len(said) > 1:
        inputs["simulation_guidelines"] = [
            f"Then say, as the recorded user did: {redactor.value(text[:GUIDELINE_CHARS])}"
            for text in said[1 : 1 + GUIDELINE_TURNS]
        ]
    trace_ids = [trace.info.trace_id for trace in ordered]
    reasons = list(dict.fromkeys(reason for trace_id in trace_ids for reason in reasons_of.get(trace_id, [])))
    return DatasetCase(
        case_id=f"session-{number:03d}",
        kind="session",
        inputs=inputs,
        outputs=redactor.value(dialogue.final_answer),
        tags={"source_trace_id": trace_ids[0], "case": "session"},
        source_trace_id=trace_ids[0],
        has_trace=True,
        reasons=reasons or ["clean:session"],
        session_id=redactor.value(sample.session_id),
        trace_ids=trace_ids,
    )


def _finding_ids_by_trace(analysis: TraceAnalysis) -> dict[str, list[str]]:
    reasons: dict[str, list[str]] = {}
    for finding in analysis.findings:
        for trace_id in finding.trace_ids:
            reasons.setdefault(trace_id, []).append(finding.id)
    return reasons
