"""A local fake of the Anthropic Messages API on 127.0.0.1, for the real SDK over real HTTP.

A test gives a `respond(request) -> Reply` function; the server records every request body, so
a test can assert what was (or was not) sent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlflow_eval_mcp.settings import Settings
from tests.local_http import send_json, serving


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def tool_answer(request: dict[str, Any], answer: dict[str, Any], *, input_tokens=1200, output_tokens=300) -> Reply:
    """A Messages API response that calls the request's (forced) tool with `answer`."""
    tool = request["tools"][0]["name"]
    return Reply(
        body={
            "id": f"msg_{time.monotonic_ns()}",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": [{"type": "tool_use", "id": f"toolu_{time.monotonic_ns()}", "name": tool, "input": answer}],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def overloaded() -> Reply:
    return Reply(
        status=429,
        body={"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests too high"}},
        headers={"retry-after-ms": "50"},
    )


def task_of(request: dict[str, Any]) -> str:
    """The task a request is for: its forced tool's name without `submit_`."""
    return request["tools"][0]["name"].removeprefix("submit_")


class FakeAnthropic:
    def __init__(self, respond: Callable[[dict[str, Any]], Reply]) -> None:
        self.respond = respond
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                fake.raw_bodies.append(body)
                fake.headers.append({name.lower(): value for name, value in self.headers.items()})
                request = json.loads(body)
                fake.requests.append(request)
                reply = fake.respond(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                send_json(self, reply.status, reply.body, reply.headers)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tasks(self) -> list[str]:
        return [task_of(request) for request in self.requests]


@contextmanager
def fake_anthropic(respond: Callable[[dict[str, Any]], Reply]) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(respond)
    with serving(fake.server):
        yield fake


def claude_settings(fake: FakeAnthropic, workspace, **overrides: Any) -> Settings:
    """Settings that point Claude at `fake`, with a per-test workspace (and so a per-test cache)."""
    values: dict[str, Any] = {
        "workspace": workspace,
        "anthropic_api_key": "sk-test-not-a-real-key",
        "anthropic_base_url": fake.url,
        "claude_timeout_s": 10.0,
        "claude_max_retries": 2,
        "claude_model": "claude-sonnet-5-5",
        **overrides,
    }
    return Settings(**values)


def prompt_text(request: dict[str, Any]) -> str:
    """All text the request sends (system prompt and every message), as one string."""
    parts = [request.get("system") or ""]
    for message in request["messages"]:
        content = message["content"]
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def shown_trace_ids(request: dict[str, Any]) -> list[str]:
    """The trace ids whose digests the prompt carries, in order."""
    return re.findall(r'"trace_id": "(tr-[0-9a-f]+)"', prompt_text(request))


def fenced_payloads(request: dict[str, Any]) -> list[Any]:
    """The JSON payloads of the prompt's untrusted-data blocks, in order."""
    text = request["messages"][0]["content"]
    return [json.loads(block) for block in re.findall(r"<untrusted_data>\n(.*?)\n</untrusted_data>", text, re.DOTALL)]


def plausible_answer(request: dict[str, Any]) -> Reply:
    """A valid answer to any of the product's Claude tasks: one semantic finding on the first
    sampled trace, one grounded case, one Guidelines judge."""
    task = task_of(request)
    if task == "trace_analysis":
        shown = shown_trace_ids(request)
        answer: dict[str, Any] = {
            "agent": {
                "agent_type": "support assistant",
                "purpose": "answers customer questions",
                "domains": ["support"],
                "input_shape": "a question",
                "output_shape": "an answer",
            },
            "cluster_names": [{"cluster_id": 0, "name": "common questions"}],
            "semantic_findings": [
                {
                    "category": "unsupported_claim",
                    "title": "States facts no tool returned",
                    "description": "The answer asserts details absent from the tool results.",
                    "severity": "medium",
                    "trace_ids": shown[:1],
                    "evidence": ["..."],
                    "guideline": "The response states only facts that the tool results support.",
                }
            ],
        }
    elif task == "dataset_cases":
        shown_cases = fenced_payloads(request)[1]
        case_id, inputs = shown_cases[0]["case_id"], shown_cases[0]["inputs"]
        varied = {
            key: f"{value} (asked differently)" if isinstance(value, str) else value for key, value in inputs.items()
        }
        answer = {
            "cases": [
                {
                    "scenario": "rephrased",
                    "inputs": varied,
                    "grounded_in": [case_id],
                    "rationale": "a rephrasing of a recorded request",
                    "expectations": {"guidelines": ["The response answers the question."]},
                }
            ]
        }
    elif task == "scorer_proposals":
        answer = {
            "guidelines": [
                {
                    "name": "answers_the_question",
                    "guidelines": ["The response answers what the request asks."],
                    "findings": [],
                    "reason": "the agent's purpose",
                }
            ]
        }
    else:
        raise AssertionError(f"no plausible answer for task {task}")
    return tool_answer(request, answer)
