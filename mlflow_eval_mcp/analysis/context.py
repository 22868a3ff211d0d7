"""Context-engineering recommendations: where the input a model reads goes, from the traces alone.

Five patterns, each reported only when the data shows it, with the figures behind it and example traces:

- context_growth: input that grows turn over turn, across a session's traces or a trace's model calls;
- dominant_prefix: system prompts and tool schemas that make up most of each call's input;
- unused_retrieval: retrieved text that leaves no trace in the final answer;
- cacheable_prefix: one large system prompt + tool schemas repeated across calls, with few cache reads;
- dominant_model: a model taking most of the cost or model-call time for a smaller share of the calls.

`ContextTally.add` runs once per trace in the analysis' single pass and keeps only numbers, ids and
hashes. It measures what `Conversation` already decoded (text lengths, never a re-serialised payload),
reads tool schemas from MLflow's `mlflow.chat.tools` text where present and serialises a request's
own tool list once per distinct list. Where token counts are missing, sizes are characters / 4, and
the recommendation says it is an estimate.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Literal

from mlflow_eval_mcp.analysis.models import ContextRecommendation, ContextReport, Number
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.checks.conversation import Conversation, ModelCall
from mlflow_eval_mcp.checks.span_view import SpanView

CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text and JSON with OpenAI- and Anthropic-style tokenisers."""
EXAMPLES = 10
MIN_UNITS = 5
"""Sessions, traces or traces with retrieval needed before a share of them means anything."""
MIN_FLAGGED = 3
"""Units showing a pattern before it is called a pattern rather than an anecdote."""
FLAGGED_SHARE = 0.2
"""...and the share of the units judged that they must make up."""
MIN_CALLS = 10
"""Model calls needed before shares of their input, cost or time are reported."""
MIN_TURNS = 4
"""A growth trend needs three steps: with two, any tool loop (request, tool result, answer) looks like one."""
GROWTH_RATIO = 2.0
"""Growing context: the last turn carries at least twice the first turn's input..."""
RISING_STEPS = 2 / 3
"""...and input rose in at least two steps of three (a single jump is not turn-over-turn growth)."""
MAJORITY = 0.5
"""Dominates: more than half (of input characters, retrieved text, cost or time)."""
DISPROPORTION = 1.5
"""A model dominates cost or time only if its share is this many times its share of the calls:
a model doing nearly all the calls taking nearly all the cost is no finding."""
CACHE_MIN_TOKENS = 1024
"""Prompt caching only serves prefixes at least this long (OpenAI, Anthropic's Sonnet/Opus, Gemini Flash)."""
CACHE_SERVED = 0.5
"""Caching works when cache reads cover at least half of what the repeated prefix could have served."""
MAX_PREFIXES = 1_000
"""Distinct prefixes tracked one by one; a prompt templated per request must not grow memory without bound."""
MAX_MODELS = 300
KNOWN_TOOL_LISTS = 16
"""Distinct request-carried tool lists remembered with their JSON text, so each is serialised once."""
MAX_ANSWER_TERMS = 8
"""An answer's distinctive terms looked up in each retrieved document, those with digits (ids, amounts,
dates) and the longest first: bounds the work per document to a few substring searches."""
RECENT_CALLS = 4
"""A trace's recent calls whose messages a new call may resend (agents taking turns each resend their own)."""
TOOLS_ATTRIBUTE = "mlflow.chat.tools"
"""MLflow's own record of the tools a model call was offered, JSON text in OpenAI's shape."""

_SYSTEM_KEYS = ("system", "instructions", "system_instruction", "systemInstruction")
_MESSAGE_KEYS = ("messages", "input", "contents", "history")
_SYSTEM_ROLES = frozenset({"system", "developer"})
_CONTENT_KEYS = ("content", "parts", "blocks", "text")
# Where a request carries its tool list: OpenAI, Anthropic and Inspect `tools`, legacy `functions`;
# Bedrock's `toolConfig`, Gemini's `config`, LlamaIndex's `kwargs`, Pydantic AI's request parameters.
_TOOL_KEYS = ("tools", "functions")
_NESTED_TOOL_KEYS = (
    ("toolConfig", "tools"),
    ("config", "tools"),
    ("kwargs", "tools"),
    ("model_request_parameters", "function_tools"),
)
_TOOL_HOLDERS = frozenset((*_TOOL_KEYS, *(outer for outer, _ in _NESTED_TOOL_KEYS)))
_MODEL_MEASURES = {
    "cost": ("model cost", "route routine calls to a cheaper model"),
    "time": ("model-call time", "use a faster model for routine calls, or stream and parallelise them"),
}
_WORD = re.compile(r"[^\W_]+")
_COMMON_TEXT = (
    "about above after again also because been before being below between both could does doing down during "
    "each even from further have having here into just like made make many more most much must only other "
    "over please same should some such than thank thanks that their them then there these they this those "
    "through under until very were what when where which while will with would your yours"
)
_COMMON_WORDS = frozenset(_COMMON_TEXT.split())


@dataclass(frozen=True, slots=True)
class _Request:
    """What one model call sent, in characters."""

    system_chars: int
    tool_chars: int
    prefix: int | None
    """Hash of the system prompt and tool schemas: the part a provider's prompt cache could serve."""
    prefix_chars: int
    chars: int

    @classmethod
    def of(cls, system_chars: int, tool_chars: int, message_chars: int, prefix: int | None) -> _Request:
        prefix_chars = system_chars + tool_chars
        return cls(system_chars, tool_chars, prefix, prefix_chars, prefix_chars + message_chars)

    def prefix_tokens(self, input_tokens: int | None) -> float:
        """The prefix's share of the call's characters applied to its recorded input tokens (tool schemas
        are tokenised more compactly than their JSON reads), or characters / 4 without them."""
        if input_tokens is not None and self.chars:
            return input_tokens * self.prefix_chars / self.chars
        return self.prefix_chars / CHARS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class _Size:
    """A turn's input: recorded tokens where the call has them, and characters."""

    tokens: int | None
    chars: int


@dataclass(frozen=True, slots=True)
class _Growth:
    """How a session's or a trace's input developed over its turns."""

    trace_id: str
    """The trace to look at: a trace's own id, a session's last trace."""
    turns: int
    first: float
    last: float
    rising: int
    """Steps in which the input grew."""
    estimated: bool

    @property
    def per_turn(self) -> float:
        return (self.last - self.first) / (self.turns - 1)

    @property
    def ratio(self) -> float:
        return self.last / self.first

    @property
    def grows(self) -> bool:
        return self.last >= GROWTH_RATIO * self.first and self.rising >= RISING_STEPS * (self.turns - 1)


@dataclass
class _Prefix:
    calls: int = 0
    tokens: float = 0.0
    """Estimated, summed over the calls."""
    cache_read_tokens: int = 0
    cache_recorded: int = 0
    """Calls with this prefix that recorded their cache reads (zero or more)."""
    trace_ids: list[str] = field(default_factory=list)


@dataclass
class _Model:
    calls: int = 0
    priced_calls: int = 0
    cost: float = 0.0
    timed_calls: int = 0
    ms: float = 0.0
    trace_ids: list[str] = field(default_factory=list)


class _Examples:
    """The `EXAMPLES` traces with the highest score."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def add(self, score: float, trace_id: str) -> None:
        if len(self._heap) < EXAMPLES:
            heapq.heappush(self._heap, (score, trace_id))
        elif score > self._heap[0][0]:
            heapq.heapreplace(self._heap, (score, trace_id))

    def best(self) -> list[str]:
        return [trace_id for _, trace_id in sorted(self._heap, reverse=True)]


@dataclass(frozen=True, slots=True)
class _Walked:
    """A call's message list, measured: kept for the trace's next calls, which usually resend it."""

    items: list[Any]
    system: tuple[str, ...]
    chars: int
    """Of the messages other than system messages."""


class _RequestReader:
    """Measures what model calls sent, cheaply. Within a trace an agent resends the conversation so far
    with each call: messages measured for a recent call are not walked again when a new call starts with
    them (the same first message, and the same message where that call's list ended). MLflow's
    `mlflow.chat.tools` attribute already holds the tool schemas as text; a list only the request carries
    is serialised once per distinct list, since agents offer the same tools with every call."""

    def __init__(self) -> None:
        self._tool_lists: list[tuple[Any, str]] = []
        self._recent: list[_Walked] = []
        # The last texts seen, reused while calls repeat them, so that their hashes are computed once.
        self._system: tuple[tuple[str, ...], str] = ((), "")
        self._tools = ""

    def end_trace(self) -> None:
        """Drops the trace's message lists: only measurements outlive a trace."""
        self._recent = []

    def read(self, call: ModelCall) -> _Request:
        inputs = call.span.inputs
        top: list[str] = []
        items: Any = inputs
        if isinstance(inputs, dict):
            sources = [inputs, inputs["config"]] if isinstance(inputs.get("config"), dict) else [inputs]
            top = [
                text
                for source in sources
                for key in _SYSTEM_KEYS
                if key in source and (text := signals.text_of(source[key]))
            ]
            items = next((inputs[key] for key in _MESSAGE_KEYS if isinstance(inputs.get(key), list | str)), None)
        if isinstance(items, list):
            walked = self._walk(items)
            system, message_chars = (*top, *walked.system), walked.chars
        else:
            system, message_chars = tuple(top), len(items) if isinstance(items, str) else 0
        system_text, tool_text = self._system_text(system), self._tool_text(call.span)
        prefix = hash((system_text, tool_text)) if system_text or tool_text else None
        return _Request.of(len(system_text), len(tool_text), message_chars, prefix)

    def _walk(self, items: list[Any]) -> _Walked:
        start, system, chars = 0, (), 0
        known = next((walked for walked in self._recent if _starts_with(items, walked.items)), None)
        if known is not None:
            start, system, chars = len(known.items), known.system, known.chars
        added: list[str] = []
        for item in itertools.islice(items, start, None):
            role, content = _role_and_content(item)
            if role in _SYSTEM_ROLES:
                added.append(_content_text(content))
            else:
                chars += _content_chars(content)
        walked = _Walked(items, (*system, *added), chars)
        self._recent = [walked, *self._recent[: RECENT_CALLS - 1]]
        return walked

    def _system_text(self, parts: tuple[str, ...]) -> str:
        if parts != self._system[0]:
            self._system = (parts, "\n".join(parts))
        return self._system[1]

    def _tool_text(self, span: SpanView) -> str:
        recorded = span.encoded_attributes.get(TOOLS_ATTRIBUTE)
        if isinstance(recorded, str):
            text = "" if recorded in ("[]", "null") else recorded
        else:
            text = self._serialised(recorded if isinstance(recorded, list) else _request_tools(span.inputs))
        if text != self._tools:
            self._tools = text
        return self._tools

    def _serialised(self, tools: Any) -> str:
        if not tools:
            return ""
        for known, text in self._tool_lists:
            if known == tools:
                return text
        text = json.dumps(tools, ensure_ascii=False, default=str)
        self._tool_lists = [(tools, text), *self._tool_lists[: KNOWN_TOOL_LISTS - 1]]
        return text


@dataclass
class _Retrieved:
    traces: int = 0
    documents: int = 0
    unused_documents: int = 0
    chars: int = 0
    unused_chars: int = 0
    chars_per_trace: list[int] = field(default_factory=list)
    examples: _Examples = field(default_factory=_Examples)


class ContextTally:
    """The context facts of each trace, gathered in one pass; `report` turns them into recommendations."""

    def __init__(self) -> None:
        self.traces = 0
        self.calls = 0
        self.calls_with_tokens = 0
        self.input_tokens = 0
        self.cache_recorded = 0
        self.cache_read_tokens = 0
        self.system_chars = 0
        self.tool_chars = 0
        self.request_chars = 0
        self.prefix_tokens = 0.0
        self.prefix_dominated_calls = 0
        self._prefix_examples = _Examples()
        self._reader = _RequestReader()
        self._prefixes: dict[int, _Prefix] = {}
        self._models: dict[str, _Model] = {}
        self._turns: dict[str, list[tuple[int, str, _Size]]] = defaultdict(list)
        """Session -> (request time, trace id, its largest model-call input) of each of its traces."""
        self._loops: list[_Growth] = []
        """Of each trace with at least `MIN_TURNS` calls of one agent (one prefix), the agent growing most."""
        self._retrieved = _Retrieved()

    def add(
        self, trace_id: str, conversation: Conversation, *, session: str | None, request_ms: int | None, timed: bool
    ) -> None:
        """One trace: `session` is its conversation id (None outside one), `request_ms` when it started
        (orders a session's turns), `timed` False when its times are made up (its latency is not judged)."""
        self.traces += 1
        # Calls are grouped by prefix, so that agents with their own prompts each make their own sequence.
        sequences: dict[int | None, list[_Size]] = defaultdict(list)
        top_share = 0.0
        for call in conversation.model_calls:
            request = self._reader.read(call)
            sequences[request.prefix].append(_Size(call.usage.input_tokens, request.chars))
            self._add_call(trace_id, call, request, timed)
            if request.chars:
                top_share = max(top_share, request.prefix_chars / request.chars)
        self._reader.end_trace()
        if top_share:
            self._prefix_examples.add(top_share, trace_id)
        if session is not None and sequences:
            self._turns[session].append((request_ms or 0, trace_id, _peak(sequences.values())))
        # A trace is judged by its agent whose input grows most.
        agents = [growth for sequence in sequences.values() if (growth := _growth(sequence, trace_id)) is not None]
        if agents:
            self._loops.append(max(agents, key=lambda growth: (growth.grows, growth.ratio)))
        self._add_retrievals(trace_id, conversation)

    def report(self) -> ContextReport:
        recommendations = [
            self._session_growth(),
            self._call_growth(),
            self._dominant_prefix(),
            self._unused_retrieval(),
            self._cacheable_prefix(),
            self._dominant_model("cost"),
            self._dominant_model("time"),
        ]
        return ContextReport(
            recommendations=[found for found in recommendations if found is not None],
            traces=self.traces,
            model_calls=self.calls,
            sessions=len(self._turns),
            input_tokens=self.input_tokens if self.calls_with_tokens else None,
            cache_read_tokens=self.cache_read_tokens if self.cache_recorded else None,
        )

    # --- gathering ---------------------------------------------------------------------------

    def _add_call(self, trace_id: str, call: ModelCall, request: _Request, timed: bool) -> None:
        self.calls += 1
        usage = call.usage
        if usage.input_tokens is not None:
            self.calls_with_tokens += 1
            self.input_tokens += usage.input_tokens
        if usage.cache_read_tokens is not None:
            self.cache_recorded += 1
            self.cache_read_tokens += usage.cache_read_tokens
        prefix_tokens = request.prefix_tokens(usage.input_tokens)
        if request.chars:
            self.system_chars += request.system_chars
            self.tool_chars += request.tool_chars
            self.request_chars += request.chars
            self.prefix_tokens += prefix_tokens
            self.prefix_dominated_calls += request.prefix_chars > MAJORITY * request.chars
        if request.prefix is not None:
            self._add_prefix(trace_id, request.prefix, prefix_tokens, usage.cache_read_tokens)
        if call.model:
            self._add_model(trace_id, call, timed)

    def _add_prefix(self, trace_id: str, key: int, tokens: float, cache_read_tokens: int | None) -> None:
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) >= MAX_PREFIXES:
                return
            prefix = self._prefixes[key] = _Prefix()
        prefix.calls += 1
        prefix.tokens += tokens
        if cache_read_tokens is not None:
            prefix.cache_recorded += 1
            prefix.cache_read_tokens += cache_read_tokens
        _remember(prefix.trace_ids, trace_id)

    def _add_model(self, trace_id: str, call: ModelCall, timed: bool) -> None:
        name = (call.model or "")[:100]
        model = self._models.get(name)
        if model is None:
            if len(self._models) >= MAX_MODELS:
                return
            model = self._models[name] = _Model()
        model.calls += 1
        if (cost := call.cost) is not None:
            model.priced_calls += 1
            model.cost += cost
        if timed and (duration := call.span.duration_ms) is not None:
            model.timed_calls += 1
            model.ms += duration
        _remember(model.trace_ids, trace_id)

    def _add_retrievals(self, trace_id: str, conversation: Conversation) -> None:
        """How much retrieved text shares no distinctive term of the answer: terms of the answer that
        the user's request and the retrieval queries do not already hold, so that echoing the
        question does not count as using a document."""
        if not conversation.retrievals or not (answer := conversation.answer_text):
            return
        queries = (retrieval.query for retrieval in conversation.retrievals)
        asked = "\n".join(text for text in (conversation.request, *queries) if text).lower()
        terms = _most_distinctive({term for term in _terms(answer) if term not in asked})
        if not terms:
            return
        needed = min(2, len(terms))
        documents = unused_documents = chars = unused_chars = 0
        for retrieval in conversation.retrievals:
            for document in retrieval.documents:
                if not document.text:
                    continue
                documents += 1
                chars += len(document.text)
                if not _mentions(document.text.lower(), terms, needed):
                    unused_documents += 1
                    unused_chars += len(document.text)
        if not documents:
            return
        tally = self._retrieved
        tally.traces += 1
        tally.documents += documents
        tally.unused_documents += unused_documents
        tally.chars += chars
        tally.unused_chars += unused_chars
        tally.chars_per_trace.append(chars)
        if unused_chars:
            tally.examples.add(unused_chars, trace_id)

    # --- judging -----------------------------------------------------------------------------

    def _session_growth(self) -> ContextRecommendation | None:
        sessions = []
        for turns in self._turns.values():
            ordered = sorted(turns, key=lambda turn: turn[0])
            if (growth := _growth([size for _, _, size in ordered], ordered[-1][1])) is not None:
                sessions.append(growth)
        return _growth_recommendation(sessions, "session")

    def _call_growth(self) -> ContextRecommendation | None:
        return _growth_recommendation(self._loops, "trace")

    def _dominant_prefix(self) -> ContextRecommendation | None:
        if self.calls < MIN_CALLS or not self.request_chars:
            return None
        prefix_chars = self.system_chars + self.tool_chars
        share = prefix_chars / self.request_chars
        if share <= MAJORITY:
            return None
        system_share, tool_share = self.system_chars / self.request_chars, self.tool_chars / self.request_chars
        per_call = round(self.prefix_tokens / self.calls)
        if tool_share >= system_share:
            part, advice = f"tool schemas alone {tool_share:.0%}", "offer fewer tools per call or shorten their schemas"
        else:
            part, advice = f"the system prompt alone {system_share:.0%}", "shorten the system prompt"
        return ContextRecommendation(
            kind="dominant_prefix",
            title=(
                f"System prompt and tool schemas make up {share:.0%} of model-call input characters (≈{per_call:,} "
                f"tokens per call, estimated; {part}): {advice}."
            ),
            numbers={
                "prefix_share": round(share, 3),
                "system_share": round(system_share, 3),
                "tool_schema_share": round(tool_share, 3),
                "prefix_tokens_per_call_estimate": per_call,
                "calls": self.calls,
                "calls_mostly_prefix": self.prefix_dominated_calls,
            },
            trace_ids=self._prefix_examples.best(),
        )

    def _unused_retrieval(self) -> ContextRecommendation | None:
        tally = self._retrieved
        if tally.traces < MIN_UNITS or not tally.chars:
            return None
        share = tally.unused_chars / tally.chars
        if share <= MAJORITY:
            return None
        unused_per_trace = _tokens(tally.unused_chars / tally.traces)
        retrieved_per_trace = _tokens(tally.chars / tally.traces)
        return ContextRecommendation(
            kind="unused_retrieval",
            title=(
                f"{share:.0%} of retrieved text (≈{unused_per_trace:,} of {retrieved_per_trace:,} tokens per trace, "
                f"estimated) shares no distinctive term with the final answer, over {tally.traces:,} traces with "
                "retrieval: retrieve fewer or smaller chunks, or rerank and keep only the best."
            ),
            numbers={
                "unused_share": round(share, 3),
                "traces": tally.traces,
                "documents": tally.documents,
                "unused_documents": tally.unused_documents,
                "retrieved_tokens_per_trace_estimate": retrieved_per_trace,
                "median_retrieved_tokens_estimate": _tokens(median(tally.chars_per_trace)),
            },
            trace_ids=tally.examples.best(),
        )

    def _cacheable_prefix(self) -> ContextRecommendation | None:
        cacheable = [
            prefix
            for prefix in self._prefixes.values()
            if prefix.calls >= MIN_CALLS and prefix.tokens / prefix.calls >= CACHE_MIN_TOKENS
        ]
        if not cacheable:
            return None
        top = max(cacheable, key=lambda prefix: prefix.tokens)
        tokens = round(top.tokens / top.calls)
        served = top.cache_read_tokens / ((top.calls - 1) * tokens)
        if served >= CACHE_SERVED:
            return None
        if not top.cache_recorded:
            cached = "no cache reads are recorded"
        elif not top.cache_read_tokens:
            cached = "0 cache-read tokens recorded"
        else:
            cached = f"cache reads cover only {served:.0%} of it"
        share = top.calls / self.calls
        return ContextRecommendation(
            kind="cacheable_prefix",
            title=(
                f"The same ≈{tokens:,}-token prefix (system prompt + tool schemas, estimated) starts {share:.0%} of "
                f"model calls ({top.calls:,} of {self.calls:,}) and {cached}: enable prompt caching and keep that "
                "prefix byte-identical at the start of every request."
            ),
            numbers={
                "prefix_tokens_estimate": tokens,
                "calls": top.calls,
                "share_of_calls": round(share, 3),
                "cache_read_tokens": top.cache_read_tokens,
                "calls_recording_cache": top.cache_recorded,
                "served_share": round(min(served, 1.0), 3),
            },
            trace_ids=top.trace_ids,
        )

    def _dominant_model(self, measure: Literal["cost", "time"]) -> ContextRecommendation | None:
        if measure == "cost":
            spent = {name: (model.cost, model.priced_calls) for name, model in self._models.items()}
        else:
            spent = {name: (model.ms, model.timed_calls) for name, model in self._models.items()}
        spent = {name: (amount, count) for name, (amount, count) in spent.items() if count}
        total, calls = sum(amount for amount, _ in spent.values()), sum(count for _, count in spent.values())
        if len(spent) < 2 or calls < MIN_CALLS or total <= 0:
            return None
        name = max(spent, key=lambda model: spent[model][0])
        amount, count = spent[name]
        share, call_share = amount / total, count / calls
        if share <= MAJORITY or share < DISPROPORTION * call_share:
            return None
        what, advice = _MODEL_MEASURES[measure]
        # The share test leaves the other models some calls (call_share < 1); their spend may be nil.
        others = (total - amount) / (calls - count)
        ratio = (amount / count) / others if others > 0 else None
        compared = f"{ratio:.1f}x the {measure} per call of the other models" if ratio else "the others recorded none"
        numbers: dict[str, Number] = {
            "measure": measure,
            "model": name,
            "share": round(share, 3),
            "share_of_calls": round(call_share, 3),
            "models": len(spent),
            "calls": calls,
            "total_cost_usd" if measure == "cost" else "total_ms": round(total, 6 if measure == "cost" else 1),
        }
        if ratio:
            numbers["per_call_ratio"] = round(ratio, 2)
        return ContextRecommendation(
            kind="dominant_model",
            title=f"{name} takes {share:.0%} of {what} on {call_share:.0%} of the calls ({compared}): {advice}.",
            numbers=numbers,
            trace_ids=self._models[name].trace_ids,
        )


# --- reading one model call ----------------------------------------------------------------------


def _request_tools(inputs: Any) -> Any:
    if not isinstance(inputs, dict) or _TOOL_HOLDERS.isdisjoint(inputs):
        return None
    for key in _TOOL_KEYS:
        if inputs.get(key):
            return inputs[key]
    for outer, inner in _NESTED_TOOL_KEYS:
        nested = inputs.get(outer)
        if isinstance(nested, dict) and nested.get(inner):
            return nested[inner]
    return None


def _role_and_content(item: Any) -> tuple[str | None, Any]:
    """A message's role and content, as `messages_of` finds them (LangChain's `type` for a role; LlamaIndex
    `blocks`, Gemini `parts`), or a LangGraph `(role, text)` pair's."""
    if isinstance(item, dict):
        role = item.get("role") or item.get("type")
        role = role if isinstance(role, str) else None
        for key in _CONTENT_KEYS:
            if (content := item.get(key)) is not None:
                return role, content
        return role, None
    if signals.is_pair(item):
        return item[0], item[1]
    return None, item


def _starts_with(items: list[Any], known: list[Any]) -> bool:
    """Whether `items` resends `known`: checked at its first message and at the last message of `known`, which
    catches the usual edits (a sliding window drops the first messages, a summary replaces old ones)."""
    end = len(known)
    return 0 < end <= len(items) and items[0] == known[0] and items[end - 1] == known[-1]


def _content_chars(content: Any, depth: int = 0) -> int:
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list) or depth > 2:
        return 0
    total = 0
    for part in content:
        if isinstance(part, dict):
            part = part.get("text") or part.get("content")
        total += _content_chars(part, depth + 1)
    return total


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    text = signals.text_of(content) if isinstance(content, list) else None
    return text or ""


def _peak(sequences: Iterable[list[_Size]]) -> _Size:
    """A turn's input: its largest call's, where the history it carries adds up (what a session resends, and
    the tool results of this turn)."""
    sizes = [size for sequence in sequences for size in sequence]
    tokens = [size.tokens for size in sizes if size.tokens is not None]
    return _Size(max(tokens) if len(tokens) == len(sizes) else None, max(size.chars for size in sizes))


def _growth(sizes: list[_Size], trace_id: str) -> _Growth | None:
    """The trend of a sequence of inputs: in recorded tokens when every turn has them, else characters / 4."""
    if len(sizes) < MIN_TURNS:
        return None
    estimated = any(size.tokens is None for size in sizes)
    values = [size.chars / CHARS_PER_TOKEN if estimated else float(size.tokens or 0) for size in sizes]
    if values[0] <= 0:
        return None
    rising = sum(later > earlier for earlier, later in itertools.pairwise(values))
    return _Growth(trace_id, len(values), values[0], values[-1], rising, estimated)


def _growth_recommendation(units: list[_Growth], scope: Literal["session", "trace"]) -> ContextRecommendation | None:
    growing = sorted((unit for unit in units if unit.grows), key=lambda unit: unit.last, reverse=True)
    if len(units) < MIN_UNITS or len(growing) < MIN_FLAGGED or len(growing) < FLAGGED_SHARE * len(units):
        return None
    per_turn = round(median(unit.per_turn for unit in growing))
    ratio = median(unit.ratio for unit in growing)
    largest = round(growing[0].last)
    estimated = sum(unit.estimated for unit in growing)
    if scope == "session":
        where = f"in {len(growing):,} of {len(units):,} sessions of {MIN_TURNS}+ turns"
        step, advice = "turn", "summarise or trim earlier turns instead of resending the whole history"
    else:
        where = f"in {len(growing):,} of {len(units):,} traces with {MIN_TURNS}+ model calls of one agent"
        step, advice = "call", "drop or summarise old tool results between calls"
    note = f" (estimated at {CHARS_PER_TOKEN} characters per token)" if estimated else ""
    return ContextRecommendation(
        kind="context_growth",
        title=(
            f"Input grows {step} over {step} {where}: a median {per_turn:,} tokens more per {step}, {ratio:.1f}x "
            f"the first {step}'s by the last, up to {largest:,} tokens{note}: {advice}."
        ),
        numbers={
            "scope": scope,
            "units": len(units),
            "growing": len(growing),
            f"median_tokens_per_{step}": per_turn,
            "median_growth_ratio": round(ratio, 2),
            "largest_input_tokens": largest,
            "estimated_units": estimated,
        },
        trace_ids=[unit.trace_id for unit in growing[:EXAMPLES]],
    )


# --- small helpers -------------------------------------------------------------------------------


def _terms(text: str | None) -> set[str]:
    """Words that can tell one text from another: four letters or more, or holding a digit (ids,
    amounts, dates), except the commonest words."""
    if not text:
        return set()
    words = set(_WORD.findall(text.lower())) - _COMMON_WORDS
    return {word for word in words if len(word) >= 4 or not word.isalpha()}


def _most_distinctive(terms: set[str]) -> list[str]:
    """Up to `MAX_ANSWER_TERMS` terms: those with digits, then the longest (ties in alphabetical order)."""
    with_digits = sorted(term for term in terms if not term.isalpha())
    words = sorted(sorted(term for term in terms if term.isalpha()), key=len, reverse=True)
    return (with_digits + words)[:MAX_ANSWER_TERMS]


def _mentions(text: str, terms: list[str], needed: int) -> bool:
    found = 0
    for term in terms:
        if term in text:
            found += 1
            if found >= needed:
                return True
    return False


def _remember(trace_ids: list[str], trace_id: str) -> None:
    if len(trace_ids) < EXAMPLES and (not trace_ids or trace_ids[-1] != trace_id):
        trace_ids.append(trace_id)


def _tokens(chars: float) -> int:
    return round(chars / CHARS_PER_TOKEN)
