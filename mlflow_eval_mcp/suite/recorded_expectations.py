"""Expectations a good recording sets for any agent given the same request, derived without a model.

From a recorded case whose trace no finding names (and no human marked bad): the tools it called with
their key arguments (`expected_tool_calls`, MLflow's key for ToolCallCorrectness), the facts of its
answer that came from its tools or its request (`expected_facts`, which Correctness judges read), and
the answer itself (`expected_response`). The suite's code scorers check a candidate against them
offline; a judge can use the same expectations when an LLM is available.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.facts import answer_text, run_sources, sourced_facts
from mlflow_eval_mcp.checks.trajectory import expected_tool_calls

if TYPE_CHECKING:
    from mlflow.entities import Trace

_BAD_VERDICTS = frozenset({"false", "no", "bad", "fail", "failed", "incorrect", "wrong", "0", "0.0"})
_GOOD_VERDICTS = frozenset({"true", "yes", "good", "pass", "passed", "correct", "right", "1", "1.0"})
# Labels that name a fault: True on them is the bad verdict (`hallucination: True`).
_FAULT_LABEL = re.compile(r"hallucinat|error|toxic|harm|unsafe|pii|leak|refus|wrong|incorrect|fail|bad", re.IGNORECASE)


def derived_expectations(trace: Trace, human: dict[str, Any] | None) -> dict[str, Any]:
    """What the recording shows a good answer does; empty when it has no answer or a human marked
    it bad (a recording people judged wrong is no truth to hold a candidate to)."""
    if human and any(_is_bad(name, value) for name, value in human.items()):
        return {}
    conversation = Conversation.of_trace(trace)
    answer = answer_text(conversation)
    if not answer.strip():
        return {}
    derived: dict[str, Any] = {"expected_response": answer}
    if calls := expected_tool_calls(conversation):
        derived["expected_tool_calls"] = calls
    if facts := sourced_facts(answer, run_sources(conversation)):
        derived["expected_facts"] = facts
    return derived


def _is_bad(label: str, value: Any) -> bool:
    """Whether a human's label says the recording is wrong: a negative verdict, or a positive one on
    a label naming a fault."""
    verdict = str(value).strip().lower() if isinstance(value, str | int | float | bool) else ""
    bad, good = (_GOOD_VERDICTS, _BAD_VERDICTS) if _FAULT_LABEL.search(label) else (_BAD_VERDICTS, _GOOD_VERDICTS)
    return verdict in bad and verdict not in good
