"""One pass over the traces: every statistic the analysis needs, accumulated trace by trace.

Only small per-trace facts are kept (numbers, ids, short texts), never the traces themselves,
so memory grows slowly with the number of traces and pages can be dropped as soon as they
are read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.analysis.architecture import ArchitectureTally
from mlflow_eval_mcp.analysis.context import ContextTally
from mlflow_eval_mcp.analysis.conversations import DialogueTally
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Conversation, ModelCall, ToolCall, trace_state
from mlflow_eval_mcp.checks.dialogue import dialogue_of, session_of
from mlflow_eval_mcp.checks.span_view import SpanView
from mlflow_eval_mcp.checks.tags import SYNTHETIC_TIME_TAG

if TYPE_CHECKING:
    from mlflow.entities import Span, Trace

MAX_NAMES = 300
"""Distinct span names tracked one by one; beyond that they are pooled, so that generated names
(one per request) cannot grow memory without bound."""
OTHER_NAMES = "(other names)"
REQUEST_CHARS = 500
EVIDENCE_CHARS = 160


@dataclass
class ToolTally:
    calls: int = 0
    traces: set[str] = field(default_factory=set)
    exceptions: int = 0
    error_outputs: int = 0
    repeated: int = 0
    durations_ms: list[float] = field(default_factory=list)


@dataclass
class Flagged:
    """Traces showing one signal, with a few excerpts as evidence."""

    trace_ids: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    by_name: Counter[str] = field(default_factory=Counter)
    by_trace: dict[str, str] = field(default_factory=dict)
    """Each trace's first evidence."""

    def add(self, trace_id: str, evidence: str | None = None, name: str | None = None) -> None:
        if not self.trace_ids or self.trace_ids[-1] != trace_id:
            self.trace_ids.append(trace_id)
        if evidence and trace_id not in self.by_trace:
            self.by_trace[trace_id] = _excerpt(evidence)
        if evidence and len(self.evidence) < 5:
            self.evidence.append(_excerpt(evidence))
        if name:
            self.by_name[name] += 1


@dataclass
class TraceCollector:
    traces: int = 0
    states: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None
    last_ms: int | None = None
    users: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    without_spans: int = 0
    synthetic_times: int = 0
    with_expectations: int = 0
    expectation_names: Counter[str] = field(default_factory=Counter)
    trace_ms: list[tuple[float, str]] = field(default_factory=list)
    span_ms_by_type: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    span_ms_by_name: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    span_type_of_name: dict[str, str] = field(default_factory=dict)
    time_by_name_per_trace: dict[str, dict[str, float]] = field(default_factory=dict)
    input_tokens: list[tuple[float, str]] = field(default_factory=list)
    output_tokens: list[float] = field(default_factory=list)
    by_model: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    cost_usd: float | None = None
    spans_read: int = 0
    unread: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(span name, "inputs" or "outputs") -> spans whose part the reading did not understand."""
    unrecorded: Counter[str] = field(default_factory=Counter)
    """Span name -> spans whose output MLflow did not record (an object's repr)."""
    tools: dict[str, ToolTally] = field(default_factory=lambda: defaultdict(ToolTally))
    root_names: Counter[str] = field(default_factory=Counter)
    patterns: Counter[tuple[str, ...]] = field(default_factory=Counter)
    subagents: Counter[str] = field(default_factory=Counter)
    subagent_calls: list[tuple[float, str]] = field(default_factory=list)
    tool_sets: Counter[frozenset[str]] = field(default_factory=Counter)
    span_types: Counter[str] = field(default_factory=Counter)
    max_fanout: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    pii_kinds: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    trace_errors: Flagged = field(default_factory=Flagged)
    tool_exceptions: Flagged = field(default_factory=Flagged)
    tool_error_outputs: Flagged = field(default_factory=Flagged)
    repeated_calls: Flagged = field(default_factory=Flagged)
    empty: Flagged = field(default_factory=Flagged)
    refusals: Flagged = field(default_factory=Flagged)
    truncated: Flagged = field(default_factory=Flagged)
    pii: Flagged = field(default_factory=Flagged)
    not_json: Flagged = field(default_factory=Flagged)
    """Responses (not None, not empty) that are not JSON: a finding only where most responses are JSON."""
    span_errors: Flagged = field(default_factory=Flagged)
    """ERROR spans other than tools and the root: failures the agent absorbed."""
    dialogues: DialogueTally = field(default_factory=DialogueTally)
    context: ContextTally = field(default_factory=ContextTally)
    architecture: ArchitectureTally = field(default_factory=ArchitectureTally)

    def add(self, trace: Trace) -> None:
        info = trace.info
        trace_id = info.trace_id
        self.traces += 1
        state = trace_state(trace)
        self.states[state] += 1
        self._add_time(info.request_time)
        metadata = info.trace_metadata or {}
        if user := metadata.get("mlflow.trace.user"):
            self.users.add(user)
        session = session_of(metadata)
        if session:
            self.sessions.add(session)
        self._add_expectations(info)
        # Imported traces whose source had no times carry made-up ones: no latency from them.
        timed = (info.tags or {}).get(SYNTHETIC_TIME_TAG) != "true"
        self.synthetic_times += not timed
        if timed and info.execution_duration is not None:
            self.trace_ms.append((float(info.execution_duration), trace_id))
        self._add_tokens(info.token_usage, trace_id)
        spans = trace.data.spans
        if not spans:
            self.without_spans += 1
            if state == "ERROR":
                self.trace_errors.add(trace_id, info.response_preview or "trace failed (no spans stored)")
            return
        walk = TraceWalk(self, trace_id, state, spans, timed=timed)
        walk.run()
        conversation = walk.conversation
        self.dialogues.add(dialogue_of(conversation, trace_id), session=session, request_ms=info.request_time)
        self.context.add(trace_id, conversation, session=session, request_ms=info.request_time, timed=timed)
        self.architecture.add(trace_id, conversation, timed=timed)

    def finish(self) -> None:
        """After the last trace: what needs every trace (a session's turns arrive on any page)."""
        self.dialogues.finish()

    def _add_time(self, request_ms: int | None) -> None:
        if request_ms is None:
            return
        self.first_ms = request_ms if self.first_ms is None else min(self.first_ms, request_ms)
        self.last_ms = request_ms if self.last_ms is None else max(self.last_ms, request_ms)

    def _add_expectations(self, info: Any) -> None:
        names = {a.name for a in (info.assessments or []) if getattr(a, "expectation", None) is not None}
        if names:
            self.with_expectations += 1
            self.expectation_names.update(names)

    def _add_tokens(self, usage: dict[str, Any] | None, trace_id: str) -> None:
        if not usage:
            return
        if isinstance(usage.get("input_tokens"), int | float):
            self.input_tokens.append((float(usage["input_tokens"]), trace_id))
        if isinstance(usage.get("output_tokens"), int | float):
            self.output_tokens.append(float(usage["output_tokens"]))

    def span_name_key(self, name: str, span_type: str) -> str:
        if name in self.span_ms_by_name or len(self.span_ms_by_name) < MAX_NAMES:
            self.span_type_of_name.setdefault(name, span_type)
            return name
        return OTHER_NAMES

    def iso(self, epoch_ms: int | None) -> str | None:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat() if epoch_ms is not None else None


class TraceWalk:
    """The per-trace part of the pass: spans, tools, outputs and errors of one trace."""

    def __init__(self, collector: TraceCollector, trace_id: str, state: str, spans: list[Span], *, timed: bool) -> None:
        self.c = collector
        self.timed = timed
        self.trace_id = trace_id
        self.state = state
        self.conversation = Conversation([SpanView.of(span) for span in spans])
        self.spans = self.conversation.spans
        self.root = self.conversation.root or self.spans[0]
        self.children = self.conversation.children

    def run(self) -> None:
        self._add_spans()
        for call in self.conversation.model_calls:
            self._add_model_call(call)
        self._add_structure()
        self._add_tools()
        self._add_root_output()
        self._add_request()
        self._add_reading()
        if self.state == "ERROR":
            self.c.trace_errors.add(self.trace_id, self.root.status_text or "trace failed", self.root.name)

    def _add_spans(self) -> None:
        c, trace_id, root, children = self.c, self.trace_id, self.root, self.children
        time_by_name: dict[str, float] = {}
        for span in self.spans:
            span_type = span.span_type
            c.span_types[span_type] += 1
            name = c.span_name_key(span.name, span_type)
            if self.timed and (duration := span.duration_ms) is not None:
                c.span_ms_by_type[span_type].append(duration)
                c.span_ms_by_name[name].append((duration, trace_id))
                if span is not root:
                    time_by_name[name] = time_by_name.get(name, 0) + duration
            c.max_fanout = max(c.max_fanout, len(children.get(span.span_id, ())))
            if span.status == "ERROR" and span_type != "TOOL":
                self._add_span_error(span)
        # The five names taking the most time, ties in first-seen order (as `Counter.most_common`).
        slowest = sorted(time_by_name.items(), key=itemgetter(1), reverse=True)[:5]
        c.time_by_name_per_trace[trace_id] = dict(slowest)

    def _add_span_error(self, span: SpanView) -> None:
        message = signals.error_message(span.status_text, span.outputs, span.exception)
        if message:
            self.c.errors.append((self.trace_id, span.name, signals.error_signature(message), message))
        if span is not self.root:
            self.c.span_errors.add(self.trace_id, f"{span.name}: {message or 'failed'}", span.name)

    def _add_model_call(self, call: ModelCall) -> None:
        tally = self.c.by_model[(call.model or call.name)[:100]]
        tally["calls"] += 1
        usage = call.usage
        for key in ("input_tokens", "output_tokens", "cache_read_tokens"):
            if (value := getattr(usage, key)) is not None:
                tally[key] += value
        if (cost := call.cost) is not None:
            self.c.cost_usd = (self.c.cost_usd or 0.0) + cost

    def _add_structure(self) -> None:
        self.c.root_names[self.root.name] += 1
        self.c.patterns[_collapse(child.name for child in self.children.get(self.root.span_id, []))] += 1
        agents = self.conversation.sub_agents
        self.c.subagents.update({agent.name for agent in agents})
        self.c.subagent_calls.append((float(len(agents)), self.trace_id))

    def _add_tools(self) -> None:
        # The conversation's tool calls: their signatures and outcomes are read once for every tally.
        tool_calls = self.conversation.tool_calls
        if tool_calls:
            self.c.tool_sets[frozenset(call.name for call in tool_calls)] += 1
        seen: Counter[str] = Counter()
        for call in tool_calls:
            tally = self.c.tools[call.name]
            tally.calls += 1
            tally.traces.add(self.trace_id)
            if self.timed and (duration := call.span.duration_ms) is not None:
                tally.durations_ms.append(duration)
            signature = call.signature
            seen[signature] += 1
            if seen[signature] > 1:
                tally.repeated += 1
                self.c.repeated_calls.add(self.trace_id, f"{call.name} called again with the same inputs", call.name)
            self._add_tool_outcome(call, tally)

    def _add_tool_outcome(self, call: ToolCall, tally: ToolTally) -> None:
        outcome = call.outcome
        if outcome == "ok":
            return
        message = call.error or outcome
        if outcome == "exception":
            tally.exceptions += 1
            self.c.tool_exceptions.add(self.trace_id, f"{call.name}: {message}", call.name)
        else:
            tally.error_outputs += 1
            self.c.tool_error_outputs.add(self.trace_id, f"{call.name} returned: {message}", call.name)
        self.c.errors.append((self.trace_id, call.name, signals.error_signature(message), message))

    def _add_root_output(self) -> None:
        conversation = self.conversation
        outputs = conversation.outputs
        if outputs is None:
            self.c.formats["non_text"] += 1
            return
        answer, text = conversation.answer, conversation.answer_text
        output_format = signals.output_format(outputs)
        self.c.formats[output_format] += 1
        if output_format not in ("json", "empty"):
            self.c.not_json.add(self.trace_id, f"{output_format}: {str(answer)[:EVIDENCE_CHARS]}")
        if signals.is_empty(outputs):
            self.c.empty.add(self.trace_id, f"{self.root.name} answered {str(answer)[:40]!r}")
            said = conversation.model_said
            if signals.is_refusal(said):
                self.c.refusals.add(self.trace_id, f"the model refused and the user saw nothing: {said}")
            return
        if signals.is_refusal(text):
            self.c.refusals.add(self.trace_id, text)
        if signals.is_truncated(text, conversation.finish_reason):
            self.c.truncated.add(self.trace_id, f"…{(text or '')[-EVIDENCE_CHARS:]}")
        kinds = signals.pii_kinds(outputs)
        if kinds:
            self.c.pii_kinds.update(kinds)
            self.c.pii.add(self.trace_id, f"{', '.join(sorted(kinds))} in the response")

    def _add_request(self) -> None:
        text = self.conversation.request
        if text and text.strip():
            self.c.requests.append((self.trace_id, text[:REQUEST_CHARS]))

    def _add_reading(self) -> None:
        read, unread = self.conversation.unread()
        self.c.spans_read += read
        self.c.unread.update((span.span, span.part) for span in unread if span.recorded)
        self.c.unrecorded.update(span.span for span in unread if not span.recorded)


def _collapse(names: Any) -> tuple[str, ...]:
    """Child names in order with immediate repeats collapsed, so that 'retry 3 times' does not
    create a new pattern per retry count."""
    collapsed: list[str] = []
    for name in names:
        if not collapsed or collapsed[-1] != name:
            collapsed.append(name)
    return tuple(collapsed[:12])


def _excerpt(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"
