"""Whether the demo suite catches a worse agent offline: a panel of agents run through it.

Usage (from the repository root): python -m benchmarks.degenerate_agents [--traces 300]
Seeds the demo corpus into a temporary workspace, generates its suite offline, then runs
`run_eval.py --no-llm-judges --predict-fn <module>:<agent>` for each agent of
the panel (`mlflow_eval_mcp.demo.agent_panel.PANEL`) and prints which gates each one fails (aggregate
gates, and paired gates: cases production passed that the agent fails). Target: the demo agent as
recorded passes every gate; every other agent fails at least one.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlflow_eval_mcp.demo.agent_panel import PANEL
from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.pipeline import generate_suite
from mlflow_eval_mcp.suite.runner import run_suite
from mlflow_eval_mcp.tracking import open_client

EXPECTED_TO_PASS = "as_recorded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch)
        settings = Settings(workspace=workspace)
        demo = run_demo(settings, n_traces=args.traces)
        uri = settings.embedded_store_uri
        suite_dir = workspace / "suites" / "demo"
        generate_suite(
            open_client(uri),
            workspace_suites=lambda name: SuiteLayout.resolve(suite_dir, workspace=workspace, default_name=name),
            experiment_id=demo.experiment_id,
            max_traces=args.traces,
        )
        suite = SuiteLayout(suite_dir)
        print(f"{'agent':<18} {'exit':>4}  gates failed")
        verdicts = []
        for name, agent in PANEL.items():
            run = run_suite(
                suite,
                tracking_uri=uri,
                args=["--no-llm-judges", "--predict-fn", f"{agent.__module__}:{agent.__name__}"],
            )
            if run.result is None:
                print(f"{name:<18} {run.exit_code:>4}  the run gave no result: {run.stderr_tail[-300:]}")
                verdicts.append(False)
                continue
            failed = [gate.scorer for gate in run.result.gates if not gate.passed]
            failed += [f"{gate.scorer} (paired)" for gate in run.result.paired_gates if not gate.passed]
            print(f"{name:<18} {run.exit_code:>4}  {', '.join(failed) or '-'}")
            verdicts.append(not failed if name == EXPECTED_TO_PASS else bool(failed))
        caught = sum(verdicts)
        print(f"\n{caught}/{len(verdicts)} as expected (the recorded agent passes, every other agent fails a gate)")


if __name__ == "__main__":
    main()
