"""The judge loop end to end on the demo suite, against a fake OpenAI-compatible model on 127.0.0.1:
run with judges, push, ask people, answer, push, calibrate, align, run again, calibrate again, gate.

Usage (from the repository root, with the test extra installed): python -m benchmarks.judge_loop

Two make_judge judges replace the demo suite's. The fake model is scripted: `answers_politely` passes a
reply that says please, sorry or let me know, and people agree, though they also count a thank-you;
`answers_in_full` passes any reply that is not empty, while people also fail the replies that could
not help ("try again", "wasn't able", "cannot assist"). MemAlign's distillation answers with that rule,
and a judge whose prompt carries it judges as people do. "People" answer the review file's questions
by their rules. Prints the calibration tables, the alignment and the gates of the last run.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.alignment import align_judge
from mlflow_eval_mcp.suite.calibration import calibrate_judges
from mlflow_eval_mcp.suite.feedback import push_feedback
from mlflow_eval_mcp.suite.judge_loop_models import CalibrationResult
from mlflow_eval_mcp.suite.layout import REVIEW_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import JudgeSpec
from mlflow_eval_mcp.suite.pipeline import generate_suite
from mlflow_eval_mcp.suite.review import review_traces
from mlflow_eval_mcp.suite.runner import SuiteRun, run_suite
from mlflow_eval_mcp.suite.state import read_config
from mlflow_eval_mcp.tracking import open_client
from tests.environment import OFFLINE_ENV
from tests.fake_openai import Reply, chat_reply, embeddings_reply, fake_openai, message_text, use_fake_openai, verdict

POLITE, IN_FULL = "answers_politely", "answers_in_full"
JUDGES = [
    JudgeSpec(
        name=POLITE,
        judge="make_judge",
        instructions="Is the reply in {{ outputs }} to the request in {{ inputs }} polite?",
        reason="replies must be polite",
    ),
    JudgeSpec(
        name=IN_FULL,
        judge="make_judge",
        instructions="Does the reply in {{ outputs }} answer the request in {{ inputs }} in full?",
        reason="replies must answer the request",
    ),
]
GAVE_UP = ("try again", "wasn't able", "was not able", "cannot assist", "double-check")
LESSON = "A reply that asks the customer to try again or to double-check, or that could not help, is not in full."
_REPLY = re.compile(r"^outputs: (.*?)(?=^\w+: |\Z)", re.DOTALL | re.MULTILINE)


def polite(reply: str, *, person: bool = False) -> bool:
    words = ("please", "sorry", "let me know", *(("thank",) if person else ()))
    return any(word in reply.lower() for word in words)


def in_full(reply: str, *, person: bool = False) -> bool:
    empty = reply.strip().strip('"') in ("", "NaN", "None")
    gave_up = any(words in reply.lower() for words in GAVE_UP)
    return not empty and not (person and gave_up)


def model(request: dict[str, Any]) -> Reply:
    """The fake model: the two judges, their aligned versions, and MemAlign's distillation."""
    if "input" in request:
        return embeddings_reply(request)
    system, user = message_text(request, "system"), message_text(request, "user")
    if "distill a set of guidelines" in system + user:
        # MemAlign keeps a guideline that cites the records it came from: the replies people failed.
        records = re.split(r'\n\{\n\s*"id": ', system + user)[1:]
        cited = [int(r.split(",", 1)[0]) for r in records if any(words in r.lower() for words in GAVE_UP)]
        return chat_reply(request, json.dumps({"guidelines": [{"guideline_text": LESSON, "source_trace_ids": cited}]}))
    match = _REPLY.search(user)
    reply = match.group(1) if match else ""
    learned = LESSON in system
    if "polite" in system:
        return verdict(request, polite(reply, person=learned), "politeness")
    return verdict(request, in_full(reply, person=learned), "completeness")


def answer_questions(suite: SuiteLayout, replies: dict[str, str]) -> int:
    """People answer every open question of the review file by their rules; how many they answered."""
    path = suite.path(REVIEW_FILE)
    reviews = json.loads(path.read_text())["reviews"]
    answered = 0
    for review in reviews:
        if review.get("value") is None and review["source_trace_id"] in replies:
            rule = polite if review["name"] == POLITE else in_full
            review.update(value=rule(replies[review["source_trace_id"]], person=True), reviewer="reviewer-1")
            answered += 1
    path.write_text(json.dumps({"reviews": reviews}))
    return answered


def table(title: str, calibration: CalibrationResult) -> None:
    print(f"\n{title}\n| scorer | labels | accuracy | kappa | both pass | both fail | lenient | strict | gates |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in calibration.scorers:
        m = c.confusion
        cells = [c.scorer, c.labels, c.accuracy, c.kappa, m.both_pass, m.both_fail]
        cells += [m.scorer_pass_human_fail, m.scorer_fail_human_pass, f"{'yes' if c.gates else 'no'}: {c.reason}"]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


def gates(run: SuiteRun) -> None:
    assert run.result is not None, run.stderr_tail
    print(f"\nGates of the last run (exit {run.exit_code}):")
    for gate in run.result.gates:
        if gate.scorer in (POLITE, IN_FULL):
            shown = "advisory" if gate.advisory else "gates"
            print(f"  {gate.scorer}: pass rate {gate.pass_rate} vs {gate.minimum} -> {shown} ({gate.trust})")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, fake_openai(model) as fake, pytest.MonkeyPatch.context() as env:
        workspace = Path(scratch)
        for name, value in OFFLINE_ENV.items():
            env.setenv(name, value)
        use_fake_openai(env, fake, workspace)
        settings = Settings(workspace=workspace)
        demo = run_demo(settings, n_traces=300)
        uri = settings.embedded_store_uri
        client = open_client(uri)
        suite = SuiteLayout(workspace / "suites" / "demo")
        generate_suite(
            client,
            workspace_suites=lambda name: SuiteLayout.resolve(suite.root, workspace=workspace, default_name=name),
            experiment_id=demo.experiment_id,
        )
        config = read_config(suite).model_copy(update={"judges": JUDGES, "judge_model": "openai:/gpt-4o-mini"})
        write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_dump(mode="json"))
        cases = [json.loads(line) for line in suite.path("evaluation/data/cases.jsonl").read_text().splitlines()]
        replies = {c["source_trace_id"]: str(c["outputs"]) for c in cases if c["kind"] == "recorded"}

        first = run_suite(suite, tracking_uri=uri)
        pushed = push_feedback(client, suite)
        review_traces(client, suite, per_scorer=30)
        print(f"run 1: {first.result.rows if first.result else '-'} rows; pushed {pushed.logged} results")
        answered = answer_questions(suite, replies)
        print(f"people answered {answered} questions; pushed {push_feedback(client, suite).human_reviews}")
        table("Calibration 1", calibrate_judges(client, suite))

        aligned = align_judge(client, suite, judge=IN_FULL, holdout=0.5)
        print(f"\nalign_judge({IN_FULL}): {aligned.message} [{aligned.seconds} s; {aligned.registered}]")

        review_traces(client, suite, scorers=[IN_FULL], per_scorer=60)
        answered = answer_questions(suite, replies)
        print(f"people answered {answered} more; pushed {push_feedback(client, suite).human_reviews}")
        run_suite(suite, tracking_uri=uri)
        table("Calibration 2 (the aligned judge, on labels it did not learn from)", calibrate_judges(client, suite))
        gates(run_suite(suite, tracking_uri=uri, args=["--gate", f"{IN_FULL}=0.6"]))


if __name__ == "__main__":
    main()
