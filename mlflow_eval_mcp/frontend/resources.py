"""MCP resources: the skills (the knowledge the prompts are built from), and the state of each
suite in the workspace, so a client can read an analysis or validation without a tool call."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from mlflow_eval_mcp import skills
from mlflow_eval_mcp.settings import Settings
from mlflow_eval_mcp.suite.layout import (
    ANALYSIS_FILE,
    CASES_FILE,
    SCORER_CONFIG_FILE,
    TASKS_FILE,
    VALIDATION_FILE,
)

SUITE_FILES: dict[str, tuple[str, str, str]] = {
    # resource -> (file in the suite, MIME type, description)
    "analysis": (ANALYSIS_FILE, "application/json", "The suite's trace analysis (findings with trace ids)."),
    "dataset": (CASES_FILE, "application/jsonl", "The suite's evaluation cases, one JSON object per line."),
    "scorers": (SCORER_CONFIG_FILE, "application/json", "Which scorers the suite runs, and why."),
    "validation": (VALIDATION_FILE, "application/json", "The last validate_eval result."),
}
_SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def register_resources(server: MCPServer, settings: Settings) -> None:
    _register_skills(server)
    suites = settings.workspace.expanduser() / "suites"

    @server.resource(
        "suite://index",
        name="suites",
        title="Suites in the workspace",
        description="The suite directories under WORKSPACE/suites, with each step's status.",
        mime_type="application/json",
    )
    def suite_index() -> str:
        return json.dumps(_index(suites), indent=2)

    for resource, (relative, mime_type, description) in SUITE_FILES.items():
        _register_suite_file(server, suites, resource, relative, mime_type, description)


def _register_skills(server: MCPServer) -> None:
    for info in skills.describe_skills():
        server.resource(
            info.uri,
            name=info.name,
            title=f"Skill: {info.name}",
            description=info.description,
            mime_type="text/markdown",
        )(_reader(lambda name=info.name: skills.read_skill(name)))
        for reference in info.references:
            server.resource(
                f"{info.uri}/references/{reference}",
                name=f"{info.name}/{reference}",
                title=f"{info.name}: {reference}",
                mime_type="text/markdown",
            )(_reader(lambda name=info.name, reference=reference: skills.read_reference(name, reference)))


def _reader(read: Callable[[], str]) -> Callable[[], str]:
    """A handler without parameters (the SDK maps handler parameters to URI variables)."""

    def handler() -> str:
        return read()

    return handler


def _register_suite_file(
    server: MCPServer, suites: Path, resource: str, relative: str, mime_type: str, description: str
) -> None:
    def read(suite: str) -> str:
        return _suite_file(suites, suite, relative)

    server.resource(
        f"suite://{{suite}}/{resource}",
        name=f"suite-{resource}",
        title=f"Suite {resource}",
        description=f"{description} `suite` is a directory name under WORKSPACE/suites (see suite://index).",
        mime_type=mime_type,
    )(read)


def _suite_file(suites: Path, suite: str, relative: str) -> str:
    root = suites / suite
    if not _SUITE_NAME.match(suite) or not (root / TASKS_FILE).is_file():
        known = ", ".join(entry["suite"] for entry in _index(suites)) or "none yet"
        raise ResourceNotFoundError(f"No suite {suite!r} under {suites}; the suites are: {known}.")
    path = root / relative
    if not path.is_file():
        raise ResourceNotFoundError(
            f"Suite {suite!r} has no {relative} yet; run the step that writes it (see eval_tasks.json)."
        )
    return path.read_text(encoding="utf-8")


def _index(suites: Path) -> list[dict[str, object]]:
    entries = []
    for tasks_file in sorted(suites.glob(f"*/{TASKS_FILE}")) if suites.is_dir() else []:
        try:
            tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        entries.append(
            {
                "suite": tasks_file.parent.name,
                "path": str(tasks_file.parent),
                "experiment": tasks.get("experiment_name"),
                "steps": {step["name"]: step["status"] for step in tasks.get("steps", [])},
            }
        )
    return entries
