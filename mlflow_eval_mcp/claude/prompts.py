"""System prompts: the task's role, the untrusted-data rule, and the skill documents that hold
the MLflow facts the task needs (the same ones agents read as MCP resources)."""

from __future__ import annotations

from typing import Literal

from mlflow_eval_mcp import skills
from mlflow_eval_mcp.claude.untrusted import UNTRUSTED_RULE
from mlflow_eval_mcp.errors import NotFoundError

SKILL = "mlflow-evaluation"
Task = Literal["analysis", "scorers", "dataset", "repair"]
_REFERENCES: dict[Task, tuple[str, ...]] = {
    "analysis": ("trace-analysis-patterns",),
    "scorers": ("critical-interfaces", "scorer-patterns", "gotchas"),
    "dataset": ("dataset-patterns",),
    "repair": ("critical-interfaces", "scorer-patterns"),
}
_ROLE: dict[Task, str] = {
    "analysis": (
        "You are an evaluation engineer reading production traces of a GenAI agent. A deterministic engine "
        "has already found the structural failures (errors, latency, empty or truncated responses, leaked "
        "personal data); you add what needs understanding: what the agent is for, names for groups of "
        "requests, and semantic failures in the sampled traces."
    ),
    "scorers": (
        "You are an evaluation engineer writing MLflow 3 scorers for an agent's evaluation suite. The suite "
        "already has code scorers for the structural findings; you add domain Guidelines judges, make_judge "
        "judges and code scorers for failures those do not catch."
    ),
    "dataset": (
        "You are an evaluation engineer writing evaluation cases for an agent, grounded in requests that "
        "production users really sent."
    ),
    "repair": "You are an evaluation engineer fixing a generated MLflow code scorer that failed validation.",
}


def system_prompt(task: Task) -> str:
    parts = [_ROLE[task], UNTRUSTED_RULE, "Answer only by calling the tool you are given."]
    parts += _knowledge(task)
    return "\n\n".join(parts)


def _knowledge(task: Task) -> list[str]:
    """The skill's overview and the task's references; missing documents are left out rather than
    failing the call (the skills test keeps them present)."""
    try:
        documents = [("SKILL.md", skills.read_skill(SKILL))]
    except NotFoundError:
        return []
    for reference in _REFERENCES[task]:
        try:
            documents.append((f"references/{reference}.md", skills.read_reference(SKILL, reference)))
        except NotFoundError:
            continue
    return [f'<knowledge file="{name}">\n{text}\n</knowledge>' for name, text in documents]
