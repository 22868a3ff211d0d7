"""Where a suite's files live, and the rule that every write stays inside the suite directory.

A suite directory is the state shared by the tools: any step can be re-run or resumed from an MCP
client or the CLI by naming the same directory.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError, clip, shown
from mlflow_eval_mcp.next_steps import suggest

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
_LISTED_SUITES = 20


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
    # WORKSPACE/suites, to list the suites that exist when a caller names one that does not.
    suites: Path | None = field(default=None, compare=False)

    @classmethod
    def resolve(cls, suite_dir: str | Path | None, *, workspace: Path, default_name: str) -> SuiteLayout:
        """The suite directory a caller named: absolute as given; relative ones, and the default
        (`WORKSPACE/suites/<default_name>`), under the workspace, since an MCP server's working
        directory is not the caller's."""
        suites = workspace.expanduser() / "suites"
        if suite_dir is None or not str(suite_dir).strip():
            path = suites / slug(default_name)
        else:
            given = Path(str(suite_dir).strip()).expanduser()
            if ".." in given.parts:
                raise InvalidArgumentError(
                    f"suite_dir {shown(str(suite_dir))} contains '..'; give a plain or absolute path."
                )
            path = given if given.is_absolute() else suites / given
        root = path.resolve()
        _refuse_symlink_out(path, root, suites)
        if root.exists() and not root.is_dir():
            raise InvalidArgumentError(f"suite_dir {root} is a file; give a directory (it is created if missing).")
        if root.is_dir() and any(root.iterdir()) and not (root / TASKS_FILE).exists():
            raise InvalidArgumentError(
                f"suite_dir {root} is a non-empty directory that is not a suite (no {TASKS_FILE}); "
                "name a new or empty directory."
            )
        return cls(root, suites)

    def require_existing(self) -> SuiteLayout:
        """This suite, after checking that its directory exists: the steps after analysis read it,
        and a mistyped suite_dir should be named as such, with the suites that do exist."""
        if self.root.is_dir():
            return self
        known = existing_suites(self.suites) if self.suites else []
        listed = ", ".join(known[:_LISTED_SUITES]) + (
            f" and {len(known) - _LISTED_SUITES} more" if len(known) > _LISTED_SUITES else ""
        )
        where = f"the suites in {self.suites} are: {listed}" if known else "there are no suites in the workspace yet"
        raise NotFoundError(
            f"suite_dir {clip(str(self.root))} does not exist; {where} "
            f"({suggest('analyze_traces', experiment_name=..., suite_dir=...)} creates one)."
        )

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


def existing_suites(suites: Path) -> list[str]:
    """The names of the suites in `suites` (directories with a task file), sorted."""
    return sorted(tasks.parent.name for tasks in suites.glob(f"*/{TASKS_FILE}")) if suites.is_dir() else []


def _refuse_symlink_out(path: Path, root: Path, suites: Path) -> None:
    # A symlink may not move a suite away from where its path says it is: a path in
    # WORKSPACE/suites stays in it, whichever component is the link, and the suite directory
    # itself stays in its parent. Links above it (a workspace that is a link, /tmp on macOS) are
    # the user's own layout and are kept.
    lexical = Path(os.path.abspath(path))
    resolved_suites = suites.resolve()
    in_suites = lexical.is_relative_to(os.path.abspath(suites)) or lexical.is_relative_to(resolved_suites)
    if (in_suites and not root.is_relative_to(resolved_suites)) or not root.is_relative_to(lexical.parent.resolve()):
        raise InvalidArgumentError(
            f"suite_dir {lexical} leads through a symlink to {root}, outside "
            f"{resolved_suites if in_suites else lexical.parent}; name the real directory instead."
        )
