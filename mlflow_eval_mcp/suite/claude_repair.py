"""validate_eval + Claude: when validation fails in a code scorer Claude wrote, one bounded
attempt to fix it (the same policy, trial and repair rounds as when it was first accepted); what
cannot be fixed is removed from the suite. The fixed templates are never edited: a failure
elsewhere is the user's to fix, with the checks' instructions."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.suite.claude_scorers import accept_candidates, read_generated, repair_code, write_generated
from mlflow_eval_mcp.suite.layout import GENERATED_SCORERS_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.state import read_config

if TYPE_CHECKING:
    from mlflow_eval_mcp.claude.session import ClaudeSession
    from mlflow_eval_mcp.suite.models import ValidationCheckName, ValidationResult


# Failures that say the code is broken. A missed gate or a degenerate verdict is about what the code
# measures: rewriting it until the gate passes would only loosen the check, so those are the user's.
CODE_DEFECT_CHECKS: frozenset[ValidationCheckName] = frozenset(
    {"files_compile", "modules_import", "scorers_build", "code_scorers_dry_run", "every_scorer_produced_values"}
)


def repair_generated_scorers(suite: SuiteLayout, result: ValidationResult, claude: ClaudeSession) -> list[str]:
    """Fix or remove the generated scorers that failed validation; returns what was done (empty
    when no failure was in generated code)."""
    config = read_config(suite)
    preamble, sources = read_generated(suite)
    problems = _problems_by_scorer(suite, result, set(sources) & {s.name for s in config.generated_code_scorers})
    if not problems:
        return []
    dropped: list[str] = []
    repaired = {}
    for name, found in problems.items():
        fixed = claude.attempt(f"repair of {name}", lambda n=name, p=found: repair_code(claude, n, sources[n], p))
        if fixed is not None and fixed.strip() != sources[name].strip():
            repaired[name] = fixed
        else:
            dropped.append(f"{name}: failed validation ({'; '.join(found)[:300]}) and Claude did not change it")
    _, accepted = accept_candidates(suite, [], repaired, claude, dropped)
    actions = [f"{name}: repaired after validation failed ({'; '.join(problems[name])[:200]})" for name in accepted]
    removed = set(problems) - set(accepted)
    sources = {name: accepted.get(name, source) for name, source in sources.items() if name not in removed}
    config.generated_code_scorers = [spec for spec in config.generated_code_scorers if spec.name not in removed]
    write_generated(suite, sources, preamble)
    write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_dump(mode="json"))
    return actions + [f"{reason} — removed from the suite" for reason in dropped]


def _problems_by_scorer(suite: SuiteLayout, result: ValidationResult, generated: set[str]) -> dict[str, list[str]]:
    lines = _function_lines(suite)
    problems: dict[str, list[str]] = {}
    for check in result.checks:
        if check.status != "failed" or check.name not in CODE_DEFECT_CHECKS:
            continue
        for issue in check.issues:
            name = issue.scorer if issue.scorer in generated else None
            if name is None and issue.file and issue.file.endswith(GENERATED_SCORERS_FILE.split("/")[-1]):
                name = next((n for n, (first, last) in lines.items() if first <= (issue.line or 0) <= last), None)
            if name in generated:
                problems.setdefault(name, []).append(f"{check.name}: {issue.message}"[:500])
    return problems


def _function_lines(suite: SuiteLayout) -> dict[str, tuple[int, int]]:
    try:
        tree = ast.parse(suite.path(GENERATED_SCORERS_FILE).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    return {
        node.name: (node.lineno, node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
