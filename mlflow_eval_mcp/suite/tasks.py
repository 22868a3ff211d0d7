"""`eval_tasks.json`: the suite's steps, what each produced and whether it is current.

Steps run in order (analyze → dataset → scorers → script → validate); a step needs the ones
before it. Re-running a step replaces its outputs and marks the completed steps after it
`stale`, since they were derived from what it replaced.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.layout import TASKS_FILE, SuiteLayout

StepName = Literal["analyze", "dataset", "scorers", "script", "validate"]
STEPS: tuple[StepName, ...] = ("analyze", "dataset", "scorers", "script", "validate")
StepStatus = Literal["pending", "completed", "failed", "stale"]
STEP_TOOLS: dict[StepName, str] = {
    "analyze": "analyze_traces",
    "dataset": "generate_dataset",
    "scorers": "generate_scorers",
    "script": "render_run_script",
    "validate": "validate_eval",
}


def how_to_run(step: StepName) -> str:
    """How to run `step`, for a message that names the suite already: a tool call, or under the CLI
    its command line."""
    return suggest(STEP_TOOLS[step], suite_dir=...)


class Step(BaseModel):
    name: StepName
    status: StepStatus = "pending"
    updated_at: str | None = None
    outputs: list[str] = Field(default_factory=list, description="Files the step wrote, relative to the suite.")
    message: str | None = None


class SuiteTasks(BaseModel):
    suite_id: str
    experiment_id: str | None = None
    experiment_name: str | None = None
    tracking_uri: str | None = None
    steps: list[Step] = Field(default_factory=lambda: [Step(name=name) for name in STEPS])

    def step(self, name: StepName) -> Step:
        return next(step for step in self.steps if step.name == name)


def load_tasks(layout: SuiteLayout) -> SuiteTasks:
    path = layout.path(TASKS_FILE)
    if not path.exists():
        return SuiteTasks(suite_id=layout.name)
    try:
        return SuiteTasks.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as error:
        raise InvalidArgumentError(
            f"{path} is not a valid task file ({str(error).splitlines()[0]}); "
            "fix or delete it to start the suite afresh."
        ) from error


def require(layout: SuiteLayout, *needed: StepName) -> SuiteTasks:
    """The tasks, after checking that every `needed` step and every step before it has completed;
    the error names the first one missing, which is the one to run next."""
    tasks = load_tasks(layout.require_existing())
    for name in STEPS[: max(STEPS.index(step) for step in needed) + 1]:
        if tasks.step(name).status not in ("completed", "stale"):
            raise InvalidArgumentError(
                f"The suite in {layout.root} has no completed '{name}' step yet; run {how_to_run(name)} first."
            )
    return tasks


def record(
    layout: SuiteLayout,
    name: StepName,
    *,
    outputs: list[str],
    status: StepStatus = "completed",
    message: str | None = None,
    experiment: tuple[str, str, str] | None = None,
) -> SuiteTasks:
    """Mark step `name` done (or failed) with its outputs; later completed steps become stale."""
    tasks = load_tasks(layout)
    if experiment is not None:
        tasks.experiment_id, tasks.experiment_name, tasks.tracking_uri = experiment
    step = tasks.step(name)
    step.status, step.outputs, step.message = status, outputs, message
    step.updated_at = datetime.now(tz=UTC).isoformat(timespec="seconds")
    for later in tasks.steps[STEPS.index(name) + 1 :]:
        if later.status == "completed":
            later.status = "stale"
            later.message = f"derived from an earlier '{name}' step; run it again"
    write_json_atomic(layout.path(TASKS_FILE), tasks.model_dump(mode="json"))
    return tasks
