"""generate_scorers + Claude: domain Guidelines judges, make_judge judges and code scorers tied to
the findings, added to the engine's scorers.

Nothing Claude proposes is accepted untried. Code must pass the code policy, then compile and
return an aggregatable value on the suite's recorded rows in a fresh interpreter; judges must
build. Broken code goes back to Claude with its error (bounded rounds); what is still broken is
dropped, with the reason in the result.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlflow_eval_mcp.claude.code_policy import ALLOWED_IMPORTS, SCORER_PARAMETERS, policy_problems
from mlflow_eval_mcp.claude.prompts import system_prompt
from mlflow_eval_mcp.claude.untrusted import fenced
from mlflow_eval_mcp.files import write_text_atomic
from mlflow_eval_mcp.suite.layout import GENERATED_SCORERS_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import GeneratedScorerSpec, JudgeSpec, ScorerConfig
from mlflow_eval_mcp.suite.reports import ProbeFailure, TrialOutcome, TrialReport
from mlflow_eval_mcp.suite.runner import run_probe
from mlflow_eval_mcp.suite.state import read_analysis, read_cases

if TYPE_CHECKING:
    from mlflow_eval_mcp.analysis.models import TraceAnalysis
    from mlflow_eval_mcp.claude.session import ClaudeSession

REPAIR_ROUNDS = 2
TRIAL_TIMEOUT_S = 180
EXAMPLE_ROWS = 4
JUDGE_VARIABLES = frozenset({"inputs", "outputs", "trace"})
_NAME = r"^[a-z][a-z0-9_]{2,50}$"
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MARKER = re.compile(r"^# scorer: (\w+)$", re.MULTILINE)
GENERATED_HEADER = '''"""Code scorers written by Claude for this suite (see data/scorer_config.json, where they are
listed as generated_code_scorers). Each passed the code policy of mlflow-eval-mcp (no imports
beyond re, json, math, statistics, collections and mlflow.entities; no file, process or
reflective access) and a dry run on the recorded rows before it was accepted. Edit freely;
validate_eval checks the result."""
'''


class GuidelinesProposal(BaseModel):
    name: str = Field(pattern=_NAME)
    guidelines: list[str] = Field(min_length=1, max_length=5, description="Pass/fail criteria about 'the response'.")
    findings: list[str] = Field(default_factory=list, description="Finding ids it targets.")
    reason: str = Field(max_length=300)


class JudgeProposal(BaseModel):
    name: str = Field(pattern=_NAME)
    instructions: str = Field(
        max_length=3_000,
        description="make_judge instructions: what passes and what fails, using {{ inputs }}, {{ outputs }} and/or "
        "{{ trace }} (no other variables). The judge answers true (pass) or false (fail).",
    )
    findings: list[str] = Field(default_factory=list)
    reason: str = Field(max_length=300)


class CodeProposal(BaseModel):
    name: str = Field(pattern=_NAME)
    code: str = Field(
        description="Python source defining one function with this name, taking some of "
        f"{', '.join(sorted(SCORER_PARAMETERS))} and returning a bool (True = pass) or "
        "mlflow.entities.Feedback(value=bool, rationale=str). "
        f"Imports only from: {', '.join(sorted(ALLOWED_IMPORTS))}."
    )
    findings: list[str] = Field(default_factory=list)
    reason: str = Field(max_length=300)


class ScorerProposals(BaseModel):
    guidelines: list[GuidelinesProposal] = Field(default_factory=list, max_length=6)
    judges: list[JudgeProposal] = Field(default_factory=list, max_length=4)
    code_scorers: list[CodeProposal] = Field(default_factory=list, max_length=4)


class CodeRepair(BaseModel):
    code: str = Field(description="The corrected source: the same function name, the same rules.")


def add_claude_scorers(suite: SuiteLayout, config: ScorerConfig, claude: ClaudeSession) -> list[str]:
    """Adds Claude's accepted scorers to `config` (and writes `generated_scorers.py`); returns the
    dropped proposals, each with why."""
    analysis = read_analysis(suite)
    proposals = claude.structured(
        task="scorer_proposals",
        system=system_prompt("scorers"),
        prompt=_prompt(suite, analysis, config),
        output=ScorerProposals,
    )
    known_findings = {finding.id for finding in analysis.findings}
    taken = set(config.scorer_names())
    dropped: list[str] = []

    def claim(name: str) -> bool:
        if name in taken:
            dropped.append(f"{name}: a scorer of that name already exists")
            return False
        taken.add(name)
        return True

    def judge_spec(proposal: GuidelinesProposal | JudgeProposal, **kind: Any) -> JudgeSpec:
        findings = [f for f in proposal.findings if f in known_findings]
        return JudgeSpec(name=proposal.name, findings=findings, reason=proposal.reason, source="claude", **kind)

    for proposal in proposals.guidelines:
        if claim(proposal.name):
            config.judges.append(judge_spec(proposal, judge="Guidelines", guidelines=proposal.guidelines))
    judges = [p for p in proposals.judges if _judge_ok(p, dropped) and claim(p.name)]
    code = {p.name: p for p in proposals.code_scorers if claim(p.name)}
    sources = {name: proposal.code for name, proposal in code.items()}
    judge_errors, accepted = accept_candidates(suite, judges, sources, claude, dropped)
    for judge in judges:
        if judge_errors.get(judge.name):
            dropped.append(f"{judge.name}: the judge does not build: {judge_errors[judge.name]}")
            continue
        config.judges.append(judge_spec(judge, judge="make_judge", instructions=judge.instructions))
    for name in accepted:
        config.generated_code_scorers.append(
            GeneratedScorerSpec(
                name=name, findings=[f for f in code[name].findings if f in known_findings], reason=code[name].reason
            )
        )
    write_generated(suite, accepted)
    added_judges = sum(judge.source == "claude" for judge in config.judges)
    claude.note(
        f"scorers: {added_judges} judges and {len(accepted)} code scorers added, {len(dropped)} proposals dropped."
    )
    return dropped


def write_generated(suite: SuiteLayout, sources: dict[str, str], preamble: str = GENERATED_HEADER) -> None:
    """All accepted code scorers in one module after `preamble` (the docstring, and whatever a
    user added above the scorers), each after a `# scorer: <name>` line that `read_generated`
    splits on; no module when there are none."""
    path = suite.path(GENERATED_SCORERS_FILE)
    if not sources:
        path.unlink(missing_ok=True)
        return
    body = "\n\n".join(f"# scorer: {name}\n{source.strip()}\n" for name, source in sources.items())
    write_text_atomic(path, f"{preamble.rstrip()}\n\n\n{body}")


def read_generated(suite: SuiteLayout) -> tuple[str, dict[str, str]]:
    """The module's preamble and each scorer's source, by name."""
    path = suite.path(GENERATED_SCORERS_FILE)
    if not path.is_file():
        return GENERATED_HEADER, {}
    parts = _MARKER.split(path.read_text(encoding="utf-8"))
    return parts[0], {name: source.strip() + "\n" for name, source in zip(parts[1::2], parts[2::2], strict=True)}


def _judge_ok(proposal: JudgeProposal, dropped: list[str]) -> bool:
    variables = set(_VARIABLE.findall(proposal.instructions))
    if not variables or variables - JUDGE_VARIABLES:
        dropped.append(
            f"{proposal.name}: instructions must use {{{{ inputs }}}}, {{{{ outputs }}}} or {{{{ trace }}}} "
            f"and no other variables (found: {', '.join(sorted(variables)) or 'none'})"
        )
        return False
    return True


def accept_candidates(
    suite: SuiteLayout,
    judges: list[JudgeProposal],
    sources: dict[str, str],
    claude: ClaudeSession,
    dropped: list[str],
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Trial every candidate; send broken code back for repair up to REPAIR_ROUNDS times.
    Returns the judges' build errors and the code that works."""
    judge_errors: dict[str, str | None] = {}
    accepted: dict[str, str] = {}
    pending = dict(sources)
    for round_number in range(REPAIR_ROUNDS + 1):
        errors = {name: problems for name, source in pending.items() if (problems := policy_problems(name, source))}
        runnable = {name: source for name, source in pending.items() if name not in errors}
        if runnable or (round_number == 0 and judges):
            report = _trial(suite, runnable, judges if round_number == 0 else [])
            if round_number == 0:
                judge_errors = report.judges
            for name in runnable:
                outcome = report.code.get(name, TrialOutcome(error="was not tried"))
                if outcome.error:
                    errors[name] = [outcome.error]
                else:
                    accepted[name] = runnable[name]
        pending = {}
        for name, problems in errors.items():
            if round_number == REPAIR_ROUNDS:
                dropped.append(f"{name}: still broken after {REPAIR_ROUNDS} repairs: {'; '.join(problems)[:400]}")
                continue
            repaired = claude.attempt(
                f"repair of {name}", lambda n=name, p=problems: repair_code(claude, n, sources[n], p)
            )
            if repaired is None:
                dropped.append(f"{name}: broken ({'; '.join(problems)[:300]}) and Claude's repair failed")
            elif repaired.strip() == sources[name].strip():
                dropped.append(f"{name}: broken ({'; '.join(problems)[:300]}) and Claude's repair changed nothing")
            else:
                pending[name] = sources[name] = repaired
        if not pending:
            break
    return judge_errors, accepted


def _trial(suite: SuiteLayout, code: dict[str, str], judges: list[JudgeProposal]) -> TrialReport:
    candidates = {
        "code": [{"name": name, "source": source} for name, source in code.items()],
        "judges": [{"name": judge.name, "instructions": judge.instructions} for judge in judges],
    }
    with tempfile.TemporaryDirectory(prefix="mlflow-eval-trial-") as folder:
        path = Path(folder) / "candidates.json"
        path.write_text(json.dumps(candidates), encoding="utf-8")
        report = run_probe(suite, TrialReport, args=["--trial", str(path)], timeout_s=TRIAL_TIMEOUT_S)
    if isinstance(report, ProbeFailure):
        why = f"the trial run {'timed out' if report.timeout_s is not None else 'crashed: ' + report.stderr[-300:]}"
        return TrialReport(
            code={name: TrialOutcome(error=why) for name in code}, judges={judge.name: why for judge in judges}
        )
    return report


def repair_code(claude: ClaudeSession, name: str, source: str, problems: list[str]) -> str:
    answer = claude.structured(
        task="scorer_repair",
        system=system_prompt("repair"),
        prompt=(
            f"The code scorer {name!r} below was rejected. Fix it so that it meets the rules and works on the rows.\n\n"
            f"Rules: define exactly one top-level function named {name!r} taking only parameters from "
            f"{', '.join(sorted(SCORER_PARAMETERS))}; return a bool (True = pass) or "
            "mlflow.entities.Feedback(value=bool, rationale=str); imports only from "
            f"{', '.join(sorted(ALLOWED_IMPORTS))}; no eval, exec, open, getattr or private attributes; string "
            "literals under 200 characters.\n\n"
            f"Problems:\n{fenced(problems)}\n\nThe code:\n```python\n{source}\n```"
        ),
        output=CodeRepair,
    )
    return answer.code


def _prompt(suite: SuiteLayout, analysis: TraceAnalysis, config: ScorerConfig) -> str:
    findings = [
        {
            "id": finding.id,
            "kind": finding.kind,
            "title": finding.title,
            "count": finding.count,
            "evidence": finding.evidence[:2],
            "guideline": finding.details.get("guideline"),
        }
        for finding in analysis.findings
    ]
    existing = [{"name": spec.name, "reason": spec.reason} for spec in config.all_code()]
    existing += [{"name": judge.name, "judge": judge.judge, "reason": judge.reason} for judge in config.judges]
    rows = [
        {"inputs": case.inputs, "outputs": case.outputs, "expectations": case.expectations}
        for case in read_cases(suite)
        if case.kind == "recorded"
    ][:EXAMPLE_ROWS]
    agent = analysis.agent.model_dump() if analysis.agent else None
    return (
        f"The agent (as profiled): {fenced(agent)}\n\n"
        f"Findings from its production traces:\n{fenced(findings)}\n\n"
        f"Scorers the suite already has:\n{fenced(existing)}\n\n"
        f"Example dataset rows (redacted):\n{fenced(rows)}\n\n"
        "Propose scorers for failures the existing ones do not catch, each tied to finding ids:\n"
        "- guidelines: domain criteria for a Guidelines judge, phrased about 'the response' and 'the request';\n"
        "- judges: make_judge instructions for a pass/fail judgement needing more context than a guideline;\n"
        "- code_scorers: deterministic checks in Python (tool choice or order from trace.data.spans, formats, "
        "required content). A code scorer's function receives inputs (dict), outputs (the response), expectations "
        "(dict) and/or trace (mlflow.entities.Trace; spans have name, span_type, inputs, outputs, status). It must "
        "pass on good rows, so guard against missing fields. Do not copy trace text into the code.\n"
        "Propose nothing you cannot justify from the findings; empty lists are fine. Names are snake_case."
    )
