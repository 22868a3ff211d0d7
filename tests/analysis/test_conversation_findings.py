"""Conversation-level findings from a whole analysis, on hand-built conversations imported by the
project's chat importer into a real store: single-trace dialogues, sessions recorded one trace per
turn, and a conversation far longer than the others."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.analysis.conversations import FINDING_KINDS
from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.analysis.models import Finding, TraceAnalysis
from mlflow_eval_mcp.importing.importer import SOURCE_ID_TAG, import_traces
from tests.conversations import CONVERSATIONS, session_records

SINGLE = ["clean_question", "clean_booking", "refusal_is_no_apology", "frustration", "unbacked", "retry"]
SESSIONS = ["repeat", "abandoned", "clean_follow_up"]
LONG_TURNS = 9
QUESTIONS = [
    "How much checked baggage can I bring?",
    "Can I pick my seat before check-in?",
    "Are vegetarian meals served on board?",
    "Is there wifi during the flight?",
    "May a small dog travel in the cabin?",
    "Which lounges can gold members use?",
    "How do upgrades with miles work?",
    "When does a cancelled ticket get refunded?",
    "Do I need a visa for a layover in Canada?",
]


def _clean_session(index: int, turns: int) -> list[dict]:
    """A clean session of `turns` turns, each alone and about something else."""
    return [
        {
            "id": f"chat-{index}-turn-{turn}",
            "session_id": f"chat-{index}",
            "messages": [
                {"role": "user", "content": QUESTIONS[turn]},
                {"role": "assistant", "content": "Yes: the details are in your booking under Travel info."},
            ],
        }
        for turn in range(turns)
    ]


@dataclass(frozen=True)
class Analysed:
    analysis: TraceAnalysis
    trace_of: dict[str, str]
    """Source record id -> trace id."""

    def finding(self, kind: str) -> Finding | None:
        return next((finding for finding in self.analysis.findings if finding.kind == kind), None)

    def flagged(self, kind: str) -> set[str]:
        """The source ids of the traces the finding of `kind` names."""
        finding = self.finding(kind)
        source_of = {trace_id: source for source, trace_id in self.trace_of.items()}
        return {source_of[trace_id] for trace_id in finding.trace_ids} if finding else set()


@pytest.fixture(scope="module")
def analysed(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    root = tmp_path_factory.mktemp("conversation-findings")
    records = [{"id": name, "messages": CONVERSATIONS[name][0]} for name in SINGLE]
    records += [record for name in SESSIONS for record in session_records(name)]
    records += [record for index in range(12) for record in _clean_session(index, 2)]
    records += _clean_session(99, LONG_TURNS)
    source = root / "conversations.jsonl"
    source.write_text("\n".join(json.dumps(record) for record in records))
    shutil.copy(template_db, root / "mlflow.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    report = import_traces(client, str(source), experiment_name="chats", artifacts_dir=root / "artifacts")
    analysis = analyze_traces(client, experiment_id=report.experiment_id)
    traces = client.search_traces(locations=[report.experiment_id], max_results=500, include_spans=False)
    return Analysed(analysis, {trace.info.tags[SOURCE_ID_TAG]: trace.info.trace_id for trace in traces})


def test_a_signal_in_one_trace_s_dialogue_is_a_finding_naming_that_trace(analysed):
    assert analysed.flagged("user_frustration") == {"frustration"}
    assert analysed.flagged("unbacked_claims") == {"unbacked"}
    assert analysed.flagged("retries_after_tool_error") == {"retry"}
    assert analysed.finding("unbacked_claims").details["session_only"] == 0


def test_a_signal_only_a_session_shows_is_flagged_on_its_turn_and_counted_as_session_only(analysed):
    # The repeated question is the second turn's trace; alone, that trace asks once.
    assert analysed.flagged("user_repeats") == {"repeat-turn-2"}
    assert analysed.flagged("abandoned_conversations") == {"abandoned-turn-2"}
    repeats = analysed.finding("user_repeats")
    assert (repeats.count, repeats.details["session_only"]) == (1, 1)
    assert "Can I still return the blue backpack" in repeats.trace_evidence[analysed.trace_of["repeat-turn-2"]]


def test_clean_conversations_get_no_conversation_finding(analysed):
    clean = {"clean_question", "clean_booking", "refusal_is_no_apology", "clean_follow_up-turn-1"}
    clean |= {f"chat-{index}-turn-{turn}" for index in range(12) for turn in range(2)}
    named = {source for kind in FINDING_KINDS for source in analysed.flagged(kind)}
    assert not clean & named


def test_a_conversation_far_longer_than_the_others_is_a_finding_with_its_fence(analysed):
    long = analysed.finding("long_conversations")
    assert analysed.flagged("long_conversations") == {f"chat-99-turn-{LONG_TURNS - 1}"}
    assert long.details["user_turns_threshold"] < LONG_TURNS and long.details["session_only"] == 1
    assert long.trace_evidence[analysed.trace_of[f"chat-99-turn-{LONG_TURNS - 1}"]].startswith(
        f"{LONG_TURNS} user turns"
    )


def test_session_samples_put_each_signal_s_session_first_then_clean_ones(analysed):
    samples = {sample.session_id: sample for sample in analysed.analysis.conversations.session_samples}
    assert list(samples)[:3] == sorted(["repeat", "abandoned", "chat-99"], key=list(samples).index)
    assert set(list(samples)[:3]) == {"repeat", "abandoned", "chat-99"}
    assert (samples["repeat"].signals, samples["abandoned"].signals) == (["user_repeat"], ["abandoned"])
    assert samples["chat-99"].signals == ["long_conversation"]
    assert all(not sample.signals for sample in list(samples.values())[3:])
    assert len(samples) == 3 + 1 + 12  # clean_follow_up and the twelve two-turn chats
    assert samples["repeat"].trace_ids == [analysed.trace_of["repeat-turn-1"], analysed.trace_of["repeat-turn-2"]]
