"""Run this evaluation suite and enforce its quality gates.

    python evaluation/run_eval.py                         # score the recorded production traces
    python evaluation/run_eval.py --predict-fn my_agent:answer   # run every case through your agent
    python evaluation/run_eval.py --no-llm-judges --gate tool_call_errors=0.95

Results go to --tracking-uri, else MLFLOW_TRACKING_URI, else the store the suite was generated
from (data/store.json), in experiment --experiment, else MLFLOW_EVAL_EXPERIMENT, else
`<suite>-eval`: their own experiment, so the production traces are never written to. Exit code 0
when every gate passes, 1 when a gate fails, 2 when the suite cannot run as asked.
"""

from __future__ import annotations

import os

# Before MLflow is imported: copies of the recorded traces are written synchronously, which is
# ten times faster here than the asynchronous queue and cannot drop any; and fewer parallel rows
# than MLflow's 10, which exhaust a sqlite store's connection pool and stall for minutes.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
os.environ.setdefault("MLFLOW_GENAI_EVAL_MAX_WORKERS", "4")
# MLflow prices model spans with litellm when it is installed, whose import would download a price
# list (7 s of retries offline): its bundled copy instead.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse
import importlib
import importlib.util
import json
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mlflow_eval_checks.judges import llm_judges_may_run  # noqa: E402


def _keep_litellm_out_unless_judged(argv: list[str]) -> None:
    """MLflow's evaluation imports litellm whenever it is installed (3 s), for its judges alone. A run
    in which no LLM judge can run has no use for it: MLflow then carries on as without it."""
    config = json.loads((HERE / "data" / "scorer_config.json").read_text(encoding="utf-8"))
    explicit = next((argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--judge-model"), None)
    explicit = explicit or next((word.partition("=")[2] for word in argv if word.startswith("--judge-model=")), None)
    if not llm_judges_may_run(config, explicit, "--no-llm-judges" in argv):
        sys.modules.setdefault("litellm", None)  # type: ignore[assignment]


if __name__ == "__main__":
    _keep_litellm_out_unless_judged(sys.argv[1:])

import mlflow  # noqa: E402

from eval_dataset import input_rows, load_cases, recorded_rows  # noqa: E402
from mlflow_eval_checks.agreement import may_gate  # noqa: E402
from mlflow_eval_checks.paired import mcnemar_exact, regressed  # noqa: E402
from scorers import code_scorer_names, get_scorers, judge_model, load_config, missing_judge_credentials  # noqa: E402

GATES_FILE = HERE / "data" / "gates.json"
TRUST_FILE = HERE / "data" / "gate_trust.json"
STORE_FILE = HERE / "data" / "store.json"
DEFAULT_OUTPUT = HERE / "results" / "latest.json"


class SuiteError(Exception):
    """The suite cannot run as asked; the message says what to do."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run this MLflow evaluation suite and enforce its gates.")
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the suite's own store)"
    )
    parser.add_argument("--experiment", help="evaluation experiment (default: MLFLOW_EVAL_EXPERIMENT or <suite>-eval)")
    parser.add_argument("--predict-fn", help="your agent as module:function or path/to/file.py:function")
    parser.add_argument("--no-llm-judges", action="store_true", help="run the code scorers only")
    parser.add_argument("--judge-model", help="judge model URI, e.g. anthropic:/claude-sonnet-4-5")
    parser.add_argument("--judge-timeout", type=int, default=60, help="seconds per judge call (default 60)")
    parser.add_argument("--gate", action="append", default=[], metavar="SCORER=MIN", help="override a gate")
    parser.add_argument("--max-cases", type=int, help="evaluate only the first N cases")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON result")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except SuiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception:  # a broken suite must not look like a failed gate (exit 1) to CI
        traceback.print_exc()
        print("error: the suite could not run (traceback above); validate_eval explains what to fix", file=sys.stderr)
        return 2
    write_json(args.output, result)
    print_report(result, args.output)
    return 0 if result["gates_passed"] else 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = load_config()
    cases = load_cases()[: args.max_cases] if args.max_cases else load_cases()
    gates = resolve_gates(args.gate, config, {case["case_id"] for case in cases})
    os.environ.setdefault("MLFLOW_GENAI_EVAL_LLM_TIMEOUT", str(args.judge_timeout))
    os.environ.setdefault("MLFLOW_GENAI_EVAL_MAX_RETRIES", "1")
    uri, source = tracking_uri(args.tracking_uri)
    mlflow.set_tracking_uri(uri)
    experiment = args.experiment or os.environ.get("MLFLOW_EVAL_EXPERIMENT") or f"{config['suite_id']}-eval"
    print(f"Logging to experiment {experiment!r} in {shown(uri)} ({source})", file=sys.stderr)
    experiment_id = use_experiment(experiment)
    predict_fn = load_predict_fn(args.predict_fn) if args.predict_fn else None
    rows = input_rows(cases) if predict_fn else recorded_rows(cases)
    if not rows:
        raise SuiteError("no case has a recorded trace to score (manual strategy?); pass --predict-fn module:function")
    scorers, skipped = choose_scorers(args, config, rows)
    scorers, not_scoring = session_scorers_apply(scorers, rows, predict_fn is not None)
    skipped += not_scoring
    # A session gate holds production's sessions to their baseline; a run that cannot score sessions has none.
    gates = {name: minimum for name, minimum in gates.items() if name not in {entry["scorer"] for entry in not_scoring}}
    trust = load_trust()
    gates = {**calibrated_gates(trust, {s.name for s in scorers}), **gates}
    started = time.perf_counter()
    evaluation = mlflow.genai.evaluate(data=rows, scorers=scorers, predict_fn=predict_fn)
    if evaluation.result_df is None:
        raise SuiteError(f"MLflow evaluated no rows (run {evaluation.run_id}); its log above says why")
    sessions = {s.name for s in scorers if s.is_session_level_scorer}
    per_scorer, row_details = collect(
        evaluation.result_df, [s.name for s in scorers], not_applicable(config, rows), sessions
    )
    gate_results = check_gates(gates, per_scorer, trust, config)
    code = set(code_scorer_names())
    code_names = [s.name for s in scorers if not s.is_session_level_scorer and s.name in code]
    paired = check_paired_gates(cases, row_details, code_names) if predict_fn else []
    return {
        "suite_id": config["suite_id"],
        "run_id": evaluation.run_id,
        "experiment_id": experiment_id,
        "mode": "predict_fn" if predict_fn else "recorded",
        "rows": len(rows),
        "seconds": round(time.perf_counter() - started, 2),
        "metrics": {key: clean_number(value) for key, value in sorted(evaluation.metrics.items())},
        "scorers": per_scorer,
        "skipped": skipped,
        "gates": gate_results,
        "paired_gates": paired,
        "gates_passed": all(gate["passed"] or gate.get("advisory") for gate in [*gate_results, *paired]),
        "row_results": row_details,
    }


def tracking_uri(flag: str | None) -> tuple[str, str]:
    """The store to log to, and where that choice came from. Never MLflow's own default, which
    would silently start an empty mlflow.db in whatever directory this runs from."""
    if flag:
        return flag, "--tracking-uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI"
    store = json.loads(STORE_FILE.read_text(encoding="utf-8")) if STORE_FILE.exists() else {}
    uri = store.get("tracking_uri")
    if not uri:
        origin = store.get("generated_from") or "unknown"
        raise SuiteError(
            f"set MLFLOW_TRACKING_URI (or pass --tracking-uri) to the store to log results to; the store this suite "
            f"was generated from ({origin}) is not kept in {STORE_FILE.name}, since its URI may carry credentials"
        )
    if is_local(uri) and not Path(uri.removeprefix("sqlite:///").removeprefix("file://")).exists():
        raise SuiteError(
            f"the store this suite was generated from, {uri}, does not exist on this machine; "
            "set MLFLOW_TRACKING_URI (or pass --tracking-uri) to the store to log results to"
        )
    return uri, f"the store this suite was generated from, recorded in {STORE_FILE.name}"


def is_local(uri: str) -> bool:
    return not uri.startswith(("http:", "https:", "databricks"))


def shown(uri: str) -> str:
    """`uri` without the login or query string it may carry, fit to print."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc and not parts.query:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment=""))


def use_experiment(name: str) -> str:
    """Set the evaluation experiment, creating it on a local store with its artifacts beside the
    suite (MLflow would otherwise put them in ./mlruns of whatever directory this runs from)."""
    if mlflow.get_experiment_by_name(name) is None:
        local = is_local(mlflow.get_tracking_uri())
        mlflow.create_experiment(name, artifact_location=(HERE / "results" / "artifacts").as_uri() if local else None)
    return mlflow.set_experiment(name).experiment_id


def load_predict_fn(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise SuiteError(f"--predict-fn {target!r} must look like module:function or path/to/file.py:function")
    try:
        if module_name.endswith(".py"):
            spec = importlib.util.spec_from_file_location("predict_fn_module", Path(module_name).resolve())
            if spec is None or spec.loader is None:
                raise SuiteError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            sys.path.insert(1, os.getcwd())  # `my_agent:answer` from the project directory, as in CI
            module = importlib.import_module(module_name)
        function = getattr(module, attribute)
    except (ImportError, AttributeError, FileNotFoundError) as error:
        raise SuiteError(f"cannot load --predict-fn {target!r}: {error}") from error
    # A traced root span makes the trace's request and response those of the agent call.
    return mlflow.trace(function, name=attribute, span_type="AGENT")


def choose_scorers(
    args: argparse.Namespace, config: dict[str, Any], rows: list[dict[str, Any]]
) -> tuple[list[Any], list[dict[str, str]]]:
    if args.no_llm_judges:
        return get_scorers(include_judges=False), [
            {"scorer": judge["name"], "reason": "--no-llm-judges"} for judge in config["judges"]
        ]
    model = judge_model(args.judge_model, config)
    problem = missing_judge_credentials(model)
    if problem:
        return get_scorers(include_judges=False), [
            {"scorer": judge["name"], "reason": problem} for judge in config["judges"]
        ]
    scorers = get_scorers(include_judges=True, model=model, judge_timeout=args.judge_timeout)
    skipped = [
        {"scorer": judge["name"], "reason": f"no row has expectations.{key}"}
        for judge in config["judges"]
        for key in judge.get("requires_expectations", [])
        if not any(key in (row.get("expectations") or {}) for row in rows)
    ]
    dropped = {entry["scorer"] for entry in skipped}
    return [s for s in scorers if s.name not in dropped], skipped


def session_scorers_apply(
    scorers: list[Any], rows: list[dict[str, Any]], predicting: bool
) -> tuple[list[Any], list[dict[str, str]]]:
    """The scorers without the session-level ones when they have nothing to score: a predict_fn
    answers single requests (MLflow refuses session-level scorers with one), or no case is a session."""
    session_level = [s for s in scorers if s.is_session_level_scorer]
    if not session_level:
        return scorers, []
    if predicting:
        reason = "session-level: scores the recorded sessions (run without --predict-fn)"
    elif not any("session_case_id" in row["tags"] for row in rows):
        reason = "session-level: no session case among the cases run"
    else:
        return scorers, []
    return [s for s in scorers if not s.is_session_level_scorer], [
        {"scorer": s.name, "reason": reason} for s in session_level
    ]


def not_applicable(config: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Judge -> the case ids it cannot judge (the row lacks the expectation it needs): their
    missing values are expected, not failures."""
    lacking: dict[str, set[str]] = {}
    for judge in config["judges"]:
        for key in judge.get("requires_expectations", []):
            cases = {row["tags"]["case_id"] for row in rows if key not in (row.get("expectations") or {})}
            if cases:
                lacking.setdefault(judge["name"], set()).update(cases)
    return lacking


def collect(
    result_df: Any, names: list[str], inapplicable: dict[str, set[str]], session_level: set[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Per scorer: values, rows left without one, rows it does not apply to, pass rate, errors. A
    session-level scorer gives one value per session, on the session's first trace: it applies to
    as many rows as there are sessions."""
    per_scorer: dict[str, Any] = {}
    all_tags = list(result_df["tags"]) if "tags" in result_df.columns else [None] * len(result_df)
    tags_of = [tags if isinstance(tags, dict) else {} for tags in all_tags]
    case_ids = [tags.get("case_id") for tags in tags_of]
    sessions = len({tags["session_case_id"] for tags in tags_of if "session_case_id" in tags})
    for name in names:
        column = f"{name}/value"
        skip = inapplicable.get(name, set())
        values = list(result_df[column]) if column in result_df.columns else []
        applicable = [value for value, case_id in zip(values, case_ids, strict=False) if case_id not in skip]
        judged = [value for value in applicable if not is_missing(value)]
        passed = sum(1 for value in judged if passes(value))
        errors = (
            list(result_df[f"{name}/error_message"].dropna()) if f"{name}/error_message" in result_df.columns else []
        )
        expected = sessions if name in session_level else len(applicable)
        per_scorer[name] = {
            "values": len(judged),
            "missing": max(0, expected - len(judged)),
            "not_applicable": len(values) - expected,
            "passed": passed,
            "pass_rate": round(passed / len(judged), 4) if judged else None,
            "errors": [str(error)[:300] for error in errors[:3]],
        }
    rows = []
    for _, row in result_df.iterrows():
        tags = row.get("tags") if isinstance(row.get("tags"), dict) else {}
        rows.append(
            {
                "case_id": tags.get("case_id"),
                "session_case_id": tags.get("session_case_id"),
                "source_trace_id": tags.get("source_trace_id"),
                "eval_trace_id": row.get("trace_id"),
                "results": {
                    name: {
                        "value": clean_value(row.get(f"{name}/value")),
                        "rationale": clean_value(row.get(f"{name}/rationale")),
                    }
                    for name in names
                },
            }
        )
    return per_scorer, rows


def resolve_gates(overrides: list[str], config: dict[str, Any], case_ids: set[str]) -> dict[str, float]:
    """The suite's gates, with baseline gates re-measured on `case_ids` when only some cases run
    (production's rate on a subset differs from its rate on all), then the --gate overrides."""
    stored = json.loads(GATES_FILE.read_text(encoding="utf-8")) if GATES_FILE.exists() else {}
    gates = dict(stored.get("gates", {}))
    # Keyed by row: a case id, a session case's turn (`<case>:<turn>`), or a session case for its session scorers.
    verdicts = stored.get("case_verdicts", {})
    if verdicts and {row_id.partition(":")[0] for row_id in verdicts} - case_ids:
        for name in set(gates) - set(stored.get("set_by_caller", [])):
            judged = [
                row[name]
                for row_id, row in verdicts.items()
                if row_id.partition(":")[0] in case_ids and row.get(name) is not None
            ]
            if judged:
                gates[name] = int(sum(judged) / len(judged) * 10_000) / 10_000
    known = {spec["name"] for spec in config["code_scorers"] + config.get("generated_code_scorers", [])}
    known |= {judge["name"] for judge in config["judges"]}
    for override in overrides:
        name, _, value = override.partition("=")
        try:
            minimum = float(value)
        except ValueError:
            raise SuiteError(f"--gate {override!r} must look like SCORER=MIN with MIN between 0 and 1") from None
        if name not in known or not 0 <= minimum <= 1:
            raise SuiteError(f"--gate {override!r}: scorers are {', '.join(sorted(known))}; MIN is between 0 and 1")
        gates[name] = minimum
    return gates


def load_trust() -> dict[str, Any]:
    """Which scorers people calibrated, and whether each may gate (data/gate_trust.json, written by
    calibrate_judges); empty before any calibration."""
    return json.loads(TRUST_FILE.read_text(encoding="utf-8")).get("scorers", {}) if TRUST_FILE.exists() else {}


def calibrated_gates(trust: dict[str, Any], running: set[str]) -> dict[str, float]:
    """A gate at production's pass rate for each running scorer that calibration let gate and that
    has no gate of its own (an LLM judge, which has no baseline before people vouch for it)."""
    return {
        name: int(entry["pass_rate"] * 10_000) / 10_000
        for name, entry in trust.items()
        if name in running and entry.get("gates") and entry.get("pass_rate") is not None
    }


def check_gates(
    gates: dict[str, float], per_scorer: dict[str, Any], trust: dict[str, Any], config: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each gate's verdict. A gate calibration did not vouch for (an uncalibrated LLM judge, a scorer
    people disagree with) is advisory: shown, but it cannot fail the run."""
    specs = {spec["name"]: spec for spec in config["code_scorers"] + config.get("generated_code_scorers", [])}
    judges = {judge["name"]: judge for judge in config["judges"]}
    results = []
    for name, minimum in sorted(gates.items()):
        rate = per_scorer.get(name, {}).get("pass_rate")
        passed = rate is not None and rate >= minimum - 1e-9
        reason = "no values (the scorer was skipped or failed on every row)" if rate is None else ""
        gating, why = may_gate(trust.get(name), judges.get(name) or specs.get(name, {}), is_judge=name in judges)
        results.append(
            {
                "scorer": name,
                "minimum": minimum,
                "pass_rate": rate,
                "passed": passed,
                "reason": reason,
                "advisory": not gating,
                "trust": why,
            }
        )
    return results


def check_paired_gates(
    cases: list[dict[str, Any]], row_details: list[dict[str, Any]], names: list[str]
) -> list[dict[str, Any]]:
    """Per code scorer, on the cases whose recording was good: how many the candidate fails where
    production passed, and the reverse; the gate fails when the first outnumber the second beyond
    chance (exact McNemar test), however the aggregate rate looks."""
    stored = json.loads(GATES_FILE.read_text(encoding="utf-8")) if GATES_FILE.exists() else {}
    production = stored.get("case_verdicts", {})
    good = {case["case_id"] for case in cases if (case.get("tags") or {}).get("recording") == "good"}
    candidate = {row["case_id"]: row["results"] for row in row_details if row["case_id"] in good}
    gates = []
    for name in names:
        pairs = [
            (production[case_id].get(name), results[name]["value"])
            for case_id, results in candidate.items()
            if case_id in production and name in results
        ]
        pairs = [(before, after) for before, after in pairs if isinstance(before, bool) and isinstance(after, bool)]
        if not pairs:
            continue
        worse = sum(before and not after for before, after in pairs)
        better = sum(after and not before for before, after in pairs)
        gates.append(
            {
                "scorer": name,
                "cases": len(pairs),
                "pass_to_fail": worse,
                "fail_to_pass": better,
                "p_value": round(mcnemar_exact(worse, better), 6),
                "passed": not regressed(worse, better),
            }
        )
    return gates


def passes(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("yes", "true", "pass"))


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def clean_value(value: Any) -> Any:
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, str | bool | int | float) else str(value)


def clean_number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else round(number, 4)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, default=str)
    Path(stream.name).replace(path)


def print_report(result: dict[str, Any], output: Path) -> None:
    print(f"\n{result['rows']} rows ({result['mode']}), run {result['run_id']}")
    print(f"{'scorer':<34} {'pass rate':>9} {'values':>7}  gate")
    gates = {gate["scorer"]: gate for gate in result["gates"]}
    for name, stats in result["scorers"].items():
        rate = "-" if stats["pass_rate"] is None else f"{stats['pass_rate']:.1%}"
        gate = gates.get(name)
        verdict = "" if gate is None else f"{'PASS' if gate['passed'] else 'FAIL'} (min {gate['minimum']:.1%})"
        if gate is not None and gate["advisory"]:
            verdict = f"advisory, would {verdict.lower()}: {gate['trust']}"
        print(f"{name:<34} {rate:>9} {stats['values']:>7}  {verdict}")
    for entry in result["skipped"]:
        print(f"{entry['scorer']:<34} {'skipped':>9}          {entry['reason']}")
    for gate in result["paired_gates"]:
        if not gate["passed"]:
            print(
                f"{gate['scorer']:<34} paired: fails {gate['pass_to_fail']} of {gate['cases']} good cases production "
                f"passed (passes {gate['fail_to_pass']} it failed; p = {gate['p_value']:.2g})  FAIL"
            )
    failed = [g for g in [*result["gates"], *result["paired_gates"]] if not (g["passed"] or g.get("advisory"))]
    print(f"\n{'GATES FAILED: ' + ', '.join(g['scorer'] for g in failed) if failed else 'All gates passed.'}")
    print(f"Result: {output}")


if __name__ == "__main__":
    sys.exit(main())
