"""The analysis's reading figure (`TraceAnalysis.reading`) and its token and cost totals, over the
autolog fixtures imported into a real store and over a trace logged with MLflow's own tracing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from mlflow.entities.trace_location import MlflowExperimentLocation
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.analysis.models import ReadingCoverage, TraceAnalysis
from tests.test_autolog_fixtures import FIXTURES, _analysed

INTEGRATIONS = ("openai", "anthropic", "langgraph", "litellm", "dspy", "openai_responses")


@pytest.fixture(scope="module")
def analysis_of(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], TraceAnalysis]:
    """Each integration's fixtures imported into one store (an experiment each) and analysed once:
    the tests only read the analyses."""
    directory = tmp_path_factory.mktemp("coverage")
    shutil.copy(template_db, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    analyses: dict[str, TraceAnalysis] = {}

    def of(integration: str) -> TraceAnalysis:
        if integration not in analyses:
            analyses[integration] = _analysed(integration, uri, directory)[0]
        return analyses[integration]

    return of


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_every_recorded_span_of_the_fixtures_is_understood(analysis_of, integration):
    reading = analysis_of(integration).reading
    assert (reading.share, reading.not_understood) == (1.0, {})


def test_anthropics_streamed_calls_are_counted_as_not_recorded_rather_than_not_understood(analysis_of):
    reading = analysis_of("anthropic").reading
    assert reading.not_recorded == {"Messages.create": 2}
    assert (reading.understood, reading.share) == (reading.spans_read - 2, 1.0)


def test_the_cost_totals_what_mlflow_priced(analysis_of):
    records = json.loads((FIXTURES / "openai.json").read_text(encoding="utf-8"))["traces"]
    priced = [
        json.loads(span["attributes"]["mlflow.llm.cost"])["total_cost"]
        for record in records
        for span in record["trace"]["data"]["spans"]
        if "mlflow.llm.cost" in span["attributes"]
    ]
    assert len(priced) == 16
    assert analysis_of("openai").tokens.cost_usd == round(sum(priced), 6) > 0


def test_tokens_by_model_count_cached_input_where_the_calls_recorded_it(analysis_of):
    assert analysis_of("anthropic").tokens.by_model == {
        "claude-sonnet-4-5": {"calls": 16, "input_tokens": 952, "output_tokens": 292, "cache_read_tokens": 0}
    }


def test_tokens_by_model_count_only_the_calls_to_a_model(analysis_of):
    # DSPy's autolog types each `Predict.forward` module LLM as well as the LM.__call__ inside it.
    assert analysis_of("dspy").tokens.by_model == {"openai/gpt-4o-mini": {"calls": 21}}


def test_a_model_output_of_an_unknown_shape_lowers_the_share_and_is_named(store_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)  # recorded, so teardown restores it
    mlflow.set_tracking_uri(store_uri)
    client = MlflowClient(tracking_uri=store_uri)
    # An explicit destination rather than set_experiment, which would leave a process-wide experiment.
    experiment_id = client.create_experiment("odd")
    try:
        with mlflow.start_span(
            "agent", span_type="AGENT", trace_destination=MlflowExperimentLocation(experiment_id)
        ) as root:
            root.set_inputs({"question": "hi"})
            with mlflow.start_span("odd_llm", span_type="CHAT_MODEL") as llm:
                llm.set_inputs({"messages": [{"role": "user", "content": "hi"}]})
                llm.set_outputs({"weird": {"x": 1}})
            root.set_outputs("hello")
    finally:
        mlflow.set_tracking_uri(None)
    reading = analyze_traces(client, experiment_id=experiment_id).reading
    assert reading == ReadingCoverage(
        spans_read=2, understood=1, share=0.5, not_understood={"odd_llm (outputs)": 1}, not_recorded={}
    )
