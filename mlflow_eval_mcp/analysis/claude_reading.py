"""analyze_traces + Claude: what the agent is, names for the request clusters, and semantic
failures (wrong routing, policy violations, unsupported claims…) in a sample of the traces.

Claude's findings are added to the deterministic ones, never replace them, and cite only traces
it was shown: an id outside the sample is dropped, and so is a finding left with none.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mlflow_eval_mcp.analysis.models import AgentProfile, Finding, Severity, TraceAnalysis
from mlflow_eval_mcp.analysis.selection import candidates
from mlflow_eval_mcp.claude.prompts import system_prompt
from mlflow_eval_mcp.claude.untrusted import fenced, trace_digest
from mlflow_eval_mcp.traces import load_traces

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession

SAMPLE_SIZE = 24
MAX_PATTERNS = 8


class ClusterName(BaseModel):
    cluster_id: int
    name: str = Field(max_length=80, description="A few words: what these requests ask for.")


class SemanticPattern(BaseModel):
    category: str = Field(
        max_length=60,
        description="e.g. wrong_routing, wrong_tool, policy_violation, unsupported_claim, ignored_tool_error, "
        "unanswered_question, tone.",
    )
    title: str = Field(max_length=160)
    description: str = Field(max_length=1_000)
    severity: Severity
    trace_ids: list[str] = Field(min_length=1, description="Sampled traces that show it; only ids you were shown.")
    evidence: list[str] = Field(max_length=5, description="Short quotes from those traces that show the problem.")
    guideline: str = Field(
        max_length=400,
        description="One pass/fail criterion a Guidelines judge can apply, phrased about 'the response' "
        "(and 'the request'), that the failing traces break and good ones meet.",
    )


class AnalysisAnswer(BaseModel):
    agent: AgentProfile
    cluster_names: list[ClusterName] = Field(default_factory=list)
    semantic_findings: list[SemanticPattern] = Field(default_factory=list, max_length=MAX_PATTERNS)


def add_claude_reading(client: MlflowClient, analysis: TraceAnalysis, claude: ClaudeSession) -> None:
    """Claude's reading of a sample of the analysis' traces, as an attempt that may fail without failing the
    analysis; the analysis is stamped with what Claude contributed."""
    added = claude.attempt("analysis", lambda: enrich_analysis(client, analysis, claude))
    claude.stamp(analysis, contributed=bool(added))


def enrich_analysis(client: MlflowClient, analysis: TraceAnalysis, claude: ClaudeSession) -> bool:
    """Adds Claude's reading to `analysis` in place; False when there was nothing to send."""
    sample = [c.trace_id for c in itertools.islice(candidates(analysis), SAMPLE_SIZE)]
    traces = load_traces(client, sample)
    if not traces:
        claude.note("analysis: no sampled trace could be read back; nothing sent to Claude.")
        return False
    answer = claude.structured(
        task="trace_analysis",
        system=system_prompt("analysis"),
        prompt=_prompt(analysis, [trace_digest(trace) for trace in traces]),
        output=AnalysisAnswer,
    )
    shown = {trace.info.trace_id for trace in traces}
    analysis.agent = answer.agent
    names = {item.cluster_id: item.name for item in answer.cluster_names}
    for cluster in analysis.input_clusters:
        cluster.name = names.get(cluster.cluster_id, cluster.name)
    added = _findings(answer.semantic_findings, shown, analysis)
    analysis.findings += added
    claude.note(
        f"analysis: agent profile, {len(names)} cluster names and {len(added)} semantic findings "
        f"from {len(shown)} sampled traces."
    )
    return True


def _findings(patterns: list[SemanticPattern], shown: set[str], analysis: TraceAnalysis) -> list[Finding]:
    taken = {finding.id for finding in analysis.findings}
    findings = []
    for pattern in patterns:
        trace_ids = list(dict.fromkeys(trace_id for trace_id in pattern.trace_ids if trace_id in shown))
        if not trace_ids:
            continue
        slug = _slug(pattern.category) or "semantic"
        finding_id = next(
            f"semantic_pattern:{slug}{suffix}"
            for suffix in ("", *(f"_{n}" for n in range(2, 100)))
            if f"semantic_pattern:{slug}{suffix}" not in taken
        )
        taken.add(finding_id)
        findings.append(
            Finding(
                id=finding_id,
                kind="semantic_pattern",
                title=pattern.title,
                severity=pattern.severity,
                count=len(trace_ids),
                rate=round(len(trace_ids) / max(1, analysis.overview.traces_analyzed), 4),
                trace_ids=trace_ids,
                evidence=[text[:300] for text in pattern.evidence],
                suggested_scorer=f"{finding_id.removeprefix('semantic_pattern:')}_guideline"[:64],
                details={
                    "category": pattern.category,
                    "description": pattern.description,
                    "guideline": pattern.guideline,
                    "sample_size": len(shown),
                },
                source="claude",
            )
        )
    return findings


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def _prompt(analysis: TraceAnalysis, digests: list[dict]) -> str:
    summary = {
        "experiment": analysis.experiment_name,
        "traces_analyzed": analysis.overview.traces_analyzed,
        "states": analysis.overview.states,
        "tools": [{"name": tool.name, "calls": tool.calls, "error_rate": tool.error_rate} for tool in analysis.tools],
        "structural_findings_already_found": [
            {"id": finding.id, "title": finding.title, "count": finding.count} for finding in analysis.findings
        ],
        "request_clusters": [
            {"cluster_id": c.cluster_id, "size": c.size, "top_terms": c.top_terms, "examples": c.examples[:3]}
            for c in analysis.input_clusters
        ],
    }
    return (
        "Summary of the deterministic analysis:\n"
        f"{fenced(summary)}\n\n"
        f"A sample of {len(digests)} traces (request, response, and the steps between):\n"
        f"{fenced(digests)}\n\n"
        "Submit:\n"
        "1. agent: what this agent is and does, from the traces.\n"
        "2. cluster_names: a short name for each request cluster by its cluster_id.\n"
        "3. semantic_findings: failures that need understanding and that the structural findings above do not "
        "already cover: wrong routing or tool choice, policy violations, claims the tool results do not support, "
        "ignoring a tool error, not answering what was asked. Cite only trace ids from the sample, quote short "
        "evidence, and give one guideline a judge can check. Report nothing you cannot point to; an empty list "
        "is a fine answer."
    )
