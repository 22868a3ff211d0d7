"""generate_scorers with Claude: proposals tried before they are accepted, broken code repaired or
dropped, and the accepted scorers run in the suite (real SDK, fake Messages API on 127.0.0.1)."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.claude.session import open_claude
from mlflow_eval_mcp.suite.dataset import generate_dataset
from mlflow_eval_mcp.suite.layout import GENERATED_SCORERS_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import ScorersResult
from mlflow_eval_mcp.suite.run_script import render_run_script
from mlflow_eval_mcp.suite.scorer_plan import generate_scorers
from mlflow_eval_mcp.suite.validation import validate_eval
from tests.fake_anthropic import claude_settings, fake_anthropic, prompt_text, task_of, tool_answer
from tests.suite_copies import copy_prepared, store_uri
from tests.suite_factory import agent_with_failing_tools, analysed

GOOD_CODE = '''import re


def answer_is_one_sentence(outputs):
    """Order answers are one short sentence."""
    text = outputs if isinstance(outputs, str) else ""
    return len(re.findall(r"[.!?]", text)) <= 1
'''
BROKEN_CODE = "def mentions_status(outputs)\n    return 'shipped' in str(outputs)\n"
FIXED_CODE = "def mentions_status(outputs):\n    return 'shipped' in str(outputs)\n"
FORBIDDEN_CODE = "def reads_files(outputs):\n    return bool(open('/etc/passwd').read())\n"

PROPOSALS = {
    "guidelines": [
        {
            "name": "states_order_status",
            "guidelines": ["The response states the order's status or says it could not be looked up."],
            "findings": ["tool_exceptions", "no-such-finding"],
            "reason": "Customers ask where their order is.",
        }
    ],
    "judges": [
        {
            "name": "no_invented_status",
            "instructions": "Pass if {{ outputs }} states no order status that {{ inputs }} cannot support.",
            "findings": [],
            "reason": "Unsupported claims.",
        },
        {
            "name": "uses_context",
            "instructions": "Judge {{ context }} against {{ outputs }}.",
            "findings": [],
            "reason": "Uses a variable make_judge does not have.",
        },
    ],
    "code_scorers": [
        {"name": "answer_is_one_sentence", "code": GOOD_CODE, "findings": [], "reason": "Short answers."},
        {"name": "mentions_status", "code": BROKEN_CODE, "findings": [], "reason": "Status named."},
        {"name": "reads_files", "code": FORBIDDEN_CODE, "findings": [], "reason": "Not allowed."},
    ],
}


def _respond(request):
    if task_of(request) == "scorer_proposals":
        return tool_answer(request, PROPOSALS)
    text = prompt_text(request)
    if "'mentions_status'" in text:
        return tool_answer(request, {"code": FIXED_CODE})
    attempt = text.count("passwd") + text.count("passwd-1")  # 1, then 2: each repair differs and is still forbidden
    return tool_answer(request, {"code": FORBIDDEN_CODE.replace("passwd", f"passwd-{attempt}")})


@dataclass(frozen=True)
class Generated:
    """The default agent's suite (analysis and dataset) with the scorers Claude proposed, made once in
    `root` (store/, suite/ and Claude's workspace ws/): the result and the tasks the fake was asked."""

    root: Path
    result: ScorersResult
    tasks: list[str]

    def copy(self, root: Path) -> tuple[MlflowClient, SuiteLayout]:
        """The store and suite copied into `root`, for a test that changes them."""
        copy_prepared(self.root, root)
        return MlflowClient(tracking_uri=store_uri(root)), SuiteLayout(root / "suite")


@pytest.fixture(scope="module")
def generated(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("claude-scorers")
    (root / "store").mkdir()
    shutil.copy(template_db, root / "store" / "mlflow.db")
    built = analysed(store_uri(root), root, agent_with_failing_tools())
    generate_dataset(built.client, built.suite)
    with fake_anthropic(_respond) as fake:
        result = generate_scorers(built.suite, claude=open_claude(claude_settings(fake, root / "ws")))
    return Generated(root, result, fake.tasks())


def test_claude_scorers_are_accepted_repaired_or_dropped_with_reasons(generated):
    result = generated.result
    assert result.mode == "claude"
    assert [spec.name for spec in result.generated_code_scorers] == ["answer_is_one_sentence", "mentions_status"]
    claude_judges = {judge.name: judge for judge in result.judges if judge.source == "claude"}
    assert set(claude_judges) == {"states_order_status", "no_invented_status"}
    assert claude_judges["states_order_status"].findings == ["tool_exceptions"]
    assert claude_judges["no_invented_status"].judge == "make_judge"
    dropped = "\n".join(result.dropped)
    assert "uses_context: instructions must use" in dropped
    assert "reads_files: still broken after 2 repairs" in dropped
    assert "open is not allowed" in dropped
    assert generated.tasks.count("scorer_repair") == 3  # mentions_status once, reads_files twice


def test_accepted_claude_scorers_are_written_as_config_and_one_generated_module(generated):
    suite = SuiteLayout(generated.root / "suite")
    config = json.loads(suite.path(SCORER_CONFIG_FILE).read_text())
    assert [spec["name"] for spec in config["generated_code_scorers"]] == ["answer_is_one_sentence", "mentions_status"]
    module = suite.path(GENERATED_SCORERS_FILE).read_text()
    assert "def mentions_status(outputs):" in module
    assert "reads_files" not in module


def test_an_offline_rerun_removes_claudes_scorers(generated, tmp_path):
    _, suite = generated.copy(tmp_path / "copy")
    result = generate_scorers(suite)
    assert result.mode == "offline"
    assert not suite.path(GENERATED_SCORERS_FILE).exists()
    assert all(judge.source == "offline" for judge in result.judges)


def test_the_suite_with_claudes_scorers_gets_gates_and_validates(generated, tmp_path):
    client, suite = generated.copy(tmp_path / "copy")
    script = render_run_script(suite)
    assert script.gates["mentions_status"] == script.gates["answer_is_one_sentence"] == 1.0
    result = validate_eval(client, suite, timeout_s=300)
    assert result.status == "passed", [c for c in result.checks if c.status == "failed"]
    assert {"answer_is_one_sentence", "mentions_status"} <= {name.split("/")[0] for name in result.metrics}


RAISES_ON_TIMEOUTS = """def mentions_status(outputs, trace):
    if any(span.status.status_code == "ERROR" for span in trace.data.spans):
        raise ValueError("cannot judge a failed trace")
    return 'shipped' in str(outputs)
"""


def test_validation_repairs_a_generated_scorer_that_fails_in_the_run_and_validates_again(generated, tmp_path):
    client, suite = generated.copy(tmp_path / "copy")
    with fake_anthropic(_respond) as fake:
        settings = claude_settings(fake, tmp_path / "copy" / "ws")
        path = suite.path(GENERATED_SCORERS_FILE)
        path.write_text(path.read_text().replace(FIXED_CODE.strip(), RAISES_ON_TIMEOUTS.strip()))
        render_run_script(suite)
        result = validate_eval(client, suite, timeout_s=300, claude=open_claude(settings))
    assert result.status == "passed", [c for c in result.checks if c.status == "failed"]
    assert result.mode == "claude"
    assert result.repairs[0].startswith("mentions_status: repaired after validation failed")
    assert "cannot judge a failed trace" in prompt_text(fake.requests[-1])
    assert "raise ValueError" not in path.read_text()
