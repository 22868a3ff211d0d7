"""Looks inside a suite in a fresh interpreter, as `run_eval.py` would (importing its modules by
plain name from its folder). Depends only on the standard library, MLflow and the suite, and
prints one JSON report on the last line of stdout, which `suite.runner` checks against the models
in `suite.reports`. It runs from the package and is never copied into a suite.

    python probe.py EVALUATION_DIR            static checks for validate_eval: imports, rows, scorers,
                                              and a dry run of each code scorer on three recorded rows
    python probe.py EVALUATION_DIR --verdicts every code scorer's verdict on every recorded case, from
                                              which render_run_script sets the baseline gates
    python probe.py EVALUATION_DIR --trial F  candidate scorers (JSON file F) built and dry-run on the
                                              recorded rows, before generate_scorers accepts them
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The probe never calls a model, and MLflow's evaluation imports litellm whenever it is installed:
# 3 s per probe, and litellm's background threads import while a time-boxed candidate may be
# interrupted mid-import, which deadlocked. MLflow carries on as without it.
sys.modules.setdefault("litellm", None)  # type: ignore[assignment]

DRY_RUN_ROWS = 3
TRIAL_ROWS = 20
CANDIDATE_SECONDS = 5


def main() -> None:
    evaluation = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(evaluation))
    if sys.argv[2:] == ["--verdicts"]:
        print(json.dumps(verdicts(), default=str))
        return
    if sys.argv[2:3] == ["--trial"]:
        print(json.dumps(trial(Path(sys.argv[3])), default=str))
        return
    report: dict[str, Any] = {"imports": {}, "dataset": None, "scorers": None, "dry_runs": None}
    for module in ("eval_dataset", "scorers", "run_eval"):
        try:
            importlib.import_module(module)
            report["imports"][module] = None
        except BaseException as error:  # a broken suite file may raise anything, SystemExit included
            report["imports"][module] = where(error, evaluation)
    if report["imports"]["eval_dataset"] is None:
        report["dataset"] = check_dataset()
    if report["imports"]["scorers"] is None:
        report["scorers"] = describe_scorers(evaluation)
        if report["imports"]["eval_dataset"] is None:
            report["dry_runs"] = dry_run()
    print(json.dumps(report, default=str))


def where(error: BaseException, evaluation: Path) -> dict[str, Any]:
    """The error with the suite file and line it happened in."""
    if isinstance(error, SyntaxError) and error.filename:
        return {"message": f"{type(error).__name__}: {error.msg}", "file": error.filename, "line": error.lineno}
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith(str(evaluation))
    ]
    frame = frames[-1] if frames else None
    return {
        "message": f"{type(error).__name__}: {error}"[:500],
        "file": frame.filename if frame else None,
        "line": frame.lineno if frame else None,
    }


def check_dataset() -> dict[str, Any]:
    from mlflow.entities import Trace

    import eval_dataset

    problems: list[dict[str, Any]] = []
    try:
        cases = eval_dataset.load_cases()
        traces = eval_dataset.load_traces()
    except Exception as error:
        return {"cases": 0, "recorded": 0, "problems": [{"row": None, "message": f"cannot load: {error}"}]}
    for case in cases:
        row = case.get("case_id")
        if not isinstance(case.get("inputs"), dict):
            problems.append(
                {
                    "row": row,
                    "message": "inputs must be a dict of predict_fn arguments, "
                    f"not {type(case.get('inputs')).__name__}",
                }
            )
        if not isinstance(case.get("expectations", {}), dict):
            problems.append({"row": row, "message": "expectations must be a dict of name -> value"})
        if case.get("kind") == "session":
            absent = [trace_id for trace_id in case.get("trace_ids") or [] if trace_id not in traces]
            if absent or not case.get("trace_ids"):
                problems.append(
                    {
                        "row": row,
                        "message": f"a session case needs all its traces in traces.jsonl; "
                        f"{len(absent)} of {len(case.get('trace_ids') or [])} are missing",
                    }
                )
            if not isinstance((case.get("inputs") or {}).get("goal"), str):
                problems.append(
                    {"row": row, "message": "a session case's inputs need a goal (a ConversationSimulator test case)"}
                )
        if case.get("has_trace"):
            trace = traces.get(case.get("source_trace_id") or "")
            if trace is None:
                problems.append({"row": row, "message": "has_trace is true but its trace is not in traces.jsonl"})
                continue
            try:
                Trace.from_dict(trace)
            except Exception as error:
                problems.append(
                    {"row": row, "message": f"its trace does not load: {type(error).__name__}: {error}"[:300]}
                )
    keys = sorted({key for case in cases if isinstance(case.get("expectations"), dict) for key in case["expectations"]})
    return {
        "cases": len(cases),
        "recorded": sum(bool(c.get("has_trace")) for c in cases),
        "expectation_keys": keys,
        "problems": problems,
    }


def describe_scorers(evaluation: Path) -> dict[str, Any]:
    import scorers

    described: dict[str, Any] = {"code": [], "judges": [], "error": None}
    try:
        for scorer in scorers.get_scorers(include_judges=False):
            described["code"].append({"name": scorer.name, "aggregations": list(scorer.aggregations or [])})
        for judge in scorers.judges(scorers.load_config(), scorers.judge_model()):
            described["judges"].append(
                {
                    "name": judge.name,
                    "class": type(judge).__name__,
                    "aggregations": list(getattr(judge, "aggregations", None) or []),
                }
            )
    except Exception as error:
        described["error"] = where(error, evaluation)
    return described


def dry_run() -> dict[str, Any]:
    import scorers

    try:
        code = scorers.get_scorers(include_judges=False)
    except Exception as error:
        return {"rows": 0, "results": {}, "error": str(error)}
    results: dict[str, list[dict[str, Any]]] = {}
    rows: set[str] = set()
    for case_id, scorer, call in scored_cases(code, limit=DRY_RUN_ROWS):
        rows.add(case_id)
        outcome: dict[str, Any] = {"row": case_id, "value": None, "aggregatable": False, "error": None}
        try:
            outcome.update(judge_value(call()))
        except Exception as error:
            outcome["error"] = f"{type(error).__name__}: {error}"[:300]
        results.setdefault(scorer.name, []).append(outcome)
    return {"rows": len(rows), "results": results, "error": None}


def verdicts() -> dict[str, dict[str, bool | None]]:
    """row id (or session case id) -> code scorer -> passed, for every row run_eval.py scores as
    recorded (None: no verdict)."""
    from mlflow.entities import Feedback

    import scorers

    results: dict[str, dict[str, bool | None]] = {}
    for case_id, scorer, call in scored_cases(scorers.get_scorers(include_judges=False)):
        try:
            value = call()
        except Exception:  # no verdict: validate_eval reports the scorer's error on this row
            value = None
        value = value.value if isinstance(value, Feedback) else value
        results.setdefault(case_id, {})[scorer.name] = value if isinstance(value, bool) else None
    return results


def trial(candidates_file: Path) -> dict[str, Any]:
    """Each candidate code scorer compiled, wrapped as MLflow would and run on up to TRIAL_ROWS
    recorded rows; each candidate judge built. name -> outcome (error None when it works)."""
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    import scorers

    candidates = json.loads(candidates_file.read_text(encoding="utf-8"))
    report: dict[str, Any] = {"code": {}, "judges": {}}
    built = []
    for candidate in candidates.get("code", []):
        name = candidate["name"]
        report["code"][name] = {"error": None, "rows": 0, "passed": 0}
        try:
            namespace: dict[str, Any] = {"__name__": f"generated_{name}"}
            code = compile(candidate["source"], f"<{name}>", "exec")
            time_boxed(functools.partial(exec, code, namespace))
            built.append(scorer(name=name)(namespace[name]))
        except BaseException as error:
            report["code"][name]["error"] = candidate_error(error, name)
    for case_id, candidate, call in scored_cases(built, limit=TRIAL_ROWS):
        outcome = report["code"][candidate.name]
        if outcome["error"]:
            continue
        try:
            value = time_boxed(call)
        except BaseException as error:  # a candidate may loop, exit or raise anything
            outcome["error"] = f"on row {case_id}: {candidate_error(error, candidate.name)}"
            continue
        checked = judge_value(value)
        if checked["error"] or not checked["aggregatable"]:
            problem = checked["error"] or f"returned {checked['value']}, which MLflow cannot aggregate"
            outcome["error"] = f"on row {case_id}: {problem} (return a bool, or a Feedback holding one)"
            continue
        value = value.value if isinstance(value, Feedback) else value
        outcome["rows"] += 1
        outcome["passed"] += value is True or value == "yes"
    for candidate in candidates.get("judges", []):
        try:
            spec = {"name": candidate["name"], "judge": "make_judge", "instructions": candidate["instructions"]}
            scorers.judges_module.build_judge(spec, scorers.judge_model(), scorers.CONFIG_FILE.parent)
            report["judges"][candidate["name"]] = None
        except Exception as error:
            report["judges"][candidate["name"]] = f"{type(error).__name__}: {error}"[:500]
    return report


def time_boxed(call: Callable[[], Any]) -> Any:
    """`call()` with at most CANDIDATE_SECONDS of wall time, and its prints kept off stdout (which
    carries the report)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"took longer than {CANDIDATE_SECONDS} s on one row")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(CANDIDATE_SECONDS)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def candidate_error(error: BaseException, name: str) -> str:
    """The error with the line of the candidate's code it happened on."""
    if isinstance(error, SyntaxError):
        return f"line {error.lineno}: SyntaxError: {error.msg}"
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == f"<{name}>"]
    where_in_code = f"line {lines[-1]}: " if lines else ""
    return f"{where_in_code}{type(error).__name__}: {error}"[:500]


def scored_cases(code: list[Any], *, limit: int | None = None) -> Iterator[tuple[str, Any, Callable[[], Any]]]:
    """(row id, scorer, a call scoring that row as evaluate() would) for the first `limit` rows
    run_eval.py scores as recorded; a session-level scorer is called once per session case (its id
    in place of a row id) with the session's traces, as MLflow groups them."""
    from mlflow.entities import Trace

    import eval_dataset

    rows = eval_dataset.recorded_rows()
    per_trace = [scorer for scorer in code if not scorer.is_session_level_scorer]
    per_session = [scorer for scorer in code if scorer.is_session_level_scorer]
    sessions: dict[str, list[Any]] = {}
    for number, row in enumerate(rows):
        within = limit is None or number < limit
        session = row["tags"].get("session_case_id") if per_session else None
        if not within and session is None:
            continue
        trace = Trace.from_dict(json.loads(row["trace"]))
        if session is not None:
            sessions.setdefault(session, []).append(trace)
        if not within:
            continue
        root = next((span for span in trace.data.spans if span.parent_id is None), None)
        arguments = {
            "inputs": root.inputs if root else None,
            "outputs": root.outputs if root else None,
            "expectations": row.get("expectations") or {},
            "trace": trace,
        }
        for scorer in per_trace:
            yield row["tags"]["row_id"], scorer, functools.partial(scorer.run, **arguments)
    for case_id, traces in list(sessions.items())[:limit]:
        for scorer in per_session:
            yield case_id, scorer, functools.partial(scorer.run, session=traces)


def judge_value(value: Any) -> dict[str, Any]:
    """Whether MLflow can aggregate what a scorer returned: a bool, a number, 'yes'/'no', or a
    Feedback (or list of them) holding one."""
    from mlflow.entities import Feedback

    items = value if isinstance(value, list) else [value]
    shown = []
    for item in items:
        if isinstance(item, Feedback):
            if item.error is not None:
                return {"value": None, "aggregatable": False, "error": f"Feedback error: {item.error}"}
            item = item.value
        shown.append(repr(item)[:80])
        if not (isinstance(item, bool | int | float) or (isinstance(item, str) and item.lower() in ("yes", "no"))):
            return {"value": shown[-1], "aggregatable": False, "error": None}
    return {"value": ", ".join(shown), "aggregatable": bool(items), "error": None}


if __name__ == "__main__":
    main()
