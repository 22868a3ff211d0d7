"""Who&When (ICML 2025 failure-attribution benchmark): one failed multi-agent run per file.

Each run becomes a root AGENT span with one child span per history step, in order. The runs have
no timestamps, so the builder synthesizes monotonic ones and tags the trace as such. The human
failure labels are kept twice: as tags, and as HUMAN expectations that evaluation can use as
ground truth (e.g. filter on `expectation.mistake_agent`). The run failed as a task, but no agent
raised, so every span keeps status OK: the failure lives in the labels.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from typing import Any

from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord

ROOT_SPAN_NAME = "multi_agent_run"
MISTAKE_ATTRIBUTE = "who_and_when.mistake"
_LABEL_SOURCE = "who_and_when"
# Magentic-One roles carry what the orchestrator did: "Orchestrator (-> WebSurfer)".
_ROLE_DETAIL = re.compile(r"^(?P<agent>.+?)\s*\((?P<detail>[^()]*)\)$")
_HUMAN_ROLES = frozenset({"human", "user"})
# AutoGen's code executor answers a message without code blocks so: it ran nothing, so it is no tool call.
_NOTHING_RUN = re.compile(r"There is no code from the last \d+ messages? for me to execute", re.IGNORECASE)
# What ast.literal_eval raises on text that is not a literal (or is absurdly nested).
_NOT_A_LITERAL = (ValueError, SyntaxError, MemoryError, RecursionError)


class MalformedRun(ValueError):
    """A run that cannot become a trace; the message says why."""


def detect(value: Any) -> bool:
    return isinstance(value, dict) and {"history", "mistake_agent", "mistake_step"} <= value.keys()


def parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    try:
        yield _run_trace(record, context)
    except MalformedRun as error:
        yield Skipped(record.ref, str(error))


FORMAT = TraceFormat(
    name="who_and_when",
    description="a Who&When failure-attribution run: a JSON object with `question`, `history`, `mistake_agent`, "
    "`mistake_step`",
    detect=detect,
    parse=parse,
)


def _run_trace(record: SourceRecord, context: ParseContext) -> ImportedTrace:
    run = record.value
    steps = _history(run.get("history"))
    subset = record.file.parent.name
    # The question_ID repeats across subsets, a file name does not within one; a file holding
    # many runs (JSON lines) names each run by its line.
    name = record.file.stem if record.ref == record.file.name else record.ref
    source_id = f"{subset}/{name}"
    mistake_step = _as_int(run.get("mistake_step"))
    builder = context.builder(source_id)
    root_id = builder.add_span(
        ROOT_SPAN_NAME,
        "AGENT",
        inputs={"question": run.get("question")},
        outputs=steps[-1].get("content"),
        attributes=_root_attributes(run),
    )
    for index, step in enumerate(steps):
        agent = _agent_name(step)
        builder.add_span(
            agent,
            _step_type(agent, step.get("content")),
            parent_id=root_id,
            inputs=_step_inputs(index, step),
            outputs=step.get("content"),
            attributes={MISTAKE_ATTRIBUTE: True} if index == mistake_step else None,
        )
    trace = builder.build(tags=_tags(run, subset), assessments=_labels(run, mistake_step))
    return ImportedTrace(source_id, trace)


def _history(history: Any) -> list[dict[str, Any]]:
    if isinstance(history, str):
        history = _literal(history)
    if not isinstance(history, list):
        raise MalformedRun(f"`history` is a {type(history).__name__}, not a list of steps")
    if not history:
        raise MalformedRun("`history` has no steps")
    if not all(isinstance(step, dict) for step in history):
        raise MalformedRun("`history` holds steps that are not objects")
    return history


def _literal(text: str) -> Any:
    """Some exports keep `history` as the Python repr of the list; read it without running it."""
    try:
        return ast.literal_eval(text)
    except _NOT_A_LITERAL as error:
        raise MalformedRun(
            f"`history` is a string that is not a Python list literal ({type(error).__name__})"
        ) from None


def _agent_name(step: dict[str, Any]) -> str:
    """The agent who spoke: `name` (CaptainAgent runs) or `role` (Magentic-One runs), without
    the detail of what the orchestrator did."""
    speaker = str(step.get("name") or step.get("role") or "unknown")
    match = _ROLE_DETAIL.match(speaker)
    return match.group("agent") if match else speaker


def _step_type(agent: str, content: Any) -> str:
    if "terminal" in agent.lower():
        # It only runs the code blocks it is sent and returns their output; a turn that ran none is a step.
        return "CHAIN" if isinstance(content, str) and _NOTHING_RUN.match(content.strip()) else "TOOL"
    if agent.lower() in _HUMAN_ROLES:
        return "CHAIN"  # the task as the user gave it, not an agent's turn
    return "AGENT"


def _step_inputs(index: int, step: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {"step": index}
    if step.get("role") is not None:
        inputs["role"] = step["role"]
    return inputs


def _root_attributes(run: dict[str, Any]) -> dict[str, Any] | None:
    prompts = run.get("system_prompt")
    if not prompts:
        return None
    if isinstance(prompts, str):
        # CaptainAgent runs keep the prompts as the Python repr of a dict; else keep the text.
        with contextlib.suppress(*_NOT_A_LITERAL):
            prompts = ast.literal_eval(prompts)
    return {"who_and_when.system_prompts": prompts}


def _as_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _tags(run: dict[str, Any], subset: str) -> dict[str, str]:
    tags = {
        "who_and_when.subset": subset,
        "who_and_when.question_id": run.get("question_ID"),
        "who_and_when.mistake_agent": run.get("mistake_agent"),
        "who_and_when.mistake_step": run.get("mistake_step"),
        "who_and_when.level": run.get("level"),
        # One Algorithm-Generated run names its failure type `labels`; four Hand-Crafted ones `mistake_type`.
        "who_and_when.mistake_type": run.get("mistake_type") or run.get("labels"),
    }
    return {key: str(value) for key, value in tags.items() if value not in (None, "")}


def _labels(run: dict[str, Any], mistake_step: int | None) -> list[AssessmentRecord]:
    labels = {
        "mistake_agent": run.get("mistake_agent"),
        "mistake_step": mistake_step if mistake_step is not None else run.get("mistake_step"),
        "mistake_reason": run.get("mistake_reason"),
        "expected_response": run.get("ground_truth"),
    }
    return [
        AssessmentRecord(name, value, source_id=_LABEL_SOURCE)
        for name, value in labels.items()
        if value not in (None, "")
    ]
