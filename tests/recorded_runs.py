"""Support-agent runs recorded with MLflow's own tracing API (`mlflow.start_span`) into a real
sqlite store and read back as MLflow `Trace`s, for tests of the checks that compare runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.entities import Trace
from mlflow.entities.trace_location import MlflowExperimentLocation
from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class ToolStep:
    """One tool call of a run: it returns `result`, or raises `raises` (a TimeoutError's message)."""

    name: str
    arguments: dict[str, Any]
    result: Any = None
    raises: str | None = None


@dataclass(frozen=True)
class Run:
    """What an agent was asked, what it did and what it answered (None: the agent returned nothing)."""

    request: str
    answer: str | None
    tools: Sequence[ToolStep] = ()
    retrieved: Sequence[str] = ()
    """Documents a retriever returned before the tools ran."""
    system: str = "You are the support agent of an online shop."


class Recorder:
    """Records `Run`s into one experiment of a sqlite store, each as a trace MLflow wrote itself."""

    def __init__(self, store_uri: str, experiment_id: str) -> None:
        self.destination = MlflowExperimentLocation(experiment_id)
        self.client = MlflowClient(tracking_uri=store_uri)

    def record(self, run: Run) -> Trace:
        with mlflow.start_span("support_agent", span_type="AGENT", trace_destination=self.destination) as root:
            root.set_inputs({"question": run.request})
            if run.retrieved:
                with mlflow.start_span("search_help_center", span_type="RETRIEVER") as retriever:
                    retriever.set_inputs({"query": run.request})
                    retriever.set_outputs(
                        [
                            {"page_content": text, "metadata": {"doc_uri": f"kb/{number}"}}
                            for number, text in enumerate(run.retrieved)
                        ]
                    )
            for step in run.tools:
                _call(step)
            with mlflow.start_span("answer", span_type="CHAT_MODEL") as model:
                model.set_inputs(
                    {"messages": [{"role": "system", "content": run.system}, {"role": "user", "content": run.request}]}
                )
                model.set_outputs({"role": "assistant", "content": run.answer})
            root.set_outputs(run.answer)
            trace_id = root.trace_id
        return self.client.get_trace(trace_id)


def _call(step: ToolStep) -> None:
    try:
        with mlflow.start_span(step.name, span_type="TOOL") as tool:
            tool.set_inputs(step.arguments)
            if step.raises is not None:
                raise TimeoutError(step.raises)
            tool.set_outputs(step.result)
    except TimeoutError:
        pass  # the agent carries on, as agents do when a tool fails


@contextmanager
def recorder_in(template_db: Path, directory: Path) -> Iterator[Recorder]:
    """A recorder into a copy of the migrated template store in `directory`. MLflow's process-wide
    tracking URI points at it only while the block runs."""
    path = directory / "mlflow.db"
    shutil.copy(template_db, path)
    store_uri = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as patch:
        # Synchronous export: each trace is in the store when its root span ends.
        patch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        patch.setenv("MLFLOW_TRACKING_URI", store_uri)
        mlflow.set_tracking_uri(store_uri)
        try:
            experiment_id = MlflowClient(tracking_uri=store_uri).create_experiment("support-agent")
            yield Recorder(store_uri, experiment_id)
        finally:
            mlflow.set_tracking_uri(None)


def recorded(template_db: Path, directory: Path, runs: dict[str, Run]) -> dict[str, Trace]:
    """Each of `runs` recorded as a real trace, by name."""
    with recorder_in(template_db, directory) as recorder:
        return {name: recorder.record(run) for name, run in runs.items()}
