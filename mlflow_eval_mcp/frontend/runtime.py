"""What an operation needs from the front end that runs it, resolved once per call: the settings,
the tracking store, the suite directory, Claude, and where progress is reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mlflow_eval_mcp.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession, Generation
    from mlflow_eval_mcp.suite.layout import SuiteLayout

Counter = Callable[[int, int | None], None]
"""`counter(done, total)`: `total` is None while it is not known yet."""


class Progress(Protocol):
    """Where an operation's progress goes: an MCP client's progress notifications, or a terminal."""

    def counter(self, unit: str) -> Counter:
        """A counter of `unit` (e.g. "traces analysed")."""
        ...

    def steps(self, names: Sequence[str]) -> Callable[[str], None]:
        """Reports the start of each of the steps `names`, in order."""
        ...


@dataclass
class Runtime:
    settings: Settings
    progress: Progress
    tracking_uri: str | None = None
    """This call's tracking URI; None: the settings'."""
    create_store: bool = False
    """Whether a missing sqlite store may be created (importing), rather than be an error."""
    _client: MlflowClient | None = field(default=None, init=False, repr=False)

    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow_eval_mcp.tracking import open_client

            uri = self.settings.check(self.tracking_uri, create_store=self.create_store)
            self._client = open_client(uri, self.settings.connect_timeout_s)
        return self._client

    def suite(self, suite_dir: str | None, default_name: str = "suite") -> SuiteLayout:
        from mlflow_eval_mcp.suite.layout import SuiteLayout

        return SuiteLayout.resolve(suite_dir, workspace=self.settings.workspace, default_name=default_name)

    def claude(self, generation: Generation) -> ClaudeSession | None:
        from mlflow_eval_mcp.claude.session import open_claude

        return open_claude(self.settings, generation)
