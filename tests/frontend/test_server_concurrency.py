"""Several tool calls in flight at once, and a cancelled call stopping its work."""

import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mlflow_eval_mcp.frontend.server import create_server
from tests.suite_factory import built

pytestmark = pytest.mark.anyio


def _hanging_suite(store_uri, tmp_path):
    """A suite whose run_eval.py writes its pid, then hangs."""
    suite = built(store_uri, tmp_path).suite
    pid_file = tmp_path / "run.pid"
    script = suite.root / "evaluation" / "run_eval.py"
    hang = f"    Path({str(pid_file)!r}).write_text(str(os.getpid()))\n    time.sleep(3600)\n"
    script.write_text(script.read_text().replace("    config = load_config()\n", hang, 1))
    return suite, pid_file


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


async def test_a_search_answers_while_a_long_validation_runs(store_uri, tmp_path, settings):
    suite, pid_file = _hanging_suite(store_uri, tmp_path)
    finished: dict[str, float] = {}
    async with Client(create_server(settings)) as client:

        async def validate() -> None:
            await client.call_tool("validate_eval", {"suite_dir": str(suite.root), "timeout_s": 600})
            finished["validate"] = time.monotonic()

        async with anyio.create_task_group() as group:
            group.start_soon(validate)
            with anyio.fail_after(120):
                while not pid_file.exists():
                    await anyio.sleep(0.2)
            result = await client.call_tool("list_experiments", {})
            still_running = _alive(int(pid_file.read_text()))
            group.cancel_scope.cancel()
    assert not result.is_error
    assert still_running and "validate" not in finished


async def test_a_cancelled_validation_kills_its_run(store_uri, tmp_path, settings):
    suite, pid_file = _hanging_suite(store_uri, tmp_path)
    async with Client(create_server(settings)) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "validate_eval", {"suite_dir": str(suite.root), "timeout_s": 90})
            with anyio.fail_after(120):
                while not pid_file.exists():
                    await anyio.sleep(0.2)
            group.cancel_scope.cancel()
            cancelled_at = time.monotonic()
        assert time.monotonic() - cancelled_at < 15, "the call ran on after it was cancelled"
        pid = int(pid_file.read_text())
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert not _alive(pid), "the cancelled validation's run_eval.py is still running"
        # The server is still usable after the cancellation.
        assert not (await client.call_tool("list_experiments", {})).is_error
    assert not (suite.root / "state" / "validation_results.json").exists()
