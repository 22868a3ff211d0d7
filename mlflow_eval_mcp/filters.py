"""Checks MLflow trace filter strings for the mistakes people (and models) make most.

MLflow either rejects these with a terse parse error or, worse, accepts them and returns
nothing (a date string compared with `timestamp_ms` matches no rows on sqlite). Each check
raises an error that contains the corrected clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow_eval_mcp.errors import InvalidArgumentError

GRAMMAR = (
    "Filter grammar: clauses joined by AND (no OR); string values in single quotes; "
    "e.g. trace.status = 'ERROR' AND trace.timestamp_ms > 1735689600000 AND span.type = 'TOOL' "
    "AND tags.env = 'production' AND metadata.`mlflow.trace.user` = 'u1'."
)
_TIME_FIELDS = {"timestamp_ms", "timestamp", "execution_time_ms", "end_time_ms"}
_STATUS_VALUES = {"OK", "ERROR", "IN_PROGRESS"}
_KEYWORDS = {"AND", "OR", "IN", "NOT", "LIKE", "ILIKE", "RLIKE", "IS", "NULL"}
_NAME = r"(?:[A-Za-z_]\w*|`[^`]*`)"
_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<name>{_NAME}(?:\.{_NAME})*)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<>|>=|<=|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "name" and upper in _KEYWORDS else None


def check_filter_string(filter_string: str | None) -> str | None:
    """Returns the filter (stripped, None if blank) or raises InvalidArgumentError with a fix."""
    if filter_string is None or not filter_string.strip():
        return None
    text = filter_string.strip()
    tokens = _tokenize(text)
    if tokens is None:
        return text  # something we don't model; MLflow's parser has the last word
    if any(token.keyword == "OR" for token in tokens):
        raise InvalidArgumentError(
            "MLflow trace filters do not support OR. Run one search per alternative, or use IN where "
            "it is allowed: trace.status IN ('OK', 'ERROR'), span.name IN ('a', 'b'). " + GRAMMAR
        )
    for clause in _split_clauses(tokens):
        _check_clause(clause)
    return text


def _tokenize(text: str) -> list[_Token] | None:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        if text[position:].lstrip()[:1] in ("'", '"') and not _TOKEN.match(text, position):
            raise InvalidArgumentError(f"The filter has an unterminated quote: {text!r}. " + GRAMMAR)
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            return None
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _split_clauses(tokens: list[_Token]) -> list[list[_Token]]:
    clauses: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        depth += token.text == "("
        depth -= token.text == ")"
        if token.keyword == "AND" and depth == 0:
            clauses.append([])
        else:
            clauses[-1].append(token)
    return [clause for clause in clauses if clause]


def _check_clause(clause: list[_Token]) -> None:
    field_token = clause[0]
    if field_token.kind != "name" or field_token.keyword:
        return
    field = field_token.text
    bare = re.sub(r"^(trace|attributes|attribute)\.", "", field, flags=re.IGNORECASE).lower()
    comparator = clause[1] if len(clause) > 1 else None
    values = clause[2:]
    if bare in ("state", "trace_state"):
        raise InvalidArgumentError(
            f"{field!r} is not a filterable field: the trace state is filtered as trace.status, "
            "e.g. trace.status = 'ERROR'. " + GRAMMAR
        )
    if field.lower() in ("text", "content"):
        raise InvalidArgumentError(
            f"Use the trace. prefix for full-text search: trace.text ILIKE '%refund%' (not {field} …)."
        )
    for value in values:
        if value.kind == "string" and value.text.startswith('"'):
            raise InvalidArgumentError(
                f"Use single quotes for string values: {field} {_text(comparator)} '{value.text[1:-1]}'. " + GRAMMAR
            )
    if bare in _TIME_FIELDS:
        _check_time_clause(field, comparator, values)
    elif (
        comparator is not None
        and comparator.kind == "op"
        and values
        and values[0].kind == "name"
        and values[0].keyword != "NULL"
    ):
        raise InvalidArgumentError(f"Quote string values: {field} {comparator.text} '{values[0].text}'. " + GRAMMAR)
    if bare == "status":
        _check_status_values(field, values)
    lowered = field.lower()
    if lowered.startswith(("tags.", "metadata.", "request_metadata.")) and any(v.keyword == "IN" for v in clause[1:3]):
        raise InvalidArgumentError(
            f"{field} does not support IN: run one search per value, or use LIKE "
            f"(e.g. {field} LIKE 'prod%'). " + GRAMMAR
        )
    if lowered.startswith("span.attributes.") and comparator is not None and comparator.text == "=":
        value = values[0].text.strip("'") if values else "value"
        raise InvalidArgumentError(
            f"Span attribute values are stored JSON-encoded, so = never matches; use {field} LIKE '%{value}%'."
        )


def _check_time_clause(field: str, comparator: _Token | None, values: list[_Token]) -> None:
    if not values or values[0].kind == "number":
        return
    raw = values[0].text.strip("'\"")
    hint = "a number of milliseconds since the epoch"
    if values[0].kind == "string":
        parsed = _parse_datetime(raw)
        if parsed is not None:
            hint = f"{int(parsed.timestamp() * 1000)} (that is {parsed.isoformat()})"
    raise InvalidArgumentError(
        f"{field} compares epoch milliseconds, not dates or text (MLflow silently returns no rows): "
        f"write {field} {_text(comparator)} {hint}."
    )


def _check_status_values(field: str, values: list[_Token]) -> None:
    for value in values:
        if value.kind == "string" and value.text.strip("'").upper() not in _STATUS_VALUES:
            raise InvalidArgumentError(
                f"{field} is one of 'OK', 'ERROR', 'IN_PROGRESS' (got {value.text}); e.g. trace.status = 'ERROR'."
            )


def _parse_datetime(raw: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(token: _Token | None) -> str:
    return token.text if token is not None else "="
