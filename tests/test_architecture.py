"""The layers, read from the code's imports (including those inside functions and TYPE_CHECKING
blocks): front end → steps (suite, importing, demo) → analysis → Claude service → checks and base
modules → store; the warehouse (span tables on Spark or a SQL warehouse) is a store the analysis reads.
Nothing reaches back up."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlflow_eval_mcp"
BASE = "base"
"""The package's top-level modules: settings, errors, files, tracking, traces, models, limits, ..."""
MAY_IMPORT: dict[str, set[str]] = {
    "frontend": {"frontend", "demo", "suite", "importing", "analysis", "claude", "warehouse", "checks", BASE},
    "demo": {"demo", "suite", "importing", "analysis", "claude", "checks", BASE},
    "suite": {"suite", "analysis", "claude", "checks", BASE},
    "importing": {"importing", "checks", BASE},
    "analysis": {"analysis", "claude", "warehouse", "checks", BASE},
    "claude": {"claude", "checks", BASE},
    "warehouse": {"warehouse", "checks", BASE},
    "checks": {"checks"},
    BASE: {"checks", BASE},
}


def _layer(module: str) -> str:
    """`mlflow_eval_mcp.suite.dataset` → suite; `mlflow_eval_mcp.traces` → base; the entry point
    `python -m mlflow_eval_mcp` is the front end's."""
    parts = module.split(".")
    if module == "mlflow_eval_mcp.__main__":
        return "frontend"
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else BASE


def _module_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(part for part in relative.parts if part != "__init__")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute, inside functions too."""
    imported = set()
    package = _module_of(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_of(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            imported.add(module)
            imported |= {f"{module}.{alias.name}" for alias in node.names if module == "mlflow_eval_mcp"}
    return imported


def _package_modules() -> dict[str, set[str]]:
    return {_module_of(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py")) if "templates" not in path.parts}


def _violations(allowed: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imports in _package_modules().items():
        for target in sorted(name for name in imports if name.startswith("mlflow_eval_mcp.")):
            if _layer(target) not in allowed[_layer(module)]:
                found.append(f"{module} imports {target}")
    return found


def test_no_import_runs_back_up_a_layer():
    assert _violations(MAY_IMPORT) == []


def test_the_claude_service_imports_no_step_and_the_analysis_no_suite():
    modules = _package_modules()
    claude = {name: imports for name, imports in modules.items() if _layer(name) == "claude"}
    analysis = {name: imports for name, imports in modules.items() if _layer(name) == "analysis"}
    assert claude and analysis
    assert not [
        (name, target)
        for name, imports in claude.items()
        for target in imports
        if target.startswith(("mlflow_eval_mcp.suite", "mlflow_eval_mcp.analysis"))
    ]
    assert not [
        (name, target)
        for name, imports in analysis.items()
        for target in imports
        if target.startswith("mlflow_eval_mcp.suite")
    ]


def test_only_the_front_end_speaks_mcp():
    speaking = [
        name
        for name, imports in _package_modules().items()
        if any(target == "mcp" or target.startswith("mcp.") for target in imports) and _layer(name) != "frontend"
    ]
    assert speaking == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("mlflow_eval_mcp.claude.session", "mlflow_eval_mcp.suite.layout"),
        ("mlflow_eval_mcp.analysis.engine", "mlflow_eval_mcp.suite.tasks"),
        ("mlflow_eval_mcp.traces", "mlflow_eval_mcp.frontend.args"),
        ("mlflow_eval_mcp.checks.signals", "mlflow_eval_mcp.errors"),
    ],
)
def test_an_upward_import_would_be_found(module, target):
    assert _layer(target) not in MAY_IMPORT[_layer(module)]


def test_relative_imports_are_read_as_absolute():
    assert "mlflow_eval_mcp.checks.span_view" in _imports(PACKAGE / "checks" / "conversation.py")
