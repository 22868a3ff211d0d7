"""JSON-safe page tokens bound to the search that issued them.

MLflow's sqlite store returns page tokens as bytes, which break JSON (MLflow's own MCP
server crashes on them). We wrap the raw token with a fingerprint of the query, so a token
replayed with another experiment, filter or ordering is refused instead of paging wrongly, and
with a checksum, so an edited token is refused here rather than handed to the store (whose error
would quote the decoded bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from mlflow_eval_mcp.errors import InvalidArgumentError


def query_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encode_page_token(raw: bytes | str | None, fingerprint: str) -> str | None:
    if not raw:
        return None
    is_bytes = isinstance(raw, bytes)
    text = base64.b64encode(raw).decode() if is_bytes else raw
    payload = {"q": fingerprint, "b": is_bytes, "t": text, "c": _checksum(fingerprint, is_bytes, text)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode_page_token(token: str | None, fingerprint: str) -> bytes | str | None:
    if not token:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        issued_for, is_bytes, text = payload["q"], payload["b"], payload["t"]
        if payload["c"] != _checksum(issued_for, is_bytes, text):
            raise ValueError("checksum mismatch")
        raw = base64.b64decode(text, validate=True) if is_bytes else str(text)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidArgumentError(
            "page_token is not one this server issued; pass next_page_token from the previous call "
            "unchanged, or omit page_token to start from the first page."
        ) from error
    if issued_for != fingerprint:
        raise InvalidArgumentError(
            "page_token belongs to a different search (another experiment, filter or order_by); "
            "repeat the original arguments with it, or omit page_token to start over."
        )
    return raw


def _checksum(fingerprint: object, is_bytes: object, text: object) -> str:
    return hashlib.sha256(json.dumps([fingerprint, is_bytes, text]).encode()).hexdigest()[:16]
