"""`render_run_script`: the suite's runner, its quality gates and its README.

Default gates are the production baseline: for each code scorer, the share of the recorded cases
that the analysis found free of the scorer's findings. Scoring the recorded traces therefore
passes exactly; a candidate agent (`--predict-fn`) passes when it does at least as well as
production did on the same cases.
"""

from __future__ import annotations

from mlflow_eval_mcp.analysis.models import Finding
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import read_jsonl, write_json_atomic, write_text_atomic
from mlflow_eval_mcp.suite.dataset import load_analysis
from mlflow_eval_mcp.suite.layout import CASES_FILE, EVALUATION_DIR, GATES_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, RunScriptResult, ScorerConfig
from mlflow_eval_mcp.suite.readme import render_readme
from mlflow_eval_mcp.suite.tasks import record, require
from mlflow_eval_mcp.suite.templates_io import install_template


def render_run_script(suite: SuiteLayout, *, gates: dict[str, float] | None = None) -> RunScriptResult:
    require(suite, "analyze", "dataset", "scorers")
    analysis = load_analysis(suite)
    config = ScorerConfig.model_validate_json(suite.path(SCORER_CONFIG_FILE).read_text(encoding="utf-8"))
    cases = [DatasetCase.model_validate(case) for case in read_jsonl(suite.path(CASES_FILE))]
    baseline = _baseline(config, analysis.findings, cases)
    chosen = {**baseline, **_checked(gates or {}, config)}
    write_json_atomic(
        suite.path(GATES_FILE),
        {
            "gates": chosen,
            "baseline": baseline,
            "set_by_caller": sorted(gates or {}),
            "note": "baseline: share of recorded cases free of each code scorer's findings in production",
        },
    )
    files = [GATES_FILE, install_template(suite, "run_eval.py")]
    readme = f"{EVALUATION_DIR}/README.md"
    write_text_atomic(suite.path(readme), render_readme(suite, analysis, config, chosen, cases))
    files.append(readme)
    record(suite, "script", outputs=files)
    run = f"python {suite.path(EVALUATION_DIR) / 'run_eval.py'}"
    return RunScriptResult(
        suite_dir=str(suite.root),
        gates=chosen,
        baseline=baseline,
        files=files,
        run_command=run,
        next_step=f"validate_eval(suite_dir={str(suite.root)!r}), or run it yourself: {run} --no-llm-judges",
    )


def _baseline(config: ScorerConfig, findings: list[Finding], cases: list[DatasetCase]) -> dict[str, float]:
    recorded = [case for case in cases if case.has_trace]
    if not recorded:
        return {}
    affected = {finding.id: set(finding.trace_ids) for finding in findings}
    baseline = {}
    for spec in config.code_scorers:
        flagged = set().union(*(affected.get(finding_id, set()) for finding_id in spec.findings))
        failing = sum(case.source_trace_id in flagged for case in recorded)
        baseline[spec.name] = _floor(1 - failing / len(recorded))
    return baseline


def _floor(rate: float) -> float:
    return int(rate * 10_000) / 10_000


def _checked(gates: dict[str, float], config: ScorerConfig) -> dict[str, float]:
    known = {spec.name for spec in config.code_scorers} | {judge.name for judge in config.judges}
    for name, minimum in gates.items():
        if name not in known:
            raise InvalidArgumentError(
                f"No scorer named {name!r} in this suite; gates can be set on: {', '.join(sorted(known))}."
            )
        if not 0 <= minimum <= 1:
            raise InvalidArgumentError(f"The gate for {name!r} must be a pass rate between 0 and 1 (got {minimum}).")
    return {name: float(minimum) for name, minimum in gates.items()}
