"""Small suites built step by step on a real store, for tests that need one."""

import atexit
import shutil
import tempfile
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
    """The whole offline pipeline: analysis, dataset (with `dataset_options`), scorers, run script.
    The default suite (default records and options, in the test's own store) is built once per
    process and copied, with its paths, into each test that asks for it again."""
    default = records is None and not dataset_options and store_uri == _store_uri(tmp_path)
    if default and _DEFAULT:
        return _copied(_DEFAULT[0], tmp_path)
    suite = analysed(store_uri, tmp_path, agent_with_failing_tools() if records is None else records)
    generate_dataset(suite.client, suite.suite, **dataset_options)
    suite.scorers = generate_scorers(suite.suite)
    suite.script = render_run_script(suite.suite)
    if default:
        _DEFAULT.append(_snapshot(suite, tmp_path))
    return suite


@dataclass(frozen=True)
class _Snapshot:
    root: Path
    tmp_path: str
    analysis: str
    scorers: str
    script: str


_DEFAULT: list[_Snapshot] = []


def _store_uri(tmp_path: Path) -> str:
    """Where conftest's `store_uri` puts a test's store."""
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def _snapshot(suite: BuiltSuite, tmp_path: Path) -> _Snapshot:
    root = Path(tempfile.mkdtemp(prefix="default-suite-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    shutil.copy(tmp_path / "store" / "mlflow.db", root / "mlflow.db")
    shutil.copytree(suite.suite.root, root / "suite")
    assert suite.scorers is not None and suite.script is not None
    return _Snapshot(
        root,
        str(tmp_path),
        suite.analysis.model_dump_json(),
        suite.scorers.model_dump_json(),
        suite.script.model_dump_json(),
    )


def _copied(snapshot: _Snapshot, tmp_path: Path) -> BuiltSuite:
    """The snapshot's store and suite in `tmp_path`, every path in them moved there too."""

    def moved(text: str) -> str:
        return text.replace(snapshot.tmp_path + "/", f"{tmp_path}/")

    shutil.copy(snapshot.root / "mlflow.db", tmp_path / "store" / "mlflow.db")
    shutil.copytree(snapshot.root / "suite", tmp_path / "suite")
    for path in (tmp_path / "suite").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md"):
            path.write_text(moved(path.read_text(encoding="utf-8")), encoding="utf-8")
    return BuiltSuite(
        MlflowClient(tracking_uri=_store_uri(tmp_path)),
        SuiteLayout(tmp_path / "suite"),
        TraceAnalysis.model_validate_json(moved(snapshot.analysis)),
        ScorersResult.model_validate_json(moved(snapshot.scorers)),
        RunScriptResult.model_validate_json(moved(snapshot.script)),
    )
