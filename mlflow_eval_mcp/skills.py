"""The knowledge base in `skills/`: read by the MCP resources and built into Claude's prompts.

A wheel carries the folder inside the package (`mlflow_eval_mcp/skills`, see pyproject); a source
checkout or editable install reads the repository's top-level `skills/`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

from mlflow_eval_mcp.errors import NotFoundError

SKILL_FILE = "SKILL.md"
REFERENCES_DIR = "references"
_FRONTMATTER = re.compile(r"\A---\n(?P<body>.*?)\n---\n", re.DOTALL)


class SkillInfo(BaseModel):
    name: str
    description: str
    references: list[str] = Field(description="Names of its reference documents (without .md).")
    uri: str


@cache
def skills_root() -> Path:
    packaged = Path(__file__).resolve().parent / "skills"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "skills"


def skill_names() -> list[str]:
    root = skills_root()
    return sorted(path.parent.name for path in root.glob(f"*/{SKILL_FILE}")) if root.is_dir() else []


def frontmatter(text: str) -> dict[str, str]:
    """The `key: value` lines between the leading `---` fences."""
    match = _FRONTMATTER.match(text)
    if match is None:
        return {}
    fields = {}
    for line in match.group("body").splitlines():
        key, separator, value = line.partition(":")
        if separator:
            fields[key.strip()] = value.strip()
    return fields


def describe_skills() -> list[SkillInfo]:
    described = []
    for name in skill_names():
        fields = frontmatter(read_skill(name))
        described.append(
            SkillInfo(
                name=name,
                description=fields.get("description", ""),
                references=reference_names(name),
                uri=f"skill://{name}",
            )
        )
    return described


def reference_names(skill: str) -> list[str]:
    folder = _skill_dir(skill) / REFERENCES_DIR
    return sorted(path.stem for path in folder.glob("*.md")) if folder.is_dir() else []


def read_skill(skill: str) -> str:
    return (_skill_dir(skill) / SKILL_FILE).read_text(encoding="utf-8")


def read_reference(skill: str, reference: str) -> str:
    if reference not in reference_names(skill):
        raise NotFoundError(
            f"Skill {skill!r} has no reference {reference!r}; it has: {', '.join(reference_names(skill)) or 'none'}."
        )
    return (_skill_dir(skill) / REFERENCES_DIR / f"{reference}.md").read_text(encoding="utf-8")


def _skill_dir(skill: str) -> Path:
    if skill not in skill_names():
        raise NotFoundError(f"No skill named {skill!r}; the skills are: {', '.join(skill_names()) or 'none'}.")
    return skills_root() / skill
