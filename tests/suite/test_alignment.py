"""align_judge on the demo suite with its judges replaced by one make_judge judge that a fake OpenAI
answers over real HTTP, MLflow's real optimizers (MemAlign, GEPA) and people's labels on the
production traces.

The fake judges the reply it is shown: `answers_politely` passes a reply that says please, sorry
or let me know. People disagree on apologies: they fail a reply that says sorry. Asked by MemAlign
to distil a guideline (or by GEPA for a new instruction), the fake answers with one the test chooses;
a judge whose system prompt carries people's rule (PEOPLE_RULE) then judges as people do, any other
guideline changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import AssessmentSource, Feedback
from mlflow.genai.scorers.registry import _get_scorer_store
from mlflow.genai.utils.trace_utils import extract_response_from_trace, resolve_outputs_from_trace
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.judges import ALIGNED_DIR
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.suite.alignment import align_judge, split
from mlflow_eval_mcp.suite.calibration import GATE_TRUST_FILE, calibrate_judges
from mlflow_eval_mcp.suite.judge_loop_models import AlignmentResult, AlignmentScore
from mlflow_eval_mcp.suite.layout import DATA_DIR, REVIEW_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import JudgeSpec
from mlflow_eval_mcp.suite.runner import SuiteRun, run_suite
from mlflow_eval_mcp.suite.state import read_analysis, read_cases, read_config
from mlflow_eval_mcp.traces import load_traces
from tests.fake_openai import FakeOpenAI, Reply, chat_reply, fake_openai, message_text, use_fake_openai, verdict
from tests.suite_copies import copy_demo_suite, copy_prepared, narrow, recorded, store_uri

POLITE = "answers_politely"
SPEC = JudgeSpec(
    name=POLITE,
    judge="make_judge",
    instructions="Is the reply in {{ outputs }} to the request in {{ inputs }} polite: does it say please, sorry "
    "or let me know?",
    reason="replies must be polite",
)
JUDGE_MODEL = "openai:/gpt-4o-mini"
PEOPLE_RULE = "People fail a reply that apologises with sorry: to them an apology is no politeness"
UNRELATED_RULE = "People like a reply that names the order it is about"
DISTILL_MARK = "distill a set of guidelines"
DSPY_FIELD_MARK = "[[ ## "
# The user message of a make_judge call: `outputs: <the reply as JSON, or NaN>` then `inputs: ...`.
_REPLY = re.compile(r"^outputs: (.*?)(?=^\w+: |\Z)", re.DOTALL | re.MULTILINE)
# MemAlign renders each feedback record as `{\n  "id": N, ...`; a guideline cites records by id.
_RECORD_ID = re.compile(r'"id": (\d+),')
# DSPy's ChatAdapter lists the fields it expects back; GEPA's reflection asks for `new_instruction`.
_DSPY_OUTPUT_FIELDS = re.compile(r"Your output fields are:\n(.*?)(?:\n\n|All interactions)", re.DOTALL)
_CURRENT_INSTRUCTION = re.compile(r"\[\[ ## current_instruction ## \]\]\n(.*?)\n\n\[\[ ## ", re.DOTALL)


def polite(reply: str) -> bool:
    return any(word in reply.lower() for word in ("please", "sorry", "let me know"))


def people_pass(reply: str) -> bool:
    return polite(reply) and "sorry" not in reply.lower()


def judge_verdict(request: dict[str, Any]) -> Reply:
    """The judge's verdict: people's rule once its instructions carry it, else the plain one."""
    # A trace whose root span returned nothing is shown without outputs.
    match = _REPLY.search(message_text(request, "user"))
    learned = PEOPLE_RULE in message_text(request, "system")
    passed = (people_pass if learned else polite)(match.group(1) if match else "")
    return verdict(request, passed, f"{'people' if learned else 'plain'} rule: {'polite' if passed else 'impolite'}")


def distilled(request: dict[str, Any], text: str, guideline: str) -> Reply:
    """MemAlign's distillation: one guideline, drawn from every record it was shown."""
    ids = [int(found) for found in _RECORD_ID.findall(text)]
    return chat_reply(request, json.dumps({"guidelines": [{"guideline_text": guideline, "source_trace_ids": ids}]}))


def proposed(request: dict[str, Any], text: str, guideline: str) -> Reply:
    """GEPA's reflection (a DSPy predictor): the current instruction with `guideline` added."""
    current = _CURRENT_INSTRUCTION.findall(text)
    values = {"new_instruction": f"{current[-1] if current else ''}\n\n{guideline}".strip()}
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if schema:
        return chat_reply(request, json.dumps({name: values[name] for name in schema["properties"]}))
    fields = _DSPY_OUTPUT_FIELDS.search(text)
    names = re.findall(r"`(\w+)`", fields.group(1)) if fields else []
    return chat_reply(
        request, "\n\n".join([*(f"[[ ## {n} ## ]]\n{values[n]}" for n in names), "[[ ## completed ## ]]"])
    )


def answering(guideline: str) -> Callable[[dict[str, Any]], Reply]:
    """The fake model, whose optimizers learn `guideline` from people's labels."""

    def answer(request: dict[str, Any]) -> Reply:
        system = message_text(request, "system")
        text = f"{system}\n{message_text(request, 'user')}"
        if SPEC.instructions and SPEC.instructions in system:
            return judge_verdict(request)
        if DISTILL_MARK in text:
            return distilled(request, text, guideline)
        if DSPY_FIELD_MARK in text:
            return proposed(request, text, guideline)
        raise ValueError(f"unscripted request: {text[:200]!r}")

    return answer


@dataclass(frozen=True)
class Template:
    """The demo suite's recorded cases and its store, with the one judge; the reply of each recorded trace
    that has one, and the recorded traces whose reply is empty (MLflow's optimizers cannot learn from them)."""

    root: Path
    replies: dict[str, str]
    empty: list[str]


@pytest.fixture(scope="module")
def template(demo_suite, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The demo suite's recorded cases, judged by SPEC alone: the rows `closed` runs it on."""
    root = tmp_path_factory.mktemp("alignment")
    suite = copy_demo_suite(demo_suite, root)
    narrow(suite, code_scorers=(), judges=[SPEC], judge_model=JUDGE_MODEL, cases=recorded)
    recorded_ids = [case.source_trace_id for case in read_cases(suite) if case.source_trace_id]
    traces = load_traces(MlflowClient(tracking_uri=store_uri(root)), recorded_ids)
    return Template(
        root,
        {t.info.trace_id: str(resolve_outputs_from_trace(None, t)) for t in traces if extract_response_from_trace(t)},
        [t.info.trace_id for t in traces if not extract_response_from_trace(t)],
    )


class Copy:
    """The store and suite of a template, copied."""

    def __init__(self, template: Template, root: Path) -> None:
        copy_prepared(template.root, root)
        self.root = root
        self.replies = template.replies
        self.empty = template.empty
        self.client = MlflowClient(tracking_uri=store_uri(root))
        self.suite = SuiteLayout(root / "suite")

    def people(self) -> dict[str, bool]:
        """People's label on every recorded trace."""
        return {trace_id: people_pass(reply) for trace_id, reply in self.replies.items()}

    def label(self, values: dict[str, bool]) -> None:
        source = AssessmentSource(source_type="HUMAN", source_id="alice")
        for trace_id, value in values.items():
            self.client._tracing_client.log_assessment(
                trace_id, Feedback(name=POLITE, value=value, source=source, rationale=f"alice says {value}")
            )

    def align(self, **options: Any) -> AlignmentResult:
        return align_judge(self.client, self.suite, judge=POLITE, **options)

    def as_template(self) -> Template:
        return Template(self.root, self.replies, self.empty)

    def judge(self) -> JudgeSpec:
        (found,) = [judge for judge in read_config(self.suite).judges if judge.name == POLITE]
        return found


@contextmanager
def served(guideline: str, root: Path) -> Iterator[FakeOpenAI]:
    """The fake model, learning `guideline`, with every client pointed at it."""
    with fake_openai(answering(guideline)) as fake, pytest.MonkeyPatch.context() as env:
        use_fake_openai(env, fake, root)
        yield fake


@dataclass(frozen=True)
class Aligned:
    copy: Copy
    result: AlignmentResult


@pytest.fixture(scope="module")
def aligned(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Aligned:
    """A copy with people's label on every recorded trace, aligned by MemAlign, which learns their rule."""
    copy = Copy(template, tmp_path_factory.mktemp("aligned"))
    copy.label(copy.people())
    with served(PEOPLE_RULE, copy.root):
        return Aligned(copy, copy.align())


@pytest.fixture
def copy(template: Template, tmp_path: Path) -> Copy:
    return Copy(template, tmp_path / "copy")


def test_the_labels_split_into_training_and_held_out(aligned):
    result = aligned.result
    # 37 labelled traces: floor(37 * 0.3) = 11 held out, 26 learned from.
    assert (result.aligned_on, result.measured_on) == (26, 11)
    assert result.aligned_on + result.measured_on == len(aligned.copy.replies)


def test_an_alignment_that_learns_peoples_rule_agrees_better(aligned):
    result = aligned.result
    # Of the 11 held-out traces people pass 1 and fail 10; the plain judge passes that one and an apology
    # people failed: p_o = 10/11, p_e = (2*1 + 9*10)/121 = 92/121, kappa = (110 - 92)/(121 - 92) = 18/29.
    assert result.before == AlignmentScore(labels=11, accuracy=0.9091, kappa=0.6207)
    assert result.after == AlignmentScore(labels=11, accuracy=1.0, kappa=1.0)
    assert (result.improved, result.replaced) == (True, True)
    assert result.message.startswith(f"The aligned {POLITE} agrees better with people (kappa 0.62 -> 1.00")


def test_the_aligned_judge_replaces_the_suites_judge(aligned):
    judge = aligned.copy.judge()
    training, _ = split(sorted(aligned.copy.replies), 0.3)
    assert (judge.judge, judge.aligned_on) == ("aligned", training)
    assert PEOPLE_RULE in (judge.instructions or "")
    stored = json.loads(aligned.copy.suite.path(f"{DATA_DIR}/{ALIGNED_DIR}/{POLITE}.json").read_text())
    memory = stored["memory_augmented_judge_data"]
    assert [g["guideline_text"] for g in memory["semantic_memory"]] == [PEOPLE_RULE]
    assert sorted(memory["episodic_trace_ids"]) == training


def test_the_aligned_judge_is_trusted_on_its_held_out_agreement(aligned):
    entry = json.loads(aligned.copy.suite.path(GATE_TRUST_FILE).read_text())["scorers"][POLITE]
    assert (entry["labels"], entry["kappa"], entry["gates"]) == (11, 1.0, False)
    assert entry["reason"] == "advisory: 11 of the 20 human labels needed (held out from alignment)"


def test_the_aligned_judge_is_registered_in_the_production_experiment(aligned):
    experiment_id = read_analysis(aligned.copy.suite).experiment_id
    assert aligned.result.registered == f"registered as scorer {POLITE!r} in experiment {experiment_id}"
    registered = _get_scorer_store(aligned.copy.client.tracking_uri).list_scorers(experiment_id)
    assert [scorer.name for scorer in registered] == [POLITE]
    assert PEOPLE_RULE in registered[0].instructions


def test_an_alignment_that_learns_nothing_leaves_the_suite_unchanged(copy):
    copy.label(copy.people())
    config = copy.suite.path(SCORER_CONFIG_FILE).read_bytes()
    with served(UNRELATED_RULE, copy.root):
        result = copy.align()
    assert (result.improved, result.replaced, result.registered) == (False, False, None)
    assert result.before == result.after == AlignmentScore(labels=11, accuracy=0.9091, kappa=0.6207)
    assert copy.suite.path(SCORER_CONFIG_FILE).read_bytes() == config
    assert not copy.suite.path(f"{DATA_DIR}/{ALIGNED_DIR}").exists()
    assert result.message.endswith("; the suite's judge is unchanged.")


def test_too_few_labels_to_learn_from_ask_for_more(copy):
    copy.label(dict(list(copy.people().items())[:12]))
    # floor(12 * 0.3) = 3 held out leaves 9, and SIMBA learns from no fewer than 10.
    with pytest.raises(InvalidArgumentError, match=r"^12 trace\(s\) carry .* simba needs 10 .*review_traces\("):
        copy.align(optimizer="simba")


def test_a_judge_the_suite_lacks_is_refused_naming_its_judges(copy):
    with pytest.raises(InvalidArgumentError, match=rf"No LLM judge named 'tone' .*\(its judges: {POLITE}\)"):
        align_judge(copy.client, copy.suite, judge="tone")


def test_labels_only_in_the_review_file_are_not_learned_from(copy):
    reviews = [
        {"source_trace_id": trace_id, "name": POLITE, "value": value, "reviewer": "carol"}
        for trace_id, value in copy.people().items()
    ]
    copy.suite.path(REVIEW_FILE).write_text(json.dumps({"reviews": reviews}))
    with pytest.raises(InvalidArgumentError, match=r"^0 trace\(s\) carry a HUMAN .*review_traces\("):
        copy.align()


@dataclass(frozen=True)
class Closed:
    """A copy of `aligned`, run by run_eval.py with its judges, then calibrated."""

    copy: Copy
    run: SuiteRun


@pytest.fixture(scope="module")
def closed(aligned: Aligned, tmp_path_factory: pytest.TempPathFactory) -> Closed:
    copy = Copy(aligned.copy.as_template(), tmp_path_factory.mktemp("closed"))
    with served(PEOPLE_RULE, copy.root):
        run = run_suite(copy.suite, tracking_uri=store_uri(copy.root))
    assert run.result is not None, run.stderr_tail
    return Closed(copy, run)


def test_run_eval_runs_the_aligned_judge_from_its_file(closed):
    result = closed.run.result
    assert result is not None
    stats = result.scorers[POLITE]
    assert (stats.values, stats.missing, stats.errors) == (result.rows, 0, []), closed.run.stderr_tail
    judged = {row.source_trace_id: row.results[POLITE].value for row in result.row_results if row.source_trace_id}
    recorded = {trace_id: judged[trace_id] for trace_id in closed.copy.replies}
    assert recorded == closed.copy.people()


def test_calibration_leaves_out_the_traces_the_judge_learned_from(closed):
    calibration = calibrate_judges(closed.copy.client, closed.copy.suite)
    (found,) = [c for c in calibration.scorers if c.scorer == POLITE]
    unseen = set(closed.copy.replies) - set(closed.copy.judge().aligned_on)
    assert len(unseen) == 11
    assert (found.labels, found.kappa) == (len(unseen), 1.0)


def test_gepa_rewrites_the_instructions_with_peoples_rule(copy):
    copy.label(copy.people())
    with served(PEOPLE_RULE, copy.root):
        result = copy.align(optimizer="gepa")
    assert (result.replaced, result.after) == (True, AlignmentScore(labels=11, accuracy=1.0, kappa=1.0))
    stored = json.loads(copy.suite.path(f"{DATA_DIR}/{ALIGNED_DIR}/{POLITE}.json").read_text())
    assert PEOPLE_RULE in stored["instructions_judge_pydantic_data"]["instructions"]
    assert copy.judge().judge == "aligned"


def test_labels_on_empty_replies_are_left_out_of_the_alignment(copy):
    # MLflow makes no example of a trace without the response the judge reads, and MemAlign would
    # then refuse the whole alignment.
    assert len(copy.empty) == 2
    copy.label(copy.people() | {trace_id: False for trace_id in copy.empty})
    with served(PEOPLE_RULE, copy.root):
        result = copy.align()
    assert (result.replaced, result.aligned_on + result.measured_on) == (True, len(copy.replies))
    assert not set(copy.empty) & set(copy.judge().aligned_on)
