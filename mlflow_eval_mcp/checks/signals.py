"""What one span's inputs and outputs say: the text of a request or response, whether a tool
result is an error, whether a response is empty, a refusal, cut off or leaking personal data.

Agents log many shapes (plain strings, OpenAI and Anthropic responses, LangChain messages,
`{"answer": ...}` dicts), so each function accepts any JSON value and never raises.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .json_text import from_json
from .sensitive import find_sensitive

SCAN_CHARS = 200_000
"""Only this much of a response is scanned for personal data: enough for any real answer, and a
multi-megabyte payload cannot make one trace cost seconds."""
# `next_thought`: what a DSPy ReAct step's model said (its other fields name the next tool).
# `summary`: AG2's ChatResult, whose `chat_history` names roles from the initiating agent's side
# (the user's question is "assistant" there); its summary is the chat's answer (the last message).
# `raw`: CrewAI's CrewOutput and TaskOutput text.
TEXT_KEYS = (
    "content",
    "text",
    "answer",
    "response",
    "output",
    "result",
    "message",
    "completion",
    "final_output",
    "next_thought",
    "summary",
    "raw",
)
# `contents`: the conversation a Gemini `generate_content` call sends; `inputs`: what CrewAI's
# `Crew.kickoff(inputs=…)` fills its tasks' placeholders with.
REQUEST_KEYS = (
    "question",
    "query",
    "input",
    "prompt",
    "request",
    "message",
    "user_input",
    "text",
    "content",
    "contents",
    "inputs",
)
# LangChain messages (and LangGraph states) name the speaker by `type` where OpenAI uses `role`.
# AutoGen's model-client messages are named by class in `type`; its agents' chat messages and events
# (TextMessage, ToolCallRequestEvent, …) name the speaker in `source`: "user" or an agent's name.
_ROLES = {
    "human": "user",
    "ai": "assistant",
    "AIMessageChunk": "assistant",
    "model": "assistant",
    "SystemMessage": "system",
    "UserMessage": "user",
    "AssistantMessage": "assistant",
    "FunctionExecutionResultMessage": "tool",
    "ToolCallExecutionEvent": "tool",
}
_PLAIN_ROLES = frozenset({"user", "assistant", "system", "tool", "developer"})
_SOURCED_MESSAGE = re.compile(r"[A-Z]\w*(?:Message|Event)")
# Pydantic AI's messages have no role: a ModelRequest (`kind: "request"`) holds the user's prompt parts
# and tool returns, a ModelResponse (`kind: "response"`) what the model said; each a list of `parts`.
_MESSAGE_KINDS = {"request": "user", "response": "assistant"}
# Parts whose `content` is what the speaker said (not a tool call, tool return or retry prompt).
_SAID_PARTS = ("text", "user-prompt")
TRUNCATED_REASONS = frozenset({"length", "max_tokens", "max_output_tokens", "model_length", "token_limit"})
ERROR_STATUSES = frozenset({"error", "failed", "failure", "fail"})
# `tool_call`: an OTel GenAI message part ({type: "tool_call", id, name, arguments}).
_TOOL_CALL_ITEMS = ("tool_use", "function_call", "tool_call")
# Content blocks holding one call under a key: Bedrock Converse's `toolUse`, Gemini's part `function_call`
# (`functionCall` in the REST API's JSON).
_WRAPPED_CALL_KEYS = ("toolUse", "function_call", "functionCall")
# Where `requested_tools` looks for calls in a dict besides its content blocks.
_CALL_HOLDERS = frozenset(
    {"messages", "choices", "candidates", "output", "message", "next_tool_name", "tool_calls", "parts"}
)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
# A refusal declines the whole request ("I can't help with that"), unlike an answer that
# declines one action for a reason ("I can't refund this order because ..."), which is policy
# working as intended.
REFUSAL = re.compile(
    r"\b(?:i\s*(?:can't|cannot|can not|won't|will not|am unable to|'m unable to|am not able to|'m not able to)"
    r"|i\s*(?:must|have to)\s+decline)\s+"
    r"(?:help|assist|comply|fulfil+|support|do that|answer that|provide that|respond to that|engage)"
    r"(?:\s+(?:you\s+)?(?:with|on)?\s*(?:that|this|your|such)?\s*(?:request|question|topic|query)?)?\s*(?:[.!,]|$)"
    r"|\b(?:lo siento|disculpa)[^.]{0,30}no puedo (?:ayudar|asistir)"
    r"|\bich kann (?:dir|ihnen) (?:dabei |damit )?nicht helfen"
    r"|\bje ne peux pas (?:vous |t')?aider",
    re.IGNORECASE,
)
REFUSAL_WINDOW = 300
# What any refusal says: an ASCII text (where ignoring case is lower-casing) holding none of these is none.
REFUSAL_CUES = (
    "can't",
    "cannot",
    "can not",
    "won't",
    "will not",
    "unable to",
    "not able to",
    "decline",
    "no puedo",
    "nicht helfen",
    "peux pas",
)
ERROR_TEXT = re.compile(
    r"^\s*(?:"
    r"\[?(?:error|exception|fatal)\]?\s*(?:[:\-!\[(]|\d{3}\b)"
    r"|(?:an? )?(?:unexpected |internal )?error (?:occurred|while|during|calling|executing|invoking|from)\b"
    r"|traceback \(most recent call last\)"
    r"|failed to \w+"
    r"|exitcode:\s*[1-9]"
    r")",
    re.IGNORECASE,
)
_EXCEPTION_LINE = re.compile(
    r"^\s*((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)\b(?::.*)?)$", re.MULTILINE
)
_SENTENCE_END = re.compile(
    r"""[.!?…:)\]}"'`*»>|\u3002\uff01\uff1f\u201d\u2019]\s*$|[\U0001F300-\U0001FAFF\u2600-\u27BF]\s*$"""
)
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d+\.\s|```|>\s)|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)", re.MULTILINE)
QUOTED = re.compile(r"'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"|`[^`\n]{1,200}`")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
HEX = re.compile(r"\b(?:0x)?[0-9a-f]{8,}\b", re.IGNORECASE)
# Starts only where a run of id characters starts: from every word boundary inside "eyJ-eyJ-…" the
# lookaheads would rescan the rest of the run, quadratic in the message.
MIXED_ID = re.compile(
    r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+\b|\b(?=\w*\d)[A-Za-z]+\d\w*\b"
)
_SIGNATURE_INPUT_CHARS = 1_000
"""A signature keeps 200 characters; reading more of a message could only cost time."""
# What `json.dumps(value, ensure_ascii=False, default=str, sort_keys=…)` would build on every call.
_DUMPER = json.JSONEncoder(ensure_ascii=False, default=str)
_SORTED_DUMPER = json.JSONEncoder(ensure_ascii=False, default=str, sort_keys=True)
NUMBER = re.compile(r"(?<![\w<])\d+(?:[.,]\d+)*(?![\w>])")


def text_of(value: Any, _depth: int = 0) -> str | None:
    """The natural-language text of a response, or None when the value holds none that is
    recognisable (a structured result, a number)."""
    if isinstance(value, str):
        return value
    if _depth > 4:
        return None
    if isinstance(value, list):
        if _is_message_list(value):
            return _last_message_text(value, role="assistant")
        parts = [text for item in value if (text := _part_text(item, _depth)) is not None]
        return "\n".join(parts) if parts else None
    if not isinstance(value, dict):
        return None
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        return text_of(choice.get("message") or choice.get("text") or choice.get("delta"), _depth + 1)
    candidates = value.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return text_of(candidates[0].get("content"), _depth + 1)
    if isinstance(value.get("messages"), list):
        return text_of(value["messages"], _depth + 1)
    for key in TEXT_KEYS:
        if key in value and (text := text_of(value[key], _depth + 1)) is not None:
            return text
    # Gemini's content `parts`; LlamaIndex's ChatMessage `blocks` (`{block_type: "text", text}`), where
    # an empty answer is a message without blocks.
    for key in ("parts", "blocks"):
        if isinstance(value.get(key), list):
            return text_of(value[key], _depth + 1) if value[key] else ""
    return None


def _part_text(item: Any, depth: int) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and item.get("type") in (None, "text", "output_text") and "text" in item:
        return text_of(item["text"], depth + 1)
    if isinstance(item, dict) and item.get("type") == "text" and "content" in item:  # OTel GenAI TextPart
        return text_of(item["content"], depth + 1)
    if isinstance(item, dict) and item.get("part_kind") in _SAID_PARTS:  # Pydantic AI message parts
        return text_of(item.get("content"), depth + 1)
    if isinstance(item, dict) and item.get("type") == "refusal":  # OpenAI Responses API
        return text_of(item.get("refusal"), depth + 1)
    return None


def role_of(message: dict[str, Any]) -> str:
    """user, assistant, system, tool, …: OpenAI's `role`, or LangChain's `type` in the same terms."""
    role = message.get("role")
    if isinstance(role, str) and role in _PLAIN_ROLES:  # OpenAI's, as most messages name theirs
        return role
    role = str(role or message.get("type") or "")
    if role not in _ROLES and isinstance(source := message.get("source"), str) and _SOURCED_MESSAGE.fullmatch(role):
        return source if source in ("user", "system") else "assistant"
    if not role and isinstance(message.get("parts"), list) and message.get("kind") in _MESSAGE_KINDS:
        return _MESSAGE_KINDS[message["kind"]]
    return _ROLES.get(role, role.lower())


def _is_message_list(value: list[Any]) -> bool:
    return (
        bool(value)
        and all(isinstance(item, dict) and ("role" in item or "type" in item or "kind" in item) for item in value)
        and any(role_of(item) in ("user", "assistant", "system", "tool") for item in value)
    )


def final_message(outputs: Any) -> dict[str, Any] | None:
    """The last assistant message when `outputs` is a conversation (a message list, or a state
    holding one under `messages`, as LangGraph returns), else None."""
    messages = outputs.get("messages") if isinstance(outputs, dict) else outputs
    if not isinstance(messages, list) or not _is_message_list(messages):
        return None
    return next((message for message in reversed(messages) if role_of(message) == "assistant"), None)


def final_answer(outputs: Any) -> Any:
    """What the user was shown: the last assistant message's text when `outputs` is a conversation,
    else `outputs` itself (a string, a model response, or the structured result an agent returns)."""
    message = final_message(outputs)
    if message is None:
        return outputs
    return text_of(_content(message), 1) or ""


def _last_message_text(messages: list[dict[str, Any]], role: str) -> str | None:
    # A user turn that only carries tool results (Anthropic's tool_result blocks) says nothing itself.
    said = (text_of(_content(message), 1) for message in reversed(messages) if role_of(message) == role)
    return next((text for text in said if text is not None), None)


def _content(message: dict[str, Any]) -> Any:
    """What a message says: its `content`, the `blocks` LlamaIndex's ChatMessage keeps it in, or the
    `parts` of a Gemini `Content`."""
    if "content" in message:
        return message["content"]
    return message["blocks"] if "blocks" in message else message.get("parts")


def is_prepared_request(outputs: Any) -> bool:
    """Outputs that are a model request still to be sent (the conversation so far and the tools
    offered), not a reply: what a span that only prepares a call returns, e.g. LlamaIndex's
    `_prepare_chat_with_tools`, which MLflow types LLM for being a method of the model."""
    if not isinstance(outputs, dict) or "tools" not in outputs or not isinstance(outputs.get("messages"), list):
        return False
    last = outputs["messages"][-1] if outputs["messages"] else None
    return isinstance(last, dict) and role_of(last) != "assistant"


def requested_tools(outputs: Any, events: list[tuple[str, Any]] | None = None) -> list[str]:
    """The names of the tools a model call asked for: OpenAI `tool_calls`, Anthropic `tool_use`
    blocks, Bedrock `toolUse` blocks, Gemini `function_call` parts, LangChain messages' `tool_calls`,
    or those of a conversation's last assistant message.
    A streamed OpenAI call names them only in its chunks' deltas (see `call_finish_reason`)."""
    if not events and isinstance(outputs, dict) and _CALL_HOLDERS.isdisjoint(outputs):
        blocks = _content(outputs)
        if not isinstance(blocks, list):  # a plain message, as most of a conversation's are
            return []
    streamed = [
        str(name)
        for chunk in _chunks(events or [])
        if isinstance(chunk, dict) and isinstance(chunk.get("choices"), list)
        for choice in chunk["choices"]
        if isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
        for call in choice["delta"].get("tool_calls") or []
        if isinstance(call, dict) and (name := _call_name(call))
    ]
    if streamed:
        return streamed
    if (message := final_message(outputs)) is not None:
        outputs = message
    if not isinstance(outputs, dict):
        return []
    choices = outputs.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        outputs = choices[0].get("message") or {}
    candidates = outputs.get("candidates") if isinstance(outputs, dict) else None
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):  # Gemini
        outputs = candidates[0].get("content") or {}
    if isinstance(outputs, dict) and isinstance(outputs.get("output"), dict):  # Bedrock Converse
        outputs = outputs["output"].get("message") or {}
    if isinstance(outputs, dict) and isinstance(outputs.get("message"), dict):  # LlamaIndex ChatResponse
        outputs = outputs["message"]
    if isinstance(outputs, dict) and isinstance(outputs.get("next_tool_name"), str):  # a DSPy ReAct step
        return [] if outputs["next_tool_name"] == "finish" else [outputs["next_tool_name"]]
    calls = outputs.get("tool_calls") if isinstance(outputs, dict) else None
    blocks = _content(outputs) if isinstance(outputs, dict) else None
    if isinstance(outputs, dict) and isinstance(outputs.get("output"), list):  # OpenAI Responses API items
        blocks = outputs["output"]
    if isinstance(outputs, dict) and isinstance(outputs.get("parts"), list):  # Gemini content parts
        blocks = outputs["parts"]
    names = [_call_name(call) for call in calls or [] if isinstance(call, dict)]
    if isinstance(blocks, list):
        names += [str(b.get("name") or b.get("tool_name")) for b in blocks if isinstance(b, dict) and _is_call_block(b)]
        names += [
            str(b[key].get("name"))
            for b in blocks
            if isinstance(b, dict)
            for key in _WRAPPED_CALL_KEYS
            if isinstance(b.get(key), dict)
        ]
    return [name for name in names if name]


def _call_name(call: dict[str, Any]) -> str:
    """A tool call's name: OpenAI's `function.name`, Inspect AI's `function` (the name itself), or `name`."""
    function = call.get("function")
    if isinstance(function, dict):
        return str(function.get("name") or call.get("name") or "")
    return str(function if isinstance(function, str) and function else call.get("name") or "")


def _is_call_block(block: dict[str, Any]) -> bool:
    """An Anthropic `tool_use` block, a Responses `function_call` item, or AutoGen's untyped
    `FunctionCall` ({id, name, arguments: <JSON string>}, the content of a tool-calling reply), or
    LlamaIndex's `ToolCallBlock` ({block_type: "tool_call", tool_call_id, tool_name, tool_kwargs}), or
    Pydantic AI's `ToolCallPart` ({part_kind: "tool-call", tool_name, args, tool_call_id})."""
    if block.get("block_type") == "tool_call" or block.get("part_kind") == "tool-call":
        return True
    if "type" not in block:
        return isinstance(block.get("name"), str) and isinstance(block.get("arguments"), str) and "id" in block
    return block["type"] in _TOOL_CALL_ITEMS


def request_text(inputs: Any) -> str | None:
    """The user's request in a root span's inputs."""
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, list):
        if _is_message_list(inputs):
            return _last_message_text(inputs, role="user")
        if inputs and all(is_pair(item) for item in inputs):  # LangGraph's [("user", "text"), …]
            said = (str(text) for speaker, text in reversed(inputs) if _ROLES.get(speaker, speaker) == "user")
            return next(said, None)
        return text_of(inputs)
    if not isinstance(inputs, dict):
        return None
    if isinstance(inputs.get("messages"), list):
        return request_text(inputs["messages"])
    for key in REQUEST_KEYS:
        value = inputs.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list) and (text := request_text(value)) is not None:
            return text
    strings = [value for value in inputs.values() if isinstance(value, str) and value.strip()]
    return strings[0] if strings else None


def is_pair(item: Any) -> bool:
    return isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)


def finish_reason(outputs: Any) -> str | None:
    """Why a model call stopped, from OpenAI, Anthropic, Gemini or LangChain shaped outputs, or from
    the last assistant message of a conversation (LangChain keeps it in `response_metadata`)."""
    if (message := final_message(outputs)) is not None:
        outputs = message
    if not isinstance(outputs, dict):
        return None
    # LlamaIndex's ChatResponse keeps the provider's own response, and its finish reason, under `raw`.
    if isinstance(outputs.get("raw"), dict) and (reason := finish_reason(outputs["raw"])) is not None:
        return reason
    choices = outputs.get("choices") or outputs.get("candidates")
    sources = [outputs]
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        sources.insert(0, choices[0])
    for key in ("response_metadata", "generation_info"):
        if isinstance(outputs.get(key), dict):
            sources.append(outputs[key])
    for source in sources:
        for key in ("finish_reason", "finishReason", "stop_reason", "stopReason"):  # stopReason: Bedrock Converse
            if isinstance(source.get(key), str):
                return source[key].lower()
    # The OpenAI Responses API has no finish reason: an incomplete response says why it stopped.
    incomplete = outputs.get("incomplete_details") if outputs.get("status") == "incomplete" else None
    if isinstance(incomplete, dict) and isinstance(incomplete.get("reason"), str):
        return incomplete["reason"].lower()
    return None


def call_finish_reason(outputs: Any, events: list[tuple[str, Any]]) -> str | None:
    """Why one model call stopped. A streamed call's chunks, which MLflow records as span events
    `mlflow.chunk.item.N` (name, attributes), say it where MLflow's rebuilt output says "stop" even
    when the stream ended in tool calls or at the token limit."""
    chunks = _chunks(events)
    return _streamed_finish_reason(chunks) if chunks else finish_reason(outputs)


def _chunks(events: list[tuple[str, Any]]) -> list[Any]:
    return [
        from_json(attributes.get("mlflow.chunk.value"))
        for name, attributes in events
        if name.startswith("mlflow.chunk.item.") and isinstance(attributes, dict)
    ]


def _streamed_finish_reason(chunks: list[Any]) -> str | None:
    for chunk in reversed(chunks):
        if (reason := finish_reason(chunk)) is not None:
            return reason
        delta = chunk.get("delta") if isinstance(chunk, dict) else None  # Anthropic: message_delta
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            return delta["stop_reason"].lower()
    return None


def is_empty(outputs: Any) -> bool:
    if isinstance(outputs, str | list | dict) and not outputs:
        return True
    if isinstance(outputs, str):
        return not outputs.strip()
    text = text_of(outputs)
    return text is not None and not text.strip()


def is_refusal(text: str | None) -> bool:
    if not text:
        return False
    window = text[:REFUSAL_WINDOW]
    if window.isascii():  # no typographic apostrophe to straighten, and ignoring case is lower-casing
        if not any(map(window.lower().__contains__, REFUSAL_CUES)):
            return False
    else:
        window = window.translate(_APOSTROPHES)
    return bool(REFUSAL.search(window))


def is_truncated(text: str | None, reason: str | None) -> bool:
    """Cut off by the token limit, or ending mid-sentence: a long prose answer whose last line
    is a sentence (not a list item, sign-off or code) without closing punctuation."""
    if reason in TRUNCATED_REASONS:
        return True
    if not text or len(text) < 200 or output_format(text) != "prose":
        return False
    stripped = text.rstrip()
    last_line = stripped.rsplit("\n", 1)[-1]
    return len(last_line.split()) >= 8 and not _SENTENCE_END.search(stripped) and stripped[-1].isalpha()


def output_format(outputs: Any) -> str:
    """json, markdown_table, markdown, prose, empty or non_text."""
    if isinstance(outputs, dict | list) and outputs:
        text = text_of(outputs)
        return "json" if text is None else output_format(text)
    if is_empty(outputs):
        return "empty"
    if not isinstance(outputs, str):
        return "non_text"
    stripped = outputs.strip()
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    if "---" in stripped and TABLE_RULE.search(stripped):
        return "markdown_table"
    if MARKDOWN.search(stripped):
        return "markdown"
    return "prose"


def pii_kinds(outputs: Any) -> set[str]:
    """Kinds of personal data or secrets in a response: in the answer's text (not in the request a
    conversation state echoes), or in its JSON when the answer is structured."""
    answer = final_answer(outputs)
    text = answer if isinstance(answer, str) else text_of(answer) or _dump(answer)
    return find_sensitive(text[:SCAN_CHARS]) if text else set()


def tool_outcome(status: str, outputs: Any) -> str:
    """'exception' (the span failed), 'error_output' (it succeeded but returned an error) or 'ok'."""
    if status == "ERROR":
        return "exception"
    return "error_output" if error_in_output(outputs) is not None else "ok"


def error_in_output(outputs: Any, _depth: int = 0) -> str | None:
    """The error a tool returned as its result, or None when the result is not an error."""
    if isinstance(outputs, str):
        stripped = outputs.strip()
        if stripped[:1] == "{":
            try:
                return error_in_output(json.loads(stripped), _depth)
            except ValueError:
                pass
        return _summarise(stripped) if ERROR_TEXT.match(stripped) else None
    if not isinstance(outputs, dict) or _depth > 2:
        return None
    error = outputs.get("error")
    if error not in (None, False, "", {}, []):
        return _error_text(error)
    errors = outputs.get("errors")
    if isinstance(errors, list) and errors:
        return _error_text(errors[0])
    if outputs.get("is_error") is True or outputs.get("isError") is True:
        return text_of(outputs) or _dump(outputs)[:300]
    status = outputs.get("status")
    if isinstance(status, str) and status.lower() in ERROR_STATUSES:
        found = outputs.get("message") or outputs.get("detail") or text_of(outputs.get("content"))
        return str(found or f"status: {status}")[:300]
    if outputs.get("success") is False or outputs.get("ok") is False:
        return str(outputs.get("message") or outputs.get("detail") or _dump(outputs))[:300]
    # A result wrapped under a key, as MLflow's crewai autolog records a tool's: {"result": "Error executing tool: …"}.
    for key in ("result", "output", "response"):
        if isinstance(outputs.get(key), dict | str) and (found := error_in_output(outputs[key], _depth + 1)):
            return found
    # A tool message (LangChain ToolMessage, an MCP or Anthropic tool result, LlamaIndex's ToolOutput with
    # its `raw_output` and `blocks`) carries the tool's answer as its content: "Error: order not found"
    # there is the tool's error.
    tool_message = "tool_call_id" in outputs or "tool_use_id" in outputs or "raw_output" in outputs
    if tool_message or outputs.get("type") in ("tool", "tool_result"):
        content = text_of(_content(outputs))
        return error_in_output(content, _depth + 1) if content else None
    return None


def _summarise(text: str) -> str:
    """The first line of an error text and, for a Python traceback, the exception it ended with
    (what differs between two tracebacks is the file paths; what matters is the last line)."""
    if "Traceback (most recent call last)" in text:
        raised = _EXCEPTION_LINE.findall(text)
        if raised:
            return f"{text.split(chr(10), 1)[0].strip()} … {raised[-1].strip()}"[:300]
    return text[:300]


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        for key in ("message", "detail", "description", "type", "code"):
            if isinstance(error.get(key), str):
                return error[key][:300]
    return (error if isinstance(error, str) else _dump(error))[:300]


def error_message(status_text: str | None, outputs: Any, exception_message: str | None) -> str | None:
    """The most specific description of a failure: the exception, the status, then the output."""
    for candidate in (exception_message, status_text):
        if candidate and candidate.strip():
            return candidate.strip()[:300]
    return error_in_output(outputs)


def error_signature(message: str) -> str:
    """A message with what varies between occurrences (quoted values, ids, numbers) replaced, so
    that 'Order 123 not found' and 'Order 456 not found' are one error."""
    signature = QUOTED.sub("<str>", message[:_SIGNATURE_INPUT_CHARS])
    signature = UUID.sub("<id>", signature)
    signature = HEX.sub("<id>", signature)
    signature = MIXED_ID.sub("<id>", signature)
    signature = NUMBER.sub("<num>", signature)
    return " ".join(signature.split())[:200]


def calls_signature(name: str, inputs: Any) -> str:
    """A short digest identifying a call by tool name and inputs (key order ignored)."""
    payload = name + "\x00" + _dump(inputs, sort_keys=True)
    return hashlib.blake2b(payload.encode("utf-8", "replace"), digest_size=12).hexdigest()


def _dump(value: Any, *, sort_keys: bool = False) -> str:
    try:
        return (_SORTED_DUMPER if sort_keys else _DUMPER).encode(value)
    except (TypeError, ValueError):
        return repr(value)
