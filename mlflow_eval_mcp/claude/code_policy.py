"""What a code scorer written by Claude may contain, checked on its syntax tree before it is ever
run: one function of plain computation over the evaluated row.

This is an allowlist, not a sandbox: it rules out what could reach beyond the row (imports beyond a
few helpers and their named members, reflection, dunder names, format-string attribute access,
classes, printing, exiting); the trial then runs the code in a fresh, time-boxed interpreter.

Claude writes these after reading production traces, so a prompt injection in a trace could try
to steer the code. The policy leaves such code nothing to reach: no imports beyond text and
number helpers and MLflow's entities, no builtins that open files, run code or reach into
objects by name, no private or dunder attributes, no long string literals (which is where
copied trace content would sit).
"""

from __future__ import annotations

import ast

# Each allowed module with the members code may use: a module's other attributes lead to its own
# imports (json.codecs.sys.modules, for one), so only plain helpers are open.
ALLOWED_MEMBERS: dict[str, frozenset[str]] = {
    "re": frozenset(
        [
            "search",
            "match",
            "fullmatch",
            "findall",
            "finditer",
            "sub",
            "subn",
            "split",
            "compile",
            "escape",
            "IGNORECASE",
            "I",
            "MULTILINE",
            "M",
            "DOTALL",
            "S",
            "VERBOSE",
            "X",
            "ASCII",
            "A",
            "error",
        ]
    ),
    "json": frozenset({"loads", "dumps", "JSONDecodeError"}),
    "math": frozenset(
        [
            "ceil",
            "floor",
            "fabs",
            "sqrt",
            "log",
            "log10",
            "log2",
            "exp",
            "pow",
            "isclose",
            "isfinite",
            "isnan",
            "isinf",
            "inf",
            "nan",
            "pi",
            "e",
            "fsum",
            "prod",
        ]
    ),
    "statistics": frozenset(
        ["mean", "fmean", "median", "stdev", "pstdev", "variance", "mode", "quantiles", "StatisticsError"]
    ),
    "collections": frozenset({"Counter", "defaultdict", "OrderedDict", "deque", "namedtuple"}),
    "mlflow.entities": frozenset({"Feedback", "SpanType", "SpanStatusCode", "AssessmentSource"}),
}
ALLOWED_IMPORTS = frozenset(ALLOWED_MEMBERS)
SCORER_PARAMETERS = frozenset({"inputs", "outputs", "expectations", "trace"})
FORBIDDEN_NAMES = frozenset(
    [
        "eval",
        "exec",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "help",
        "memoryview",
        "type",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "print",
        "format",
        "SystemExit",
        "KeyboardInterrupt",
        "BaseException",
        "GeneratorExit",
    ]
)
_FORMAT_METHODS = frozenset({"format", "format_map"})
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
    modules = _imported_modules(tree)
    problems = _top_level(name, tree)
    # A module may only be used as `module.member`: bound to another name, its other members are reachable.
    qualified = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    problems += [
        f"line {node.lineno}: use {node.id} only as {node.id}.<member>"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in modules and id(node) not in qualified
    ]
    for node in ast.walk(tree):
        if id(node) not in docstrings:
            problems += _node_problems(node, modules)
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


def _node_problems(node: ast.AST, modules: dict[str, str]) -> list[str]:
    line = f"line {getattr(node, 'lineno', '?')}"
    if isinstance(node, ast.Import):
        return [
            f"{line}: import {alias.name} is not allowed (plain `import re` and the like, or "
            "`from mlflow.entities import Feedback`)"
            for alias in node.names
            if alias.name not in ALLOWED_MEMBERS or "." in alias.name
        ]
    if isinstance(node, ast.ImportFrom):
        members = ALLOWED_MEMBERS.get(node.module or "") if node.level == 0 else None
        if members is None:
            return [f"{line}: import from {node.module or '.'} is not allowed"]
        return [
            f"{line}: {alias.name} from {node.module} is not allowed"
            for alias in node.names
            if alias.name not in members
        ]
    if isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id.startswith("__")):
        return [f"{line}: {node.id} is not allowed"]
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return [f"{line}: private attribute .{node.attr} is not allowed"]
        if node.attr in _FORMAT_METHODS:
            return [f"{line}: .{node.attr}() is not allowed (use an f-string)"]
        if isinstance(node.value, ast.Name) and node.value.id in modules:
            module = modules[node.value.id]
            if node.attr not in ALLOWED_MEMBERS[module]:
                return [f"{line}: {module}.{node.attr} is not allowed"]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return [f"{line}: global and nonlocal are not allowed"]
    if isinstance(node, ast.ClassDef | ast.AsyncFunctionDef):
        return [f"{line}: class and async definitions are not allowed"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and len(node.value) > MAX_LITERAL_CHARS:
        return [f"{line}: string literals are limited to {MAX_LITERAL_CHARS} characters (no copied trace content)"]
    return []


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> allowed module, for every `import <module> [as name]`."""
    return {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name in ALLOWED_MEMBERS
    }
