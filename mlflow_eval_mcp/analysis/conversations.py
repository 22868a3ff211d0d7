"""Conversation-level findings: what the turns of each conversation show (checks/dialogue.py),
over whole conversations: a trace holding a dialogue, or a session's traces in order.

A trace without a session is judged when it is read; a session's traces are kept (their turns cut
short) until the pass ends, since its turns arrive in any order across pages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mlflow_eval_mcp.analysis.finding_factory import new_finding
from mlflow_eval_mcp.analysis.models import ConversationStats, Finding, FindingKind, SessionSample, Severity
from mlflow_eval_mcp.analysis.stats import outlier_threshold, percentile
from mlflow_eval_mcp.checks.dialogue import Dialogue, Signal, compact, session_dialogue, signals_of

EVIDENCE_PER_FINDING = 5
SESSION_SAMPLES = 25
SAMPLE_TRACES = 100
"""A longer session is not sampled: a suite scores a session whole or not at all."""
LONG = "long_conversation"
"""A session sample's signal for a conversation far longer than the others (finding `long_conversations`)."""

_FINDING_OF_SIGNAL: dict[str, tuple[FindingKind, str, Severity]] = {
    # signal -> (finding kind, title, severity when common)
    "user_correction": ("user_corrections", "The user corrects the agent", "medium"),
    "user_repeat": ("user_repeats", "The user asks again for what they already asked", "medium"),
    "user_frustration": ("user_frustration", "The user is frustrated", "high"),
    "human_requested": ("human_requested", "The user asks for a human", "high"),
    "agent_apology": ("agent_apologies", "The agent apologises or corrects what it said", "medium"),
    "escalation": ("escalations", "The conversation is escalated or handed off to a human", "medium"),
    "retry_after_tool_error": ("retries_after_tool_error", "A failed tool call is retried with other arguments", "low"),
    "gave_up_after_tool_error": ("gave_up_after_tool_error", "A tool fails and the agent gives up on it", "medium"),
    "repeated_write_action": ("repeated_write_actions", "A write action is repeated or tried after an error", "high"),
    "abandoned": ("abandoned_conversations", "Conversations that end on the user's word, unanswered", "medium"),
    "unbacked_claim": ("unbacked_claims", "Answers that claim an action no successful tool call performed", "high"),
}


FINDING_KINDS: frozenset[FindingKind] = frozenset(
    {kind for kind, _, _ in _FINDING_OF_SIGNAL.values()} | {"long_conversations"}
)
"""The kinds of finding judged over whole conversations."""


def needs_whole_sessions(finding: Finding) -> bool:
    """Whether some of the finding's traces show it only with the rest of their session."""
    return int(finding.details.get("session_only", 0)) > 0


@dataclass(frozen=True)
class _Size:
    user_turns: int
    tool_calls: int
    trace_id: str
    """The conversation's last trace."""
    is_session: bool


@dataclass
class _Flagged:
    trace_ids: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    by_trace: dict[str, str] = field(default_factory=dict)
    conversations: int = 0
    session_only: int = 0
    """Flagged traces that do not show the signal alone, only with the rest of their session."""


@dataclass
class DialogueTally:
    sessions: dict[str, list[tuple[int, Dialogue]]] = field(default_factory=lambda: defaultdict(list))
    flagged: dict[str, _Flagged] = field(default_factory=lambda: defaultdict(_Flagged))
    sizes: list[_Size] = field(default_factory=list)
    """Of each conversation judged."""
    with_signal: int = 0
    samples: list[SessionSample] = field(default_factory=list)
    """Every session judged, for `session_samples`."""

    def add(self, dialogue: Dialogue, *, session: str | None, request_ms: int | None) -> None:
        if session is None:
            self._judge(dialogue)
        else:
            self.sessions[session].append((request_ms or 0, compact(dialogue)))

    def finish(self) -> None:
        """Judge the sessions, each as one dialogue of its traces in the order they started."""
        for session, traces in self.sessions.items():
            ordered = [dialogue for _, dialogue in sorted(traces, key=lambda item: item[0])]
            joined = session_dialogue(ordered)
            found = self._judge(joined, ordered)
            if len(joined.trace_ids) <= SAMPLE_TRACES:
                self.samples.append(SessionSample(session_id=session, trace_ids=joined.trace_ids, signals=found))
        self.sessions.clear()

    def stats(self) -> ConversationStats:
        turns = sorted(size.user_turns for size in self.sizes)
        tools = sorted(size.tool_calls for size in self.sizes)
        return ConversationStats(
            conversations=len(self.sizes),
            sessions=sum(size.is_session for size in self.sizes),
            multi_turn=sum(1 for count in turns if count > 1),
            user_turns_p50=percentile(turns, 50) if turns else None,
            user_turns_max=turns[-1] if turns else None,
            tool_calls_p50=percentile(tools, 50) if tools else None,
            with_signal=self.with_signal,
            signals={signal: flagged.conversations for signal, flagged in sorted(self.flagged.items())},
            session_samples=self._chosen_samples(),
        )

    def _chosen_samples(self) -> list[SessionSample]:
        """Each signal's first session, then the other sessions with signals (most first), then clean ones."""
        long = {size.trace_id for size in self._long_sizes()}
        samples = [
            sample.model_copy(update={"signals": [*sample.signals, LONG]}) if sample.trace_ids[-1] in long else sample
            for sample in self.samples
        ]
        firsts: dict[str, SessionSample] = {}
        for sample in samples:
            for signal in sample.signals:
                firsts.setdefault(signal, sample)
        ordered = sorted(samples, key=lambda sample: -len(sample.signals))
        chosen = {id(sample): sample for sample in [*firsts.values(), *ordered]}
        return list(chosen.values())[:SESSION_SAMPLES]

    def findings(self, traces_analyzed: int) -> list[Finding]:
        found = [
            new_finding(
                traces_analyzed,
                kind,
                kind,
                title,
                severity,
                flagged.trace_ids,
                flagged.evidence,
                {
                    "conversations": flagged.conversations,
                    "signal": signal,
                    "session_only": flagged.session_only,
                },
                trace_evidence=flagged.by_trace,
            )
            for signal, (kind, title, severity) in _FINDING_OF_SIGNAL.items()
            if (flagged := self.flagged.get(signal)) and flagged.trace_ids
        ]
        if long := self._long_conversations(traces_analyzed):
            found.append(long)
        return found

    def _judge(self, dialogue: Dialogue, traces: list[Dialogue] | None = None) -> list[str]:
        """The kinds of signal found. `traces`: for a session, each of its traces' own dialogue."""
        fallback = dialogue.trace_ids[-1] if dialogue.trace_ids else ""
        self.sizes.append(_Size(dialogue.user_turns, len(dialogue.tools), fallback, len(dialogue.trace_ids) > 1))
        found = signals_of(dialogue)
        if not found:
            return []
        # Which signals each trace shows by itself, judged only for sessions that show any.
        alone = None
        if traces is not None:
            alone = {
                trace_id: {signal.kind for signal in signals_of(trace)}
                for trace in traces
                for trace_id in trace.trace_ids
            }
        self.with_signal += 1
        kinds = list(dict.fromkeys(signal.kind for signal in found))
        for kind in kinds:
            self.flagged[kind].conversations += 1
        for signal in found:
            self._flag(signal, fallback, alone)
        return kinds

    def _flag(self, signal: Signal, fallback: str, alone: dict[str, set[str]] | None) -> None:
        flagged = self.flagged[signal.kind]
        trace_id = signal.trace_id or fallback
        if trace_id not in flagged.by_trace:
            flagged.session_only += alone is not None and signal.kind not in alone.get(trace_id, set())
            flagged.trace_ids.append(trace_id)
            flagged.by_trace[trace_id] = signal.evidence
        if len(flagged.evidence) < EVIDENCE_PER_FINDING:
            flagged.evidence.append(signal.evidence)

    def _fences(self) -> tuple[float | None, float | None]:
        """The user-turn and tool-call counts above which a conversation is far longer than the
        others (Tukey's far-out fence, at least twice the median: see `outlier_threshold`), among
        the conversations that have any: where most call no tool, one call is not far more than usual."""
        return (
            outlier_threshold([size.user_turns for size in self.sizes if size.user_turns]),
            outlier_threshold([size.tool_calls for size in self.sizes if size.tool_calls]),
        )

    def _long_sizes(self) -> list[_Size]:
        turn_fence, tool_fence = self._fences()
        return [
            size
            for size in self.sizes
            if (turn_fence is not None and size.user_turns > turn_fence)
            or (tool_fence is not None and size.tool_calls > tool_fence)
        ]

    def _long_conversations(self, traces_analyzed: int) -> Finding | None:
        long = self._long_sizes()
        if not long:
            return None
        turn_fence, tool_fence = self._fences()
        by_trace = {size.trace_id: f"{size.user_turns} user turns and {size.tool_calls} tool calls" for size in long}
        # A session's length is its traces together: no one trace of it shows it.
        details: dict[str, str | int | float] = {
            "conversations": len(long),
            "session_only": sum(size.is_session for size in long),
        }
        if turn_fence is not None:
            details["user_turns_threshold"] = round(turn_fence, 1)
        if tool_fence is not None:
            details["tool_calls_threshold"] = round(tool_fence, 1)
        return new_finding(
            traces_analyzed,
            "long_conversations",
            "long_conversations",
            "Conversations far longer than usual (user turns or tool calls)",
            "medium",
            list(by_trace),
            list(by_trace.values())[:EVIDENCE_PER_FINDING],
            details,
            trace_evidence=by_trace,
        )
