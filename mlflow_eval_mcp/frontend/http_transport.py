"""Serving MCP over Streamable HTTP, to host the server remotely (e.g. as a Databricks App).

It binds to loopback unless told otherwise; beyond loopback a strong bearer token is required,
since the tools read traces and write suites. The token is compared in constant time and comes from
the environment only, so it never shows in a process list.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from mlflow_eval_mcp.settings import Settings

    Scope = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MCP_PATH = "/mcp"
MIN_TOKEN_CHARS = 32
# Fewer distinct characters than this is a pattern (aaaa…, abab…), not a random token.
_MIN_DISTINCT_CHARS = 8
_HOW_TO_MAKE_A_TOKEN = (
    'make one with `openssl rand -hex 32` or `python -c "import secrets; print(secrets.token_hex(32))"`'
)


class BearerTokenMiddleware:
    """Answers 401 to any HTTP request without `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = json.dumps({"error": "unauthorized", "error_description": "send Authorization: Bearer <token>"})
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="mlflow-eval-mcp"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = next((value for name, value in scope.get("headers", []) if name == b"authorization"), b"")
        return hmac.compare_digest(given, self.expected)


def http_app(settings: Settings, *, host: str) -> ASGIApp:
    """The server as an ASGI app at /mcp, behind the bearer token when one is set."""
    from mlflow_eval_mcp.frontend.server import create_server

    token = settings.http_token.get_secret_value() if settings.http_token else None
    if host not in LOOPBACK:
        if not token:
            raise ConfigurationError(
                f"--host {host} would expose the server beyond this machine without authentication: set "
                "MLFLOW_EVAL_MCP_HTTP_TOKEN (clients then send Authorization: Bearer <token>; "
                f"{_HOW_TO_MAKE_A_TOKEN}), or bind to 127.0.0.1."
            )
        if not _strong(token):
            raise ConfigurationError(
                f"MLFLOW_EVAL_MCP_HTTP_TOKEN is too weak to expose the server on --host {host}: it needs at least "
                f"{MIN_TOKEN_CHARS} random printable characters without spaces; {_HOW_TO_MAKE_A_TOKEN}."
            )
    app = create_server(settings).streamable_http_app(host=host, streamable_http_path=MCP_PATH)
    return BearerTokenMiddleware(app, token) if token else app


def _strong(token: str) -> bool:
    # Printable ASCII without spaces: anything else cannot travel intact in an Authorization header.
    visible = token.isascii() and token.isprintable() and not any(char.isspace() for char in token)
    return visible and len(token) >= MIN_TOKEN_CHARS and len(set(token)) >= _MIN_DISTINCT_CHARS


def serve_http(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    app = http_app(settings, host=host)
    logger.info(
        "serving MCP on http://%s:%d%s (%s)",
        host,
        port,
        MCP_PATH,
        "bearer token required" if settings.http_token else "no token: loopback only",
    )
    # log_config=None: uvicorn's own config sends access logs to stdout; ours go to stderr.
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=settings.log_level.lower())
