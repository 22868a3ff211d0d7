"""`render_run_script`: the suite's runner, its quality gates and its README.

Default gates are the production baseline: each code scorer's pass rate on the recorded cases,
measured by running the suite's own scorers on its stored traces (so redaction, or any difference
from the analysis, cannot make production fail its own gates). Scoring the recorded traces
therefore passes exactly; a candidate agent (`--predict-fn`) passes when it does at least as well
as production did on the same cases. The per-case verdicts are kept, so that a run of a subset
(`--max-cases`) is held to production's rate on that subset.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic, write_text_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.layout import DATA_DIR, EVALUATION_DIR, GATES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import RECORDING_CHECKS, RunScriptResult, ScorerConfig
from mlflow_eval_mcp.suite.readme import render_readme
from mlflow_eval_mcp.suite.reports import CaseVerdicts, ProbeFailure
from mlflow_eval_mcp.suite.runner import run_probe
from mlflow_eval_mcp.suite.state import read_analysis, read_cases, read_config
from mlflow_eval_mcp.suite.tasks import record, require
from mlflow_eval_mcp.suite.templates_io import install_checks, install_template
from mlflow_eval_mcp.tracking import redact_uri

VERDICT_TIMEOUT_S = 300
STORE_FILE = f"{DATA_DIR}/store.json"


def render_run_script(suite: SuiteLayout, *, gates: dict[str, float] | None = None) -> RunScriptResult:
    require(suite, "analyze", "dataset", "scorers")
    analysis = read_analysis(suite)
    config = read_config(suite)
    cases = read_cases(suite)
    overrides = _checked(gates or {}, config)
    verdicts = _verdicts(suite)
    baseline = _baseline(config, verdicts)
    chosen = {**baseline, **overrides}
    write_json_atomic(
        suite.path(GATES_FILE),
        {
            "gates": chosen,
            "baseline": baseline,
            "set_by_caller": sorted(overrides),
            "case_verdicts": verdicts,
            "note": "baseline: each code scorer's pass rate on the recorded production cases",
        },
    )
    store = recorded_store(analysis.tracking_uri)
    write_json_atomic(suite.path(STORE_FILE), store)
    # The checks too: run_eval.py imports them, and a suite may predate the ones it needs.
    files = [GATES_FILE, STORE_FILE, install_template(suite, "run_eval.py"), *install_checks(suite)]
    readme = f"{EVALUATION_DIR}/README.md"
    write_text_atomic(suite.path(readme), render_readme(suite, analysis, config, chosen, cases, store))
    files.append(readme)
    record(suite, "script", outputs=files)
    run = f"python {suite.path(EVALUATION_DIR) / 'run_eval.py'}"
    return RunScriptResult(
        suite_dir=str(suite.root),
        gates=chosen,
        baseline=baseline,
        files=files,
        run_command=run,
        next_step=f"{suggest('validate_eval', suite_dir=str(suite.root))}, or run it yourself: {run} --no-llm-judges",
    )


def recorded_store(uri: str) -> dict[str, str | None]:
    """What the suite keeps of the store it was generated from, for run_eval.py's default and its
    README. `tracking_uri` is set only for a URI that cannot carry a secret and means the same from
    any directory: a local store by absolute path, a tracking server without a query string (its
    login, if any, comes from MLFLOW_TRACKING_* variables), or Databricks (whose profile holds the
    credentials). A database URI carries its password, which is never written: run_eval.py then
    asks for MLFLOW_TRACKING_URI."""
    shown = redact_uri(uri).partition("?")[0].partition("#")[0]
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "databricks":
        return {"tracking_uri": "databricks", "generated_from": "databricks", "note": _STORE_NOTE}
    if scheme == "sqlite":
        local = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else ""
    elif scheme == "file":
        local = parts.path
    else:
        local = uri if not scheme or Path(uri).drive else ""
    safe = not (parts.query or parts.fragment) and (
        scheme in ("http", "https") or (bool(local) and Path(local).is_absolute())
    )
    if safe:
        return {"tracking_uri": shown, "generated_from": shown, "note": _STORE_NOTE}
    return {
        "tracking_uri": None,
        "generated_from": shown,
        "note": "This store's URI may carry credentials (or is relative), so it is not kept: "
        "set MLFLOW_TRACKING_URI, or pass --tracking-uri, to run the suite.",
    }


_STORE_NOTE = "run_eval.py logs here unless --tracking-uri or MLFLOW_TRACKING_URI names another store."


def _verdicts(suite: SuiteLayout) -> dict[str, dict[str, bool | None]]:
    """Every code scorer's verdict on every recorded case, from the suite's own scorers run on the
    stored (redacted) traces: the production baseline exactly as run_eval.py will see it."""
    report = run_probe(suite, CaseVerdicts, args=["--verdicts"], timeout_s=VERDICT_TIMEOUT_S)
    if isinstance(report, ProbeFailure):
        raise InvalidArgumentError(
            f"The suite's scorers could not be run on its recorded cases "
            f"({report.stderr or 'timed out'}); run "
            f"{suggest('validate_eval', suite_dir=str(suite.root), run=False)} to see why."
        )
    return report.root


def _baseline(config: ScorerConfig, verdicts: dict[str, dict[str, bool | None]]) -> dict[str, float]:
    """Production's pass rate per code scorer, but for the recording checks (gated pairwise)."""
    baseline = {}
    for spec in config.all_code():
        if getattr(spec, "check", None) in RECORDING_CHECKS:
            continue
        judged = [row[spec.name] for row in verdicts.values() if row.get(spec.name) is not None]
        if judged:
            baseline[spec.name] = _floor(sum(judged) / len(judged))
    return baseline


def _floor(rate: float) -> float:
    return int(rate * 10_000) / 10_000


def refresh_run_script(suite: SuiteLayout) -> RunScriptResult:
    """Render again after the scorers changed: new baselines, the caller's gates kept for the
    scorers still in the suite."""
    path = suite.path(GATES_FILE)
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    names = set(read_config(suite).scorer_names())
    kept = {
        name: stored["gates"][name]
        for name in stored.get("set_by_caller", [])
        if name in names and name in stored.get("gates", {})
    }
    return render_run_script(suite, gates=kept)


def _checked(gates: dict[str, float], config: ScorerConfig) -> dict[str, float]:
    known = set(config.scorer_names())
    for name, minimum in gates.items():
        if name not in known:
            raise InvalidArgumentError(
                f"No scorer named {name!r} in this suite; gates can be set on: {', '.join(sorted(known))}."
            )
        if not 0 <= minimum <= 1:
            raise InvalidArgumentError(f"The gate for {name!r} must be a pass rate between 0 and 1 (got {minimum}).")
    return {name: float(minimum) for name, minimum in gates.items()}
