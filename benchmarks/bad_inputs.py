"""Bad inputs: every argument of every tool, broken in every way a model or a user might break it, sent
through the MCP protocol (JSON-RPC over in-memory streams) to a server on a small seeded workspace.

Each answer is classified:
  clear    a tool error of one or two sentences, under 600 characters, with no pydantic dump, traceback,
           bare "Error executing tool", planted secret or long echo of the input; or a success on input
           that may be acceptable (an empty filter, a missing suite directory that is created, ...);
  unclear  anything else, including success on input that is invalid whatever the tool does with it;
  hang     no answer within the time limit (invalid input should be refused before any real work starts);
  crash    the session died (a new one is opened and the matrix goes on).

A call that freezes the whole interpreter (C code holding the GIL, so that no time limit can fire) for 30 s
ends the run with the call named and every thread's stack on stderr: the one hang this report cannot count.

Tools and argument schemas come from tools/list, so new tools and arguments are covered without edits.
No network: only 127.0.0.1 and files under a temporary directory (an audit hook refuses anything else).

Usage (from the repository root): python -m benchmarks.bad_inputs [--timeout 5] [--traces 12] [--verbose]
Prints a table per class of bad input, every unclear answer grouped by cause, and a summary line.
"""

from __future__ import annotations

import argparse
import base64
import faulthandler
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import Client, MCPError
from mcp.types import Tool

from mlflow_eval_mcp.demo.runner import run_demo
from mlflow_eval_mcp.frontend.server import create_server
from mlflow_eval_mcp.settings import Settings
from tests.environment import FOREIGN_ENV

SECRETS = ("SECRETPW", "S3CRETPW1", "SECRETTOK")
BAD_TRACKING_URIS = (
    "sqlite:////etc/passwd",
    "mysql://u:SECRETPW@h/db",
    "ftp://user:S3CRETPW1@127.0.0.1/x",
    "http://127.0.0.1:9/?token=SECRETTOK",
)
BAD_FILTERS = (
    "trace.timestamp_ms > 99999999999999999999",
    "trace.status = ",
    "trace.status = 'OK' OR 1=1; DROP TABLE traces",
)
MEGABYTE = ("bad-input-0123456789-" * 50_000)[: 1024 * 1024]
LONGEST_ANSWER = 600
LONGEST_ECHO = 300
FREEZE_LIMIT = 30
SUITE = "bench"

WRONG_TYPE = "wrong type"
OUT_OF_RANGE = "out of range"
BAD_ENUM = "unknown enum"
EMPTY = "empty string"
NUL = "NUL byte"
HUGE = "1 MB string"
MISSING_ARG = "missing required"
MISSING_TARGET = "missing id/path"
TRAVERSAL = "traversal"
SYMLINK = "symlink out"
PAGE_TOKEN = "tampered page token"
TRACKING_URI = "bad tracking URI"
FILTER = "bad filter"
JUDGE = "bad judge_model"
CLASSES = (
    WRONG_TYPE,
    OUT_OF_RANGE,
    BAD_ENUM,
    EMPTY,
    NUL,
    HUGE,
    MISSING_ARG,
    MISSING_TARGET,
    TRAVERSAL,
    SYMLINK,
    PAGE_TOKEN,
    TRACKING_URI,
    FILTER,
    JUDGE,
)
# No tool can rightly succeed on these, whatever it does with the value; the other classes may be acceptable
# (an empty filter, a suite directory that does not exist yet).
MUST_REJECT = {WRONG_TYPE, OUT_OF_RANGE, BAD_ENUM, NUL, HUGE, MISSING_ARG, TRACKING_URI, JUDGE}

CLEAR, UNCLEAR, HANG, CRASH = "clear", "unclear", "hang", "crash"

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_PREFIX = re.compile(r"^Error executing tool \S+(: )?")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(]|\s*$)")


@dataclass(frozen=True)
class Bench:
    """The seeded workspace: valid values to build on, and things to point bad values at."""

    root: Path
    settings: Settings
    experiment_name: str
    experiment_id: str
    trace_id: str
    run_id: str
    page_token: str
    foreign_page_token: str
    import_file: Path
    pristine_suite: Path

    @property
    def suites(self) -> Path:
        return self.settings.workspace / "suites"

    @property
    def missing(self) -> Path:
        return self.root / "missing"

    def valid(self, name: str) -> Any:
        values: dict[str, Any] = {
            "suite_dir": SUITE,
            "trace_id": self.trace_id,
            "experiment_name": self.experiment_name,
            "experiment_id": self.experiment_id,
            "path": str(self.import_file),
            "generation": "offline",
        }
        return self.run_id if name.endswith("run_id") else values.get(name)

    def reset(self) -> None:
        """Undo what an accepted bad input may have written, so every try starts from the same suite."""
        shutil.rmtree(self.suites / SUITE, ignore_errors=True)
        shutil.copytree(self.pristine_suite, self.suites / SUITE, symlinks=True)
        shutil.rmtree(self.missing, ignore_errors=True)


@dataclass(frozen=True)
class Attempt:
    tool: str
    arg: str
    kind: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    verdict: str
    accepted: bool = False
    cause: str = ""
    text: str = ""


@dataclass
class Report:
    rows: list[tuple[Attempt, Outcome]] = field(default_factory=list)

    def add(self, attempt: Attempt, outcome: Outcome) -> None:
        self.rows.append((attempt, outcome))

    def count(self, verdict: str) -> int:
        return sum(outcome.verdict == verdict for _, outcome in self.rows)


class Session:
    """One in-memory client session, served by its own task so that closing it can be waited for with a time
    limit: a call that ignores cancellation keeps its session open, and the matrix goes on in a new one."""

    def __init__(self, settings: Settings, tasks: TaskGroup) -> None:
        self.settings = settings
        self.client: Client | None = None
        self._tasks = tasks
        self._closing = anyio.Event()
        self._closed = anyio.Event()

    async def open(self) -> Session:
        ready = anyio.Event()
        self._tasks.start_soon(self._serve, ready)
        await ready.wait()
        if self.client is None:
            raise RuntimeError("the MCP client session did not open")
        return self

    async def _serve(self, ready: anyio.Event) -> None:
        try:
            # "legacy" is the initialize handshake and JSON-RPC framing that stdio clients use today.
            async with Client(create_server(self.settings), mode="legacy") as client:
                self.client = client
                ready.set()
                await self._closing.wait()
        except Exception:  # a dead session is reported by the call that finds it dead
            pass
        finally:
            ready.set()
            self._closed.set()

    async def close(self, grace: float) -> float | None:
        """Seconds the session took to close, or None when a call still holds it after `grace` seconds."""
        started = time.perf_counter()
        self._closing.set()
        with anyio.move_on_after(grace):
            await self._closed.wait()
        return time.perf_counter() - started if self._closed.is_set() else None

    async def replace(self, grace: float) -> tuple[Session, float | None]:
        closed_after = await self.close(grace)
        return await Session(self.settings, self._tasks).open(), closed_after

    async def alive(self) -> bool:
        if self.client is None or self._closed.is_set():
            return False
        try:
            with anyio.fail_after(5):
                await self.client.send_ping()
        except Exception:
            return False
        return True


_WATCHDOG = """
import os, select, shutil, signal, sys, time
parent, root, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
label, pending = "", b""
while True:
    ready, _, _ = select.select([0], [], [], limit if label else None)
    if not ready:
        print(f"the server froze for {limit:g} s on {label}; every thread's stack follows", file=sys.stderr, flush=True)
        os.kill(parent, signal.SIGABRT)
        time.sleep(2)
        shutil.rmtree(root, ignore_errors=True)
        break
    chunk = os.read(0, 65536)
    if not chunk:
        break
    *lines, pending = (pending + chunk).split(b"\\n")
    if lines:
        label = lines[-1].decode().strip()
"""


class Watchdog:
    """No time limit can fire while C code (a regular expression, say) holds the GIL. This child process can: a
    call that freezes the whole interpreter for FREEZE_LIMIT seconds is named, every thread's stack is dumped
    (faulthandler, on SIGABRT), the run ends with a non-zero status and the temporary directory is removed."""

    def __init__(self, root: Path) -> None:
        faulthandler.enable()
        arguments = [str(os.getpid()), str(root), str(FREEZE_LIMIT)]
        self._child = subprocess.Popen([sys.executable, "-c", _WATCHDOG, *arguments], stdin=subprocess.PIPE, text=True)

    def arm(self, label: str) -> None:
        self._send(label)

    def disarm(self) -> None:
        self._send("")

    def stop(self) -> None:
        if self._child.poll() is None and self._child.stdin:
            self._child.stdin.close()
        self._child.wait(10)

    def _send(self, line: str) -> None:
        assert self._child.stdin is not None
        self._child.stdin.write(line + "\n")
        self._child.stdin.flush()


class LogCapture(logging.Handler):
    """Every log record, checked for the planted secrets (secrets must not reach logs either)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0
        self.leaks: Counter[str] = Counter()

    def install(self) -> None:
        """Be the only handler of the root logger and of MLflow's (which does not propagate and sets its own
        handler when first imported, so this runs again once MLflow is loaded)."""
        for name in ("", "mlflow"):
            logging.getLogger(name).handlers = [self]
        logging.getLogger().setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for secret in SECRETS:
            if secret in text:
                self.leaks[record.name] += 1


def refuse_network(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: any name lookup or connection beyond the loopback interface fails instead of leaving."""
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is not None and host not in _LOOPBACK:
        raise OSError(f"the bad-input benchmark refuses network access to {host}")


def _types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {option["type"] for option in options if "type" in option} - {"null"}


def _enum(schema: dict[str, Any]) -> list[Any]:
    return [value for option in schema.get("anyOf", [schema]) for value in option.get("enum", [])]


def _is_path(name: str) -> bool:
    return name == "path" or name.endswith(("_dir", "_path"))


def bad_values(name: str, schema: dict[str, Any], bench: Bench) -> Iterator[tuple[str, Any]]:
    """(class, value) for one argument, from its schema and, for ids and paths, its name."""
    types, enum = _types(schema), _enum(schema)
    created_if_missing = "created if missing" in schema.get("description", "")
    if enum:
        yield WRONG_TYPE, 7
        yield BAD_ENUM, "bogus"
        return
    if types & {"integer", "number"}:
        yield WRONG_TYPE, "ten"
        low, high = schema.get("minimum"), schema.get("maximum")
        yield OUT_OF_RANGE, -1 if low is None else low - 1
        yield OUT_OF_RANGE, 10**30 if high is None else high + 1
    if "boolean" in types:
        yield WRONG_TYPE, "maybe"
    if "object" in types:
        yield WRONG_TYPE, ["not", "an", "object"]
        yield OUT_OF_RANGE, {"trace_succeeded": 7.5}
        yield MISSING_TARGET, {"no_such_scorer": 0.5}
        yield NUL, {"trace\x00succeeded": 0.5}
        yield HUGE, {MEGABYTE: 0.5}
    if "array" in types:
        yield WRONG_TYPE, 42
        yield EMPTY, [""]
        yield NUL, ["timestamp_ms\x00 DESC"]
        yield HUGE, [MEGABYTE]
        yield MISSING_TARGET, ["no_such_field DESC"]
    if "string" not in types:
        return
    valid = bench.valid(name) or "value"
    yield WRONG_TYPE, 12345
    yield EMPTY, ""
    yield NUL, f"{valid}\x00tail"
    yield HUGE, MEGABYTE
    if not created_if_missing:
        for value in _missing_targets(name, bench):
            yield MISSING_TARGET, value
    if _is_path(name) or name == "predict_fn":
        yield TRAVERSAL, "../../etc" + ("/agent.py:predict" if name == "predict_fn" else "")
    if name.endswith("_dir"):
        yield SYMLINK, "escape"
    elif _is_path(name):
        yield SYMLINK, str(bench.settings.workspace / "escape.jsonl")
    if name == "page_token":
        token, middle = bench.page_token, len(bench.page_token) // 2
        edited = token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :]
        forged = base64.urlsafe_b64encode(json.dumps({"q": "0", "b": True, "t": "AA==", "c": "0"}).encode()).decode()
        for value in (edited, token[:middle], "not-a-token", forged, bench.foreign_page_token):
            yield PAGE_TOKEN, value
    if name == "tracking_uri":
        for value in BAD_TRACKING_URIS:
            yield TRACKING_URI, value
    if name == "filter_string":
        for value in BAD_FILTERS:
            yield FILTER, value
    if name == "judge_model":
        yield JUDGE, "not-a-uri"


def _missing_targets(name: str, bench: Bench) -> list[str]:
    if name == "trace_id":
        return ["tr-" + "0" * 32]
    if name == "experiment_id":
        return ["987654321"]
    if name.endswith("run_id"):
        return ["0123456789abcdef0123456789abcdef"]
    if name == "experiment_name":
        return ["no-such-experiment"]
    if name.endswith("_dir"):
        return [str(bench.missing / "suite")]
    if _is_path(name):
        return [str(bench.missing / "traces.jsonl")]
    if name == "predict_fn":
        return ["no_such_module_xyz:predict", f"{bench.missing / 'agent.py'}:predict"]
    if name == "tracking_uri":
        return ["http://127.0.0.1:9"]  # the discard port: nothing answers there
    return []


def attempts(tool: Tool, bench: Bench) -> Iterator[Attempt]:
    properties: dict[str, dict[str, Any]] = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    # Everything a try does not break is valid, so that the answer is about the broken argument alone.
    baseline = {
        name: bench.valid(name)
        for name in properties
        if bench.valid(name) is not None and (name in required or name in ("experiment_name", "generation"))
    }
    if tool.name == "validate_eval":
        baseline["timeout_s"] = properties["timeout_s"].get("minimum", 10)
    for name in sorted(required):
        yield Attempt(tool.name, name, MISSING_ARG, {k: v for k, v in baseline.items() if k != name})
    read_only = bool(tool.annotations and tool.annotations.read_only_hint)
    for name, schema in properties.items():
        # experiment_id and experiment_name name the same thing; breaking one must not leave the other set.
        siblings = {"experiment_id", "experiment_name"} - {name} if name.startswith("experiment_") else set()
        base = {k: v for k, v in baseline.items() if k not in siblings}
        # An empty optional argument reads as the default: a valid call, which a writer answers by doing its
        # real (possibly long) work, so it is only tried on the read-only tools.
        means_default = name not in required and schema.get("default", "") is None and not read_only
        for kind, value in bad_values(name, schema, bench):
            if not (kind == EMPTY and means_default):
                yield Attempt(tool.name, name, kind, {**base, name: value})


async def try_one(session: Session, attempt: Attempt, timeout: float, watchdog: Watchdog) -> tuple[Outcome, Session]:
    """The answer to one attempt, and the session to go on with (a new one after a hang or a crash)."""
    assert session.client is not None
    watchdog.arm(f"{attempt.tool}.{attempt.arg} [{attempt.kind}]")
    try:
        with anyio.fail_after(timeout):
            result = await session.client.call_tool(attempt.tool, attempt.arguments)
    except TimeoutError:
        session, closed_after = await session.replace(grace=timeout)
        stopped = (
            f"the cancelled call stopped {closed_after:.1f} s later"
            if closed_after is not None
            else f"the cancelled call was still running {timeout:g} s later (left running)"
        )
        return Outcome(HANG, cause=f"no answer within {timeout:g} s", text=stopped), session
    except MCPError as error:
        text = f"JSON-RPC error {error.error.code}: {error.error.message}"
        return classify(attempt, is_error=True, text=text), session
    except Exception as error:
        if not await session.alive():
            session, _ = await session.replace(grace=timeout)
            return Outcome(CRASH, cause=f"session died: {type(error).__name__}", text=str(error)), session
        return Outcome(UNCLEAR, cause=f"client-side {type(error).__name__}", text=str(error)), session
    finally:
        watchdog.disarm()
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return classify(attempt, is_error=result.is_error, text=text), session


def classify(attempt: Attempt, *, is_error: bool, text: str) -> Outcome:
    secret = next((secret for secret in SECRETS if secret in text), None)
    if secret:
        return Outcome(UNCLEAR, not is_error, f"planted secret {secret} in the answer", text)
    if not is_error:
        if attempt.kind in MUST_REJECT:
            return Outcome(UNCLEAR, True, "accepted invalid input", text)
        return Outcome(CLEAR, True, text=text)
    message = _PREFIX.sub("", text, count=1)
    for cause, failed in (
        ("bare 'Error executing tool' (an unexpected exception in the tool)", not message.strip()),
        ("pydantic validation dump", "validation error for" in text or "errors.pydantic.dev" in text),
        ("traceback", "Traceback" in text),
        (f"echoes over {LONGEST_ECHO} characters of the input", _echoes(text, attempt.arguments)),
        (f"longer than {LONGEST_ANSWER} characters", len(text) > LONGEST_ANSWER),
        ("more than two sentences", _sentences(message) > 2),
    ):
        if failed:
            return Outcome(UNCLEAR, cause=cause, text=text)
    return Outcome(CLEAR, text=text)


def _echoes(text: str, arguments: dict[str, Any]) -> bool:
    """Whether the answer holds a long run of some input string: a window of half the limit, taken at every
    half-limit step of the answer, lies inside any common run of the full limit."""
    step = LONGEST_ECHO // 2
    inputs = [value for value in _strings(arguments) if len(value) >= LONGEST_ECHO]
    head = text[:4000]
    windows = [head[start : start + step] for start in range(0, max(len(head) - step, 0) + 1, step)]
    return any(len(window) == step and window in value for value in inputs for window in windows)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _sentences(message: str) -> int:
    bare = _QUOTED.sub("Q", message.replace("e.g.", "eg").replace("i.e.", "ie")).strip()
    lines = [line for line in bare.splitlines() if line.strip()]
    ends = len(_SENTENCE_END.findall(bare)) + (0 if bare.endswith((".", "!", "?")) else 1)
    return max(ends, len(lines))


async def seed(root: Path, n_traces: int) -> Bench:
    """A workspace with demo traces, a suite generated and validated through the tools, and files to point at."""
    workspace = root / "a" / "b" / "workspace"  # deep, so that '../..' from it stays inside the temporary root
    settings = Settings(workspace=workspace)
    settings.check()
    demo = run_demo(settings, n_traces=n_traces)
    outside = root / "outside"
    outside.mkdir()
    (outside / "notes.jsonl").write_text(json.dumps({"api_key": "SECRETTOK", "note": "not a trace"}) + "\n")
    import_file = root / "chat.jsonl"
    conversation = [{"role": "user", "content": "Where is order 7?"}, {"role": "assistant", "content": "Shipped."}]
    import_file.write_text(json.dumps({"messages": conversation}) + "\n")
    async with Client(create_server(settings), mode="legacy") as client:
        experiment = {"experiment_id": demo.experiment_id}
        first = await _setup_call(client, "search_traces", {**experiment, "max_results": 2})
        foreign = await _setup_call(
            client, "search_traces", {**experiment, "max_results": 2, "filter_string": "trace.status = 'OK'"}
        )
        await _setup_call(client, "generate_suite", {**experiment, "suite_dir": SUITE, "generation": "offline"})
        validation = await _setup_call(client, "validate_eval", {"suite_dir": SUITE, "generation": "offline"})
    latest = json.loads((workspace / "suites" / SUITE / "evaluation" / "results" / "latest.json").read_text())
    pristine = root / "pristine-suite"
    shutil.copytree(workspace / "suites" / SUITE, pristine, symlinks=True)
    (workspace / "suites" / "escape").symlink_to(outside, target_is_directory=True)
    (workspace / "escape.jsonl").symlink_to(outside / "notes.jsonl")
    print(f"setup: validation {validation['status']}, evaluation run {latest['run_id']}")
    return Bench(
        root=root,
        settings=settings,
        experiment_name=demo.experiment_name,
        experiment_id=demo.experiment_id,
        trace_id=first["traces"][0]["trace_id"],
        run_id=latest["run_id"],
        page_token=first["next_page_token"],
        foreign_page_token=foreign["next_page_token"],
        import_file=import_file,
        pristine_suite=pristine,
    )


async def _setup_call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(600):
        result = await client.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        raise SystemExit(f"setup failed: {tool}: {result.content[0].text if result.content else result}")
    return result.structured_content


async def run_matrix(
    bench: Bench, timeout: float, verbose: bool, watchdog: Watchdog, publish: Callable[[Report], None]
) -> None:
    report = Report()
    async with anyio.create_task_group() as tasks:
        session = await Session(bench.settings, tasks).open()
        assert session.client is not None
        tools = (await session.client.list_tools()).tools
        print(f"{len(tools)} tools: {', '.join(tool.name for tool in tools)}")
        for tool in tools:
            for attempt in attempts(tool, bench):
                bench.reset()
                outcome, session = await try_one(session, attempt, timeout, watchdog)
                report.add(attempt, outcome)
                if verbose:
                    print(f"{outcome.verdict:>7} {attempt.tool}.{attempt.arg} [{attempt.kind}]: {_shown(outcome.text)}")
        await session.close(grace=timeout)
        # Before the task group waits for sessions whose calls never stopped.
        publish(report)


def _shown(text: str, limit: int = 200) -> str:
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text[:limit])


def print_report(report: Report, timeout: float, logs: LogCapture, blocked: int) -> None:
    by_class: dict[str, Counter[str]] = defaultdict(Counter)
    for attempt, outcome in report.rows:
        counts = by_class[attempt.kind]
        counts["tries"] += 1
        counts[outcome.verdict] += 1
        counts["accepted"] += outcome.verdict == CLEAR and outcome.accepted
    columns = ("tries", CLEAR, "accepted", UNCLEAR, HANG, CRASH)
    print(f"\n{'class':<22}" + "".join(f"{column:>10}" for column in columns))
    for kind in CLASSES:
        if kind in by_class:
            print(f"{kind:<22}" + "".join(f"{by_class[kind][column]:>10}" for column in columns))
    print("(accepted: a clear success on input that may be acceptable, counted in clear)")
    problems: dict[str, list[tuple[Attempt, Outcome]]] = defaultdict(list)
    for attempt, outcome in report.rows:
        if outcome.verdict != CLEAR:
            problems[f"{outcome.verdict}: {outcome.cause}"].append((attempt, outcome))
    for cause, rows in sorted(problems.items(), key=lambda item: -len(item[1])):
        print(f"\n== {cause} ({len(rows)})")
        for attempt, outcome in rows:
            print(f"  {attempt.tool}.{attempt.arg} [{attempt.kind}]: {_shown(outcome.text)}")
    leaks = sum(logs.leaks.values())
    loggers = ", ".join(sorted(logs.leaks)) or "none"
    print(f"\nlog records: {logs.records}, with a planted secret: {leaks} (loggers: {loggers})")
    print(f"network accesses refused: {blocked}")
    print(
        f"bad inputs: {len(report.rows)} tries, {report.count(CLEAR)} clear, {report.count(UNCLEAR)} unclear, "
        f"{report.count(HANG)} hangs over {timeout:g} s, {report.count(CRASH)} crashes"
    )


def matrix_in_background(bench: Bench, timeout: float, verbose: bool, watchdog: Watchdog) -> Report:
    """The matrix runs its event loop in a daemon thread, and so do the worker threads it starts: a tool call
    that ignores cancellation cannot keep the report from being printed or the process from exiting."""
    reports: list[Report] = []
    thread = threading.Thread(
        target=anyio.run,
        args=(run_matrix, bench, timeout, verbose, watchdog, reports.append),
        name="matrix",
        daemon=True,
    )
    thread.start()
    while not reports and thread.is_alive():
        thread.join(0.5)
    if not reports:
        raise SystemExit("the matrix failed before it finished; see the traceback above")
    return reports[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a call counts as a hang")
    parser.add_argument("--traces", type=int, default=12, help="demo traces to seed")
    parser.add_argument("--verbose", action="store_true", help="print every answer as it comes")
    args = parser.parse_args()
    for name in FOREIGN_ENV:
        os.environ.pop(name, None)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = os.environ["DO_NOT_TRACK"] = "true"
    blocked: list[str] = []

    def count_refusals(event: str, hook_args: tuple[Any, ...]) -> None:
        try:
            refuse_network(event, hook_args)
        except OSError:
            blocked.append(event)
            raise

    sys.addaudithook(count_refusals)
    logs = LogCapture()
    logs.install()
    started = time.perf_counter()
    cwd = Path.cwd()
    # A call that never stops may still be writing there when the report is printed.
    with tempfile.TemporaryDirectory(prefix="bad-inputs-", ignore_cleanup_errors=True) as temporary:
        root = Path(temporary)
        # Relative paths resolved against the working directory land inside the temporary root too.
        here = root / "a" / "b" / "c" / "d"
        here.mkdir(parents=True)
        watchdog = Watchdog(root)
        os.chdir(here)
        try:
            bench = anyio.run(seed, root, args.traces)
            logs.install()
            seeded = time.perf_counter()
            report = matrix_in_background(bench, args.timeout, args.verbose, watchdog)
        finally:
            watchdog.stop()
            os.chdir(cwd)
    finished = time.perf_counter()
    print(f"setup {seeded - started:.0f} s, matrix {finished - seeded:.0f} s")
    print_report(report, args.timeout, logs, len(blocked))


if __name__ == "__main__":
    main()
