"""One Claude session per tool call, on the Anthropic SDK.

Answers come as structured output through a forced tool call, validated by pydantic; an answer
that does not fit goes back once with the validation errors. The SDK retries 429, 5xx and dropped
connections with backoff (honouring retry-after); each request is time-boxed. Every request is
redacted of secrets and personal data as a last line of defence (the prompts are built from
redacted data already), and cached on disk by its hash, so re-running a step costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.checks.sensitive import redact
from mlflow_eval_mcp.claude.pricing import cost_usd
from mlflow_eval_mcp.errors import ConfigurationError, MlflowEvalError
from mlflow_eval_mcp.files import write_text_atomic
from mlflow_eval_mcp.models import ClaudeUsage

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message

    from mlflow_eval_mcp.settings import Settings

logger = logging.getLogger(__name__)

Generation = Literal["auto", "offline", "claude"]
Answer = TypeVar("Answer", bound=BaseModel)
Result = TypeVar("Result")
FORMAT_ATTEMPTS = 2
MAX_TOKENS = 8_192
_CREDENTIALS_HELP = (
    "set ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL with ANTHROPIC_AUTH_TOKEN "
    "(Databricks Foundation Model APIs: https://<workspace>/serving-endpoints/anthropic and a Databricks token)"
)


class ClaudeError(MlflowEvalError):
    """Claude gave no usable answer: unreachable, timed out, refused, or off-schema twice."""


def claude_configured(settings: Settings) -> bool:
    return bool(settings.anthropic_api_key or settings.anthropic_auth_token)


def open_claude(settings: Settings, generation: Generation = "auto") -> ClaudeSession | None:
    """A session when Claude should be used: `claude` requires it, `auto` uses it when credentials
    are set (unless MLFLOW_EVAL_MCP_CLAUDE=off), `offline` never does."""
    if generation == "offline" or (generation == "auto" and settings.claude == "off"):
        return None
    if not claude_configured(settings):
        if generation == "claude":
            raise ConfigurationError(f"generation='claude' needs Claude credentials: {_CREDENTIALS_HELP}.")
        return None
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None,
        auth_token=settings.anthropic_auth_token.get_secret_value() if settings.anthropic_auth_token else None,
        base_url=settings.anthropic_base_url,
        timeout=settings.claude_timeout_s,
        max_retries=settings.claude_max_retries,
    )
    return ClaudeSession(client, model=settings.claude_model, cache_dir=settings.claude_cache_dir)


class ClaudeSession:
    def __init__(self, client: anthropic.Anthropic, *, model: str, cache_dir: Path) -> None:
        self.client = client
        self.model = model
        self.cache_dir = cache_dir
        self.usage = ClaudeUsage(model=model)

    def attempt(self, step: str, work: Callable[[], Result]) -> Result | None:
        """Run one Claude addition; if Claude fails, note why and return None so the offline
        result stands."""
        try:
            result = work()
        except ClaudeError as error:
            self.usage.notes.append(f"{step}: {error} The offline result stands.")
            logger.warning("Claude step %s failed: %s", step, error)
            return None
        return result

    def note(self, text: str) -> None:
        self.usage.notes.append(text)

    def stamp(self, result: BaseModel, *, contributed: bool) -> None:
        """Mark a tool result with the mode that produced it (claude only if Claude added to it) and
        what Claude cost so far in this call."""
        result.mode = "claude" if contributed else "offline"  # type: ignore[attr-defined]
        result.claude = self.usage.model_copy(deep=True)  # type: ignore[attr-defined]

    def structured(self, *, task: str, system: str, prompt: str, output: type[Answer]) -> Answer:
        """Claude's answer to `prompt` as an `output`, through the forced tool `submit_<task>`."""
        tool = {
            "name": f"submit_{task}",
            "description": f"Submit the {task.replace('_', ' ')} (the only way to answer).",
            "input_schema": output.model_json_schema(),
        }
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        problem = ""
        for _ in range(FORMAT_ATTEMPTS):
            message, cache_file = self._create(
                system=system, messages=messages, tools=[tool], tool_choice={"type": "tool", "name": tool["name"]}
            )
            call = next((b for b in message.content if b.type == "tool_use" and b.name == tool["name"]), None)
            if call is None:
                problem = f"the answer did not call {tool['name']}"
                messages += [
                    {"role": "assistant", "content": _replayable(message) or "(no answer)"},
                    {"role": "user", "content": f"Answer only by calling the tool {tool['name']}."},
                ]
                continue
            try:
                answer = output.model_validate(call.input)
            except ValidationError as error:
                problem = _validation_summary(error)
            else:
                self._remember(cache_file, message)
                return answer
            messages += [
                {"role": "assistant", "content": _replayable(message)},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": call.id,
                            "is_error": True,
                            "content": f"The input does not match the schema: {problem}. Call the tool again.",
                        }
                    ],
                },
            ]
        raise ClaudeError(
            f"Claude's {task.replace('_', ' ')} did not fit its schema after {FORMAT_ATTEMPTS} tries ({problem})."
        )

    def _create(self, **request: Any) -> tuple[Message, Path | None]:
        """The answer to `request`, and where to cache it once it proves valid (None: from the cache)."""
        import anthropic
        from anthropic.types import Message

        raise_if_cancelled()
        request = _redacted({"model": self.model, "max_tokens": MAX_TOKENS, **request})
        key = hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        cached = self.cache_dir / key[:2] / f"{key}.json"
        if cached.is_file():
            try:
                message = Message.model_validate_json(cached.read_text(encoding="utf-8"))
            except (OSError, ValidationError):
                logger.warning("ignoring unreadable cache entry %s", cached)
            else:
                self.usage.cached_responses += 1
                return message, None
        try:
            message = self.client.messages.create(**request)
        except anthropic.APITimeoutError as error:
            raise ClaudeError(
                f"Claude did not answer within {self.client.timeout} s (after {self.client.max_retries} retries); "
                "raise MLFLOW_EVAL_MCP_CLAUDE_TIMEOUT_S or try again."
            ) from error
        except anthropic.AuthenticationError as error:
            raise ClaudeError(f"Claude refused the credentials (401); {_CREDENTIALS_HELP}.") from error
        except anthropic.APIStatusError as error:
            raise ClaudeError(
                f"the Messages API answered {error.status_code} after {self.client.max_retries} retries: "
                f"{_api_message(error)}"
            ) from error
        except anthropic.APIConnectionError as error:
            raise ClaudeError(
                f"cannot reach the Messages API at {self.client.base_url} ({error}); check ANTHROPIC_BASE_URL "
                "and the network."
            ) from error
        self.usage.requests += 1
        self._account(message)
        if message.stop_reason == "max_tokens":
            raise ClaudeError(f"Claude's answer was cut off at {MAX_TOKENS} tokens.")
        return message, cached

    def _remember(self, path: Path | None, message: Message) -> None:
        """Cache a valid answer; an unwritable cache costs the next run a request, never this result."""
        if path is None:
            return
        try:
            write_text_atomic(path, message.model_dump_json())
        except OSError as error:
            logger.warning("could not cache Claude's answer in %s: %s", path, error)

    def _account(self, message: Message) -> None:
        usage = message.usage
        self.usage.input_tokens += usage.input_tokens or 0
        self.usage.output_tokens += usage.output_tokens or 0
        price = cost_usd(self.model, usage.input_tokens or 0, usage.output_tokens or 0)
        if price is None or self.usage.cost_usd is None:
            self.usage.cost_usd = None
        else:
            self.usage.cost_usd = round(self.usage.cost_usd + price, 6)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {
            key: _redacted(item) if key not in ("input_schema", "tool_use_id", "id") else item
            for key, item in value.items()
        }
    return value


def _replayable(message: Message) -> list[dict[str, Any]]:
    """The assistant turn as request content: only the fields the API accepts back."""
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "text":
            blocks.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    return blocks


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'input'}: {item['msg']}" for item in error.errors()[:8]
    )


def _api_message(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else None
    return str(detail or error.message)[:300]
