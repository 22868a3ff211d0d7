"""optimize_prompt: the suite's evaluation/optimize_prompt.py runs MLflow's optimize_prompts (GEPA) on a
prompt the agent loads from the registry, with a copy of the demo suite (six cases with expectations)
and its store, and a fake OpenAI that answers both the agent and GEPA's reflection over real HTTP.

The agent, a file of the test's, loads prompts:/support_reply@production, formats it with a case's
inputs and asks the model. The fake model answers with the case's recorded answer when the prompt says
MARKER, and with a useless one otherwise, except for the first KNOWN cases, which it always answers:
the original prompt states the expected facts on 2 of the 6 cases. Asked by GEPA for a new
instruction, it proposes one that says MARKER (a helpful reflection) or one that does not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.judge_loop_models import PromptOptimizationResult
from mlflow_eval_mcp.suite.layout import CASES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.prompt_optimization import optimize_prompt
from tests.conftest import DemoSuite
from tests.fake_openai import Reply, chat_reply, fake_openai, message_text, use_fake_openai
from tests.suite_copies import copy_demo_suite, store_uri

PROMPT = "support_reply"
PRODUCTION = f"prompts:/{PROMPT}@production"
SCORER = "states_expected_facts"
REFLECTION_MODEL = "openai:/gpt-4o-mini"
CASES = 6
KNOWN = 2
# Seed 6 + a minibatch of 3 before and after one reflection + the new prompt on all 6: one GEPA iteration.
MAX_METRIC_CALLS = 18
MARKER = "STATE THE FACTS"
QUESTION = "Customer {{customer_id}} asks: {{question}}"
SEED_TEMPLATE = f"You are a support agent. {QUESTION}"
HELPFUL_PROPOSAL = f"{MARKER} you looked up. {QUESTION}"
UNHELPFUL_PROPOSAL = f"Be brief and friendly. {QUESTION}"
USELESS_ANSWER = "Thanks for reaching out! We are looking into it."
# GEPA's instruction-proposal prompt, which the reflection model is sent.
REFLECTION = "Your task is to write a new instruction for the assistant."
AGENT = f'''
import os

import mlflow
from openai import OpenAI


def answer(**inputs: str) -> str:
    prompt = mlflow.genai.load_prompt("{PRODUCTION}")
    reply = OpenAI(base_url=os.environ["OPENAI_BASE_URL"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": prompt.format(**inputs)}}]
    )
    return reply.choices[0].message.content
'''


def model(proposal: str, answers: dict[str, str]) -> Callable[[dict[str, Any]], Reply]:
    """The fake model: GEPA's reflection gets `proposal`; the agent the answer to the question its prompt asks."""
    known = list(answers)[:KNOWN]

    def respond(request: dict[str, Any]) -> Reply:
        prompt = message_text(request, "user")
        if REFLECTION in prompt:
            return chat_reply(request, f"Here is a better instruction:\n```\n{proposal}\n```")
        (question,) = [question for question in answers if question in prompt]
        helped = MARKER in prompt or question in known
        return chat_reply(request, answers[question] if helped else USELESS_ANSWER)

    return respond


@dataclass(frozen=True)
class Workspace:
    """A copy of the demo suite (its cases cut to six with expectations) and its store, with the
    agent's prompt registered as version 1 under the alias production."""

    root: Path
    suite: SuiteLayout
    client: MlflowClient
    answers: dict[str, str]
    agent: str

    @property
    def tracking_uri(self) -> str:
        return self.client.tracking_uri

    def production_version(self) -> str:
        return str(self.client.get_prompt_version_by_alias(PROMPT, "production").version)

    def versions(self) -> list[str]:
        return sorted(str(version.version) for version in self.client.search_prompt_versions(PROMPT))


def workspace(demo_suite: DemoSuite, root: Path) -> Workspace:
    suite = copy_demo_suite(demo_suite, root)
    cases_file = suite.path(CASES_FILE)
    cases = [json.loads(line) for line in cases_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [case for case in cases if "expected_facts" in case["expectations"] and case["kind"] != "session"][:CASES]
    cases_file.write_text("".join(json.dumps(case) + "\n" for case in kept), encoding="utf-8")
    client = MlflowClient(tracking_uri=store_uri(root))
    version = client.register_prompt(PROMPT, SEED_TEMPLATE, commit_message="the agent's prompt")
    client.set_prompt_alias(PROMPT, "production", version.version)
    agent = root / "agent.py"
    agent.write_text(AGENT, encoding="utf-8")
    answers = {case["inputs"]["question"]: case["expectations"]["expected_response"] for case in kept}
    return Workspace(root, suite, client, answers, f"{agent}:answer")


@dataclass(frozen=True)
class Optimized:
    result: PromptOptimizationResult
    space: Workspace
    requests: list[dict[str, Any]]


def optimized(demo_suite: DemoSuite, root: Path, proposal: str) -> Iterator[Optimized]:
    space = workspace(demo_suite, root)
    with fake_openai(model(proposal, space.answers)) as fake, pytest.MonkeyPatch.context() as env:
        use_fake_openai(env, fake, root)
        result = optimize_prompt(
            space.suite,
            tracking_uri=space.tracking_uri,
            prompt_uri=PRODUCTION,
            predict_fn=space.agent,
            scorers=[SCORER],
            reflection_model=REFLECTION_MODEL,
            max_metric_calls=MAX_METRIC_CALLS,
        )
        yield Optimized(result, space, fake.chat_requests())


@pytest.fixture(scope="module")
def improved(demo_suite: DemoSuite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Optimized]:
    yield from optimized(demo_suite, tmp_path_factory.mktemp("improved"), HELPFUL_PROPOSAL)


@pytest.fixture(scope="module")
def not_improved(demo_suite: DemoSuite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Optimized]:
    yield from optimized(demo_suite, tmp_path_factory.mktemp("not-improved"), UNHELPFUL_PROPOSAL)


@pytest.fixture
def space(demo_suite: DemoSuite, tmp_path: Path) -> Workspace:
    return workspace(demo_suite, tmp_path)


def reflections(requests: list[dict[str, Any]]) -> int:
    return sum(REFLECTION in message_text(request, "user") for request in requests)


def test_a_prompt_that_scores_better_is_registered(improved: Optimized) -> None:
    result = improved.result
    assert (result.improved, result.initial_score, result.final_score) == (True, KNOWN / CASES, 1.0)
    assert (result.examples, result.scorers, result.optimizer) == (CASES, [SCORER], "gepa")
    assert (result.new_version, result.alias) == (f"prompts:/{PROMPT}/2", "production")
    assert result.message == (
        f"The optimized prompt scores better (score {KNOWN / CASES} -> 1.0 on {CASES} cases): "
        f"registered as prompts:/{PROMPT}/2, alias 'production' moved to it."
    )


def test_the_better_prompt_is_the_reflections_proposal(improved: Optimized) -> None:
    assert improved.space.client.get_prompt_version(PROMPT, 2).template == HELPFUL_PROPOSAL


def test_the_optimization_is_logged_in_the_suites_evaluation_experiment(improved: Optimized) -> None:
    client = improved.space.client
    experiment = client.get_experiment_by_name("demo-eval")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id], filter_string="metrics.final_eval_score > 0")
    assert run.data.metrics["final_eval_score"] == 1.0


def test_the_alias_moves_to_the_better_prompt(improved: Optimized) -> None:
    assert improved.space.production_version() == "2"


def test_a_prompt_that_scores_no_better_is_not_kept(not_improved: Optimized) -> None:
    result = not_improved.result
    assert (result.improved, result.initial_score, result.final_score) == (False, KNOWN / CASES, KNOWN / CASES)
    assert (result.new_version, result.alias) == (None, None)
    assert result.message == (
        f"The optimized prompt does not score better (score {KNOWN / CASES} -> {KNOWN / CASES} on {CASES} cases); "
        "no version was kept."
    )


def test_gepa_reflects_until_a_prompt_scores_better_or_its_budget_runs_out(
    improved: Optimized, not_improved: Optimized
) -> None:
    assert (reflections(improved.requests), reflections(not_improved.requests)) == (1, 2)


def test_the_version_mlflow_registered_for_a_prompt_no_better_is_deleted(not_improved: Optimized) -> None:
    assert not_improved.space.versions() == ["1"]


def test_the_alias_stays_when_no_prompt_is_better(not_improved: Optimized) -> None:
    assert not_improved.space.production_version() == "1"


def test_a_prompt_uri_that_names_no_registered_prompt_is_refused(space: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match="must name a registered prompt version"):
        optimize_prompt(
            space.suite, tracking_uri=space.tracking_uri, prompt_uri=f"models:/{PROMPT}/1", predict_fn=space.agent
        )
    assert not space.suite.path("evaluation/optimize_prompt.py").exists()


def test_a_predict_fn_file_that_does_not_exist_is_refused_before_any_run(space: Workspace) -> None:
    missing = space.root / "no_agent.py"
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        optimize_prompt(
            space.suite, tracking_uri=space.tracking_uri, prompt_uri=PRODUCTION, predict_fn=f"{missing}:answer"
        )
    assert not space.suite.path("evaluation/optimize_prompt.py").exists()


def test_without_calibrated_judges_or_scorers_named_the_optimization_asks_for_them(space: Workspace) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        optimize_prompt(space.suite, tracking_uri=space.tracking_uri, prompt_uri=PRODUCTION, predict_fn=space.agent)
    assert str(raised.value) == (
        "The optimization could not run: no judge is calibrated yet (calibrate_judges); "
        "name the scorers to optimize for"
    )
