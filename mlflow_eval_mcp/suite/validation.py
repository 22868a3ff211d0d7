"""`validate_eval`: prove that a suite works, statically and by running it.

Static checks: every file compiles and imports, the rows match MLflow's schema, scorer names are
unique, Guidelines judges are named, aggregations are allowed, and each code scorer dry-runs on up
to three rows with an aggregatable value. Executed checks: `run_eval.py` in a subprocess (minimal
environment, timeout, killed when it expires) in the suite's eval experiment; every scorer
produced values, none is degenerate, judges without credentials are reported as skipped, the
metrics reached the MLflow run, and the baseline gates pass on the recorded traces.
"""

from __future__ import annotations

import importlib.machinery
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

from mlflow_eval_mcp.errors import InvalidArgumentError, shown
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.layout import (
    CASES_FILE,
    EVALUATION_DIR,
    VALIDATION_FILE,
    SuiteLayout,
)
from mlflow_eval_mcp.suite.models import (
    ScorerConfig,
    ValidationCheck,
    ValidationCheckName,
    ValidationIssue,
    ValidationResult,
)
from mlflow_eval_mcp.suite.reports import (
    DatasetReport,
    DryRunReport,
    LocatedError,
    ProbeFailure,
    ProbeReport,
    RunResult,
    ScorersReport,
)
from mlflow_eval_mcp.suite.run_script import refresh_run_script
from mlflow_eval_mcp.suite.runner import SuiteRun, run_probe, run_suite
from mlflow_eval_mcp.suite.state import read_analysis, read_cases, read_config
from mlflow_eval_mcp.suite.tasks import record, require
from mlflow_eval_mcp.ui_links import run_url

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession

ALLOWED_AGGREGATIONS = {"min", "max", "mean", "median", "variance", "p90"}
PROBE_TIMEOUT_S = 120


def validate_eval(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    run: bool = True,
    timeout_s: float = 600,
    predict_fn: str | None = None,
    claude: ClaudeSession | None = None,
) -> ValidationResult:
    """Static checks, then (with `run`) an executed run. With `claude`, a failure in a code scorer
    Claude wrote gets one bounded repair (see `suite.claude_repair`), then the suite is validated again."""
    result = _validate(client, suite, run=run, timeout_s=timeout_s, predict_fn=predict_fn)
    if claude is None:
        return result
    if result.status == "failed":
        from mlflow_eval_mcp.suite.claude_repair import repair_generated_scorers

        repairs = claude.attempt("validation repair", lambda: repair_generated_scorers(suite, result, claude))
        if repairs:
            refresh_run_script(suite)
            result = _validate(client, suite, run=run, timeout_s=timeout_s, predict_fn=predict_fn, repairs=repairs)
    claude.stamp(result, contributed=result.repairs != [])
    write_json_atomic(suite.path(VALIDATION_FILE), result.model_dump(mode="json"))
    return result


def check_predict_fn(target: str, base: Path) -> None:
    """Refuse a predict_fn that run_eval.py could not load, before a run costs minutes to say so.
    Nothing is imported here: the agent's code runs only in the evaluation's own process."""
    location, _, function = target.rpartition(":")
    if not location or not function.isidentifier():
        raise InvalidArgumentError(
            f"predict_fn {shown(target)} must look like module:function or path/to/file.py:function."
        )
    if location.endswith(".py"):
        if not (base / location).is_file():
            raise InvalidArgumentError(
                f"predict_fn file {shown(location)} does not exist (relative paths start at {base}); "
                "give an absolute path or one relative to the suite directory."
            )
        return
    top = location.split(".")[0]
    if not all(part.isidentifier() for part in location.split(".")) or (
        importlib.machinery.PathFinder.find_spec(top, [str(base), *sys.path]) is None
        and top not in sys.builtin_module_names
    ):
        raise InvalidArgumentError(
            f"predict_fn module {shown(location)} cannot be found from {base} or this Python's path; "
            "install it, or give path/to/file.py:function."
        )


def _validate(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    run: bool,
    timeout_s: float,
    predict_fn: str | None,
    repairs: list[str] | None = None,
) -> ValidationResult:
    require(suite, "analyze", "dataset", "scorers", "script")
    if predict_fn:
        check_predict_fn(predict_fn, suite.root)
    started = time.perf_counter()
    checks = [_compiles(suite)]
    probe = run_probe(suite, ProbeReport, timeout_s=min(timeout_s, PROBE_TIMEOUT_S))
    checks += _static(suite, probe)
    executed: SuiteRun | None = None
    if run and all(check.status != "failed" for check in checks):
        args = ["--judge-timeout", str(max(5, int(min(60, timeout_s / 4))))]
        if predict_fn:
            args += ["--predict-fn", predict_fn]
        executed = run_suite(suite, tracking_uri=client.tracking_uri, args=args, timeout_s=timeout_s)
        checks += _executed(client, suite, executed, recorded=not predict_fn)
    elif run:
        checks.append(
            ValidationCheck(name="run", status="skipped", message="not run: the static checks above failed", fix=None)
        )
    failed = [check for check in checks if check.status == "failed"]
    outcome = executed.result if executed is not None else None
    result = ValidationResult(
        suite_dir=str(suite.root),
        status="failed" if failed else "passed",
        checks=checks,
        run_id=outcome.run_id if outcome else None,
        experiment_id=outcome.experiment_id if outcome else None,
        metrics=outcome.metrics if outcome else {},
        skipped_scorers=[entry.model_dump() for entry in outcome.skipped] if outcome else [],
        repairs=repairs or [],
        ui_url=run_url(client.tracking_uri, outcome.experiment_id, outcome.run_id)
        if outcome and outcome.run_id and outcome.experiment_id
        else None,
        seconds=round(time.perf_counter() - started, 2),
        next_step=(
            f"{suggest('push_feedback', suite_dir=str(suite.root))} to put the results on the production traces"
            if not failed
            else f"fix what the failed checks say ({', '.join(c.name for c in failed)}), then validate again"
        ),
    )
    write_json_atomic(suite.path(VALIDATION_FILE), result.model_dump(mode="json"))
    record(
        suite,
        "validate",
        outputs=[VALIDATION_FILE],
        status="failed" if failed else "completed",
        message=result.next_step if failed else None,
    )
    return result


def _compiles(suite: SuiteLayout) -> ValidationCheck:
    issues = []
    for path in sorted(suite.path(EVALUATION_DIR).rglob("*.py")):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            issues.append(ValidationIssue(message=f"SyntaxError: {error.msg}", file=str(path), line=error.lineno))
        except (UnicodeDecodeError, ValueError) as error:
            issues.append(ValidationIssue(message=f"{type(error).__name__}: {error}", file=str(path)))
    if issues:
        return _failed("files_compile", f"{len(issues)} file(s) do not compile", _REGENERATE, issues)
    return _passed("files_compile", "every Python file of the suite compiles")


_REGENERATE = (
    "Fix the file at the line shown, or regenerate it (generate_scorers / render_run_script / generate_dataset)."
)


def _static(suite: SuiteLayout, probe: ProbeReport | ProbeFailure) -> list[ValidationCheck]:
    if isinstance(probe, ProbeFailure):
        if probe.timeout_s is not None:
            return [
                _failed(
                    "modules_import",
                    f"importing the suite's modules did not finish within {probe.timeout_s:.0f} s",
                    "Something at the top level of eval_dataset.py, scorers.py or run_eval.py blocks; remove it.",
                )
            ]
        return [_failed("modules_import", f"the import check crashed: {probe.stderr}", _REGENERATE)]
    checks = [_imports(probe.imports)]
    if probe.dataset is not None:
        checks.append(_dataset(probe.dataset))
    config = read_config(suite)
    checks += _config_checks(config, probe.scorers)
    if probe.dry_runs is not None:
        checks.append(_dry_runs(probe.dry_runs, config))
    return checks


def _imports(imports: dict[str, LocatedError | None]) -> ValidationCheck:
    issues = [
        ValidationIssue(message=error.message, file=error.file, line=error.line)
        for error in imports.values()
        if error is not None
    ]
    if issues:
        return _failed("modules_import", f"{len(issues)} module(s) fail to import", _REGENERATE, issues)
    return _passed("modules_import", "eval_dataset, scorers and run_eval import")


def _dataset(dataset: DatasetReport) -> ValidationCheck:
    problems = dataset.problems
    if problems:
        return _failed(
            "dataset_schema",
            f"{len(problems)} row problem(s) in {CASES_FILE}",
            "Each case needs a dict `inputs` (predict_fn keyword arguments), a dict `expectations`, and, when "
            "has_trace is true, its trace in traces.jsonl; regenerate with generate_dataset.",
            [ValidationIssue(message=p.message, row=p.row, file=CASES_FILE) for p in problems[:20]],
        )
    return _passed("dataset_schema", f"{dataset.cases} cases ({dataset.recorded} recorded) match MLflow's schema")


def _config_checks(config: ScorerConfig, described: ScorersReport | None) -> list[ValidationCheck]:
    names = config.scorer_names()
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    checks = [
        _failed("scorer_names_unique", f"duplicate scorer names: {', '.join(duplicates)}", _RENAME)
        if duplicates
        else _passed("scorer_names_unique", f"{len(names)} scorers, all names unique")
    ]
    unnamed = [
        judge for judge in config.judges if judge.judge == "Guidelines" and not (judge.name and judge.guidelines)
    ]
    checks.append(
        _failed(
            "guidelines_named",
            "a Guidelines judge lacks a name or guidelines",
            "Give every Guidelines judge a unique name and at least one guideline in scorer_config.json.",
        )
        if unnamed
        else _passed("guidelines_named", "every Guidelines judge has a name and guidelines")
    )
    if described is None:
        return checks
    if described.error is not None:
        error = described.error
        checks.append(
            _failed(
                "scorers_build",
                f"building the scorers failed: {error.message}",
                "Fix scorer_config.json or scorers.py at the line shown.",
                [ValidationIssue(message=error.message, file=error.file, line=error.line)],
            )
        )
        return checks
    bad = [
        ValidationIssue(message=f"aggregations {sorted(set(s.aggregations) - ALLOWED_AGGREGATIONS)}", scorer=s.name)
        for s in described.code + described.judges
        if set(s.aggregations) - ALLOWED_AGGREGATIONS
    ]
    checks.append(
        _failed("aggregations_allowed", "unsupported aggregations", f"Use only {sorted(ALLOWED_AGGREGATIONS)}.", bad)
        if bad
        else _passed("aggregations_allowed", "every scorer uses MLflow's aggregations")
    )
    return checks


_RENAME = "Rename the scorers in scorer_config.json so that each name is unique (MLflow keys results by name)."


def _dry_runs(dry_runs: DryRunReport, config: ScorerConfig) -> ValidationCheck:
    if dry_runs.error:
        return _failed("code_scorers_dry_run", f"the code scorers could not be built: {dry_runs.error}", _REGENERATE)
    if dry_runs.rows == 0:
        return ValidationCheck(
            name="code_scorers_dry_run",
            status="skipped",
            message="no recorded rows to dry-run on (manual strategy); the executed phase checks the scorers",
        )
    issues = []
    for spec in config.all_code():
        outcomes = dry_runs.results.get(spec.name, [])
        for outcome in outcomes:
            if outcome.error or not outcome.aggregatable:
                reason = outcome.error or f"returned {outcome.value}, which MLflow cannot aggregate"
                issues.append(ValidationIssue(message=reason, scorer=spec.name, row=outcome.row))
        if not outcomes:
            issues.append(ValidationIssue(message="was not built by get_scorers()", scorer=spec.name))
    if issues:
        return _failed(
            "code_scorers_dry_run",
            f"{len(issues)} dry-run problem(s)",
            "A scorer must return a bool, a number, 'yes'/'no', or a Feedback holding one (not a dict or other "
            "strings); fix it in scorers.py or regenerate with generate_scorers.",
            issues,
        )
    return _passed(
        "code_scorers_dry_run",
        f"{len(config.all_code())} code scorers each returned an aggregatable value on {dry_runs.rows} rows",
    )


def _executed(client: MlflowClient, suite: SuiteLayout, run: SuiteRun, *, recorded: bool) -> list[ValidationCheck]:
    if run.timed_out:
        return [
            _failed(
                "run",
                f"run_eval.py did not finish within {run.seconds:.0f} s and was killed",
                f"Allow more time ({suggest('validate_eval', suite_dir=str(suite.root), timeout_s=...)}), evaluate "
                "fewer cases, or check what blocks (a judge endpoint that does not answer, an agent that hangs).",
            )
        ]
    if run.result is None:
        return [
            _failed(
                "run",
                f"run_eval.py exited with {run.exit_code} without a result: {run.stderr_tail[-800:]}",
                "Read the error above; run the suite by hand to see it in full: python evaluation/run_eval.py",
            )
        ]
    result = run.result
    checks = [_passed("run", f"run_eval.py scored {result.rows} rows in {run.seconds:.0f} s (run {result.run_id})")]
    checks.append(_values(result))
    checks.append(
        _degenerate(suite, result) if recorded else _passed("no_degenerate_scorer", "not judged for a predict_fn run")
    )
    checks.append(_metrics_logged(client, result))
    skipped = result.skipped
    if skipped:
        checks.append(
            ValidationCheck(
                name="judges",
                status="skipped",
                message=f"{len(skipped)} judge(s) not run: " + "; ".join(sorted({entry.reason for entry in skipped})),
                fix="Set the judge provider's API key (or --judge-model / MLFLOW_EVAL_JUDGE_MODEL) to run them.",
                issues=[ValidationIssue(message=entry.reason, scorer=entry.scorer) for entry in skipped],
            )
        )
    if recorded:
        # An advisory gate cannot fail a run (calibrate_judges did not vouch for its scorer).
        failed = [gate for gate in result.gates if not (gate.passed or gate.advisory)]
        checks.append(
            _failed(
                "baseline_gates",
                f"gates fail on the recorded production traces: {', '.join(g.scorer for g in failed)}",
                "The gates were set above production's own pass rate, or a scorer disagrees with the analysis; "
                f"lower the gate with {suggest('render_run_script', suite_dir=str(suite.root), gates=...)} or "
                "regenerate the scorers.",
                [ValidationIssue(message=f"pass rate {g.pass_rate} < {g.minimum}", scorer=g.scorer) for g in failed],
            )
            if failed
            else _passed("baseline_gates", f"all {len(result.gates)} gates pass on the recorded traces")
        )
    return checks


def _values(result: RunResult) -> ValidationCheck:
    issues = []
    for name, stats in result.scorers.items():
        if stats.missing:
            errors = "; ".join(stats.errors) or "no value and no error message"
            issues.append(
                ValidationIssue(message=f"{stats.missing} of {result.rows} rows without a value: {errors}", scorer=name)
            )
    if issues:
        return _failed(
            "every_scorer_produced_values",
            f"{len(issues)} scorer(s) left rows without a value (NaN)",
            "A scorer raised or returned None on those rows (see its error). For an LLM judge this is usually "
            "the API key, the network or the judge model: fix that, set --judge-model, or run with --no-llm-judges.",
            issues,
        )
    return _passed("every_scorer_produced_values", f"{len(result.scorers)} scorers produced a value on every row")


def _degenerate(suite: SuiteLayout, result: RunResult) -> ValidationCheck:
    """A scorer that gives every row the same verdict although the analysis says some recorded rows
    fail it (or none do) is not measuring anything."""
    expected = _expected_failures(suite)
    issues = []
    for name, stats in result.scorers.items():
        if name not in expected or not stats.values:
            continue
        failing = stats.values - stats.passed
        if expected[name] and failing == 0:
            issues.append(
                ValidationIssue(message=f"passes every row, but the analysis flags {expected[name]}", scorer=name)
            )
        elif expected[name] < stats.values and failing == stats.values:
            issues.append(
                ValidationIssue(message="fails every row, including those the analysis found clean", scorer=name)
            )
    if issues:
        return _failed(
            "no_degenerate_scorer",
            f"{', '.join(issue.scorer or '' for issue in issues)} give(s) every row the same value",
            "The scorer does not see what the analysis saw (a wrong field, a budget in the wrong unit); "
            "fix or regenerate it.",
            issues,
        )
    return _passed("no_degenerate_scorer", "every code scorer separates failing from passing rows as the analysis does")


def _expected_failures(suite: SuiteLayout) -> dict[str, int]:
    analysis = read_analysis(suite)
    config = read_config(suite)
    affected = {finding.id: set(finding.trace_ids) for finding in analysis.findings}
    cases = read_cases(suite)
    scored = {case.source_trace_id for case in cases if case.has_trace and case.kind != "session"}
    sessions = [set(case.trace_ids) for case in cases if case.kind == "session"]
    scored.update(*sessions)
    expected = {}
    for spec in config.code_scorers:
        flagged = set().union(*(affected.get(finding_id, set()) for finding_id in spec.findings))
        if spec.level == "session":
            expected[spec.name] = sum(bool(session & flagged) for session in sessions)
        else:
            expected[spec.name] = len(scored & flagged)
    return expected


def _metrics_logged(client: MlflowClient, result: RunResult) -> ValidationCheck:
    try:
        logged = client.get_run(result.run_id).data.metrics
    except Exception as error:  # the run store is not ours to diagnose; say what failed
        return _failed("metrics_logged", f"cannot read run {result.run_id}: {error}", "Check the tracking store.")
    scored = [name for name, stats in result.scorers.items() if stats.values]
    missing = [name for name in scored if f"{name}/mean" not in logged]
    if missing:
        return _failed(
            "metrics_logged",
            f"no metric logged for {', '.join(missing)}",
            "MLflow logs no metric for values it cannot aggregate (dicts, other strings); return bools or numbers.",
            [ValidationIssue(message="no <name>/mean metric on the run", scorer=name) for name in missing],
        )
    return _passed("metrics_logged", f"{len(scored)} metrics logged on run {result.run_id}")


def _passed(name: ValidationCheckName, message: str) -> ValidationCheck:
    return ValidationCheck(name=name, status="passed", message=message)


def _failed(
    name: ValidationCheckName, message: str, fix: str, issues: list[ValidationIssue] | None = None
) -> ValidationCheck:
    return ValidationCheck(name=name, status="failed", message=message, fix=fix, issues=issues or [])
