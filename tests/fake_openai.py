"""A local fake of the OpenAI API on 127.0.0.1, for MLflow's `openai:/` judges (and litellm and DSPy,
which alignment uses) over real HTTP.

It serves `POST /v1/chat/completions`, answered by a test's `respond(request) -> Reply`, and
`POST /v1/embeddings`, answered with deterministic bag-of-words vectors (so retrieval by embedding
is reproducible without a model). Every request is recorded, so a test can assert what was sent.

What MLflow's judges send and accept: a chat completion with a `json_schema` response format,
answered by `choices[0].message.content` holding `{"result": ..., "rationale": "..."}`, where the
result of a `make_judge(feedback_value_type=bool)` judge is a JSON boolean and that of the builtin
`Guidelines` judge is "yes" or "no" (`verdict` builds either). Its system message carries the
judge's instructions; its user message the inputs and outputs judged.

`use_fake_openai(monkeypatch, fake, tmp_path)` points every client at the fake and keeps them off
the network. DSPy also caches replies, which would shadow a fake whose answers change: in a test
process that imports dspy, call `dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)`
(DSPY_CACHEDIR, which this sets, only moves the disk cache and only before dspy is imported).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.local_http import send_json, serving

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
DEFAULT_DIMENSIONS = 64
# Not a 5xx: MLflow and litellm retry those with backoff for minutes, which would hide a scripting error.
SCRIPT_ERROR_STATUS = 422
_WORD = re.compile(r"[a-z0-9_]+")


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]


def chat_reply(request: dict[str, Any], content: str) -> Reply:
    """A chat completion whose one choice says `content`, the shape both MLflow and litellm accept."""
    return Reply(
        body={
            "id": f"chatcmpl-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "gpt-4o-mini"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
    )


def verdict(request: dict[str, Any], result: bool | str, rationale: str) -> Reply:
    """A judge's verdict: `result` True/False for a make_judge bool judge, "yes"/"no" for Guidelines."""
    return chat_reply(request, json.dumps({"result": result, "rationale": rationale}))


def message_text(request: dict[str, Any], role: str) -> str:
    """The text of the request's messages of `role` (system, user, assistant), as one string."""
    parts: list[str] = []
    for message in request.get("messages", []):
        if message.get("role") != role:
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(part.get("text", "") for part in content if isinstance(part, dict))
    return "\n".join(parts)


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector counting the text's words, each hashed into one of `dimensions` buckets."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        vector[int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big") % dimensions] += 1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def embeddings_reply(request: dict[str, Any]) -> Reply:
    texts = request.get("input", [])
    texts = [texts] if isinstance(texts, str) else texts
    dimensions = int(request.get("dimensions") or DEFAULT_DIMENSIONS)
    return Reply(
        body={
            "object": "list",
            "model": request.get("model", "text-embedding-3-small"),
            "data": [
                {"object": "embedding", "index": index, "embedding": embedding(str(text), dimensions)}
                for index, text in enumerate(texts)
            ],
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
        }
    )


class FakeOpenAI:
    def __init__(self, respond: Callable[[dict[str, Any]], Reply]) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                    fake.record(Request(path, body))
                    reply = fake.answer(path, body)
                except Exception as error:  # a bug in the test's script, shown to the client as one
                    reply = Reply(
                        SCRIPT_ERROR_STATUS, {"error": {"message": f"fake OpenAI could not answer: {error!r}"}}
                    )
                send_json(self, reply.status, reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, path: str, body: dict[str, Any]) -> Reply:
        if path == CHAT_PATH:
            return self.respond(body)
        if path == EMBEDDINGS_PATH:
            return embeddings_reply(body)
        return Reply(404, {"error": {"message": f"the fake OpenAI serves no {path}"}})

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [request.body for request in self.requests if request.path == CHAT_PATH]

    def embedding_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [request.body for request in self.requests if request.path == EMBEDDINGS_PATH]


@contextmanager
def fake_openai(respond: Callable[[dict[str, Any]], Reply]) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(respond)
    with serving(fake.server):
        yield fake


def use_fake_openai(monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI, tmp_path: Path) -> None:
    """Point MLflow's judges, litellm and DSPy at `fake`, offline. In this process's environment, so
    that run_suite passes the OPENAI_ and MLFLOW_ ones on to run_eval.py."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    # MLflow's judges read OPENAI_API_BASE first, litellm reads OPENAI_BASE_URL first.
    monkeypatch.setenv("OPENAI_API_BASE", fake.url)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    # The rest of the offline variables are set for every test (tests.environment.OFFLINE_ENV).
    monkeypatch.setenv("DSPY_CACHEDIR", str(tmp_path / "dspy-cache"))
