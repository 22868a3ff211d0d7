"""analyze_traces on real stores: the demo corpus (ground truth known), hand-built traces for
robustness and for 'nothing invented', and the MCP tool."""

import dataclasses
import json

import pytest
from mcp import Client
from mlflow.entities import TraceInfo, TraceLocation, TraceState
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.importing.importer import import_traces
from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, span_id_for, stable_trace_id, write_traces
from mlflow_eval_mcp.suite.analysis_step import analyze_into_suite
from mlflow_eval_mcp.suite.layout import SuiteLayout
from tests.realdata import DATA_DIR
from tests.trace_factory import BASE_NS, MS, make_trace


@pytest.fixture(scope="module")
def demo_analysis(demo_template):
    client = MlflowClient(tracking_uri=demo_template.uri)
    return analyze_traces(client, experiment_id=demo_template.experiment_id, max_traces=1000)


def _finding_ids(analysis, kind: str) -> set[str]:
    return {trace_id for f in analysis.findings if f.kind == kind for trace_id in f.trace_ids}


def test_demo_overview(demo_analysis):
    overview = demo_analysis.overview
    assert overview.traces_analyzed == 300
    assert overview.users > 10 and overview.sessions > 10
    assert set(overview.states) == {"OK", "ERROR"}
    assert overview.first_request_time < overview.last_request_time


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("tool_exception", "tool_exceptions"),
        ("tool_error_output", "tool_error_outputs"),
        ("repeated_tool_calls", "repeated_tool_calls"),
        ("empty_answer", "empty_responses"),
        ("refusal", "refusals"),
        ("truncated_answer", "truncated_responses"),
        ("pii_in_output", "pii_in_outputs"),
        ("oversized_prompt", "token_outliers"),
    ],
)
def test_every_planted_failure_is_found_with_exactly_its_traces(demo_analysis, demo_template, mode, kind):
    assert _finding_ids(demo_analysis, kind) == set(demo_template.traces_with(mode))


def test_slow_tool_and_retrieval_spans_are_found(demo_analysis, demo_template):
    slow = {
        trace_id
        for f in demo_analysis.findings
        if f.kind == "latency_outliers" and f.details["span_type"] in ("TOOL", "RETRIEVER")
        for trace_id in f.trace_ids
    }
    planted = set(demo_template.traces_with("slow_span"))
    assert planted <= slow
    # The only others are tool calls that timed out: they really ran for seconds before failing.
    assert slow - planted <= set(demo_template.traces_with("tool_exception"))


def test_slow_model_calls_are_real_long_generations(demo_analysis, demo_template):
    slow_llm = {
        trace_id
        for f in demo_analysis.findings
        if f.kind == "latency_outliers" and f.details["span_type"] == "CHAT_MODEL"
        for trace_id in f.trace_ids
    }
    long_generations = set(demo_template.traces_with("oversized_prompt")) | set(
        demo_template.traces_with("truncated_answer")
    )
    assert slow_llm <= long_generations


def test_trace_errors_are_exactly_the_failed_traces(demo_analysis, demo_template):
    failed = MlflowClient(tracking_uri=demo_template.uri).search_traces(
        locations=[demo_template.experiment_id], filter_string="trace.status = 'ERROR'", max_results=1000
    )
    assert _finding_ids(demo_analysis, "trace_errors") == {t.info.trace_id for t in failed}
    assert _finding_ids(demo_analysis, "trace_errors") <= set(demo_template.traces_with("tool_exception"))


def test_tool_errors_cluster_by_message_shape(demo_analysis):
    clusters = demo_analysis.error_clusters
    assert clusters and clusters[0].count >= 3
    assert all("<num>" in c.signature or "<id>" in c.signature or c.count == 1 for c in clusters[:3])


def test_findings_carry_evidence_and_scorers(demo_analysis):
    for finding in demo_analysis.findings:
        assert finding.evidence, finding.id
        assert finding.suggested_scorer
        assert finding.count == len(finding.trace_ids)
        assert finding.rate == pytest.approx(finding.count / 300, abs=1e-4)


def test_recommendations_follow_the_data(demo_analysis):
    names = {scorer.name for scorer in demo_analysis.recommended_scorers}
    assert {"RetrievalGroundedness", "ToolCallEfficiency", "Safety", "tool_call_errors", "no_pii_in_output"} <= names
    assert "Correctness" not in names  # the demo traces carry no expectations
    assert demo_analysis.dataset_strategy.strategy == "hybrid"


def test_structure_and_stats_describe_the_agent(demo_analysis):
    structure = demo_analysis.structure
    assert structure.has_retrieval and structure.has_tools and structure.has_llm
    assert structure.root_names == {"support_agent": 300}
    assert {tool.name for tool in demo_analysis.tools} >= {"lookup_order"}
    assert demo_analysis.latency.by_span_type["CHAT_MODEL"].count > 300
    assert demo_analysis.tokens.traces_with_usage == 300
    assert len(demo_analysis.input_clusters) >= 3


def test_analysis_is_written_to_the_suite_directory(demo_template, tmp_path):
    client = MlflowClient(tracking_uri=demo_template.uri)
    suite = SuiteLayout.resolve(tmp_path / "s", workspace=tmp_path, default_name="")
    result = analyze_into_suite(client, suite, experiment_id=demo_template.experiment_id, max_traces=50)
    stored = json.loads((tmp_path / "s" / "state" / "analysis.json").read_text())
    assert stored["overview"]["traces_analyzed"] == 50
    assert stored["findings"] == json.loads(result.model_dump_json())["findings"]
    tasks = json.loads((tmp_path / "s" / "eval_tasks.json").read_text())
    assert tasks["steps"][0] == {**tasks["steps"][0], "name": "analyze", "status": "completed"}
    assert tasks["experiment_id"] == demo_template.experiment_id


def test_max_traces_is_bounded(store_uri):
    with pytest.raises(InvalidArgumentError, match="50,000"):
        analyze_traces(MlflowClient(tracking_uri=store_uri), experiment_id="0", max_traces=50_001)


def _healthy(count: int) -> list[TraceRecord]:
    return [make_trace(index) for index in range(count)]


def test_healthy_traces_yield_no_findings(store_uri):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("healthy")
    write_traces(store_uri, experiment_id, _healthy(40))
    analysis = analyze_traces(MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id)
    assert analysis.findings == []


def _agent_trace(index: int, subagents: int) -> TraceRecord:
    start = BASE_NS + index * 60_000 * MS
    spans = [SpanRecord(span_id_for(0), None, "orchestrator", "AGENT", start, start + 100 * MS, {"q": "x"}, "done.")]
    for step in range(subagents):
        spans.append(
            SpanRecord(
                span_id_for(step + 1), span_id_for(0), f"worker-{step % 3}", "AGENT", start + step, start + step + 1
            )
        )
    return TraceRecord(stable_trace_id(f"agents-{index}"), spans)


def test_subagent_fanout_outliers_are_found(store_uri):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("agents")
    records = [_agent_trace(i, 1 + i % 2) for i in range(30)] + [_agent_trace(99, 25)]
    write_traces(store_uri, experiment_id, records)
    analysis = analyze_traces(MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id)
    assert _finding_ids(analysis, "subagent_fanout") == {records[-1].trace_id}
    assert analysis.structure.subagents["worker-0"] == 31


def test_odd_traces_are_analysed_without_crashing(store_uri):
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("odd")
    base = make_trace(1)
    odd = [
        dataclasses.replace(base, spans=[dataclasses.replace(base.spans[0], inputs=[1, 2], outputs=42)]),
        dataclasses.replace(
            make_trace(2),
            spans=[dataclasses.replace(make_trace(2).spans[0], inputs="just text \U0001f600", outputs="x" * 3_000_000)],
        ),
        dataclasses.replace(
            make_trace(3),
            spans=[dataclasses.replace(make_trace(3).spans[0], inputs=None, outputs={"a": {"b": [None]}})],
        ),
    ]
    write_traces(store_uri, experiment_id, odd)
    MlflowClient(tracking_uri=store_uri)._tracking_client.store.start_trace(
        TraceInfo(
            trace_id=stable_trace_id("running"),
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=BASE_NS // MS,
            execution_duration=None,
            state=TraceState.IN_PROGRESS,
        )
    )
    analysis = analyze_traces(MlflowClient(tracking_uri=store_uri), experiment_id=experiment_id)
    assert analysis.overview.traces_analyzed == 4
    assert analysis.overview.traces_without_spans == 1
    assert analysis.overview.traces_unreadable == 0
    assert analysis.overview.states["IN_PROGRESS"] == 1


@pytest.mark.anyio
async def test_the_tool_reports_progress_and_returns_the_analysis(demo_template):
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with Client(create_server(demo_template.settings())) as client:
        result = await client.call_tool(
            "analyze_traces",
            {"experiment_name": "mlflow-eval-demo", "max_traces": 300},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert result.structured_content["traces_analyzed"] == 300
    assert result.structured_content["mode"] == "offline"
    assert seen[-1] == (300, 300)


@pytest.mark.realdata
@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="real data folder is absent")
def test_who_and_when_failures_surface(store_uri, tmp_path):
    client = MlflowClient(tracking_uri=store_uri)
    imported = import_traces(client, DATA_DIR / "who_and_when", experiment_name="who-and-when", artifacts_dir=tmp_path)
    analysis = analyze_traces(client, experiment_id=imported.experiment_id, max_traces=1000)
    assert analysis.overview.traces_analyzed == 184
    kinds = {finding.kind for finding in analysis.findings}
    assert "tool_error_outputs" in kinds  # code execution steps that failed (exitcode != 0)
    assert "subagent_fanout" in kinds  # runs with far more agent turns than usual
    names = {scorer.name for scorer in analysis.recommended_scorers}
    assert "Correctness" in names  # the human labels give every run an expected response
    assert analysis.structure.subagents
