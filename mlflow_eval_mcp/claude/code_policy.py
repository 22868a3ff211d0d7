"""What a code scorer written by Claude may contain, checked on its syntax tree before it is ever
run: one function of plain computation over the evaluated row.

Claude writes these after reading production traces, so a prompt injection in a trace could try
to steer the code. The policy leaves such code nothing to reach: no imports beyond text and
number helpers and MLflow's entities, no builtins that open files, run code or reach into
objects by name, no private or dunder attributes, no long string literals (which is where
copied trace content would sit).
"""

from __future__ import annotations

import ast

ALLOWED_IMPORTS = frozenset({"re", "json", "math", "statistics", "collections", "mlflow.entities"})
SCORER_PARAMETERS = frozenset({"inputs", "outputs", "expectations", "trace"})
FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "help",
        "memoryview",
        "__builtins__",
    }
)
MAX_LITERAL_CHARS = 200
MAX_SOURCE_CHARS = 6_000


def policy_problems(name: str, source: str) -> list[str]:
    """Why `source` is not an acceptable scorer named `name`; empty when it is."""
    if len(source) > MAX_SOURCE_CHARS:
        return [f"the code is {len(source):,} characters; keep a scorer under {MAX_SOURCE_CHARS:,}"]
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [f"line {error.lineno}: SyntaxError: {error.msg}"]
    docstrings = {id(body[0].value) for body in _bodies(tree) if body and _is_docstring(body[0])}
    problems = _top_level(name, tree)
    for node in ast.walk(tree):
        if id(node) not in docstrings:
            problems += _node_problems(node)
    return list(dict.fromkeys(problems))


def _bodies(tree: ast.Module) -> list[list[ast.stmt]]:
    return [tree.body] + [node.body for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _top_level(name: str, tree: ast.Module) -> list[str]:
    problems = []
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    for node in tree.body:
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef) and not _is_docstring(node):
            problems.append(f"line {node.lineno}: only imports and the scorer function may be at the top level")
    if [function.name for function in functions] != [name]:
        return [*problems, f"define exactly one top-level function, named {name!r}"]
    function = functions[0]
    arguments = function.args
    if arguments.vararg or arguments.kwarg or arguments.kwonlyargs or arguments.posonlyargs:
        problems.append("the function takes only named parameters from: " + ", ".join(sorted(SCORER_PARAMETERS)))
    unknown = [arg.arg for arg in arguments.args if arg.arg not in SCORER_PARAMETERS]
    if unknown or not arguments.args:
        problems.append(
            f"parameters must be some of {', '.join(sorted(SCORER_PARAMETERS))} (MLflow passes them by name)"
            + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    if function.decorator_list:
        problems.append("no decorators: the suite wraps the function with @scorer itself")
    return problems


def _node_problems(node: ast.AST) -> list[str]:
    line = f"line {getattr(node, 'lineno', '?')}"
    if isinstance(node, ast.Import):
        return [f"{line}: import of {alias.name} is not allowed" for alias in node.names if not _allowed(alias.name)]
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return [] if node.level == 0 and _allowed(module) else [f"{line}: import from {module or '.'} is not allowed"]
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
        return [f"{line}: {node.id} is not allowed"]
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        return [f"{line}: private attribute .{node.attr} is not allowed"]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return [f"{line}: global and nonlocal are not allowed"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and len(node.value) > MAX_LITERAL_CHARS:
        return [f"{line}: string literals are limited to {MAX_LITERAL_CHARS} characters (no copied trace content)"]
    return []


def _allowed(module: str) -> bool:
    return any(module == allowed or module.startswith(f"{allowed}.") for allowed in ALLOWED_IMPORTS)
