"""The MCP Inspector CLI (a real, independent MCP client) against the server over stdio: it lists the
tools and calls search_traces (see .ci/inspector, which installs Node.js from PyPI and the pinned
inspector-cli from npm)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import FOREIGN_ENV
from tests.paths import REPOSITORY

pytestmark = pytest.mark.stdio
SCRIPT = REPOSITORY / ".ci" / "inspector"


def inspector_env(parent: dict[str, str]) -> dict[str, str]:
    """The machine's environment (npm needs its CA and proxy settings to reach the registry) without
    the variables that would point the server at a real store or service."""
    env = {name: value for name, value in parent.items() if name not in FOREIGN_ENV}
    env["VENV"] = str(Path(sys.executable).parent.parent)
    return env


def test_the_inspector_keeps_the_machines_certificate_and_proxy_settings():
    parent = {
        "PATH": "/usr/bin",
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/corp.pem",
        "SSL_CERT_FILE": "/etc/ssl/cert.pem",
        "HTTPS_PROXY": "http://proxy.internal:3128",
        "npm_config_registry": "https://registry.internal/",
        "MLFLOW_TRACKING_URI": "http://real-store:5000",
        "OPENAI_API_KEY": "sk-real",
    }
    env = inspector_env(parent)
    assert {name: env[name] for name in parent if name in env} == {
        name: value for name, value in parent.items() if name not in ("MLFLOW_TRACKING_URI", "OPENAI_API_KEY")
    }


def test_the_mcp_inspector_lists_the_tools_and_searches_traces():
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    done = subprocess.run(
        [str(SCRIPT)],
        cwd=SCRIPT.parent.parent,
        env=inspector_env(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "search_traces returned 3 traces" in done.stderr
