"""Many paths of a SQL VARIANT read in one walk over it.

Spark reads each `try_variant_get(value, path, …)` by searching every object on the path for its key again,
decoding the keys it passes; a reading of twenty paths searches the same objects twenty times. A `Shape` casts
the VARIANT once to a struct whose fields follow the paths (each path's end a VARIANT of its own): the cast visits
each key once, and the paths are then field accesses. A path that passes through another path's end is read from
that end's VARIANT (`$.raw` and `$.raw.choices[0]…` read the second from the first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SEGMENT = re.compile(r"\.(\w+)|\[\"([^\"'\\]+)\"\]|\[(\d+|\*)\]")
_EACH = "*"
"""A path's `[*]`: every element of an array (read by the caller, as `Shape.at(..., within=...)`)."""

Segment = str | int
_Tree = dict[Segment, "_Tree | str"]
"""A path tree: keys (object fields) or array elements (`_EACH`, whatever the index) down to each path's end,
where the SQL type it is read as stands."""


def _segments(path: str) -> tuple[Segment, ...]:
    """'$.choices[0].text' -> ('choices', 0, 'text'); '$["mlflow.spanType"]' -> ('mlflow.spanType',)."""
    if not path.startswith("$"):
        raise ValueError(f"a path starts at $: {path!r}")
    found = list(_SEGMENT.finditer(path, 1))
    if "".join(match[0] for match in found) != path[1:]:
        raise ValueError(f"not a path of keys and indexes: {path!r}")
    return tuple(
        match[1] or match[2] or (_EACH if match[3] == _EACH else int(match[3]))  # type: ignore[misc]
        for match in found
    )


def _spelled(segments: tuple[Segment, ...]) -> str:
    return "$" + "".join(f"[{segment}]" if isinstance(segment, int) else f'["{segment}"]' for segment in segments)


def _quoted(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


@dataclass(frozen=True)
class Shape:
    """The struct a VARIANT is cast to so that each of `paths` is a field access: a VARIANT, or for the `typed`
    paths the SQL type given (the cast `try_variant_get` makes: a number read as a string is its text)."""

    paths: tuple[str, ...]
    typed: tuple[tuple[str, str], ...] = ()
    _tree: _Tree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tree: _Tree = {}
        for path, sql_type in [*((path, "variant") for path in self.paths), *self.typed]:
            node = tree
            segments = _segments(path)
            for position, segment in enumerate(segments):
                key: Segment = _EACH if isinstance(segment, int) else segment
                if node and (key == _EACH) != _is_array(node):
                    raise ValueError(f"{path!r} reads as an object where another path reads an array, or back")
                if position == len(segments) - 1:
                    node[key] = sql_type  # a path's end, whatever else passes through it
                    break
                child = node.setdefault(key, {})
                if isinstance(child, str):
                    break  # passes through another path's end: read from its VARIANT
                node = child
        object.__setattr__(self, "_tree", tree)

    def type(self, within: str = "$") -> str:
        """The struct's SQL type (or, `within` a path, that path's type)."""
        return _type(self._node(within))

    def cast(self, value: str, within: str = "$") -> str:
        """`value` (a VARIANT) cast to this shape, NULL when it is not an object (or, `within`, of that type)."""
        return f"try_variant_get({value}, '$', '{self.type(within)}')"

    def at(self, shaped: str, path: str, within: str = "$") -> str:
        """The VARIANT (or, for a path ending inside the shape, the struct or array) at `path` in `shaped`, a
        column holding this shape cast (or, `within` a path, that path's value)."""
        node: _Tree | str = self._node(within)
        expression = shaped
        segments = _segments(path)
        for position, segment in enumerate(segments):
            if isinstance(node, str):
                rest = _spelled(segments[position:])
                return f"try_variant_get({expression}, '{rest}', 'variant')"
            if isinstance(segment, int):
                expression, node = f"get({expression}, {segment})", node[_EACH]
            else:
                expression, node = f"{expression}.{_quoted(segment)}", node[segment]
        return expression

    def _node(self, within: str) -> _Tree:
        node: _Tree | str = self._tree
        for segment in _segments(within):
            if isinstance(node, str):
                break
            node = node[_EACH if isinstance(segment, int) else segment]
        if isinstance(node, str):
            raise ValueError(f"{within!r} is a path's end in this shape, not a part of it")
        return node


def _is_array(node: _Tree) -> bool:
    return _EACH in node


def _type(node: _Tree | str) -> str:
    if isinstance(node, str):
        return node
    if _is_array(node):
        return f"array<{_type(node[_EACH])}>"
    return "struct<" + ",".join(f"{_quoted(str(key))}:{_type(child)}" for key, child in node.items()) + ">"
