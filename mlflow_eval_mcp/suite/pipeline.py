"""The whole offline pipeline into one suite directory: analyse → dataset → scorers → script."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlflow_eval_mcp.analysis.table_analysis import EngineChoice
from mlflow_eval_mcp.limits import MAX_CASES, MAX_TRACES
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.judge_model import check_judge_model
from mlflow_eval_mcp.suite.layout import SuiteLayout
from mlflow_eval_mcp.suite.models import GenerateResult, Strategy
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from mlflow_eval_mcp.tracking import resolve_experiment

STEPS = ("analyse", "dataset", "scorers", "script")
"""The pipeline's steps, in the order `on_progress` reports them."""

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession


def generate_suite(
    client: MlflowClient,
    *,
    workspace_suites: Callable[[str], SuiteLayout],
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_traces: int = MAX_TRACES,
    strategy: Strategy | None = None,
    max_cases: int = MAX_CASES,
    include_synthetic: bool = True,
    redact: bool = True,
    judge_model: str | None = None,
    gates: dict[str, float] | None = None,
    on_progress: Callable[[str], None] | None = None,
    claude: ClaudeSession | None = None,
    trace_table: str | None = None,
    engine: EngineChoice = "auto",
    days: float | None = None,
) -> GenerateResult:
    """`workspace_suites(experiment name)` gives the suite directory (the caller's choice, or
    the default one named after the experiment). With a span table, the analysis runs as SQL there and the
    dataset's traces are then fetched from the store by id."""
    check_judge_model(judge_model)  # now, not after the analysis and the dataset
    experiment = resolve_experiment(client, experiment_id, experiment_name)
    suite = workspace_suites(experiment.name)

    def step(name: str) -> None:
        if on_progress is not None:
            on_progress(name)

    step("analyse")
    analysis = analyze_into_suite(
        client,
        suite,
        experiment_id=experiment.experiment_id,
        filter_string=filter_string,
        max_traces=max_traces,
        claude=claude,
        trace_table=trace_table,
        engine=engine,
        days=days,
    )
    step("dataset")
    dataset = generate_dataset(
        client,
        suite,
        strategy=strategy,
        max_cases=max_cases,
        include_synthetic=include_synthetic,
        redact=redact,
        claude=claude,
    )
    step("scorers")
    scorers = generate_scorers(suite, judge_model=judge_model, claude=claude)
    step("script")
    script = render_run_script(suite, gates=gates)
    result = GenerateResult(
        suite_dir=str(suite.root),
        traces_analyzed=analysis.overview.traces_analyzed,
        findings=len(analysis.findings),
        dataset=dataset,
        scorers=scorers,
        script=script,
    )
    if claude is not None:
        claude.stamp(result, contributed="claude" in {analysis.mode, dataset.mode, scorers.mode})
    return result
