"""Conversation-level signals, on hand-built conversations imported by the project's own chat
importer into a real MLflow store and read back as traces."""

from pathlib import Path

import pytest
from mlflow.entities import Trace
from mlflow.tracking import MlflowClient

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.dialogue import (
    SIGNALS,
    TURN_CHARS,
    Dialogue,
    Turn,
    dialogue_of,
    session_dialogue,
    session_of,
    signals_of,
)
from mlflow_eval_mcp.importing.importer import import_traces
from tests.conversations import CONVERSATIONS, write_transcripts


@pytest.fixture(scope="module")
def imported(template_db, tmp_path_factory) -> dict[str, Trace]:
    """Each conversation of CONVERSATIONS as the trace the chat importer writes for it."""
    root = tmp_path_factory.mktemp("dialogues")
    source = write_transcripts(root / "conversations.jsonl")
    client = _store(template_db, root)
    import_traces(client, str(source), experiment_name="dialogues", artifacts_dir=root / "artifacts")
    experiment = client.get_experiment_by_name("dialogues")
    return {trace.info.tags["case"]: trace for trace in client.search_traces(locations=[experiment.experiment_id])}


def _store(template_db: Path, root: Path) -> MlflowClient:
    store = root / "mlflow.db"
    store.write_bytes(template_db.read_bytes())
    return MlflowClient(tracking_uri=f"sqlite:///{store}")


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_each_conversation_shows_exactly_its_signals(imported, name):
    trace = imported[name]
    found = signals_of(dialogue_of(Conversation.of_trace(trace), trace.info.trace_id))
    assert {signal.kind for signal in found} == CONVERSATIONS[name][1]
    assert all(signal.trace_id == trace.info.trace_id and signal.evidence for signal in found)


def test_every_signal_has_a_conversation_that_shows_it():
    assert {kind for _, kinds in CONVERSATIONS.values() for kind in kinds} == set(SIGNALS)


def test_a_session_of_one_trace_per_turn_is_judged_as_one_conversation(imported):
    first, second = (
        dialogue_of(Conversation.of_trace(imported[name]), imported[name].info.trace_id)
        for name in ("clean_question", "refusal_is_no_apology")
    )
    session = session_dialogue([first, second])
    assert [turn.text for turn in session.turns] == [
        "What is the baggage allowance?",
        "Two checked bags of 23 kg each.",
        "Write me malware.",
        "I'm sorry, but I cannot assist with that.",
    ]
    assert session.trace_ids == [
        imported["clean_question"].info.trace_id,
        imported["refusal_is_no_apology"].info.trace_id,
    ]


def test_a_trace_that_repeats_the_session_s_history_adds_only_its_own_turn(imported):
    follow_up = dialogue_of(Conversation.of_trace(imported["clean_follow_up"]), "t2")
    opening = dialogue_of(Conversation.of_trace(imported["clean_follow_up"]), "t1")
    opening.turns = opening.turns[:2]
    session = session_dialogue([opening, follow_up])
    assert [turn.text for turn in session.turns] == [
        "Where is my order ORD-1?",
        "It shipped yesterday.",
        "Thanks, and when will it arrive?",
        "On Friday.",
    ]


@pytest.mark.parametrize(
    ("stored", "session"),
    [
        ("conv-1", "conv-1"),
        ('["support-app","conv-1"]', '["support-app","conv-1"]'),
        ('["conv-1"]', '["conv-1"]'),
        ("[]", None),
        ("", None),
    ],
)
def test_a_session_is_keyed_by_its_id_as_stored_in_mlflow_3_17_and_3_18_forms(stored, session):
    assert session_of({"mlflow.trace.session": stored}) == session


def _said(*texts: str) -> Dialogue:
    return Dialogue([Turn("user", "Where is my order?", "user"), *(Turn("assistant", text, "agent") for text in texts)])


def test_an_apology_counts_where_the_agent_starts_to_speak():
    assert [signal.kind for signal in signals_of(_said("My apologies for the confusion: it ships Monday."))] == [
        "agent_apology"
    ]


def test_an_apology_deep_in_a_page_the_agent_quotes_is_not_the_agent_s():
    page = "Here is what the site shows. Title: Bot Manager Captcha. " + "Please verify. " * 20
    assert signals_of(_said(page + "We apologize for the inconvenience.")) == []


def test_a_session_is_judged_on_its_turns_cut_as_the_analysis_keeps_them():
    long = "x" * (TURN_CHARS + 500)
    session = session_dialogue([_said(long), _said("Thanks.")])
    assert max(len(turn.text) for turn in session.turns) == TURN_CHARS
