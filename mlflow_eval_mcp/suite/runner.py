"""Running a suite's `run_eval.py`, or the probe (`templates/probe.py`, run from the package, never
copied into suites), in a subprocess: a minimal environment, a timeout after which the whole
process group is killed, and the JSON they write read back and checked against `suite.reports`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field

from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.layout import EVALUATION_DIR, SuiteLayout
from mlflow_eval_mcp.suite.reports import ProbeFailure, RunResult

RESULT_FILE = "evaluation/results/latest.json"
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
# What a run may need and nothing else: the tracking server's and artifact stores' credentials,
# judge providers' keys, proxies. Not the caller's whole environment.
_PASSED_PREFIXES = (
    "MLFLOW_",
    "DATABRICKS_",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "MISTRAL_",
    "GROQ_",
    "DEEPSEEK_",
    "XAI_",
    "TOGETHER",
    "OPENROUTER_",
    "COHERE_",
    "LITELLM_",
    "DSPY_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


class SuiteRun(BaseModel):
    exit_code: int | None = Field(description="run_eval.py's exit code; None when it was killed at the timeout.")
    timed_out: bool
    seconds: float
    result: RunResult | None = Field(
        description="The result run_eval.py wrote; None when it wrote none that reads as one."
    )
    stderr_tail: str = Field(description="The end of its error output, for diagnosis.")


def run_suite(
    suite: SuiteLayout, *, tracking_uri: str, args: list[str] | None = None, timeout_s: float = 600
) -> SuiteRun:
    """Run `evaluation/run_eval.py` against `tracking_uri` with `args`, killing it after `timeout_s`."""
    output = suite.path(RESULT_FILE)
    output.unlink(missing_ok=True)
    arguments = ["--output", str(output), *(args or [])]
    finished = run_suite_script(suite, "run_eval.py", tracking_uri=tracking_uri, args=arguments, timeout_s=timeout_s)
    return SuiteRun(
        exit_code=finished.exit_code,
        timed_out=finished.timed_out,
        seconds=finished.seconds,
        result=None if finished.timed_out else read_result(output),
        stderr_tail=finished.stderr_tail,
    )


@dataclass(frozen=True)
class FinishedScript:
    exit_code: int | None
    timed_out: bool
    seconds: float
    stderr_tail: str


def run_suite_script(
    suite: SuiteLayout, script_name: str, *, tracking_uri: str, args: list[str], timeout_s: float
) -> FinishedScript:
    """`evaluation/<script_name>` in a fresh interpreter, in the suite directory, with only the
    environment a run needs and `tracking_uri`; killed, with anything it started, after `timeout_s`."""
    script = suite.path(f"{EVALUATION_DIR}/{script_name}")
    if not script.exists():
        raise InvalidArgumentError(
            f"{script} does not exist; run {suggest('render_run_script', suite_dir=str(suite.root))} first."
        )
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _PASSED_THROUGH or name.startswith(_PASSED_PREFIXES)
    }
    env.update({"MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    started = time.perf_counter()
    # A new session, so that a timeout kills the script and anything it started.
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=suite.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stderr, timed_out = _wait(process, timeout_s)
    return FinishedScript(
        exit_code=None if timed_out else process.returncode,
        timed_out=timed_out,
        seconds=round(time.perf_counter() - started, 2),
        stderr_tail=_tail(stderr or ""),
    )


def read_result(path: Path) -> RunResult | None:
    """The result `run_eval.py` wrote to `path`; None when there is none, or what is there is not one."""
    try:
        return RunResult.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


ReportT = TypeVar("ReportT", bound=BaseModel)


def run_probe(
    suite: SuiteLayout, report: type[ReportT], *, args: list[str] | None = None, timeout_s: float = 120
) -> ReportT | ProbeFailure:
    """`probe.py` on the suite in a fresh interpreter: its JSON report as `report` (the model of
    the mode `args` choose), or a ProbeFailure when it did not finish or printed no such report."""
    script = resources.files("mlflow_eval_mcp.suite.templates").joinpath("probe.py")
    evaluation = suite.path(EVALUATION_DIR)
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    process = subprocess.Popen(
        [sys.executable, str(script), str(evaluation), *(args or [])],
        cwd=evaluation,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false"},
        start_new_session=True,
    )
    stdout: list[str] = []
    stderr, timed_out = _wait(process, timeout_s, stdout)
    if timed_out:
        return ProbeFailure(timeout_s=timeout_s)
    try:
        return report.model_validate(json.loads("".join(stdout).strip().splitlines()[-1]))
    except (IndexError, ValueError):  # pydantic's ValidationError is a ValueError
        return ProbeFailure(stderr=stderr.strip()[-1500:])


def _wait(process: subprocess.Popen[str], timeout_s: float, stdout: list[str] | None = None) -> tuple[str, bool]:
    """Wait for `process` (stderr, and whether it timed out), checking for cancellation twice a
    second. Its whole process group is killed at the end: on a timeout, a cancellation, and after
    a normal exit too, so no descendant outlives the call."""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                out, err = process.communicate(timeout=max(0.01, min(0.5, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _kill(process)
                    out, err = process.communicate()
                    return err or "", True
                raise_if_cancelled()
                continue
            if stdout is not None:
                stdout.append(out or "")
            return err or "", False
    finally:
        _kill(process)


def _kill(process: subprocess.Popen[str]) -> None:
    """Kill the whole process group: a child that exited may have left descendants holding its pipes."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
