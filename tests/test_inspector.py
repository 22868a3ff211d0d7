"""The MCP Inspector CLI (a real, independent MCP client) against the server over stdio: it lists the
tools and calls search_traces (see .ci/inspector, which installs Node.js from PyPI and the pinned
inspector-cli from npm)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stdio
SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "inspector"


def test_the_mcp_inspector_lists_the_tools_and_searches_traces():
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    done = subprocess.run(
        [str(SCRIPT)],
        cwd=SCRIPT.parent.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "VENV": str(Path(sys.executable).parent.parent)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "search_traces returned 3 traces" in done.stderr
