"""Where a suite's files live, and the rule that every write stays inside the suite directory.

A suite directory is the state shared by the tools: any step can be re-run or resumed from an MCP
client or the CLI by naming the same directory.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePath

from mlflow_eval_mcp.errors import InvalidArgumentError

TASKS_FILE = "eval_tasks.json"
ANALYSIS_FILE = "state/analysis.json"
VALIDATION_FILE = "state/validation_results.json"
REVIEW_FILE = "state/review.json"
EVALUATION_DIR = "evaluation"
DATA_DIR = f"{EVALUATION_DIR}/data"
CASES_FILE = f"{DATA_DIR}/cases.jsonl"
TRACES_FILE = f"{DATA_DIR}/traces.jsonl"
SCORER_CONFIG_FILE = f"{DATA_DIR}/scorer_config.json"
GATES_FILE = f"{DATA_DIR}/gates.json"
CHECKS_PACKAGE = f"{EVALUATION_DIR}/mlflow_eval_checks"
GENERATED_SCORERS_FILE = f"{EVALUATION_DIR}/generated_scorers.py"
_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_CHARS = 60


def slug(text: str) -> str:
    """A file-name-safe, lower-case version of `text`; where that loses information (a long or a
    non-Latin name), a short digest of `text` keeps different names apart."""
    cleaned = _SLUG.sub("-", text.lower()).strip("-")
    if cleaned and len(cleaned) <= _SLUG_CHARS:
        return cleaned
    digest = hashlib.blake2b(text.encode(), digest_size=3).hexdigest()
    return f"{cleaned[: _SLUG_CHARS - 7].rstrip('-') or 'suite'}-{digest}"


@dataclass(frozen=True)
class SuiteLayout:
    root: Path

    @classmethod
    def resolve(cls, suite_dir: str | Path | None, *, workspace: Path, default_name: str) -> SuiteLayout:
        """The suite directory a caller named: absolute as given; relative ones, and the default
        (`WORKSPACE/suites/<default_name>`), under the workspace, since an MCP server's working
        directory is not the caller's."""
        if suite_dir is None or not str(suite_dir).strip():
            path = workspace.expanduser() / "suites" / slug(default_name)
        else:
            given = Path(str(suite_dir).strip()).expanduser()
            if ".." in given.parts:
                raise InvalidArgumentError(
                    f"suite_dir {str(suite_dir)!r} contains '..'; give a plain or absolute path."
                )
            path = given if given.is_absolute() else workspace.expanduser() / "suites" / given
        root = path.resolve()
        if root.exists() and not root.is_dir():
            raise InvalidArgumentError(f"suite_dir {root} is a file; give a directory (it is created if missing).")
        if root.is_dir() and any(root.iterdir()) and not (root / TASKS_FILE).exists():
            raise InvalidArgumentError(
                f"suite_dir {root} is a non-empty directory that is not a suite (no {TASKS_FILE}); "
                "name a new or empty directory."
            )
        return cls(root)

    @property
    def name(self) -> str:
        return slug(self.root.name)

    def path(self, relative: str) -> Path:
        """`relative` inside the suite; refuses anything that would land outside it (an absolute
        path, `..`, or a symlink in the suite that points elsewhere)."""
        pure = PurePath(relative)
        if pure.is_absolute() or ".." in pure.parts:
            raise InvalidArgumentError(f"{relative!r} is not a path inside the suite directory.")
        target = (self.root / pure).resolve()
        if not target.is_relative_to(self.root):
            raise InvalidArgumentError(
                f"{self.root / pure} leads outside the suite directory {self.root} (a symlink?); remove the link."
            )
        return target

    def exists(self, relative: str) -> bool:
        return self.path(relative).exists()
