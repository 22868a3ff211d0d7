"""The policy a code scorer written by Claude must pass before it is ever run."""

import pytest

from mlflow_eval_mcp.claude.code_policy import policy_problems

GOOD = (
    '''import json
from mlflow.entities import Feedback


def valid_json(outputs, trace):
    """A docstring may be long: '''
    + "x" * 300
    + '''"""
    try:
        json.loads(outputs)
    except (TypeError, ValueError):
        return Feedback(value=False, rationale="not JSON")
    return len(trace.data.spans) > 0
'''
)


def test_plain_computation_over_the_row_is_accepted():
    assert policy_problems("valid_json", GOOD) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import os\ndef s(outputs):\n    return True\n", "import os is not allowed"),
        ("from subprocess import run\ndef s(outputs):\n    return True\n", "import from subprocess is not allowed"),
        ("def s(outputs):\n    import socket\n    return True\n", "import socket is not allowed"),
        ("def s(outputs):\n    return open('x').read() == ''\n", "open is not allowed"),
        ("def s(outputs):\n    return eval(outputs)\n", "eval is not allowed"),
        ("def s(outputs):\n    return getattr(outputs, 'x')\n", "getattr is not allowed"),
        ("def s(outputs):\n    return outputs.__class__ is str\n", "private attribute .__class__"),
        ("def s(outputs):\n    global x\n    return True\n", "global and nonlocal are not allowed"),
        ("def s(outputs):\n    return outputs == '" + "a" * 250 + "'\n", "string literals are limited"),
        ("X = 1\ndef s(outputs):\n    return True\n", "only imports and the scorer function"),
        ("def t(outputs):\n    return True\n", "exactly one top-level function, named 's'"),
        ("def s(request):\n    return True\n", "not request"),
        ("def s(*args):\n    return True\n", "only named parameters"),
        ("@staticmethod\ndef s(outputs):\n    return True\n", "no decorators"),
        ("def s(outputs)\n    return True\n", "SyntaxError"),
        ("from . import x\ndef s(outputs):\n    return True\n", "import from . is not allowed"),
        # Escapes through allowed modules' own imports, dunder names, formatting and classes.
        ("import json\ndef s(outputs):\n    return json.codecs.sys is None\n", "json.codecs is not allowed"),
        ("import statistics as st\ndef s(outputs):\n    return st.sys is None\n", "statistics.sys is not allowed"),
        ("import mlflow.entities\ndef s(outputs):\n    return True\n", "import mlflow.entities is not allowed"),
        (
            "from mlflow.entities.span import json\ndef s(outputs):\n    return True\n",
            "import from mlflow.entities.span",
        ),
        ("from re import enum\ndef s(outputs):\n    return True\n", "enum from re is not allowed"),
        ("def s(outputs):\n    return __loader__ is None\n", "__loader__ is not allowed"),
        ("import json\ndef s(outputs):\n    m = json\n    return m.codecs is None\n", "use json only as json.<member>"),
        ("def s(outputs):\n    return '{0.x}'.format(outputs) == ''\n", ".format() is not allowed"),
        ("def s(outputs):\n    return type(outputs).mro() == []\n", "type is not allowed"),
        ("def s(outputs):\n    raise SystemExit(1)\n", "SystemExit is not allowed"),
        ("def s(outputs):\n    print(outputs)\n    return True\n", "print is not allowed"),
        ("def s(outputs):\n    class A:\n        pass\n    return True\n", "class and async definitions"),
    ],
)
def test_code_that_could_reach_outside_the_row_is_refused(source, problem):
    problems = policy_problems("s", source)
    assert any(problem in text for text in problems), problems
