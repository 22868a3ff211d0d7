"""Scorer quality: how well a generated suite's code scorers catch each failure mode planted in the demo.

Usage (from the repository root): python -m benchmarks.scorer_quality [--traces 300] [--seed 7]
Seeds the demo corpus, generates a suite from it, then scores every trace of the corpus with the
suite's own code scorers (`<suite>/evaluation/scorers.py`, configured by its scorer_config.json)
and compares the failing rows with the planted ground truth (the demo's manifest).
Per planted mode it reports the scorer with the highest recall on the affected traces (ties: higher
precision), its precision, and its false-positive rate on clean traces (no planted mode).
Target: each planted mode caught by at least one code scorer with recall 1.0 and clean
false-positive rate 0.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.demo.runner import DEFAULT_SEED, DEFAULT_TRACES, run_demo
from mlflow_eval_mcp.demo.sample_agent import FAILURE_MODES
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.layout import EVALUATION_DIR, SuiteLayout
from mlflow_eval_mcp.suite.pipeline import generate_suite
from mlflow_eval_mcp.tracking import open_client

_LATENCY_PREFIX = "latency_budget_"
# slow_span is planted on one TOOL or RETRIEVER span per trace.
_SLOW_SPAN_SCORERS = ("latency_budget_tool", "latency_budget_retriever")


def fetch_all(uri: str, experiment_id: str, page_size: int = 500) -> list:
    client = MlflowClient(tracking_uri=uri)
    traces, token = [], None
    while True:
        page = client.search_traces(locations=[experiment_id], max_results=page_size, page_token=token)
        traces.extend(page)
        token = page.token
        if not token:
            return traces


def load_scorers(evaluation_dir: Path) -> list:
    """The suite's own code scorers, imported from its evaluation folder (as run_eval.py does)."""
    sys.path.insert(0, str(evaluation_dir))
    for name in ("scorers", "mlflow_eval_checks"):
        sys.modules.pop(name, None)
    module = importlib.import_module("scorers")
    return module.get_scorers(include_judges=False)


def root_span(trace):
    return next((span for span in trace.data.spans if span.parent_id is None), None)


def score(scorer_objects: list, traces: list) -> dict[str, set[str]]:
    """Trace ids each scorer fails (Feedback value False)."""
    failing: dict[str, set[str]] = {s.name: set() for s in scorer_objects}
    wanted = {s.name: set(inspect.signature(s.__call__).parameters) for s in scorer_objects}
    for trace in traces:
        root = root_span(trace)
        available = {
            "inputs": root.inputs if root is not None else None,
            "outputs": root.outputs if root is not None else None,
            "trace": trace,
        }
        for scorer_obj in scorer_objects:
            kwargs = {key: value for key, value in available.items() if key in wanted[scorer_obj.name]}
            feedback = scorer_obj(**kwargs)
            if feedback.value is False:
                failing[scorer_obj.name].add(trace.info.trace_id)
    return failing


def slow_span_extras(failing: dict[str, set[str]]) -> dict[str, set[str]]:
    """Extra slow_span lines: the scorers of the span types it is planted on, their union, and the
    union of every latency_budget_* scorer (a row fails when any of them fails)."""
    extras = {name: failing[name] for name in _SLOW_SPAN_SCORERS if name in failing}
    if extras:
        extras[" | ".join(extras)] = set().union(*extras.values())
    latency = [name for name in failing if name.startswith(_LATENCY_PREFIX)]
    if latency:
        extras[f"any of {_LATENCY_PREFIX}* ({len(latency)})"] = set().union(*(failing[name] for name in latency))
    return extras


def quality(fails: set[str], affected: set[str], clean: set[str]) -> tuple[float, float | None, float]:
    hits = len(fails & affected)
    recall = hits / len(affected) if affected else 0.0
    precision = hits / len(fails) if fails else None
    fp_rate = len(fails & clean) / len(clean) if clean else 0.0
    return recall, precision, fp_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=DEFAULT_TRACES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--verbose", action="store_true", help="list the missed and falsely flagged trace ids")
    args = parser.parse_args()
    verbose = args.verbose
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        settings = Settings(workspace=workspace)
        demo = run_demo(settings, n_traces=args.traces, seed=args.seed)
        assert demo.traces_lost == 0
        uri = settings.embedded_store_uri
        manifest: dict[str, list[str]] = json.loads(Path(demo.manifest_path).read_text(encoding="utf-8"))
        seeded = time.perf_counter()
        suite = generate_suite(
            open_client(uri, settings.connect_timeout_s),
            workspace_suites=lambda name: SuiteLayout.resolve(
                workspace / "suites" / name, workspace=workspace, default_name=name
            ),
            experiment_id=demo.experiment_id,
            max_traces=args.traces,
        )
        generated = time.perf_counter()
        scorer_objects = load_scorers(Path(suite.suite_dir) / EVALUATION_DIR)
        traces = fetch_all(uri, demo.experiment_id)
        failing = score(scorer_objects, traces)
        scored = time.perf_counter()

    ids = {trace.info.trace_id for trace in traces}
    clean = {trace_id for trace_id in ids if not manifest.get(trace_id)}
    extras = slow_span_extras(failing)
    print(
        f"seeded {demo.traces_written} traces (seed {args.seed}) in {seeded - started:.1f} s; "
        f"suite: {suite.findings} findings, {len(scorer_objects)} code scorers "
        f"({', '.join(s.name for s in scorer_objects)}) in {generated - seeded:.1f} s; "
        f"scored {len(traces)} traces ({len(clean)} clean) in {scored - generated:.1f} s"
    )
    if ids != manifest.keys():
        print(f"WARNING: {len(ids)} traces in the store, {len(manifest)} in the manifest")
    header = f"{'mode':<24} {'scorer':<46} {'recall':>6} {'precision':>9} {'clean FP rate':>13} {'affected n':>10}"
    print(header)
    print("-" * len(header))
    caught = 0
    for mode in FAILURE_MODES:
        affected = {trace_id for trace_id in ids if mode in manifest.get(trace_id, [])}

        def rank(name: str, affected: set[str] = affected) -> tuple[float, float]:
            recall, precision, _ = quality(failing[name], affected, clean)
            return recall, precision or 0.0

        best = max(failing, key=rank)
        rows = [(mode, best, failing[best])]
        if mode == "slow_span":
            rows += [(f"  {mode}", name, fails) for name, fails in extras.items()]
        mode_caught = False
        for label, name, fails in rows:
            recall, precision, fp_rate = quality(fails, affected, clean)
            mode_caught = mode_caught or (recall == 1.0 and fp_rate == 0.0)
            shown = "n/a" if precision is None else f"{precision:.2f}"
            print(f"{label:<24} {name:<46} {recall:>6.2f} {shown:>9} {fp_rate:>13.3f} {len(affected):>10}")
            if verbose:
                print(f"    missed: {sorted(affected - fails) or '-'}; clean flagged: {sorted(fails & clean) or '-'}")
                others = Counter(tuple(manifest[trace_id]) for trace_id in fails - affected)
                print(f"    also fails (planted modes of other traces): {dict(others) or '-'}")
        caught += mode_caught
    print(
        f"modes caught with recall 1.0 and clean FP rate 0: {caught}/{len(FAILURE_MODES)} "
        f"(target {len(FAILURE_MODES)}/{len(FAILURE_MODES)})"
    )
    print(f"overall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
