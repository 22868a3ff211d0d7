"""Small suites built step by step on a real store, for tests that need one."""

from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.importing.trace_writer import TraceRecord, write_traces
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.models import RunScriptResult, ScorersResult
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from tests.trace_factory import make_trace


def experiment_with(store_uri: str, records: list[TraceRecord] | None = None) -> tuple[MlflowClient, str]:
    """A new experiment "agent" holding `records` (default: agent_with_failing_tools())."""
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment("agent")
    write_traces(store_uri, experiment_id, agent_with_failing_tools() if records is None else records)
    return client, experiment_id


def agent_with_failing_tools() -> list[TraceRecord]:
    """20 healthy traces and 4 whose tool timed out."""
    return [make_trace(i) for i in range(20)] + [make_trace(100 + i, tool_error="timed out") for i in range(4)]


@dataclass
class BuiltSuite:
    client: MlflowClient
    suite: SuiteLayout
    analysis: TraceAnalysis
    scorers: ScorersResult | None = None
    script: RunScriptResult | None = None


def analysed(store_uri: str, tmp_path: Path, records: list[TraceRecord], name: str = "agent") -> BuiltSuite:
    """`records` in a new experiment, analysed into `tmp_path/suite`."""
    client = MlflowClient(tracking_uri=store_uri)
    experiment_id = client.create_experiment(name)
    write_traces(store_uri, experiment_id, records)
    suite = SuiteLayout(tmp_path / "suite")
    return BuiltSuite(client, suite, analyze_into_suite(client, suite, experiment_id=experiment_id))


def built(
    store_uri: str, tmp_path: Path, records: list[TraceRecord] | None = None, **dataset_options: object
) -> BuiltSuite:
    """The whole offline pipeline: analysis, dataset (with `dataset_options`), scorers, run script."""
    suite = analysed(store_uri, tmp_path, agent_with_failing_tools() if records is None else records)
    generate_dataset(suite.client, suite.suite, **dataset_options)
    suite.scorers = generate_scorers(suite.suite)
    suite.script = render_run_script(suite.suite)
    return suite
