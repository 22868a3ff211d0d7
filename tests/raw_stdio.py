"""The console script spoken to as an MCP host does, line by line on its stdin and stdout, so that a
test sees every byte the server writes to stdout."""

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

SCRIPT = str(Path(sys.executable).with_name("mlflow-eval-mcp"))


def handshake(client_name: str) -> list[dict[str, Any]]:
    return [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": client_name, "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]


def call_over_stdio(
    method: str, params: dict[str, Any], *, env: dict[str, str], stderr: IO[str] | int = subprocess.DEVNULL
) -> list[dict[str, Any]]:
    """Every message the server wrote to stdout, up to its answer to one request after the handshake;
    anything on stdout that is not a JSON-RPC line fails the parse."""
    requests = [*handshake("raw"), {"jsonrpc": "2.0", "id": 2, "method": method, "params": params}]
    process = subprocess.Popen(
        [SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
    )
    watchdog = threading.Timer(120, process.kill)  # a hung server fails the test instead of hanging it
    watchdog.start()
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("".join(json.dumps(request) + "\n" for request in requests))
        process.stdin.flush()
        messages: list[dict[str, Any]] = []
        while not messages or messages[-1].get("id") != 2:
            line = process.stdout.readline()
            assert line, "the server closed stdout before answering"
            messages.append(json.loads(line))
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
    return messages
