"""Conversation-level findings on real, public agent runs (../shared/data), imported by the project's
importer and analysed offline: each signal the data shows, on a run whose file says it (the words
quoted beside it), and runs whose words only look like a signal, left alone.

The shared data is single-question runs: Who&When's failed multi-agent runs, one trace per agent
framework, Inspect AI samples and MLflow exports. Its agents apologise, and retry or give up on a
failing code terminal; nobody in it corrects, repeats, loses patience or asks for a human, no agent
hands off, writes or claims an action, and no conversation ends on the user's word. Those signals
are tested on the hand-built conversations only (tests/checks/test_dialogue.py).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.conversations import FINDING_KINDS
from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.analysis.models import FindingKind, TraceAnalysis
from mlflow_eval_mcp.importing.importer import SOURCE_FILE_TAG, SOURCE_ID_TAG, import_traces
from tests.realdata import DATA_DIR, realdata

pytestmark = realdata

WHO_AND_WHEN = "who-and-when"
FRAMEWORK_RUNS = "framework-runs"
FRAMEWORK_SOURCES = ("langfuse_framework_traces", "inspect_ai", "mlflow_real_examples")
"""The shared data besides Who&When: 13 framework traces, 7 Inspect AI samples, 2 MLflow exports."""


@dataclass(frozen=True)
class Analysed:
    analysis: TraceAnalysis
    trace_of: dict[str, str]
    """A run's source id (Who&When: its subset and file, `Algorithm-Generated/118`) -> its trace id."""
    traces_in: dict[str, list[str]]
    """A source file's name -> the trace ids imported from it."""

    def flagged(self, kind: FindingKind) -> dict[str, str]:
        """Trace id -> the evidence of the finding of `kind`, for each trace it names (none without it)."""
        finding = next((finding for finding in self.analysis.findings if finding.kind == kind), None)
        return {trace_id: finding.trace_evidence.get(trace_id, "") for trace_id in finding.trace_ids} if finding else {}

    def conversation_kinds(self) -> set[str]:
        return {finding.kind for finding in self.analysis.findings if finding.kind in FINDING_KINDS}


@dataclass(frozen=True)
class SharedData:
    who_and_when: Analysed
    framework_runs: Analysed


@pytest.fixture(scope="module")
def shared(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> SharedData:
    """The shared data imported once into a copy of the migrated store, Who&When in one experiment
    and the rest in another, each analysed offline."""
    root = tmp_path_factory.mktemp("conversation-signals")
    shutil.copy(template_db, root / "mlflow.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    import_traces(client, DATA_DIR / "who_and_when", experiment_name=WHO_AND_WHEN, artifacts_dir=root / "artifacts")
    for source in FRAMEWORK_SOURCES:
        import_traces(client, DATA_DIR / source, experiment_name=FRAMEWORK_RUNS, artifacts_dir=root / "artifacts")
    return SharedData(_analysed(client, WHO_AND_WHEN), _analysed(client, FRAMEWORK_RUNS))


def _analysed(client: MlflowClient, experiment: str) -> Analysed:
    analysis = analyze_traces(client, experiment_name=experiment, max_traces=1000)
    traces = client.search_traces(locations=[analysis.experiment_id], max_results=1000, include_spans=False)
    traces_in: dict[str, list[str]] = defaultdict(list)
    for trace in traces:
        traces_in[trace.info.tags[SOURCE_FILE_TAG]].append(trace.info.trace_id)
    return Analysed(analysis, {trace.info.tags[SOURCE_ID_TAG]: trace.info.trace_id for trace in traces}, traces_in)


@pytest.mark.parametrize(
    ("kind", "run", "words"),
    [
        # Algorithm-Generated/7.json, step 8, after the terminal's "NameError: name 'extract_pdf_text' is not
        # defined": NumericalAnalysis_Expert "My apologies for the confusion. Since we do not have access to ..."
        pytest.param("agent_apologies", "Algorithm-Generated/7", "My apologies for the confusion", id="apology"),
        # Algorithm-Generated/118.json, step 5, after "ValueError: day is out of range for month": Verification_Expert
        # "June doesn't always have 31 days. Let me correct that by considering only 30 days in June."
        pytest.param(
            "agent_apologies",
            "Algorithm-Generated/118",
            "Let me correct that by considering only 30 days in June",
            id="self-correction",
        ),
        # Algorithm-Generated/118.json: the terminal fails at step 4 ("exitcode: 1 (execution failed) ... ValueError:
        # day is out of range for month"), the code is fixed at step 5, and step 6 runs it: "exitcode: 0 (execution
        # succeeded) Code output: Mock data created".
        pytest.param(
            "retries_after_tool_error",
            "Algorithm-Generated/118",
            "Computer_terminal failed, then was retried with other arguments",
            id="retry",
        ),
        # Algorithm-Generated/48.json: the terminal fails at step 4 ("exitcode: 1 (execution failed)", pytesseract
        # missing) and is never run again: step 5 "It appears that the Tesseract OCR tool is not installed ...
        # we can proceed with an assumption", step 6 "Let's proceed with the assumption of a regular hexagon".
        pytest.param(
            "gave_up_after_tool_error",
            "Algorithm-Generated/48",
            "Computer_terminal failed and was not called again",
            id="gave-up",
        ),
    ],
)
def test_a_real_run_that_shows_a_signal_is_flagged_with_the_words_that_show_it(shared, kind, run, words):
    flagged = shared.who_and_when.flagged(kind)
    assert words in flagged[shared.who_and_when.trace_of[run]]


def test_who_and_when_shows_only_the_agents_apologies_and_the_tool_errors_they_retry_or_give_up_on(shared):
    # Every run asks one question (the "human" step of the Hand-Crafted runs, none in the Algorithm-Generated
    # ones) and nobody answers back; the only tool is a code terminal.
    assert shared.who_and_when.conversation_kinds() == {
        "agent_apologies",
        "retries_after_tool_error",
        "gave_up_after_tool_error",
    }


def test_an_apology_in_what_a_tool_returned_is_no_agent_apology(shared):
    # Algorithm-Generated/31.json, step 2, the Computer_terminal's search results: "Courses are (a little)
    # oversubscribed and we apologize for your enrollment delay. As an apology, you will receive a 20% ..."
    run = shared.who_and_when.trace_of["Algorithm-Generated/31"]
    assert run not in shared.who_and_when.flagged("agent_apologies")


def test_a_web_page_s_sorry_that_the_web_surfer_reads_out_is_no_agent_apology(shared):
    # Hand-Crafted/36.json, step 87, WebSurfer reading a search result: "Is Spectre on Netflix United States?
    # Sorry, Spectre (2015) isn't available on Netflix United States"
    run = shared.who_and_when.trace_of["Hand-Crafted/36"]
    assert run not in shared.who_and_when.flagged("agent_apologies")


def test_a_captcha_page_that_an_agent_quotes_is_no_agent_apology(shared):
    # Algorithm-Generated/55.json, step 5, WebServing_Expert showing the page it was served: "Title: Radware Bot
    # Manager Captcha ... We apologize for the inconvenience... To ensure we keep this website safe, please ..."
    run = shared.who_and_when.trace_of["Algorithm-Generated/55"]
    assert run not in shared.who_and_when.flagged("agent_apologies")


def test_a_terminal_turn_that_ran_no_code_is_no_retry(shared):
    # Algorithm-Generated/67.json: the terminal fails at step 3 ("exitcode: 1 (execution failed)"), step 4 gives
    # up on it ("Instead, let's manually verify the steps using reliable sources."), and its only later turn,
    # step 5, ran nothing: "There is no code from the last 1 message for me to execute." (not a tool call).
    run = shared.who_and_when.trace_of["Algorithm-Generated/67"]
    assert run not in shared.who_and_when.flagged("retries_after_tool_error")
    assert run in shared.who_and_when.flagged("gave_up_after_tool_error")


def test_a_page_an_agent_reads_out_is_no_user_frustration(shared):
    # Hand-Crafted/2.json, step 50, WebSurfer listing TV shows: "short, hilarious skits on current, intelligent
    # and at times ridiculous topics"
    run = shared.who_and_when.trace_of["Hand-Crafted/2"]
    assert run not in shared.who_and_when.flagged("user_frustration")


def test_the_human_who_asks_the_question_is_no_handoff_to_a_human(shared):
    # Each Hand-Crafted run opens with a step named "human": the person asking, not a human the agent hands off to.
    assert shared.who_and_when.flagged("escalations") == {}


def test_no_who_and_when_run_is_far_longer_than_the_others(shared):
    # Runs make 0 to 5 terminal calls (median 2; the far-out fence is 12) and ask one question at most. The
    # 130-step Magentic-One runs (Hand-Crafted/11.json, 46.json) are long in agent steps, which this rule
    # does not count.
    assert shared.who_and_when.flagged("long_conversations") == {}


def test_the_framework_runs_show_no_conversation_signal(shared):
    # Among them three multi-turn conversations, each answered to the end (google-vertex-tools-langchain:
    # "Hello, I'm interested in learning more about your services." ... "John Smith"), tool-using agents
    # whose tools all succeed, and a content filter's refusal: "This question has been flagged as inappropriate".
    assert shared.framework_runs.analysis.conversations.signals == {}


def test_a_run_with_one_tool_call_is_not_far_longer_than_the_others(shared):
    # openai-agents-2025-09-30.json: "What's the weather in Tokyo?", one get_weather call, "The weather in Tokyo
    # is currently sunny."; most of the framework runs call no tool.
    (run,) = shared.framework_runs.traces_in["openai-agents-2025-09-30.json"]
    assert run not in shared.framework_runs.flagged("long_conversations")


def test_every_framework_run_is_read(shared):
    # inspect_ai/2025-05-12T20-27-36-04-00_browser.json: the browsing agent's tool calls are
    # {"function": "web_browser_go", "arguments": {"url": ...}}.
    assert shared.framework_runs.analysis.overview.traces_unreadable == 0
