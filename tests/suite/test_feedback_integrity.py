"""push_feedback and pull_feedback under pressure: pushes at the same time (threads, processes,
parallel MCP calls) write each assessment once, a push repairs the copies an overlapping push
left, a half-built suite names the step to run first, and expectations pulled from the traces
bring the judges that need them without a new analysis."""

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mlflow.entities import AssessmentSource, Expectation, Feedback
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.feedback import SOURCE_PREFIX, pull_feedback, push_feedback
from mlflow_eval_mcp.suite.layout import CASES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import PushResult
from mlflow_eval_mcp.suite.runner import run_suite
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from tests.suite_factory import agent_with_failing_tools, analysed, built

# Each process waits for the go file, so that both read the traces before either writes.
PUSH_IN_A_PROCESS = """
import sys, time
from pathlib import Path
from mlflow.tracking import MlflowClient
from mlflow_eval_mcp.suite.feedback import push_feedback
from mlflow_eval_mcp.suite.layout import SuiteLayout
uri, suite_dir, ready, go = sys.argv[1:]
client, suite = MlflowClient(tracking_uri=uri), SuiteLayout(Path(suite_dir))
push_feedback(client, suite, dry_run=True)  # imports and store connections: both start the push warm
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
print(push_feedback(client, suite).model_dump_json())
"""


@dataclass(frozen=True)
class Evaluated:
    """A copy of a small suite whose recorded traces have been evaluated once."""

    uri: str
    suite: SuiteLayout
    workspace: Path

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def pushed_copies(self) -> Counter[tuple[str, str, str]]:
        """(trace, name, source) -> how many valid copies of this suite's feedback the store holds."""
        copies: Counter[tuple[str, str, str]] = Counter()
        for trace in self.source_traces():
            for a in trace.info.assessments or []:
                if a.source.source_id.startswith(SOURCE_PREFIX) and a.valid is not False:
                    copies[(trace.info.trace_id, a.name, a.source.source_id)] += 1
        return copies

    def source_traces(self) -> list:
        ids = {json.loads(line)["source_trace_id"] for line in self.suite.path(CASES_FILE).read_text().splitlines()}
        return [self.client.get_trace(trace_id) for trace_id in sorted(ids)]


@pytest.fixture(scope="module")
def evaluated_template(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluated")
    (root / "store").mkdir()
    shutil.copy(template_db, root / "store" / "mlflow.db")
    uri = f"sqlite:///{root / 'store' / 'mlflow.db'}"
    suite = built(uri, root).suite
    run = run_suite(suite, tracking_uri=uri, args=["--no-llm-judges"])
    assert run.exit_code == 0, run.stderr_tail
    return root


@pytest.fixture
def evaluated(evaluated_template: Path, tmp_path: Path) -> Evaluated:
    root = tmp_path / "evaluated"
    shutil.copytree(evaluated_template, root)
    return Evaluated(f"sqlite:///{root / 'store' / 'mlflow.db'}", SuiteLayout(root / "suite"), root / "workspace")


def _assert_one_copy_each(evaluated: Evaluated, pushes: list[PushResult]) -> None:
    copies = evaluated.pushed_copies()
    assert copies and set(copies.values()) == {1}, [key for key, count in copies.items() if count > 1]
    assert sorted((push.logged, push.unchanged) for push in pushes) == [(0, len(copies)), (len(copies), 0)]


def test_two_threads_pushing_at_once_write_each_assessment_once(evaluated):
    start = threading.Barrier(2)
    pushes: list[PushResult] = []

    def push() -> None:
        client = evaluated.client
        start.wait()
        pushes.append(push_feedback(client, evaluated.suite))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_one_copy_each(evaluated, pushes)


def test_two_processes_pushing_at_once_write_each_assessment_once(evaluated, tmp_path):
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PUSH_IN_A_PROCESS, evaluated.uri, str(evaluated.suite.root), str(flag), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err[-2000:] for _, err in outputs]
    pushes = [PushResult.model_validate_json(out.strip().splitlines()[-1]) for out, _ in outputs]
    _assert_one_copy_each(evaluated, pushes)


@pytest.mark.anyio
async def test_parallel_push_feedback_calls_in_one_mcp_session_write_each_assessment_once(evaluated):
    settings = Settings(workspace=evaluated.workspace, tracking_uri=evaluated.uri)
    results = []
    async with Client(create_server(settings)) as client:

        async def push() -> None:
            results.append(await client.call_tool("push_feedback", {"suite_dir": str(evaluated.suite.root)}))

        async with anyio.create_task_group() as group:
            group.start_soon(push)
            group.start_soon(push)
    assert not any(result.is_error for result in results), results
    _assert_one_copy_each(evaluated, [PushResult.model_validate(result.structured_content) for result in results])


def test_a_push_deletes_the_extra_copies_an_overlapping_push_left_and_nothing_else(evaluated):
    client = evaluated.client
    first = push_feedback(client, evaluated.suite)
    tracing = client._tracing_client
    someone = AssessmentSource(source_type="HUMAN", source_id="carol")
    extras = 0
    for trace in evaluated.source_traces():
        for a in trace.info.assessments or []:
            if a.source.source_id.startswith(SOURCE_PREFIX):
                copy = Feedback(name=a.name, value=a.feedback.value, rationale=a.rationale, source=a.source)
                tracing.log_assessment(trace.info.trace_id, copy)
                tracing.log_assessment(trace.info.trace_id, Feedback(name=a.name, value=True, source=someone))
                extras += 1
    assert extras == first.logged and set(evaluated.pushed_copies().values()) == {2}

    dry = push_feedback(client, evaluated.suite, dry_run=True)
    assert (dry.deduplicated, dry.unchanged) == (extras, first.logged)
    assert set(evaluated.pushed_copies().values()) == {2}

    repaired = push_feedback(client, evaluated.suite)
    assert (repaired.deduplicated, repaired.unchanged, repaired.logged) == (extras, first.logged, 0)
    assert set(evaluated.pushed_copies().values()) == {1}
    carols = sum(a.source.source_id == "carol" for t in evaluated.source_traces() for a in t.info.assessments or [])
    assert carols == extras  # another source's feedback under the same names is not the suite's to delete
    assert push_feedback(client, evaluated.suite).deduplicated == 0


def test_push_on_an_empty_suite_names_the_first_step_and_creates_nothing(store_uri, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    client = MlflowClient(tracking_uri=store_uri)
    with pytest.raises(InvalidArgumentError, match=r"no completed 'analyze' step yet; run analyze_traces\("):
        push_feedback(client, SuiteLayout(empty))
    with pytest.raises(InvalidArgumentError, match=r"no completed 'analyze' step yet; run analyze_traces\("):
        pull_feedback(client, SuiteLayout(empty))
    assert list(empty.iterdir()) == []


def test_push_on_an_analysed_suite_says_generate_the_dataset_next(store_uri, tmp_path):
    suite = analysed(store_uri, tmp_path, agent_with_failing_tools())
    with pytest.raises(InvalidArgumentError, match=r"no completed 'dataset' step yet; run generate_dataset\("):
        push_feedback(suite.client, suite.suite)
    generate_dataset(suite.client, suite.suite)
    with pytest.raises(InvalidArgumentError, match=r"no completed 'scorers' step yet; run generate_scorers\("):
        push_feedback(suite.client, suite.suite)
    generate_scorers(suite.suite)
    with pytest.raises(InvalidArgumentError, match=r"no completed 'script' step yet; run render_run_script\("):
        push_feedback(suite.client, suite.suite)


def test_push_on_a_suite_never_evaluated_says_to_run_it(store_uri, tmp_path):
    suite = built(store_uri, tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"has no evaluation run yet .*; run validate_eval\("):
        push_feedback(suite.client, suite.suite)


def _expected_responses(result) -> int:
    """How many cases the Correctness judge says carry an expected response."""
    (correctness,) = [judge for judge in result.judges if judge.judge == "Correctness"]
    assert correctness.requires_expectations == ["expected_response"]
    return int(re.search(r"(\d+) expected_response", correctness.reason).group(1))


def test_expectations_pulled_from_the_traces_reach_the_correctness_judge(evaluated):
    before = _expected_responses(generate_scorers(evaluated.suite))  # the good recordings' own answers
    recorded = next(
        case
        for case in map(json.loads, evaluated.suite.path(CASES_FILE).read_text().splitlines())
        if case["kind"] == "recorded" and "expected_response" not in case["expectations"]
    )
    reviewer = AssessmentSource(source_type="HUMAN", source_id="alice@example.com")
    expectation = Expectation(name="expected_response", value="Your order ships Monday.", source=reviewer)
    evaluated.client._tracing_client.log_assessment(recorded["source_trace_id"], expectation)

    pulled = pull_feedback(evaluated.client, evaluated.suite)
    assert (pulled.expectations, pulled.cases_updated) == (1, 1)
    assert pulled.next_step.startswith("generate_scorers(")
    assert _expected_responses(generate_scorers(evaluated.suite)) == before + 1
