"""The skill documents stay true to the installed MLflow: every backticked `mlflow.*` name resolves,
every backticked `MLFLOW_*` environment variable exists, every ```python block compiles (and its
`mlflow` imports and attribute chains resolve), and SKILL.md's References section matches the files.

Names in backticks that start with `mlflow.` are treated as importable APIs; attribute and metadata
keys are written quoted (`"mlflow.trace.user"`), which the checks leave alone.
"""

from __future__ import annotations

import ast
import importlib
import re

import pytest

from mlflow_eval_mcp import skills

API_NAME = re.compile(r"(mlflow(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\(.*)?", re.DOTALL)
ENV_NAME = re.compile(r"(MLFLOW_[A-Z0-9_]+)(?:=.*)?")
BACKTICK_RUN = re.compile(r"`+")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
REFERENCE_ENTRY = re.compile(
    r"^- \*\*references/(?P<name>[\w-]+)\.md\*\*(?P<body>.*?)(?=^- \*\*references/|\Z)", re.MULTILINE | re.DOTALL
)
PYTHON_TAGS = {"python", "py"}
MAX_REFERENCE_LINES = 300
MAX_DOCUMENT_CHARS = 24_000


def _documents() -> list[tuple[str, str | None]]:
    """(skill, reference) pairs; reference None is the skill's SKILL.md."""
    documents: list[tuple[str, str | None]] = []
    for skill in skills.skill_names():
        documents.append((skill, None))
        documents += [(skill, reference) for reference in skills.reference_names(skill)]
    return documents


DOCUMENTS = _documents()
DOCUMENT_IDS = [f"{skill}/{'SKILL.md' if ref is None else f'references/{ref}.md'}" for skill, ref in DOCUMENTS]


def _text(skill: str, reference: str | None) -> str:
    return skills.read_skill(skill) if reference is None else skills.read_reference(skill, reference)


def code_spans(markdown: str) -> list[str]:
    """Contents of inline code spans outside fenced blocks (CommonMark pairing: a run of n backticks
    closes at the next run of exactly n; a span does not cross a blank line)."""
    prose = FENCE.sub("", markdown)
    runs = list(BACKTICK_RUN.finditer(prose))
    spans = []
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opening.group())), None)
        if closing is None:
            i += 1
            continue
        content = prose[opening.end() : runs[closing].start()]
        if "\n\n" in content:
            i += 1
            continue
        spans.append(content.strip())
        i = closing + 1
    return spans


def api_names(markdown: str) -> list[str]:
    return [match.group(1) for span in code_spans(markdown) if (match := API_NAME.fullmatch(span))]


def env_names(markdown: str) -> list[str]:
    return [match.group(1) for span in code_spans(markdown) if (match := ENV_NAME.fullmatch(span))]


def python_blocks(markdown: str) -> list[str]:
    blocks = []
    for match in FENCE.finditer(markdown):
        words = match.group(1).split()
        if words and words[0].lower() in PYTHON_TAGS:
            blocks.append(match.group(2))
    return blocks


def resolves(name: str) -> bool:
    """Import the longest importable module prefix of `name`, then getattr the rest."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                found = getattr(found, attribute)
        except AttributeError:
            return False
        return True
    return False


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def block_api_names(source: str) -> list[str]:
    """The mlflow names a code block imports or uses as `mlflow.a.b` attribute chains."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "mlflow":
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == "mlflow"]
        elif isinstance(node, ast.Attribute) and (dotted := _dotted(node)) and dotted.startswith("mlflow."):
            names.append(dotted)
    return names


def unresolved(names: list[str]) -> list[str]:
    return sorted({name for name in names if not resolves(name)})


def missing_env_vars(names: list[str]) -> list[str]:
    import mlflow.environment_variables as variables

    return sorted({name for name in names if not hasattr(variables, name)})


def references_section(skill_md: str) -> str:
    match = re.search(r"^## References[ \t]*\n(.*?)(?=^## |\Z)", skill_md, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def test_there_is_a_skill_with_references():
    assert "mlflow-evaluation" in skills.skill_names()
    assert skills.reference_names("mlflow-evaluation")


@pytest.mark.parametrize("skill", skills.skill_names())
def test_frontmatter_names_the_skill(skill):
    fields = skills.frontmatter(skills.read_skill(skill))
    assert fields.get("name") == skill
    assert fields.get("description"), f"{skill}/SKILL.md has no description in its frontmatter"
    described = {info.name: info for info in skills.describe_skills()}
    assert described[skill].description == fields["description"]
    assert described[skill].references == skills.reference_names(skill)


@pytest.mark.parametrize("skill", skills.skill_names())
def test_references_section_lists_exactly_the_reference_files(skill):
    section = references_section(skills.read_skill(skill))
    entries = {match.group("name"): match.group("body") for match in REFERENCE_ENTRY.finditer(section)}
    listed = re.findall(r"references/([\w-]+)\.md", section)
    assert len(listed) == len(set(listed)), f"a reference is listed twice: {listed}"
    assert set(listed) == set(entries), "every reference must be a '- **references/<name>.md**' entry"
    files = set(skills.reference_names(skill))
    assert not set(listed) - files, f"listed but missing: {sorted(set(listed) - files)}"
    assert not files - set(listed), f"not listed in the References section: {sorted(files - set(listed))}"
    for name, body in entries.items():
        assert "When to read:" in body and "Contains:" in body, f"{name}: needs 'When to read:' and 'Contains:'"


@pytest.mark.parametrize(("skill", "reference"), DOCUMENTS, ids=DOCUMENT_IDS)
def test_backticked_mlflow_names_resolve(skill, reference):
    text = _text(skill, reference)
    assert not unresolved(api_names(text)), f"not in the installed MLflow: {unresolved(api_names(text))}"
    missing = missing_env_vars(env_names(text))
    assert not missing, f"not in mlflow.environment_variables: {missing}"


@pytest.mark.parametrize(("skill", "reference"), DOCUMENTS, ids=DOCUMENT_IDS)
def test_python_blocks_compile_and_their_mlflow_names_resolve(skill, reference):
    for index, source in enumerate(python_blocks(_text(skill, reference))):
        name = f"{skill}/{reference or 'SKILL'}.md, python block {index}"
        try:
            compile(source, name, "exec")
        except SyntaxError as error:
            pytest.fail(f"{name} does not compile: line {error.lineno}: {error.msg}")
        assert not unresolved(block_api_names(source)), f"{name}: {unresolved(block_api_names(source))}"


@pytest.mark.parametrize(("skill", "reference"), [d for d in DOCUMENTS if d[1]], ids=DOCUMENT_IDS[1:])
def test_references_stay_compact(skill, reference):
    """They are put into prompts whole."""
    text = _text(skill, reference)
    assert len(text.splitlines()) <= MAX_REFERENCE_LINES
    assert len(text) <= MAX_DOCUMENT_CHARS


def test_the_checks_can_fail():
    assert resolves("mlflow.genai.scorers.Guidelines")
    assert resolves("mlflow.entities.Trace.from_dict")
    assert not resolves("mlflow.genai.scorers.NoSuchJudge")
    assert not resolves("mlflow.no_such_module.thing")

    sample = (
        "Use `mlflow.genai.scorers.NoSuchJudge(name=)` or `mlflow.genai.evaluate`; keys such as\n"
        "``metadata.`mlflow.trace.user` = 'u1'`` and `\"mlflow.traceName\"` are not APIs.\n"
        "Set `MLFLOW_NO_SUCH_SETTING=1` and `MLFLOW_GENAI_EVAL_MAX_WORKERS`.\n\n"
        "```python\ndef broken(:\n    pass\n```\n\n"
        "```text\nnot python at all (\n```\n\n"
        "```python\nfrom mlflow.genai.scorers import NoSuchJudge\nimport mlflow\nmlflow.no_such_api()\n```\n"
    )
    assert api_names(sample) == ["mlflow.genai.scorers.NoSuchJudge", "mlflow.genai.evaluate"]
    assert unresolved(api_names(sample)) == ["mlflow.genai.scorers.NoSuchJudge"]
    assert missing_env_vars(env_names(sample)) == ["MLFLOW_NO_SUCH_SETTING"]

    blocks = python_blocks(sample)
    assert len(blocks) == 2
    with pytest.raises(SyntaxError):
        compile(blocks[0], "broken", "exec")
    assert unresolved(block_api_names(blocks[1])) == ["mlflow.genai.scorers.NoSuchJudge", "mlflow.no_such_api"]

    skill_md = "## References\n- **references/a.md**\n  - When to read: x\n  - Contains: y\n## Other\n"
    assert [m.group("name") for m in REFERENCE_ENTRY.finditer(references_section(skill_md))] == ["a"]
    assert references_section("# no section\n") == ""
