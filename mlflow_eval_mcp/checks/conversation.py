"""A trace read as a conversation: the request, the final answer, the messages, and each model
call, tool call, retrieval and sub-agent, whichever framework's autolog wrote it.

The analysis and the generated suites' scorers both read a trace through this view, so a scorer
decides exactly what the analysis found. Everything is derived on demand from `SpanView`s: what
is never asked for never decodes a span's (often large) inputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import signals
from .span_view import MODEL, TOKEN_USAGE, SpanView, cached_reading

LLM_TYPES = ("CHAT_MODEL", "LLM")
READ_TYPES = (*LLM_TYPES, "TOOL", "RETRIEVER")
"""The spans whose inputs and outputs the reading interprets (besides the root)."""
_SYSTEM_KEYS = ("system", "instructions", "system_instruction", "systemInstruction")
_MESSAGE_KEYS = ("messages", "input", "contents", "history")
# Keys by which a model's output is recognisably a response, whose text or tool calls were expected.
_RESPONSE_KEYS = frozenset({"messages", "choices", "candidates", "content", "output", "message", "generations"})
_USAGE_KEYS = {
    "input_tokens": ("input_tokens", "prompt_tokens", "promptTokenCount", "inputTokens"),
    "output_tokens": ("output_tokens", "completion_tokens", "candidatesTokenCount", "outputTokens"),
    "total_tokens": ("total_tokens", "totalTokenCount", "totalTokens"),
    "cache_read_tokens": ("cache_read_input_tokens", "cachedContentTokenCount", "cacheReadInputTokens"),
    "cache_write_tokens": ("cache_creation_input_tokens", "cacheWriteInputTokens"),
}
_ALL_USAGE_KEYS = frozenset(key for keys in _USAGE_KEYS.values() for key in keys)
_NUMBER = (int, float)
_HANDOFF_PREFIXES = ("transfer_to_", "handoff")
# What MLflow stores when it could not serialise an output, e.g. a stream the autolog does not
# record (Anthropic's `Messages.create(stream=True)` in MLflow 3.17; LlamaIndex's `astream_chat`, whose
# async generator's repr names the function: `<async_generator object f.<locals>.g at 0x…>`).
_OBJECT_REPR = re.compile(r"<[\w.]+ object(?: [\w.<>]+)? at 0x[0-9a-fA-F]+>")
_RESULT_KEYS = ("toolResult", "functionResponse", "function_response")
_CONTENT_KEYS = ("content", "blocks", "parts")
_SPEAKERS = frozenset({"user", "assistant", "system", "tool", "developer"})


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


@dataclass(frozen=True)
class Message:
    role: str
    """user, assistant, system or tool, whatever the framework calls them."""
    text: str | None
    tool_calls: tuple[str, ...] = ()
    """The tools an assistant message asks for."""


@dataclass(frozen=True)
class Document:
    text: str | None
    source: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Unread:
    """A span whose inputs or outputs the reading did not understand."""

    span: str
    part: str
    """"inputs", "outputs" or "inputs and outputs"."""
    recorded: bool = True
    """False when the trace does not hold the part at all (MLflow stored an object's repr)."""


class _SpanReading:
    """What one span says, read on demand."""

    def __init__(self, span: SpanView) -> None:
        self.span = span

    @property
    def name(self) -> str:
        return self.span.name


class ModelCall(_SpanReading):
    """One LLM call: its model, messages in, answer out, finish reason, tokens and cost."""

    @property
    def failed(self) -> bool:
        return self.span.status == "ERROR"

    @cached_reading
    def model(self) -> str | None:
        recorded = self.span.attribute(MODEL) or self.span.attribute("model")
        if recorded is None and isinstance(self.span.outputs, dict):
            recorded = self.span.outputs.get("model") or self.span.outputs.get("modelVersion")
        return str(recorded) if recorded else None

    @property
    def provider(self) -> str | None:
        provider = self.span.attribute("mlflow.llm.provider")
        return str(provider) if provider else None

    @cached_reading
    def messages(self) -> list[Message]:
        return messages_of(self.span.inputs)

    @cached_reading
    def recorded(self) -> bool:
        """False when MLflow stored no output for the call, only an object's repr, or objects it could
        not serialise (MLflow's crewai autolog stores a tool-calling reply's tool calls as `[{}]`)."""
        outputs = self.span.outputs
        unserialised = isinstance(outputs, list) and bool(outputs) and all(item == {} for item in outputs)
        return not _is_repr(outputs) and not unserialised

    @cached_reading
    def answer(self) -> str | None:
        return signals.text_of(self.span.outputs) if self.recorded else None

    @cached_reading
    def requested_tools(self) -> list[str]:
        return signals.requested_tools(self.span.outputs, self.span.events)

    @cached_reading
    def finish_reason(self) -> str | None:
        return signals.call_finish_reason(self.span.outputs, self.span.events)

    @cached_reading
    def usage(self) -> TokenUsage:
        recorded = self.span.attribute(TOKEN_USAGE)
        outputs = self.span.outputs if isinstance(self.span.outputs, dict) else {}
        raw = outputs.get("usage") or outputs.get("usageMetadata") or outputs.get("usage_metadata")
        return _usage(recorded if isinstance(recorded, dict) else {}, raw if isinstance(raw, dict) else {})

    @property
    def cost(self) -> float | None:
        """In US dollars, where MLflow priced the call (`mlflow.llm.cost`)."""
        cost = self.span.attribute("mlflow.llm.cost")
        total = cost.get("total_cost") if isinstance(cost, dict) else None
        return float(total) if isinstance(total, int | float) else None

    def understood(self) -> tuple[bool, bool]:
        """Whether the call's inputs (a request) and outputs (an answer, or the tools it asked for)
        were read. An empty text is an answer only when the call did not stop to call tools it
        does not name."""
        # The messages first: the conversation's readers need them anyway.
        inputs = bool(self.messages) or signals.request_text(self.span.inputs) is not None
        text = self.answer
        outputs = (
            bool(text)
            or bool(self.requested_tools)
            or (text is not None and self.finish_reason not in ("tool_calls", "tool_use"))
        )
        return inputs, outputs or self.failed


class ToolCall(_SpanReading):
    """One tool call: name, arguments, result, and whether it raised or returned an error."""

    @property
    def arguments(self) -> Any:
        return self.span.inputs

    @property
    def result(self) -> Any:
        return self.span.outputs

    @cached_reading
    def outcome(self) -> str:
        """'ok', 'exception' (it raised) or 'error_output' (it returned an error)."""
        return signals.tool_outcome(self.span.status, self.span.outputs)

    @cached_reading
    def signature(self) -> str:
        """The call's name and arguments as a digest (see `signals.calls_signature`)."""
        return signals.calls_signature(self.name, self.arguments)

    @cached_reading
    def error(self) -> str | None:
        if self.outcome == "ok":
            return None
        span = self.span
        return signals.error_message(span.status_text, span.outputs, span.exception) or self.outcome


class Retrieval(_SpanReading):
    """One retriever call: the query and the documents it returned."""

    @cached_reading
    def query(self) -> str | None:
        return signals.request_text(self.span.inputs)

    @cached_reading
    def documents(self) -> list[Document]:
        outputs = self.span.outputs
        if isinstance(outputs, dict):
            outputs = outputs.get("documents") or outputs.get("nodes") or outputs.get("results")
        return [_document(item) for item in outputs] if isinstance(outputs, list) else []


@dataclass(frozen=True)
class SubAgent:
    name: str
    parent: str | None
    """The agent (or root) it ran under."""


class Conversation:
    """One trace's spans read as a conversation (built from `SpanView`s sorted by start time)."""

    def __init__(self, spans: list[SpanView]) -> None:
        self.spans = sorted(spans, key=lambda span: span.start_ns or 0)
        ids = {span.span_id for span in self.spans}
        self.root = next((span for span in self.spans if span.parent_id not in ids), None)
        self._by_id = {span.span_id: span for span in self.spans}

    @classmethod
    def of_trace(cls, trace: Any) -> Conversation:
        """The conversation of an MLflow `Trace`."""
        return cls([SpanView.of(span) for span in (trace.data.spans if trace is not None else [])])

    def _of_type(self, *types: str) -> list[SpanView]:
        return [span for span in self.spans if span.span_type in types]

    @cached_reading
    def model_calls(self) -> list[ModelCall]:
        """The calls to a model: LLM spans with no LLM span below them. A framework's step typed LLM
        that wraps the real call (DSPy's `Predict.forward` around `LM.__call__`) is not one."""
        calls = self._of_type(*LLM_TYPES)
        wrappers: set[str] = set()
        for span in calls:
            parent = self._by_id.get(span.parent_id or "")
            while parent is not None and parent.span_id not in wrappers:
                wrappers.add(parent.span_id)
                parent = self._by_id.get(parent.parent_id or "")
        return [
            ModelCall(span)
            for span in calls
            if span.span_id not in wrappers and not signals.is_prepared_request(span.outputs)
        ]

    @cached_reading
    def tool_calls(self) -> list[ToolCall]:
        return [ToolCall(span) for span in self._of_type("TOOL")]

    @cached_reading
    def retrievals(self) -> list[Retrieval]:
        return [Retrieval(span) for span in self._of_type("RETRIEVER")]

    @cached_reading
    def sub_agents(self) -> list[SubAgent]:
        """AGENT spans below the root, except the same run recorded twice: an agent that is all its
        parent agent does, with the same request (Pydantic AI's `Agent.run` inside `Agent.run_sync`)."""
        return [
            SubAgent(span.name, self._enclosing_agent(span))
            for span in self._of_type("AGENT")
            if span is not self.root and not (len(self.children[span.parent_id]) == 1 and self._repeats_parent(span))
        ]

    @cached_reading
    def children(self) -> dict[str | None, list[SpanView]]:
        """Each parent span's id -> the spans recorded under it, in start order."""
        children: dict[str | None, list[SpanView]] = {}
        for span in self.spans:
            children.setdefault(span.parent_id, []).append(span)
        return children

    def _repeats_parent(self, span: SpanView) -> bool:
        parent = self._by_id.get(span.parent_id or "")
        if parent is None or parent.span_type != "AGENT":
            return False
        request = signals.request_text(span.inputs)
        return request is not None and request == signals.request_text(parent.inputs)

    @cached_reading
    def handoffs(self) -> list[str]:
        """Handoffs from one agent to another, as the spans that made them (`transfer_to_<agent>`
        tools, `handoff` spans)."""
        return [span.name for span in self.spans if span.name.lower().startswith(_HANDOFF_PREFIXES)]

    def _enclosing_agent(self, span: SpanView) -> str | None:
        parent = self._by_id.get(span.parent_id or "")
        while parent is not None and parent.span_type != "AGENT" and parent is not self.root:
            parent = self._by_id.get(parent.parent_id or "")
        return parent.name if parent is not None else None

    @property
    def request_inputs(self) -> Any:
        return self.root.inputs if self.root is not None else None

    @cached_reading
    def request(self) -> str | None:
        return signals.request_text(self.request_inputs)

    @cached_reading
    def outputs(self) -> Any:
        """The root's outputs; None when MLflow recorded only an object's repr (nothing readable)."""
        outputs = self.root.outputs if self.root is not None else None
        return None if _is_repr(outputs) else outputs

    @cached_reading
    def answer(self) -> Any:
        """What the user was shown: text, or the structured value the agent returns."""
        return signals.final_answer(self.outputs)

    @cached_reading
    def answer_text(self) -> str | None:
        return signals.text_of(self.answer)

    @cached_reading
    def last_model_call(self) -> ModelCall | None:
        calls = self.model_calls
        return max(calls, key=lambda call: call.span.end_ns or call.span.start_ns or 0) if calls else None

    @cached_reading
    def finish_reason(self) -> str | None:
        """Why the answer's model call stopped. LangChain's model spans record none; the answer's
        message in the state does."""
        last = self.last_model_call
        reason = last.finish_reason if last is not None else None
        return reason or signals.finish_reason(self.outputs)

    @cached_reading
    def model_said(self) -> str | None:
        """What the last model call said, which an app may drop (the Responses API keeps a refusal
        out of `output_text`)."""
        last = self.last_model_call
        return last.answer if last is not None else None

    @cached_reading
    def messages(self) -> list[Message]:
        """The whole exchange: the last model call's messages and its answer, else the messages of
        the root's state, else the request and the answer."""
        last = self.last_model_call
        if last is not None and last.messages:
            said = Message("assistant", last.answer, tuple(last.requested_tools))
            return [*last.messages, said]
        if state := messages_of(self.outputs):
            return state
        exchange = [Message("user", self.request)] if self.request is not None else []
        return exchange + ([Message("assistant", self.answer_text)] if self.answer_text is not None else [])

    @cached_reading
    def usage(self) -> TokenUsage:
        """Tokens summed over the model calls that recorded them."""
        totals: dict[str, int] = {}
        for call in self.model_calls:
            for key, value in vars(call.usage).items():
                if value is not None:
                    totals[key] = totals.get(key, 0) + value
        return TokenUsage(**totals)

    @cached_reading
    def cost(self) -> float | None:
        costs = [call.cost for call in self.model_calls if call.cost is not None]
        return sum(costs) if costs else None

    def unread(self) -> tuple[int, list[Unread]]:
        """How many spans the reading interprets (the root, model calls, tools, retrievals), and
        those whose inputs or outputs it did not understand."""
        read, missed = 0, []
        calls = {call.span.span_id: call for call in self.model_calls}
        for span in self.spans:
            if span is self.root and _is_repr(span.outputs):
                read += 1
                missed.append(Unread(span.name, "outputs", recorded=False))
                continue
            if span is self.root:
                got = self._root_understood()
            elif span.span_id in calls and not calls[span.span_id].recorded:
                read += 1
                missed.append(Unread(span.name, "outputs", recorded=False))
                continue
            elif span.span_id in calls:
                got = calls[span.span_id].understood()
            elif span.span_type in ("TOOL", "RETRIEVER"):
                got = True, span.status == "ERROR" or span.outputs is not None
            else:
                continue
            read += 1
            if not all(got):
                parts = [part for part, ok in zip(("inputs", "outputs"), got, strict=True) if not ok]
                missed.append(Unread(span.name, " and ".join(parts)))
        return read, missed

    def _root_understood(self) -> tuple[bool, bool]:
        outputs = self.outputs
        failed_silently = self.root is not None and self.root.status == "ERROR" and outputs is None
        # A structured result the agent returns, not a response whose text went unrecognised.
        response_like = isinstance(outputs, dict) and bool(_RESPONSE_KEYS & set(outputs))
        structured = isinstance(outputs, dict | list) and not response_like
        answered = self.answer_text is not None or failed_silently or (structured and not messages_of(outputs))
        return self.request is not None, answered


def trace_state(trace: Any) -> str:
    """An MLflow `Trace`'s state (OK, ERROR, IN_PROGRESS): an enum, or its value where the trace was
    rebuilt from a dict."""
    state = trace.info.state
    return str(getattr(state, "value", state))


def _is_repr(value: Any) -> bool:
    """An object's repr where a value was expected, alone or inside a dict's repr (a Python object
    MLflow could not serialise)."""
    return isinstance(value, str) and (
        bool(_OBJECT_REPR.fullmatch(value)) or (value.startswith("{'") and bool(_OBJECT_REPR.search(value)))
    )


def messages_of(value: Any) -> list[Message]:
    """The messages in a model call's inputs or an agent's state, in any of the shapes the autologs
    write: OpenAI chat (role, content parts, tool_calls), the Responses API's input items, Anthropic
    (system apart, content blocks), LangChain (`type`), Gemini (`contents`, `parts`), Bedrock, and
    LangGraph's `("user", text)` pairs. Empty when `value` holds no conversation."""
    system: list[Message] = []
    items = value
    if isinstance(value, dict):
        # Gemini's system instruction is part of the call's `config`.
        config = value.get("config")
        sources = (value, config) if isinstance(config, dict) else (value,)
        system = [
            Message("system", signals.text_of(source[key]))
            for source in sources
            for key in _SYSTEM_KEYS
            if source.get(key)
        ]
        items = None
        for key in _MESSAGE_KEYS:
            if isinstance(found := value.get(key), list):
                items = found
                break
    if not isinstance(items, list):
        return []
    messages = [message for item in items if (message := _message(item)) is not None]
    return system + messages if messages else []


def _message(item: Any) -> Message | None:
    if not isinstance(item, dict):
        return Message(signals.role_of({"role": item[0]}), str(item[1])) if signals.is_pair(item) else None
    kind = item.get("type")
    if kind in ("function_call", "tool_use"):  # a Responses API output item fed back as input
        return Message("assistant", None, (str(item.get("name")),))
    if kind in ("function_call_output", "tool_result"):
        return Message("tool", signals.text_of(item.get("output") or item.get("content")))
    role = signals.role_of(item)
    if role not in _SPEAKERS:
        return None
    # LlamaIndex keeps a message's content in `blocks`, Gemini in `parts`.
    content = None
    for key in _CONTENT_KEYS:
        if (content := item.get(key)) is not None:
            break
    if isinstance(content, list):
        results = [block for block in content if isinstance(block, dict) and _is_tool_result(block, role)]
        if results and len(results) == len(content):  # a turn that only carries tool results
            said = [signals.text_of(_tool_result_content(block)) for block in results]
            return Message("tool", "\n".join(text for text in said if text is not None) or None)
    return Message(role, signals.text_of(content), tuple(signals.requested_tools(item)))


def _is_tool_result(block: dict[str, Any], role: str) -> bool:
    """Anthropic `tool_result`, an OTel GenAI `tool_call_response` part, Bedrock `toolResult`, Gemini
    `functionResponse`, Pydantic AI `tool-return`, or any part of a tool message (AutoGen's results)."""
    kind = block.get("type") or block.get("part_kind")
    return (
        role == "tool"
        or kind in ("tool_result", "tool_call_response", "tool-return")
        or any(block.get(key) for key in _RESULT_KEYS)
    )


def _tool_result_content(block: dict[str, Any]) -> Any:
    """What a tool result says: its `content`, a Gemini / OTel GenAI `response`, or the block itself
    (a text block of a tool message, as LlamaIndex writes it)."""
    nested = next((block[key] for key in _RESULT_KEYS if isinstance(block.get(key), dict)), block)
    content = next((nested[key] for key in ("content", "response") if key in nested), nested)
    if content is None or signals.text_of(content) is not None:
        return content
    return json.dumps(content, ensure_ascii=False, default=str)


def _document(item: Any) -> Document:
    if not isinstance(item, dict):
        return Document(signals.text_of(item))
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    text = item.get("page_content") or item.get("text") or item.get("content")
    source = metadata.get("doc_uri") or metadata.get("source") or item.get("source") or item.get("url")
    identifier = item.get("id") or metadata.get("chunk_id")
    return Document(signals.text_of(text), str(source) if source else None, str(identifier) if identifier else None)


def _usage(recorded: dict[str, Any], raw: dict[str, Any]) -> TokenUsage:
    """MLflow's `mlflow.chat.tokenUsage` first, the provider's own usage for what it lacks (cached
    tokens are often only there: OpenAI's `prompt_tokens_details`, the Responses API's
    `input_tokens_details`)."""
    found: dict[str, int] = {}
    for source in (recorded, raw):
        # The fields a source does not name (most of them) are passed over with one set operation each.
        present = _ALL_USAGE_KEYS.intersection(source)
        for field, keys in _USAGE_KEYS.items():
            if field not in found and not present.isdisjoint(keys):
                value = _first_number(source, keys)
                if value is not None:
                    found[field] = int(value)
    if "cache_read_tokens" not in found:
        details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if isinstance(cached, int | float):
            found["cache_read_tokens"] = int(cached)
    return TokenUsage(**found)


def _first_number(source: dict[str, Any], keys: tuple[str, ...]) -> int | float | None:
    for key in keys:
        value = source.get(key)
        if isinstance(value, _NUMBER):
            return value
    return None
