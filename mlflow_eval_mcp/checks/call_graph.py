"""How one trace's calls depend on each other, read from their content: the part of the architecture
review (analysis/architecture.py) that judges a single trace, so that a suite's scorer decides
exactly as the analysis did. Standard library only: this package is copied into every suite.
The architecture review: what an agent is made of and how it spends its calls, read from its traces
in the analysis' single pass.

The map: the sub-agents, tools and retrievers the traces call, the routes the root takes (its
first-level steps), and which of them serve each kind of request (input cluster). Then how the agent
wastes time or tokens, each judged from the content of the calls, never from their names:

- sequential calls that could run in parallel: calls made by one agent (tools, retrievers, sub-agents)
  one after another, where the later one's inputs hold nothing the earlier one returned;
- results that go unused: a tool or retriever result none of whose distinctive content reaches a later
  step's inputs (a model call, another call) or the answer;
- tools offered to the model (the definitions in its requests) that no trace calls;
- findings: a supervisor calling several sub-agents when one answers (`unnecessary_fanout`), and the
  same retrieval repeated within a trace (`redundant_retrieval`).

Content is compared lexically, by terms (words, ids, numbers of three characters or more). A call's
distinctive content is what was not known before it ran: not in the request, its own inputs, or the
context of the model call before it. Every check errs towards "used" and "dependent", so what the
review claims is what the trace shows. Each trace's readings are methods of `TraceCalls`, a view of one
`Conversation`, so a suite's scorer can later decide exactly as the analysis did.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from operator import methodcaller
from typing import Any, Literal

from . import signals
from .conversation import Conversation, Document, ModelCall, Retrieval, ToolCall
from .span_view import SPAN_INPUTS, SPAN_OUTPUTS, SpanView, cached_reading

ComponentKind = Literal["sub_agent", "tool", "retriever"]
KIND_OF_TYPE: dict[str, ComponentKind] = {"AGENT": "sub_agent", "TOOL": "tool", "RETRIEVER": "retriever"}

ROUTE_STEPS = 8
EVIDENCE_CHARS = 160
SIMILAR_QUERY = 0.8
"""Two queries are the same when this share of their content words is shared (Jaccard): relative to
the queries' length, so one changed word of five is a rewording, one of two a new question."""
SAME_DOCUMENTS = 0.8
"""A retrieval is repeated when this share of its documents an earlier one already returned."""
MIN_NEW_TERMS = 3
"""A sub-agent's output must bring this many new terms before "none reached the answer" says anything."""
CHECKED_TERMS = 24
"""New terms of a result looked for downstream before it is called unused."""
ANSWER_TERMS = 2
"""New terms of a result the answer must hold to have taken it up: prose shares a word by chance."""
TERMS_PER_DOCUMENT = 3
MAX_DOCUMENTS = 20
RESULT_CHARS = 4_000
"""Of a result, a query or a document: what its terms are read from (bounds the cost per trace)."""
DOCUMENT_CHARS = 1_000

_TERM = re.compile(r"\w+(?:[-.:/@]\w+)*")
# Words too common to show that one text took anything from another.
_COMMON_WORDS = """
    a an and are as at be been but by can could do for from had has have her here his how i if in into is
    it its may me more my no none not null of on one only or other our out over she should so some such than
    that the their them then there these they this those to too true false up us was we were what when where
    which who why will with would yes you your also about just each all any
"""
_COMMON = frozenset(_COMMON_WORDS.split())
# A framework's plumbing in a result (the call's own id, a message's type), not what the call returned.
_PLUMBING_KEYS = frozenset(
    {
        "tool_call_id",
        "call_id",
        "type",
        "role",
        "response_metadata",
        "additional_kwargs",
        "usage",
        "usage_metadata",
        "finish_reason",
        "logprobs",
    }
)
_NAME_SEPARATORS = re.compile(r"[ .:/]")
_DEFINING_KEYS = frozenset({"tools", "config", "toolConfig", "model_request_parameters"})
"""Where a model request defines its tools (see `tools_offered_to`)."""
_WRAPPER_TYPES = frozenset({"CHAIN", "UNKNOWN"})
_MODEL_TYPES = frozenset({"LLM", "CHAT_MODEL"})


# ---- One trace ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParallelRun:
    """Calls by one agent that ran one after another, each independent of those before it."""

    names: tuple[str, ...]
    saved_ms: float | None
    """How much sooner the run would have ended had all its calls started together (their summed time
    less the longest); None without timings."""


@dataclass(frozen=True)
class Fanout:
    """A supervisor (an agent, or the root) that called several sub-agents, of which only some answered."""

    supervisor: str
    called: tuple[str, ...]
    answering: tuple[str, ...]
    """Those whose output reaches the final answer."""
    unneeded: tuple[str, ...]


class TraceCalls:
    """One trace's calls to sub-agents, tools and retrievers, and what each passes on."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.root = conversation.root
        self._by_id = {span.span_id: span for span in conversation.spans}
        self.calls = [span for span in conversation.spans if span.span_type in KIND_OF_TYPE and span is not self.root]
        self._readings: dict[tuple[str, str], Any] = {}

    # -- the map

    def components(self) -> list[tuple[ComponentKind, str]]:
        """(kind, name) of each call in start order; a sub-agent is an AGENT span below the root that is
        not the same run recorded twice (see `Conversation.sub_agents`)."""
        agents = self._sub_agent_names
        return [
            (KIND_OF_TYPE[span.span_type], span.name)
            for span in self.calls
            if span.span_type != "AGENT" or span.name in agents
        ]

    def route(self) -> str:
        """The root and its first-level steps (model calls left out) in order of first appearance,
        looking through a lone wrapper (the OpenAI Agents SDK's "Agent workflow", CrewAI's task)."""
        if self.root is None:
            return ""
        children = self._children(self.root)
        while len(children) == 1 and children[0].span_type in _WRAPPER_TYPES and self._children(children[0]):
            children = self._children(children[0])
        steps = [child.name for child in children if child.span_type not in _MODEL_TYPES]
        return " → ".join([self.root.name, *list(dict.fromkeys(steps))[:ROUTE_STEPS]])

    def offered_tools(self) -> set[str]:
        """The tools the model calls' requests define."""
        return {name for call in self.conversation.model_calls for name in tools_offered_to(call)}

    def called_tools(self) -> set[str]:
        """The tools called: those traced (see `traced_tools`) and those the model asked for (LlamaIndex
        names every TOOL span FunctionTool.acall)."""
        return self.traced_tools() | {name for call in self.conversation.model_calls for name in call.requested_tools}

    def traced_tools(self) -> set[str]:
        """The names of the TOOL spans, and the tool's name within each ("execute_tool get_weather",
        "Tool.get_weather")."""
        spans = {span.name for span in self.calls if span.span_type == "TOOL"}
        return spans | {_last_name_part(name) for name in spans}

    # -- sequential calls that could run in parallel

    @cached_reading
    def sibling_groups(self) -> list[list[SpanView]]:
        """The calls each agent (or the root) made directly, in start order, where it made two or more."""
        groups: dict[str | None, list[SpanView]] = {}
        for span in self.calls:
            groups.setdefault(self._owner(span), []).append(span)
        return [group for group in groups.values() if len(group) > 1]

    def parallel_runs(self) -> list[ParallelRun]:
        """Runs of calls by one agent that ran one after another although none needed another's result.
        A failed call or a handoff ends a run (what follows may be a retry or the agent handed to); a call
        repeating one of the run, or sharing an input value with a tool of it (a tool may write what the
        other reads), starts a new one."""
        runs = []
        for group in self.sibling_groups:
            run: list[SpanView] = []
            for span in group:
                if run and self._can_join(span, run):
                    run.append(span)
                    continue
                if len(run) > 1:
                    runs.append(_parallel_run(run))
                run = [] if self._ends_run(span) else [span]
            if len(run) > 1:
                runs.append(_parallel_run(run))
        return runs

    def _can_join(self, span: SpanView, run: list[SpanView]) -> bool:
        if span.start_ns is None or span.inputs is None or self._ends_run(span):
            return False
        if any(earlier.end_ns is None or span.start_ns < earlier.end_ns for earlier in run):
            return False
        if any(self._repeats(span, earlier) for earlier in run):
            return False
        return not any(self._depends_on(span, earlier) for earlier in run)

    def _ends_run(self, span: SpanView) -> bool:
        return self._failed(span) or span.name in self.handoffs

    def _depends_on(self, later: SpanView, earlier: SpanView) -> bool:
        """Whether `later`'s inputs hold a term of `earlier`'s output that was not known before `earlier`
        ran, or share a term with the inputs of an earlier tool (which may have changed what `later` reads)."""
        if earlier.outputs is None:
            return True
        earlier_inputs = self._input_terms(earlier)
        context = self._context_before(earlier)
        output = self._text(earlier, SPAN_OUTPUTS)
        for term in self._input_terms(later):
            if term in earlier_inputs:
                if earlier.span_type == "TOOL":
                    return True
            elif _stem(term) not in self.request_terms and not _appears(term, context) and _appears(term, output):
                return True
        return False

    # -- results that go unused

    def result_uses(self) -> list[tuple[SpanView, bool]]:
        """Each tool and retriever call whose use can be judged, and whether its result reaches a later
        step's inputs (model calls, other calls) or the answer: whether one of its first `CHECKED_TERMS`
        new terms (a few from each document a retriever returned) does. Judged only where the trace records
        a model call after the result, and the result holds terms the agent did not know before the call;
        failed calls are left out."""
        judged = []
        for span in self.calls:
            if span.span_type == "AGENT" or span.start_ns is None or self._failed(span):
                continue
            later = self._steps_after(span)
            if not any(step.span_type in _MODEL_TYPES for step in later):
                continue
            context = self._context_before(span)
            checked = in_answer = 0
            reached = False
            for term in self._result_terms(span):
                if _appears(term, context):
                    continue
                checked += 1
                in_answer += _appears(term, self.answer_text)
                reached = in_answer >= ANSWER_TERMS or any(
                    _appears(term, self._text(step, SPAN_INPUTS)) for step in later
                )
                if reached or checked == CHECKED_TERMS:
                    break
            if checked:
                judged.append((span, reached))
        return judged

    def unused_results(self) -> list[SpanView]:
        return [span for span, reached in self.result_uses() if not reached]

    def _result_terms(self, span: SpanView) -> Iterator[str]:
        """The new terms of a call's result in order: the first few of each document a retriever returned."""
        known = self._known_before(span)
        if span.span_type != "RETRIEVER":
            yield from _new_terms(_leaf_text(span.outputs, RESULT_CHARS), known)
            return
        retrieval = next(retrieval for retrieval in self.conversation.retrievals if retrieval.span is span)
        for document in retrieval.documents[:MAX_DOCUMENTS]:
            yield from islice(_new_terms((document.text or "")[:DOCUMENT_CHARS].lower(), known), TERMS_PER_DOCUMENT)

    @cached_reading
    def _steps(self) -> list[SpanView]:
        """Model calls and calls, in start order."""
        steps = [call.span for call in self.conversation.model_calls] + self.calls
        return sorted(steps, key=lambda step: step.start_ns or 0)

    def _steps_after(self, span: SpanView) -> list[SpanView]:
        """The steps that started when or after `span` did and are not inside it, nearest first."""
        first = bisect_left(self._steps, span.start_ns or 0, key=lambda step: step.start_ns or 0)
        end = span.end_ns or 0
        return [
            step
            for step in self._steps[first:]
            if step is not span and ((step.start_ns or 0) >= end or not self._inside(step, span))
        ]

    def _context_before(self, span: SpanView) -> str:
        """The inputs of the last model call that started before `span`: what the agent knew then."""
        before = bisect_left(self._model_call_starts, span.start_ns or 0)
        return self._text(self.conversation.model_calls[before - 1].span, SPAN_INPUTS) if before else ""

    @cached_reading
    def _model_call_starts(self) -> list[int]:
        """When each model call started, in order (the conversation's spans are in start order)."""
        return [call.span.start_ns or 0 for call in self.conversation.model_calls]

    # -- unnecessary fan-out

    def fanouts(self) -> list[Fanout]:
        """Supervisors that dispatched to several sub-agents (see `dispatches`), some of whose output reaches
        the final answer and others' not. An output reaches the answer directly, or through the output of a
        later sub-agent that does (a pipeline: the researcher's findings in the writer's answer). A
        sub-agent that handed off is routing, not answering, and is never unneeded; one whose output brings
        fewer than `MIN_NEW_TERMS` new terms is not judged."""
        answer = _terms(self.answer_text)
        if not answer:
            return []
        handing_off = self._agents_handing_off()
        fanouts = []
        for supervisor, agents in self.dispatches.items():
            reaching: list[set[str]] = [answer]
            answering, unneeded = [], []
            for agent in reversed(agents):
                new = self._new_output_terms(agent)
                if any(new & reached for reached in reaching):
                    answering.append(agent.name)
                    reaching.append(_terms(_leaf_text(agent.outputs, RESULT_CHARS)))
                elif len(new) >= MIN_NEW_TERMS and agent.span_id not in handing_off:
                    unneeded.append(agent.name)
            if answering and unneeded:
                owner = self._by_id.get(supervisor or "")
                fanouts.append(
                    Fanout(
                        owner.name if owner else "(root)",
                        tuple(agent.name for agent in agents),
                        tuple(reversed(answering)),
                        tuple(reversed(unneeded)),
                    )
                )
        return fanouts

    @cached_reading
    def dispatches(self) -> dict[str | None, list[SpanView]]:
        """Supervisor (the nearest agent above, else the root) -> the sub-agents it dispatched to, in start
        order: two or more, each run once. Agents taking turns (AG2's assistant and user proxy, a group
        chat) hold a dialogue, not a dispatch, and are left out."""
        agents = self._sub_agent_names
        by_supervisor: dict[str | None, list[SpanView]] = {}
        for span in self.calls:
            if span.span_type == "AGENT" and span.name in agents:
                by_supervisor.setdefault(self._supervisor(span), []).append(span)
        return {
            supervisor: runs
            for supervisor, runs in by_supervisor.items()
            if len(runs) > 1 and len({run.name for run in runs}) == len(runs)
        }

    def _new_output_terms(self, span: SpanView) -> set[str]:
        return set(_new_terms(_leaf_text(span.outputs, RESULT_CHARS), self._known_before(span)))

    def _agents_handing_off(self) -> set[str]:
        """AGENT spans holding a handoff (a `transfer_to_<agent>` call, a `handoff` span)."""
        agents: set[str] = set()
        for span in self.conversation.spans:
            if span.name in self.handoffs:
                parent = self._by_id.get(span.parent_id or "")
                while parent is not None:
                    if parent.span_type == "AGENT":
                        agents.add(parent.span_id)
                    parent = self._by_id.get(parent.parent_id or "")
        return agents

    # -- redundant retrieval

    def repeated_retrievals(self) -> list[tuple[str, str]]:
        """Retrievals that repeat an earlier one of the trace, as (retriever, what shows it): the same
        retriever with the same or a near-identical query (`SIMILAR_QUERY`) and otherwise the same inputs,
        or documents an earlier retrieval already returned (`SAME_DOCUMENTS`). A retry after a failed
        retrieval is no repeat."""
        retrievals = [retrieval for retrieval in self.conversation.retrievals if retrieval.span is not self.root]
        if len(retrievals) < 2:
            return []
        earlier: list[_RetrievalKey] = []
        repeated = []
        for retrieval in retrievals:
            key = _RetrievalKey.of(retrieval)
            if said := next((said for first in earlier if (said := key.repeats(first))), None):
                repeated.append((retrieval.name, said))
            if retrieval.span.status != "ERROR":
                earlier.append(key)
        return repeated

    # -- shared readings

    @cached_reading
    def _sub_agent_names(self) -> set[str]:
        return {agent.name for agent in self.conversation.sub_agents}

    @cached_reading
    def request_terms(self) -> set[str]:
        """The stems of the request's terms."""
        return set(map(_stem, _terms((self.conversation.request or "")[:RESULT_CHARS].lower())))

    @cached_reading
    def answer_text(self) -> str:
        return (self.conversation.answer_text or "")[: signals.SCAN_CHARS].lower()

    @cached_reading
    def handoffs(self) -> set[str]:
        """The names of the spans that hand off from one agent to another (see `Conversation.handoffs`)."""
        return set(self.conversation.handoffs)

    def _text(self, span: SpanView, key: str) -> str:
        """A span's inputs or outputs as stored (JSON text), lower-cased: searched without decoding."""
        return self._per_span(key, span, lambda call: _stored_text(call, key))

    def _children(self, span: SpanView) -> list[SpanView]:
        return self.conversation.children.get(span.span_id, [])

    def _owner(self, span: SpanView) -> str | None:
        """The nearest agent, tool or retriever above `span` (the one that made the call), else the root."""
        parent = self._by_id.get(span.parent_id or "")
        while parent is not None and parent is not self.root and parent.span_type not in KIND_OF_TYPE:
            parent = self._by_id.get(parent.parent_id or "")
        return parent.span_id if parent is not None else None

    def _supervisor(self, span: SpanView) -> str | None:
        """The nearest agent above `span`, else the root."""
        parent = self._by_id.get(span.parent_id or "")
        while parent is not None and parent is not self.root and parent.span_type != "AGENT":
            parent = self._by_id.get(parent.parent_id or "")
        return parent.span_id if parent is not None else None

    def _inside(self, span: SpanView, ancestor: SpanView) -> bool:
        parent = self._by_id.get(span.parent_id or "")
        while parent is not None:
            if parent is ancestor:
                return True
            parent = self._by_id.get(parent.parent_id or "")
        return False

    def _failed(self, span: SpanView) -> bool:
        return self._per_span("failed", span, self._read_failed)

    def _read_failed(self, span: SpanView) -> bool:
        if span.span_type == "TOOL":  # the conversation's reading of the call, which the analysis shares
            return self._tool_calls[id(span)].outcome != "ok"
        return span.status == "ERROR"

    @cached_reading
    def _tool_calls(self) -> dict[int, ToolCall]:
        """The conversation's tool calls by their span (its identity: views are not hashable)."""
        return {id(call.span): call for call in self.conversation.tool_calls}

    def _repeats(self, span: SpanView, earlier: SpanView) -> bool:
        """The same call again: same name, and the same inputs or the same terms in them (a reworded query)."""
        return span.name == earlier.name and (
            self._text(span, SPAN_INPUTS) == self._text(earlier, SPAN_INPUTS)
            or self._input_terms(span) == self._input_terms(earlier)
        )

    def _input_terms(self, span: SpanView) -> set[str]:
        return self._per_span("inputs", span, lambda call: _terms(_leaf_text(call.inputs, RESULT_CHARS)))

    def _known_before(self, span: SpanView) -> set[str]:
        """What a call's result may repeat without telling anything new: the request, its inputs, its name
        (as stems)."""
        return self._per_span(
            "known",
            span,
            lambda call: self.request_terms | set(map(_stem, self._input_terms(call))) | _name_stems(call.name),
        )

    def _per_span(self, reading: str, span: SpanView, read: Callable[[SpanView], Any]) -> Any:
        key = (span.span_id, reading)
        readings = self._readings
        if key in readings:
            return readings[key]
        value = readings[key] = read(span)
        return value


def parallel_runs(conversation: Conversation) -> list[ParallelRun]:
    return TraceCalls(conversation).parallel_runs()


def unused_results(conversation: Conversation) -> list[str]:
    """The names of the tool and retriever calls whose result goes unused, one per call."""
    return [span.name for span in TraceCalls(conversation).unused_results()]


def unneeded_subagents(conversation: Conversation) -> list[str]:
    """The sub-agents a supervisor called whose output did not reach the answer while another's did."""
    return [name for fanout in TraceCalls(conversation).fanouts() for name in fanout.unneeded]


def redundant_retrievals(conversation: Conversation) -> list[str]:
    """What repeats an earlier retrieval of the trace, one line per repeated retrieval."""
    return [said for _, said in TraceCalls(conversation).repeated_retrievals()]


def tools_offered_to(call: ModelCall) -> list[str]:
    """The tools a model call's request defines: MLflow's `mlflow.chat.tools`, else the request's own
    definitions (OpenAI and Anthropic `tools`, Bedrock `toolConfig`, Gemini function declarations,
    Pydantic AI `function_tools`)."""
    recorded = call.span.encoded_attributes.get("mlflow.chat.tools")
    if isinstance(recorded, str) and (names := _defined_tools(recorded)):
        return list(names)
    inputs = call.span.inputs
    if not isinstance(inputs, dict) or inputs.keys().isdisjoint(_DEFINING_KEYS):
        return []
    config = inputs.get("config") if isinstance(inputs.get("config"), dict) else {}
    bedrock = inputs.get("toolConfig") if isinstance(inputs.get("toolConfig"), dict) else {}
    parameters = inputs.get("model_request_parameters")
    pydantic_ai = parameters if isinstance(parameters, dict) else {}
    sources = (inputs.get("tools"), config.get("tools"), bedrock.get("tools"), pydantic_ai.get("function_tools"))
    return [name for source in sources for name in _definition_names(source)]


@lru_cache(maxsize=64)
def _defined_tools(recorded: str) -> tuple[str, ...]:
    """Names in an `mlflow.chat.tools` attribute; cached, as most traces offer the same tools."""
    try:
        return tuple(_definition_names(json.loads(recorded)))
    except ValueError:
        return ()


def _definition_names(definitions: Any) -> list[str]:
    names: list[str] = []
    for item in definitions if isinstance(definitions, list) else []:
        if not isinstance(item, dict):
            continue
        declarations = item.get("function_declarations") or item.get("functionDeclarations")
        if isinstance(declarations, list):
            names += [str(d["name"]) for d in declarations if isinstance(d, dict) and d.get("name")]
            continue
        holder = next((item[key] for key in ("function", "toolSpec") if isinstance(item.get(key), dict)), item)
        if isinstance(holder.get("name"), str):
            names.append(holder["name"])
    return names


@dataclass(frozen=True)
class _RetrievalKey:
    """What identifies a retrieval: retriever, query words, its other inputs, and its documents."""

    name: str
    query: str
    words: frozenset[str]
    other_inputs: str
    documents: frozenset[str]

    @classmethod
    def of(cls, retrieval: Retrieval) -> _RetrievalKey:
        query = retrieval.query or ""
        inputs = retrieval.span.inputs
        others = {key: value for key, value in inputs.items() if value != query} if isinstance(inputs, dict) else {}
        return cls(
            name=retrieval.name,
            query=query,
            words=frozenset(word for word in _TERM.findall(query[:RESULT_CHARS].lower()) if word not in _COMMON),
            other_inputs=signals.calls_signature(retrieval.name, others if query else inputs),
            documents=frozenset(_document_key(document) for document in retrieval.documents),
        )

    def repeats(self, earlier: _RetrievalKey) -> str | None:
        """What shows this retrieval repeats `earlier`, or None."""
        if self.name == earlier.name and self.other_inputs == earlier.other_inputs:
            shared = len(self.words & earlier.words)
            union = len(self.words | earlier.words)
            if self.query == earlier.query or (union and shared / union >= SIMILAR_QUERY):
                return f"{self.name} ran the query {_quote(self.query)} again"
        if self.documents and len(self.documents & earlier.documents) >= SAME_DOCUMENTS * len(self.documents):
            return (
                f"{self.name} ({_quote(self.query)}) returned {len(self.documents & earlier.documents)} of its "
                f"{len(self.documents)} documents again, after {earlier.name} ({_quote(earlier.query)})"
            )
        return None


def _document_key(document: Document) -> str:
    if document.id:
        return f"id:{document.id}"
    text = (document.text or "")[:DOCUMENT_CHARS]
    return hashlib.blake2b(f"{document.source}\x00{text}".encode(), digest_size=8).hexdigest()


@lru_cache(maxsize=1024)
def _last_name_part(name: str) -> str:
    """The tool's own name in a TOOL span's name; cached, as an agent has few tools."""
    return _NAME_SEPARATORS.split(name)[-1]


def _stored_text(span: SpanView, key: str) -> str:
    raw = span.encoded_attributes.get(key)
    if not isinstance(raw, str):
        value = span.inputs if key == SPAN_INPUTS else span.outputs
        raw = json.dumps(value, ensure_ascii=False, default=str) if value is not None else ""
    return raw.lower()


def _parallel_run(run: list[SpanView]) -> ParallelRun:
    durations = [span.duration_ms for span in run]
    known = [duration for duration in durations if duration is not None]
    saved = sum(known) - max(known) if len(known) == len(durations) else None
    return ParallelRun(tuple(span.name for span in run), saved)


def _leaf_text(value: Any, limit: int) -> str:
    """The strings and numbers in `value` (up to `limit` characters), lower-cased, framework plumbing
    and dict keys left out: what a call was given or returned."""
    if isinstance(value, str):  # as many results are
        return value[:limit].lower()
    parts: list[str] = []
    size = 0
    # The containers being read, innermost last, each as an iterator: depth first and in order, without
    # recursion (a decoded value may nest deeper than Python's stack allows).
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        for item in stack[-1]:
            if isinstance(item, str):
                part = item[: limit - size]
            elif isinstance(item, dict):
                stack.append(iter([v for key, v in item.items() if key not in _PLUMBING_KEYS]))
                break
            elif isinstance(item, list | tuple):
                stack.append(iter(item))
                break
            elif isinstance(item, int | float) and not isinstance(item, bool):
                part = str(item)
            else:
                continue
            parts.append(part)
            size += len(part) + 1
            if size >= limit:
                return "\n".join(parts).lower()
        else:
            stack.pop()
    return "\n".join(parts).lower()


def _terms(text: str) -> set[str]:
    """The distinct terms of a lower-cased text: words, ids, numbers of three characters or more."""
    return {term for term in _TERM.findall(text) if len(term) > 2} - _COMMON


def _new_terms(text: str, known: set[str]) -> Iterator[str]:
    """The distinct terms of a lower-cased text whose stem is not in `known`, in order, read as they are
    asked for."""
    seen: set[str] = set()
    for match in _TERM.finditer(text):
        term = match.group()
        if len(term) > 2 and term not in _COMMON and _stem(term) not in known and term not in seen:
            seen.add(term)
            yield term


# A term without its plural's "s": "refunds" says nothing "refund" did not. A C-level callable: it runs per term.
_stem = methodcaller("removesuffix", "s")


@lru_cache(maxsize=1024)
def _name_stems(name: str) -> frozenset[str]:
    """The stems of a call's name; cached, as an agent has few tools."""
    return frozenset(map(_stem, _terms(name.lower())))


def _appears(term: str, text: str) -> bool:
    """Whether `term` is in a stored text, where non-ASCII characters may be JSON-escaped."""
    if term in text:
        return True
    return not term.isascii() and json.dumps(term)[1:-1] in text


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"
