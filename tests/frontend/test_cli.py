"""The headless CLI: the same library calls, JSON on stdout, one-line errors."""

import json

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.frontend.cli import _parser, main
from mlflow_eval_mcp.importing.trace_writer import write_traces
from tests.trace_factory import make_trace


def _seeded(store_uri: str) -> str:
    experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("orders")
    write_traces(store_uri, experiment_id, [make_trace(i) for i in range(3)])
    return experiment_id


@pytest.mark.parametrize(
    "argv",
    [
        ["--workspace", "/w", "--tracking-uri", "sqlite:////s.db", "list-experiments"],
        ["list-experiments", "--workspace", "/w", "--tracking-uri", "sqlite:////s.db"],
    ],
)
def test_common_options_work_before_or_after_the_command(argv):
    args = _parser().parse_args(argv)
    assert (str(args.workspace), args.tracking_uri) == ("/w", "sqlite:////s.db")


def test_tracking_uri_reaches_the_server_command():
    args = _parser().parse_args(["--tracking-uri", "http://127.0.0.1:5000", "serve"])
    assert args.tracking_uri == "http://127.0.0.1:5000"


def test_search_traces_prints_json(store_uri, capsys):
    _seeded(store_uri)
    main(["search-traces", "--tracking-uri", store_uri, "--experiment-name", "orders", "--max-results", "2"])
    result = json.loads(capsys.readouterr().out)
    assert len(result["traces"]) == 2 and result["next_page_token"]


def test_get_trace_prints_json(store_uri, capsys):
    _seeded(store_uri)
    main(["--tracking-uri", store_uri, "get-trace", make_trace(1).trace_id, "--max-chars", "100"])
    root, *children = json.loads(capsys.readouterr().out)["spans"]
    assert (root["name"], len(children)) == ("agent", 2)


def test_import_prints_the_summary(store_uri, tmp_path, capsys):
    source = tmp_path / "chats.jsonl"
    source.write_text(
        json.dumps(
            {"id": "c1", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
        )
        + "\nnot json\n"
    )
    main(["import", str(source), "--experiment", "imported", "--tracking-uri", store_uri])
    result = json.loads(capsys.readouterr().out)
    assert (result["imported"], result["skipped"]) == (1, 1)
    assert result["files"] == [{"file": str(source), "format": "chat"}]


def test_errors_are_one_line_and_exit_non_zero(store_uri):
    _seeded(store_uri)
    with pytest.raises(SystemExit) as exited:
        main(["search-traces", "--tracking-uri", store_uri, "--experiment-name", "nope"])
    message = str(exited.value.code)
    assert message.startswith("Error: No experiment with name 'nope'")
    assert "\n" not in message


def test_analyze_prints_the_analysis_and_writes_it_to_the_suite(store_uri, tmp_path, capsys):
    _seeded(store_uri)
    suite = tmp_path / "suite"
    main(["analyze", "--tracking-uri", store_uri, "--experiment-name", "orders", "--suite-dir", str(suite)])
    result = json.loads(capsys.readouterr().out)
    assert result["overview"]["traces_analyzed"] == 3
    assert json.loads((suite / "state" / "analysis.json").read_text())["overview"] == result["overview"]


def test_generate_writes_a_whole_suite(store_uri, tmp_path, capsys):
    _seeded(store_uri)
    suite = tmp_path / "suite"
    main(["generate", "--tracking-uri", store_uri, "--experiment-name", "orders", "--suite-dir", str(suite)])
    result = json.loads(capsys.readouterr().out)
    assert result["suite_dir"] == str(suite)
    assert {"cases.jsonl", "scorer_config.json", "gates.json"} <= {
        p.name for p in (suite / "evaluation" / "data").iterdir()
    }
    assert (suite / "evaluation" / "run_eval.py").exists()


def test_suite_steps_run_one_by_one_from_the_cli(store_uri, tmp_path, capsys):
    _seeded(store_uri)
    suite = str(tmp_path / "suite")
    main(["analyze", "--tracking-uri", store_uri, "--experiment-name", "orders", "--suite-dir", suite])
    main(["generate-dataset", "--tracking-uri", store_uri, "--suite-dir", suite, "--max-cases", "5"])
    main(["generate-scorers", "--tracking-uri", store_uri, "--suite-dir", suite])
    capsys.readouterr()
    main(["render-run-script", "--tracking-uri", store_uri, "--suite-dir", suite, "--gate", "trace_succeeded=0.5"])
    assert json.loads(capsys.readouterr().out)["gates"]["trace_succeeded"] == 0.5


def test_a_malformed_gate_is_a_one_line_error(store_uri, tmp_path):
    with pytest.raises(SystemExit, match="must look like SCORER=MIN"):
        main(["render-run-script", "--tracking-uri", store_uri, "--suite-dir", str(tmp_path / "s"), "--gate", "x"])


def test_validate_eval_exits_1_when_the_suite_fails_validation(store_uri, tmp_path, capsys):
    from tests.suite_factory import built

    suite = built(store_uri, tmp_path).suite
    (suite.root / "evaluation" / "scorers.py").write_text("def broken(:\n")
    with pytest.raises(SystemExit) as exited:
        main(["validate-eval", "--tracking-uri", store_uri, "--suite-dir", str(suite.root), "--static-only"])
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out)["status"] == "failed"
