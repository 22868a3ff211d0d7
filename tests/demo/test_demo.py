"""`mlflow-eval-mcp demo`: the seeded corpus as MLflow stores it."""

import json
import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.demo.runner import DEMO_EXPERIMENT, run_demo
from mlflow_eval_mcp.demo.sample_agent import FAILURE_MODES
from mlflow_eval_mcp.frontend.cli import main
from mlflow_eval_mcp.settings import Settings


def _traces(demo_template, trace_ids):
    client = MlflowClient(tracking_uri=demo_template.uri)
    return [client.get_trace(trace_id) for trace_id in trace_ids]


def test_cli_demo_seeds_300_traces_and_loses_none(template_db, tmp_path, capsys):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "mlflow.db").write_bytes(template_db.read_bytes())
    main(["demo", "--workspace", str(workspace)])
    out = capsys.readouterr().out
    assert re.search(r"traces written: 300, already present: 0, lost: 0", out)
    assert "claude mcp add" in out
    assert re.search(r"validated \(\d+ s, run \w+\): passed, \d+ checks passed\n", out)
    assert (workspace / "suites" / DEMO_EXPERIMENT / "evaluation" / "run_eval.py").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(DEMO_EXPERIMENT)
    assert len(client.search_traces(locations=[experiment.experiment_id], max_results=1000, include_spans=False)) == 300


def test_rerunning_the_demo_adds_nothing(demo_store):
    again = run_demo(demo_store.settings(), n_traces=300)
    assert (again.traces_written, again.traces_already_present, again.traces_lost) == (0, 300, 0)


def test_demo_ignores_the_environment_tracking_uri(template_db, tmp_path, monkeypatch):
    elsewhere = tmp_path / "production.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere}")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "mlflow.db").write_bytes(template_db.read_bytes())
    result = run_demo(Settings(workspace=workspace), n_traces=5)
    assert result.tracking_uri == f"sqlite:///{(workspace / 'mlflow.db').resolve()}"
    assert not elsewhere.exists()


def test_manifest_names_every_trace_and_every_mode(demo_template):
    assert len(demo_template.planted) == 300
    for mode in FAILURE_MODES:
        assert len(demo_template.traces_with(mode)) >= 5, mode


def test_demo_result_shows_error_traces(demo_store):
    result = run_demo(demo_store.settings(), n_traces=300)
    assert result.error_traces.traces
    assert all(trace.state == "ERROR" for trace in result.error_traces.traces)
    assert json.loads(Path(result.manifest_path).read_text()) == demo_store.planted


def test_stored_traces_have_the_sample_agent_shape(demo_template):
    client = MlflowClient(tracking_uri=demo_template.uri)
    traces = client.search_traces(locations=[demo_template.experiment_id], max_results=50)
    span_types = {span.span_type for trace in traces for span in trace.data.spans}
    assert {"AGENT", "CHAT_MODEL", "TOOL", "RETRIEVER"} <= span_types
    for trace in traces:
        assert trace.info.trace_metadata["mlflow.trace.user"]
        assert trace.info.trace_metadata["mlflow.trace.session"]
        assert trace.info.token_usage["total_tokens"] > 0
        assert trace.info.tags["env"] == "production"


def test_tool_exceptions_are_error_spans_in_the_store(demo_template):
    for trace in _traces(demo_template, demo_template.traces_with("tool_exception")):
        failed = [s for s in trace.search_spans(span_type="TOOL") if s.status.status_code == "ERROR"]
        assert failed, trace.info.trace_id
        assert any(event.name == "exception" for event in failed[0].events)


def test_some_tool_exceptions_propagate_to_the_trace(demo_template):
    states = {trace.info.state.value for trace in _traces(demo_template, demo_template.traces_with("tool_exception"))}
    assert states == {"OK", "ERROR"}


def test_errors_returned_as_tool_output_keep_an_ok_status(demo_template):
    for trace in _traces(demo_template, demo_template.traces_with("tool_error_output")):
        returned = [
            s
            for s in trace.search_spans(span_type="TOOL")
            if s.status.status_code == "OK"
            and (
                (isinstance(s.outputs, dict) and "error" in s.outputs)
                or (isinstance(s.outputs, str) and s.outputs.startswith("Error"))
            )
        ]
        assert returned, trace.info.trace_id


@pytest.mark.parametrize("mode", ["empty_answer", "refusal", "truncated_answer", "oversized_prompt", "slow_span"])
def test_healthy_traces_show_no_planted_signature(demo_template, mode):
    healthy = [trace_id for trace_id, modes in demo_template.planted.items() if not modes][:40]
    for trace in _traces(demo_template, healthy):
        answer = trace.data.spans[0].outputs
        llm = trace.search_spans(name="generate_answer")[0]
        if mode == "empty_answer":
            assert answer
        elif mode == "refusal":
            assert "can't help" not in answer.lower()
        elif mode == "truncated_answer":
            assert llm.outputs["choices"][0]["finish_reason"] == "stop"
        elif mode == "oversized_prompt":
            assert llm.attributes["mlflow.chat.tokenUsage"]["input_tokens"] < 30_000
        else:
            assert all((s.end_time_ns - s.start_time_ns) < 5e9 for s in trace.data.spans[1:])
