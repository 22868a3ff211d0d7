"""generate_dataset + Claude: synthetic cases grounded in requests production users really sent.

A proposed case is kept only if it cites recorded cases it was shown, has the same input keys
as the first of them (so `predict_fn(**inputs)` still fits), and is not already in the dataset.
Expected facts are kept only when the cited traces establish them (their words, and every
number, appear in those traces); otherwise a case keeps just its guidelines.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlflow_eval_mcp.analysis.clusters import STOP_WORDS
from mlflow_eval_mcp.claude.prompts import system_prompt
from mlflow_eval_mcp.claude.untrusted import cut, fenced
from mlflow_eval_mcp.suite.models import DatasetCase

if TYPE_CHECKING:
    from mlflow_eval_mcp.analysis.models import TraceAnalysis
    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.redaction import Redactor

EXAMPLE_CASES = 12
FACT_SUPPORT = 0.7
_TERM = re.compile(r"[a-z0-9]+")


class ProposedExpectations(BaseModel):
    guidelines: list[str] = Field(
        default_factory=list, max_length=4, description="What a good response to this case does."
    )
    expected_facts: list[str] = Field(
        default_factory=list,
        max_length=6,
        description="Facts a correct response states; only ones the cited traces' tool results or responses "
        "establish. Leave empty when unsure.",
    )


class ProposedCase(BaseModel):
    scenario: str = Field(max_length=60, description="snake_case name of what the case tests.")
    inputs: dict[str, Any] = Field(description="Same keys as the inputs of the cited case (predict_fn(**inputs)).")
    grounded_in: list[str] = Field(min_length=1, description="case_ids of the example cases it is based on.")
    rationale: str = Field(max_length=400)
    expectations: ProposedExpectations = Field(default_factory=ProposedExpectations)


class DatasetProposals(BaseModel):
    cases: list[ProposedCase] = Field(default_factory=list, max_length=20)


def claude_cases(
    analysis: TraceAnalysis,
    recorded: list[DatasetCase],
    evidence: dict[str, str],
    *,
    count: int,
    redactor: Redactor,
    claude: ClaudeSession,
) -> tuple[list[DatasetCase], list[str]]:
    """Up to `count` grounded synthetic cases, and the proposals dropped with why. `evidence` is
    the recorded (redacted) trace text per case_id, for checking expected facts."""
    examples = recorded[:EXAMPLE_CASES]
    proposals = claude.structured(
        task="dataset_cases",
        system=system_prompt("dataset"),
        prompt=_prompt(analysis, examples, count),
        output=DatasetProposals,
    )
    by_id = {case.case_id: case for case in examples}
    seen = [case.inputs for case in recorded]
    cases: list[DatasetCase] = []
    dropped: list[str] = []
    for proposal in proposals.cases:
        grounding = [by_id[case_id] for case_id in proposal.grounded_in if case_id in by_id]
        label = proposal.scenario or "case"
        if len(cases) == count:
            dropped.append(f"{label}: more cases than asked for ({count})")
        elif not grounding:
            dropped.append(f"{label}: cites no example case it was shown")
        elif set(proposal.inputs) != set(grounding[0].inputs):
            dropped.append(
                f"{label}: input keys {sorted(proposal.inputs)} differ from {grounding[0].case_id}'s "
                f"{sorted(grounding[0].inputs)}, so predict_fn(**inputs) would not fit"
            )
        elif redactor.value(proposal.inputs) in seen:
            dropped.append(f"{label}: the same inputs are already a case")
        else:
            inputs = redactor.value(proposal.inputs)
            seen.append(inputs)
            text = " ".join(evidence.get(case.case_id, "") for case in grounding)
            facts = [fact for fact in proposal.expectations.expected_facts if _supported(fact, text)]
            unsupported = len(proposal.expectations.expected_facts) - len(facts)
            if unsupported:
                dropped.append(f"{label}: {unsupported} expected fact(s) the cited traces do not establish")
            expectations: dict[str, Any] = {}
            if proposal.expectations.guidelines:
                expectations["guidelines"] = proposal.expectations.guidelines
            if facts:
                expectations["expected_facts"] = facts
            source = grounding[0].source_trace_id
            cases.append(
                DatasetCase(
                    case_id=f"claude-{len(cases) + 1:03d}",
                    kind="synthetic",
                    inputs=inputs,
                    expectations=redactor.value(expectations),
                    tags={"source_trace_id": source or "", "case": f"synthetic:claude:{label}"[:250]},
                    source_trace_id=source,
                    has_trace=False,
                    reasons=[f"claude:{label}", *(f"grounded:{case.case_id}" for case in grounding)],
                )
            )
    claude.note(f"dataset: {len(cases)} grounded cases added, {len(dropped)} proposals dropped or trimmed.")
    return cases, dropped


def _terms(text: str) -> list[str]:
    return [
        term for term in _TERM.findall(text.lower()) if term not in STOP_WORDS and (len(term) > 2 or term.isdigit())
    ]


def _supported(fact: str, evidence: str) -> bool:
    terms = set(_terms(fact))
    present = set(_terms(evidence))
    if not terms or any(term.isdigit() and term not in present for term in terms):
        return False
    return len(terms & present) / len(terms) >= FACT_SUPPORT


def evidence_text(trace_dict: dict[str, Any]) -> str:
    """A recorded trace's text (responses, tool results) for checking expected facts."""
    return json.dumps(trace_dict.get("data", {}).get("spans", []), ensure_ascii=False, default=str)


def _prompt(analysis: TraceAnalysis, examples: list[DatasetCase], count: int) -> str:
    shown = [
        {"case_id": case.case_id, "inputs": case.inputs, "recorded_response": cut(case.outputs), "why": case.reasons}
        for case in examples
    ]
    context = {
        "agent": analysis.agent.model_dump() if analysis.agent else None,
        "findings": [{"id": f.id, "title": f.title} for f in analysis.findings],
        "request_clusters": [{"name": c.name, "top_terms": c.top_terms} for c in analysis.input_clusters],
    }
    return (
        f"What is known about the agent and its failures:\n{fenced(context)}\n\n"
        f"Recorded cases from production (redacted):\n{fenced(shown)}\n\n"
        f"Write {count} new evaluation cases. Each varies a recorded request realistically (another "
        "entity, a harder phrasing, a follow-up, a case near a finding) and keeps exactly the same input keys as "
        "the case it cites in grounded_in. Give guidelines for what a good response does. Give expected_facts "
        "only when the cited case's recorded data establishes them. Never include personal data or secrets."
    )
