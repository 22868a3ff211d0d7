"""OpenAI-style chat transcripts: one conversation per record.

A record is `{"messages": [...], "id"?, "conversation_id"?, "metadata"?, "model"?, "usage"?,
"user"?, "session_id"?}` or a bare list of messages. The conversation becomes a root AGENT span
whose inputs are what a caller sent before the final answer began, one CHAT_MODEL span per
assistant message, and one TOOL span per tool call holding the tool's reply as it was returned.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlflow_eval_mcp.checks.json_text import from_json
from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import TraceBuilder, content_id, parse_time_ns, token_usage
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import TraceRecord

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_RESULT_ROLES = {"tool", "function"}
_AGENT_ROLES = {"assistant", *_RESULT_ROLES}
_USER_KEY = "mlflow.trace.user"
_SESSION_KEY = "mlflow.trace.session"
_MESSAGE_FORMAT = "mlflow.message.format"
_TAG_KEY_CHARS = 250
_TAG_VALUE_CHARS = 1000
_TOOL_ERROR = "the tool reported an error"


@dataclass(frozen=True)
class _Call:
    """One tool call an assistant message made (a `tool_calls` item or a legacy `function_call`)."""

    message: int
    call_id: str | None
    name: str
    arguments: Any


@dataclass(frozen=True)
class _Conversation:
    source_id: str
    messages: list[dict[str, Any]]
    model: str | None
    usage: dict[str, int] | None
    tags: dict[str, str]
    metadata: dict[str, str]


def detect(value: Any) -> bool:
    # The most generic format, so detection is strict: every message must carry a chat role.
    messages = value.get("messages") if isinstance(value, dict) else value
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(message, dict) and message.get("role") in _ROLES for message in messages)
    )


def parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    conversation = _conversation(record.value)
    if isinstance(conversation, str):
        yield Skipped(record.ref, conversation)
        return
    yield ImportedTrace(conversation.source_id, _build(context, conversation))


FORMAT = TraceFormat(
    name="chat",
    description='OpenAI-style chat transcripts: {"messages": [{"role", "content", "tool_calls"?}, ...]} per record',
    detect=detect,
    parse=parse,
)


# --- reading a record ----------------------------------------------------------------------


def _conversation(value: Any) -> _Conversation | str:
    """The conversation in a record, or the reason it cannot be read as one."""
    header = value if isinstance(value, dict) else {}
    messages = value.get("messages") if isinstance(value, dict) else value
    if not isinstance(messages, list):
        return "not a chat transcript: 'messages' is not a list"
    if not messages:
        return "the conversation has no messages"
    problem = next((reason for index, m in enumerate(messages) if (reason := _message_problem(index, m))), None)
    if problem:
        return problem
    tags, metadata = _trace_fields(header)
    model = header.get("model")
    return _Conversation(
        source_id=_source_id(header, value),
        messages=messages,
        model=model if isinstance(model, str) else None,
        usage=_usage(header.get("usage")),
        tags=tags,
        metadata=metadata,
    )


def _message_problem(index: int, message: Any) -> str | None:
    if not isinstance(message, dict):
        return f"message is not an object (message {index})"
    if not isinstance(message.get("role"), str) or not message["role"]:
        return f"message has no role (message {index})"
    tool_calls = message.get("tool_calls")
    if tool_calls is not None and not isinstance(tool_calls, list):
        return f"'tool_calls' is not a list (message {index})"
    if any(not isinstance(call, dict) for call in tool_calls or []):
        return f"a tool call is not an object (message {index})"
    return None


def _source_id(header: dict[str, Any], value: Any) -> str:
    record_id = header.get("id", header.get("conversation_id"))
    if record_id not in (None, ""):
        return str(record_id)
    return content_id(value)


def _trace_fields(header: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Tags from the record's metadata, and MLflow's user/session metadata keys."""
    extra = dict(header["metadata"]) if isinstance(header.get("metadata"), dict) else {}
    user_id, session_id = extra.pop("user_id", None), extra.pop("session_id", None)
    user = header.get("user") or user_id
    session = header.get("session_id") or session_id
    metadata = {key: str(value) for key, value in ((_USER_KEY, user), (_SESSION_KEY, session)) if value}
    tags = {str(key)[:_TAG_KEY_CHARS]: _text(value)[:_TAG_VALUE_CHARS] for key, value in extra.items()}
    return tags, metadata


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    return token_usage(
        raw.get("prompt_tokens", raw.get("input_tokens")),
        raw.get("completion_tokens", raw.get("output_tokens")),
        raw.get("total_tokens"),
    )


def _message_time(message: dict[str, Any]) -> int | None:
    return parse_time_ns(message.get("timestamp", message.get("created_at")))


# --- tool calls and their results ------------------------------------------------------------


def _calls(index: int, message: dict[str, Any]) -> list[_Call]:
    calls = [_tool_call(index, raw) for raw in message.get("tool_calls") or []]
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        calls.append(_Call(index, None, str(legacy.get("name") or ""), from_json(legacy.get("arguments"))))
    return calls


def _tool_call(index: int, raw: dict[str, Any]) -> _Call:
    function = raw.get("function") if isinstance(raw.get("function"), dict) else {}
    call_id = raw.get("id")
    return _Call(
        index,
        call_id if isinstance(call_id, str) else None,
        str(function.get("name") or raw.get("name") or ""),
        from_json(function.get("arguments")),
    )


def _calls_by_message(calls: list[_Call]) -> dict[int, list[int]]:
    """The positions in `calls` of the calls each message made."""
    made_by: dict[int, list[int]] = defaultdict(list)
    for position, call in enumerate(calls):
        made_by[call.message].append(position)
    return made_by


def _match_results(messages: list[dict[str, Any]], calls: list[_Call], made_by: dict[int, list[int]]) -> dict[int, int]:
    """For each answered call (by position in `calls`), the index of its result message; each
    result answers at most one call. A result answers the nearest earlier unanswered call with its
    `tool_call_id` (transcripts reuse ids: tau-bench's `call_…` ids recur within a conversation),
    else, for legacy `function` messages, the earliest unanswered call of that name."""
    by_id: dict[str, deque[int]] = defaultdict(deque)
    by_name: dict[str, deque[int]] = defaultdict(deque)
    matched: dict[int, int] = {}
    for index, message in enumerate(messages):
        if message["role"] not in _RESULT_ROLES:
            for position in made_by.get(index, []):
                by_name[calls[position].name].append(position)
            # Reversed, so that of several calls one message made with the same id the first is taken first.
            for position in reversed(made_by.get(index, [])):
                if calls[position].call_id:
                    by_id[calls[position].call_id].append(position)
            continue
        call_id, name = message.get("tool_call_id"), message.get("name")
        if call_id is not None:
            position = _take_unanswered(by_id.get(call_id) if isinstance(call_id, str) else None, matched, nearest=True)
        else:
            position = _take_unanswered(by_name.get(name) if isinstance(name, str) else None, matched, nearest=False)
        if position is not None:
            matched[position] = index
    return matched


def _take_unanswered(pending: deque[int] | None, matched: dict[int, int], *, nearest: bool) -> int | None:
    """The nearest (latest) or earliest call still waiting in `pending` that no result answered yet."""
    while pending:
        position = pending.pop() if nearest else pending.popleft()
        if position not in matched:
            return position
    return None


def _explicit_error(message: dict[str, Any]) -> str | None:
    """The error a result message is flagged with. Content that merely reads like an error (an
    "error" key, "Traceback ...") is not a flag: the call returned, and the model saw the reply."""
    error = message.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, dict | list) and error:
        return _text(error)
    flagged = error is True or message.get("is_error") is True or str(message.get("status", "")).lower() == "error"
    if not flagged:
        return None
    content = message.get("content")
    return content if isinstance(content, str) and content else _TOOL_ERROR


# --- building the trace ----------------------------------------------------------------------


def _build(context: ParseContext, conversation: _Conversation) -> TraceRecord:
    messages = conversation.messages
    times = [_message_time(message) for message in messages]
    calls = [
        call
        for index, message in enumerate(messages)
        if message["role"] == "assistant"
        for call in _calls(index, message)
    ]
    made_by = _calls_by_message(calls)
    results = _match_results(messages, calls, made_by)
    answered = set(results.values())
    single_call_usage, root_usage = _record_usage_placement(conversation)
    builder = context.builder(conversation.source_id)
    final_turn = _final_turn_start(messages)
    builder.add_span(
        "conversation",
        "AGENT",
        start_ns=times[0],
        end_ns=times[-1],
        inputs={"messages": messages[:final_turn]},
        outputs=_final_answer(messages[final_turn:]),
        attributes={TOKEN_USAGE: root_usage} if root_usage else None,
    )
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            _add_chat_span(builder, conversation, index, times, single_call_usage)
            for position in made_by.get(index, []):
                _add_tool_span(builder, calls[position], messages, times, results.get(position))
        elif message["role"] in _RESULT_ROLES and index not in answered:
            _add_unmatched_result(builder, message, index, times)
    return builder.build(tags=conversation.tags, metadata=conversation.metadata)


def _record_usage_placement(conversation: _Conversation) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """Where record-level usage goes: (on the only model call, on the root). Usage of a whole
    conversation with several model calls cannot be split, so the root carries it and the trace
    total stays right; per-message usage, when present, already accounts for the tokens."""
    assistants = [message for message in conversation.messages if message["role"] == "assistant"]
    if conversation.usage is None or any(_usage(message.get("usage")) for message in assistants):
        return None, None
    return (conversation.usage, None) if len(assistants) == 1 else (None, conversation.usage)


def _final_turn_start(messages: list[dict[str, Any]]) -> int:
    """Where the final assistant turn (the answer and the tool work behind it) begins: after the
    last message the caller sent. Inputs end there, so a predict_fn replaying them gets the
    conversation as the caller had it, not the agent's own half-finished work."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] not in _AGENT_ROLES:
            return index + 1
    return 0


def _final_answer(final_turn: list[dict[str, Any]]) -> Any:
    answers = [message for message in final_turn if message["role"] == "assistant"]
    return answers[-1].get("content") if answers else None


def _add_chat_span(
    builder: TraceBuilder,
    conversation: _Conversation,
    index: int,
    times: list[int | None],
    record_usage: dict[str, int] | None,
) -> None:
    message = conversation.messages[index]
    attributes: dict[str, Any] = {_MESSAGE_FORMAT: "openai"}
    usage = _usage(message.get("usage")) or record_usage
    if usage:
        attributes[TOKEN_USAGE] = usage
    model = message.get("model") if isinstance(message.get("model"), str) else conversation.model
    if model:
        attributes[MODEL] = model
    builder.add_span(
        "chat_completion",
        "CHAT_MODEL",
        start_ns=times[index - 1] if index > 0 else times[index],
        end_ns=times[index],
        inputs={"messages": conversation.messages[:index]},
        outputs={"choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(message)}]},
        attributes=attributes,
    )


def _finish_reason(message: dict[str, Any]) -> str:
    if isinstance(message.get("finish_reason"), str):
        return message["finish_reason"]
    if message.get("tool_calls"):
        return "tool_calls"
    return "function_call" if isinstance(message.get("function_call"), dict) else "stop"


def _add_tool_span(
    builder: TraceBuilder, call: _Call, messages: list[dict[str, Any]], times: list[int | None], result: int | None
) -> None:
    reply = messages[result] if result is not None else None
    builder.add_span(
        call.name,
        "TOOL",
        start_ns=times[call.message],
        end_ns=times[result] if result is not None else None,
        inputs=call.arguments,
        outputs=reply.get("content") if reply is not None else None,
        error=_explicit_error(reply) if reply is not None else None,
    )


def _add_unmatched_result(builder: TraceBuilder, message: dict[str, Any], index: int, times: list[int | None]) -> None:
    # A reply whose call is not in the transcript still shows what a tool returned.
    name = message.get("name")
    builder.add_span(
        name if isinstance(name, str) and name else "tool",
        "TOOL",
        start_ns=times[index - 1] if index > 0 else times[index],
        end_ns=times[index],
        outputs=message.get("content"),
        error=_explicit_error(message),
    )
