"""A conversation as its turns, and what the turns show about how it went: the user correcting,
repeating or losing patience, the agent apologising or handing off, tools failing and being retried
or given up on, write actions repeated, a last word left unanswered, and answers that claim an
action no tool performed.

A dialogue is read from one trace (the message history its last model call saw, or the steps of
a multi-agent run) or from a session's traces in order. Every signal is a small fact with a quote
as evidence, so the analysis can report it and a suite's scorer can check it the same way.
Standard library only: this package is copied into every generated suite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from . import signals
from .conversation import Conversation, Message, messages_of

SIGNALS = (
    "user_correction",
    "user_repeat",
    "user_frustration",
    "human_requested",
    "agent_apology",
    "escalation",
    "retry_after_tool_error",
    "gave_up_after_tool_error",
    "repeated_write_action",
    "abandoned",
    "unbacked_claim",
)
"""Every kind of signal `signals_of` can find."""
QUOTE_CHARS = 120
TURN_CHARS = 1_000
"""A session's turns are judged on this many characters: enough for every signal's pattern."""
APOLOGY_WINDOW = 200
"""An apology counts in the first this many characters of the agent's turn."""
_REPEAT_OVERLAP = 0.8
"""A user turn whose terms overlap an earlier one's this much (Jaccard) says the same again."""
_MIN_REPEAT_TERMS = 4

_USER_CORRECTION = re.compile(
    r"\b(?:no,? (?:that'?s|it'?s|i) (?:not|wrong|meant|said|asked)|that'?s not what i|not what i (?:asked|meant|said)"
    r"|i (?:already|just) (?:said|told you|gave you|asked)|as i (?:said|mentioned|told you)|you misunderstood"
    r"|i said\b|i meant\b|i asked (?:for|about)\b)",
    re.IGNORECASE,
)
_FRUSTRATION = re.compile(
    r"\b(?:frustrat\w*|ridiculous|useless|annoy\w*|waste of (?:my )?time|unacceptable|terrible service"
    r"|are you (?:even )?listening|this is (?:absurd|insane|a joke)|what is wrong with you)\b|[!?]{3,}",
    re.IGNORECASE,
)
_HUMAN_REQUEST = re.compile(
    r"\b(?:(?:speak|talk|chat) (?:to|with) (?:a |an |your )?(?:human|person|representative|agent|manager|supervisor)"
    r"|(?:real|live|actual) (?:person|agent|human)|human agent|customer service representative)\b",
    re.IGNORECASE,
)
_APOLOGY = re.compile(
    r"\b(?:i(?:'m| am) (?:so |very |really )?sorry|(?:my |i )?apologi[sz]e|apologies|my mistake"
    r"|i was (?:wrong|mistaken)|i made (?:a|an) (?:mistake|error)|i misspoke|let me correct)\b",
    re.IGNORECASE,
)
_ESCALATION_TEXT = re.compile(
    r"\b(?:transfer(?:ring)? you|a human (?:agent|representative) will|(?:connect|transfer)(?:ing)? you (?:with|to) "
    r"(?:a |an |our )?(?:human|agent|representative|specialist|supervisor)|escalat(?:e|ed|ing) (?:this|your))",
    re.IGNORECASE,
)
_ESCALATION_TOOL = re.compile(r"transfer|escalat|hand_?off|human|live_agent", re.IGNORECASE)
_WRITE_VERBS = frozenset(
    [
        "book",
        "cancel",
        "update",
        "refund",
        "send",
        "modify",
        "change",
        "delete",
        "create",
        "pay",
        "charge",
        "submit",
        "exchange",
        "return",
        "reserve",
        "transfer",
        "remove",
        "add",
        "set",
        "write",
        "post",
        "place",
    ]
)
_NAME_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# A claim that the agent did something: "I've cancelled", "has been booked", "successfully refunded";
# not a description of the past ("your order was placed on Nov 11").
_CLAIM = re.compile(
    r"\b(?:i(?:'ve| have)|i|we(?:'ve| have)|has been|have been|is now|are now|successfully)\s+(?:\w+\s+){0,2}?"
    r"(cancel(?:l)?ed|booked|refunded|updated|sent|changed|modified|deleted|created|scheduled|reserved|processed"
    r"|transferred|exchanged|removed|submitted|placed)\b",
    re.IGNORECASE,
)
_CLAIM_STEMS = {
    "cancelled": "cancel",
    "canceled": "cancel",
    "booked": "book",
    "refunded": "refund",
    "updated": "update",
    "sent": "send",
    "changed": "change",
    "modified": "modif",
    "deleted": "delet",
    "created": "creat",
    "scheduled": "schedul",
    "reserved": "reserv",
    "processed": "process",
    "transferred": "transfer",
    "exchanged": "exchange",
    "removed": "remov",
    "submitted": "submit",
    "placed": "place",
}
# What a claimed action may be called in a tool's name beyond its stem: "booked" by a reserve tool.
_CLAIM_SYNONYMS = {
    "book": ("reserv",),
    "update": ("modif", "change", "set"),
    "change": ("modif", "update"),
    "modif": ("update", "change"),
    "cancel": ("delet", "remov"),
}
_TERM = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Cue:
    """A pattern, and words one of which each of its matches holds once lower-cased: in ASCII text, where
    ignoring case is lower-casing, a few substring searches rule out most texts for the cost of one."""

    pattern: re.Pattern[str]
    words: tuple[str, ...]

    def search(self, text: str, lowered: str | None) -> re.Match[str] | None:
        """`lowered`: `text` lower-cased if it is ASCII, else None (the pattern alone decides)."""
        if lowered is None or any(map(lowered.__contains__, self.words)):
            return self.pattern.search(text)
        return None


_USER_CORRECTION_CUE = _Cue(
    _USER_CORRECTION,
    ("no ", "no,", "not what i", "i already", "i just", "as i", "misunderstood", "i said", "i meant", "i asked"),
)
_FRUSTRATION_CUE = _Cue(
    _FRUSTRATION,
    (
        "frustrat",
        "ridiculous",
        "useless",
        "annoy",
        "waste of",
        "unacceptable",
        "terrible service",
        "listening",
        "absurd",
        "insane",
        "a joke",
        "what is wrong with you",
        "!!",
        "??",
        "!?",
        "?!",
    ),
)
_HUMAN_REQUEST_CUE = _Cue(
    _HUMAN_REQUEST,
    ("speak ", "talk ", "chat ", "real ", "live ", "actual ", "human agent", "customer service representative"),
)
_APOLOGY_CUE = _Cue(
    _APOLOGY,
    ("sorry", "apologi", "my mistake", "i was wrong", "i was mistaken", "i made a", "i misspoke", "let me correct"),
)
_ESCALATION_CUE = _Cue(_ESCALATION_TEXT, ("transfer", "a human ", "connect", "escalat"))


@dataclass(frozen=True)
class Turn:
    """One message of a dialogue: who spoke (user, assistant, or an agent's name) and what."""

    role: str
    """user or assistant."""
    text: str
    speaker: str
    trace_id: str | None = None


@dataclass(frozen=True)
class ToolUse:
    name: str
    signature: str
    """Digest of the name and arguments: two calls with the same arguments have the same one."""
    failed: bool
    trace_id: str | None = None


@dataclass
class Dialogue:
    turns: list[Turn] = field(default_factory=list)
    tools: list[ToolUse] = field(default_factory=list)
    final_answer: str | None = None
    trace_ids: list[str] = field(default_factory=list)

    @property
    def user_turns(self) -> int:
        return sum(turn.role == "user" for turn in self.turns)


@dataclass(frozen=True)
class Signal:
    kind: str
    evidence: str
    trace_id: str | None = None


SESSION_KEY = "mlflow.trace.session"
_EMPTY_PATH = re.compile(r"\[\s*\]")


def session_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The conversation a trace belongs to: its `mlflow.trace.session` metadata exactly as stored,
    as MLflow's evaluation groups sessions. That is a plain id (MLflow 3.17), or a JSON array of
    nested ids, outermost first (3.18), whose last id alone may repeat under other parents."""
    value = (metadata or {}).get(SESSION_KEY)
    if not value or not isinstance(value, str) or _EMPTY_PATH.fullmatch(value):
        return None
    return value


def dialogue_of(conversation: Conversation, trace_id: str | None = None) -> Dialogue:
    """One trace's dialogue: the fullest message history a model call saw, with its answer; or,
    for a run without model calls, the steps its agents took (one child span each)."""
    turns = _history(conversation, trace_id) or _steps(conversation, trace_id) or _exchange(conversation, trace_id)
    answer = conversation.answer_text
    if answer and (not turns or turns[-1].role != "assistant" or turns[-1].text != answer):
        turns.append(Turn("assistant", answer, "assistant", trace_id))
    tools = [ToolUse(call.name, call.signature, call.outcome != "ok", trace_id) for call in conversation.tool_calls]
    return Dialogue(turns, tools, answer, [trace_id] if trace_id else [])


def compact(dialogue: Dialogue) -> Dialogue:
    """The dialogue with each turn cut to `TURN_CHARS` (and its answer to four times that): what a
    session is judged on, so the analysis can keep a session's traces until its pass ends."""
    turns = [
        turn if len(turn.text) <= TURN_CHARS else replace(turn, text=turn.text[:TURN_CHARS]) for turn in dialogue.turns
    ]
    answer = dialogue.final_answer[: TURN_CHARS * 4] if dialogue.final_answer else None
    return Dialogue(turns, dialogue.tools, answer, dialogue.trace_ids)


def session_dialogue(dialogues: Iterable[Dialogue]) -> Dialogue:
    """A session's traces, in order, as one dialogue (each `compact`). After the first trace, each adds
    its own turn: from its last user message on (what came before is the history its model was sent again)."""
    session = Dialogue()
    for dialogue in map(compact, dialogues):
        users = [index for index, turn in enumerate(dialogue.turns) if turn.role == "user"]
        own = dialogue.turns[users[-1] :] if session.turns and users else dialogue.turns
        session.turns.extend(own)
        session.tools.extend(dialogue.tools)
        session.final_answer = dialogue.final_answer or session.final_answer
        session.trace_ids.extend(dialogue.trace_ids)
    return session


def signals_of(dialogue: Dialogue) -> list[Signal]:
    """Every signal the dialogue shows, in the order of `SIGNALS`."""
    found = [*_user_signals(dialogue), *_agent_signals(dialogue), *_tool_signals(dialogue)]
    # Only a conversation can be abandoned: a single request left unanswered is an error or an empty response.
    if dialogue.user_turns >= 2 and dialogue.turns[-1].role == "user":
        last = dialogue.turns[-1]
        found.append(Signal("abandoned", f"the last word is the user's: {_quote(last.text)}", last.trace_id))
    found.extend(_unbacked_claims(dialogue))
    return sorted(found, key=lambda signal: SIGNALS.index(signal.kind))


def _history(conversation: Conversation, trace_id: str | None) -> list[Turn]:
    """The longest exchange the trace recorded: what a model call was sent with its answer, or
    the messages of the root's request (a transcript's whole dialogue) or state."""
    # A call's exchange is its messages and its answer; the first longest wins.
    sent = max(
        (call for call in conversation.model_calls if call.messages), key=lambda call: len(call.messages), default=None
    )
    longest = [*sent.messages, Message("assistant", sent.answer)] if sent is not None else []
    for messages in (messages_of(conversation.request_inputs), messages_of(conversation.outputs)):
        if len(messages) > len(longest):
            longest = messages
    return [
        Turn(message.role, message.text, message.role, trace_id)
        for message in longest
        if message.role in ("user", "assistant") and message.text
    ]


def _exchange(conversation: Conversation, trace_id: str | None) -> list[Turn]:
    request = conversation.request
    return [Turn("user", request, "user", trace_id)] if request else []


def _steps(conversation: Conversation, trace_id: str | None) -> list[Turn]:
    root = conversation.root
    if root is None:
        return []
    turns = []
    for span in conversation.spans:
        if span.parent_id != root.span_id or span.span_type == "TOOL":
            continue
        text = signals.text_of(span.outputs)
        if text:
            role = "user" if span.span_type == "CHAIN" and span.name.lower() in ("human", "user") else "assistant"
            turns.append(Turn(role, text, span.name, trace_id))
    return turns


def _user_signals(dialogue: Dialogue) -> list[Signal]:
    found = []
    # Asking again means after a reply: a framework's prompt repeated between tool calls (CrewAI's) is
    # no user repeating themselves. `answered` holds the terms of the user turns replied to since.
    answered: list[set[str]] = []
    pending: list[set[str]] = []
    for turn in dialogue.turns:
        if turn.role == "assistant":
            answered += pending
            pending = []
            continue
        text = turn.text
        lowered = text.lower()
        terms = set(_TERM.findall(lowered))
        ascii_lowered = lowered if text.isascii() else None
        if answered and (match := _USER_CORRECTION_CUE.search(text, ascii_lowered)):
            found.append(Signal("user_correction", _around(text, match), turn.trace_id))
        elif len(terms) >= _MIN_REPEAT_TERMS and any(_overlap(terms, seen) >= _REPEAT_OVERLAP for seen in answered):
            found.append(Signal("user_repeat", f"the user asks again: {_quote(text)}", turn.trace_id))
        if match := _FRUSTRATION_CUE.search(text, ascii_lowered):
            found.append(Signal("user_frustration", _around(text, match), turn.trace_id))
        if match := _HUMAN_REQUEST_CUE.search(text, ascii_lowered):
            found.append(Signal("human_requested", _around(text, match), turn.trace_id))
        pending.append(terms)
    return found


def _agent_signals(dialogue: Dialogue) -> list[Signal]:
    found = []
    for turn in (turn for turn in dialogue.turns if turn.role == "assistant"):
        text = turn.text
        lowered = text.lower() if text.isascii() else None
        # "I'm sorry, but I cannot help" is a refusal, which the analysis reports as one. An agent apologises as
        # it starts to speak; further on, "we apologize" is more often a page or a message it quotes.
        opening = text[:APOLOGY_WINDOW]
        apology = _APOLOGY_CUE.search(opening, lowered[:APOLOGY_WINDOW] if lowered is not None else None)
        if (match := apology) and not signals.is_refusal(text):
            found.append(Signal("agent_apology", f"{turn.speaker}: {_around(text, match)}", turn.trace_id))
        if match := _ESCALATION_CUE.search(text, lowered):
            found.append(Signal("escalation", f"{turn.speaker}: {_around(text, match)}", turn.trace_id))
    found.extend(
        Signal("escalation", f"the agent called {tool.name}", tool.trace_id)
        for tool in dialogue.tools
        if _is_escalation_tool(tool.name)
    )
    return found


def _tool_signals(dialogue: Dialogue) -> list[Signal]:
    found = []
    tools = dialogue.tools
    for index, tool in enumerate(tools):
        if not tool.failed:
            continue
        later = [other for other in tools[index + 1 :] if other.name == tool.name]
        if not later:
            found.append(
                Signal("gave_up_after_tool_error", f"{tool.name} failed and was not called again", tool.trace_id)
            )
        elif later[0].signature != tool.signature:
            found.append(
                Signal(
                    "retry_after_tool_error",
                    f"{tool.name} failed, then was retried with other arguments",
                    tool.trace_id,
                )
            )
    failed_before = False
    calls_of: dict[str, int] = {}
    for tool in tools:
        if _is_write(tool.name):
            calls_of[tool.name] = calls_of.get(tool.name, 0) + 1
            if calls_of[tool.name] == 2:
                found.append(Signal("repeated_write_action", f"{tool.name} was called again", tool.trace_id))
            elif failed_before and calls_of[tool.name] == 1:
                found.append(Signal("repeated_write_action", f"{tool.name} was called after an error", tool.trace_id))
        failed_before = failed_before or tool.failed
    return found


def _unbacked_claims(dialogue: Dialogue) -> list[Signal]:
    """An answer saying an action happened that no successful tool call performed. Only for agents
    that act through tools: a chat model saying "I've updated the text" acted on nothing."""
    answer = dialogue.final_answer
    if not answer or not dialogue.tools:
        return []
    scanned = answer[: signals.SCAN_CHARS]
    # Every claim names one of the verbs `_CLAIM_STEMS` holds (see `_Cue`).
    lowered = scanned.lower() if scanned.isascii() else None
    if lowered is not None and not any(map(lowered.__contains__, _CLAIM_STEMS)):
        return []
    done = [tool.name.lower() for tool in dialogue.tools if not tool.failed]
    found = []
    for match in _CLAIM.finditer(scanned):
        stem = _CLAIM_STEMS[match.group(1).lower()]
        names = (stem, *_CLAIM_SYNONYMS.get(stem, ()))
        if not any(name in tool for tool in done for name in names):
            trace_id = dialogue.trace_ids[-1] if dialogue.trace_ids else None
            found.append(
                Signal("unbacked_claim", f"no successful {stem} call, yet: {_around(answer, match)}", trace_id)
            )
            break
    return found


@lru_cache(maxsize=1024)
def _is_write(tool_name: str) -> bool:
    """Whether a tool's name says it changes something: a write verb among its words
    (`cancel_reservation`, `bookFlight`, `orders.update`). Cached: an agent has few tools."""
    return any(word.lower() in _WRITE_VERBS for word in _NAME_WORD.findall(tool_name))


@lru_cache(maxsize=1024)
def _is_escalation_tool(tool_name: str) -> bool:
    return bool(_ESCALATION_TOOL.search(tool_name))


def _overlap(first: set[str], second: set[str]) -> float:
    return len(first & second) / len(first | second) if first and second else 0.0


def _around(text: str, match: re.Match[str]) -> str:
    start = max(0, match.start() - 40)
    return _quote(text[start : match.end() + 60])


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
