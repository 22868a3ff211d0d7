"""Checks MLflow trace filter strings for the mistakes people (and models) make most.

MLflow either rejects these with a terse parse error or, worse, accepts them and returns
nothing or everything (a date string compared with `timestamp_ms` matches no rows on sqlite,
`span.type = 'tool'` matches nothing, `span.attributes.k != 'v'` matches every trace). Each
check raises an error that contains the corrected clause. Anything the checker does not model
is passed through: MLflow's parser has the last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow_eval_mcp.errors import InvalidArgumentError, clip, shown

GRAMMAR = (
    "Filter grammar: clauses joined by AND (no OR); string values in quotes; "
    "e.g. trace.status = 'ERROR' AND trace.timestamp_ms > 1735689600000 AND span.type = 'TOOL' "
    "AND tags.env = 'production' AND metadata.`mlflow.trace.user` = 'u1'."
)
SPAN_TYPES = (
    "AGENT",
    "CHAT_MODEL",
    "TOOL",
    "RETRIEVER",
    "LLM",
    "CHAIN",
    "EMBEDDING",
    "PARSER",
    "RERANKER",
    "MEMORY",
    "UNKNOWN",
    "WORKFLOW",
    "TASK",
    "GUARDRAIL",
    "EVALUATOR",
)
"""The built-in span types (`mlflow.entities.SpanType`); spans may also carry custom types."""
TRACE_STATUS_VALUES = ("OK", "ERROR", "IN_PROGRESS")
SPAN_STATUS_VALUES = ("OK", "ERROR", "UNSET")

_EPOCH_FIELDS = {"timestamp_ms", "timestamp", "end_time_ms", "end_time"}
_DURATION_FIELDS = {"execution_time_ms", "execution_time"}
_DURATION_ALIASES = {
    f"{stem}{unit}"
    for stem in ("duration", "latency", "elapsed", "elapsed_time", "runtime", "run_time", "response_time")
    for unit in ("", "_ms", "_s", "_sec", "_seconds")
} | {"execution_time_s", "execution_time_sec", "execution_time_seconds"}
_SECONDS_LIMIT = 100_000_000_000  # 1e11 ms is 1973; 1e11 s is the year 5138
_INT64 = range(-(2**63), 2**63)  # what the stores' integer columns hold (sqlite fails on more)
_OPERATORS = {"=", "!=", "<>", ">", ">=", "<", "<="}
_EQUALITY = {"=", "!=", "<>", "IN", "NOT IN"}
_KEYWORDS = {"AND", "OR", "IN", "NOT", "LIKE", "ILIKE", "RLIKE", "IS", "NULL"}
_NAME = r"(?:[A-Za-z_]\w*|`[^`]*`)"
_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    | (?P<name>{_NAME}(?:\.{_NAME})*)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<>|>=|<=|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "name" and upper in _KEYWORDS else None

    @property
    def value(self) -> str:
        """A string token without its quotes (doubled quotes undone); other tokens as written."""
        if self.kind != "string":
            return self.text
        quote = self.text[0]
        return self.text[1:-1].replace(quote * 2, quote)


@dataclass(frozen=True)
class _Clause:
    field: str
    comparator: str  # upper-case: "=", "LIKE", "NOT IN", "IS NOT NULL"; "" when missing
    values: list[_Token]

    @property
    def strings(self) -> list[str]:
        return [token.value for token in self.values if token.kind == "string"]


def check_filter_string(filter_string: str | None) -> str | None:
    """Returns the filter (stripped, None if blank) or raises InvalidArgumentError with a fix."""
    if filter_string is None or not filter_string.strip():
        return None
    text = filter_string.strip()
    tokens, complete = _tokenize(text)
    # An OR before something we don't model (`OR 1=1; …`) is still the mistake to name first.
    if any(token.keyword == "OR" for token in tokens):
        raise InvalidArgumentError(
            "MLflow trace filters do not support OR: run one search per alternative, or use IN where "
            "it is allowed (trace.status IN ('OK', 'ERROR'), span.name IN ('a', 'b')). " + GRAMMAR
        )
    if not complete:
        return text  # something we don't model; MLflow's parser has the last word
    for tokens_of_clause in _split_clauses(tokens):
        clause = _parse_clause(tokens_of_clause)
        if clause is not None:
            _check_clause(clause)
    return text


def _tokenize(text: str) -> tuple[list[_Token], bool]:
    """The tokens of `text`, and whether they cover all of it (False: the tokens up to the first
    character the filter grammar does not have)."""
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        if text[position:].lstrip()[:1] in ("'", '"') and not _TOKEN.match(text, position):
            raise InvalidArgumentError(f"The filter has an unterminated quote: {shown(text)}. " + GRAMMAR)
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            return tokens, False
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens, True


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


def _parse_clause(tokens: list[_Token]) -> _Clause | None:
    field = tokens[0]
    if field.kind != "name" or field.keyword:
        return None
    rest = tokens[1:]
    if rest and rest[0].kind == "op":
        return _Clause(field.text, rest[0].text, rest[1:])
    words: list[str] = []
    while rest and rest[0].keyword in ("NOT", "IN", "LIKE", "ILIKE", "RLIKE", "IS", "NULL"):
        words.append(rest[0].text.upper())
        rest = rest[1:]
    return _Clause(field.text, " ".join(words), rest)


def _check_clause(clause: _Clause) -> None:
    field = clause.field
    lowered = field.lower()
    bare = re.sub(r"^(trace|attributes|attribute)\.", "", lowered)
    timed = bare in _EPOCH_FIELDS | _DURATION_FIELDS
    for token in clause.values:
        if (token.kind == "number" or timed) and _NUMBER.fullmatch(token.value):
            _check_in_range(field, token.value)
    if bare in ("state", "trace_state"):
        raise InvalidArgumentError(
            f"{shown(field)} is not a filterable field: the trace state is filtered as trace.status, "
            "e.g. trace.status = 'ERROR'. " + GRAMMAR
        )
    if lowered in ("text", "content"):
        raise InvalidArgumentError(
            f"Use the trace. prefix for full-text search: trace.text ILIKE '%refund%' (not {field} …)."
        )
    if bare.strip("`") in _DURATION_ALIASES:
        _raise_duration_alias(clause)
    if timed:
        _check_time_clause(clause, epoch=bare in _EPOCH_FIELDS)
        return
    enumeration = _enumeration(lowered, bare)
    _check_unquoted_value(clause, enumeration)
    if enumeration is not None:
        _check_enumerated(clause, *enumeration)
    elif lowered.startswith(("tags.", "tag.", "metadata.", "request_metadata.")):
        _check_key_value_clause(clause)
    elif lowered.startswith("span.attributes."):
        _check_span_attribute_clause(clause)


def _enumeration(lowered: str, bare: str) -> tuple[tuple[str, ...], bool] | None:
    """The values a field takes and whether other (custom) values may exist, for enumerated fields."""
    if bare == "status":
        return TRACE_STATUS_VALUES, False
    if lowered == "span.status":
        return SPAN_STATUS_VALUES, False
    if lowered == "span.type":
        return SPAN_TYPES, True
    return None


def _raise_duration_alias(clause: _Clause) -> None:
    example = f"trace.execution_time_ms {clause.comparator or '>'} "
    example += clause.values[0].value if clause.values and clause.values[0].kind == "number" else "5000"
    raise InvalidArgumentError(
        f"{shown(clause.field)} is not a filterable field: a trace's duration (the duration_ms of search results) "
        f"is filtered as trace.execution_time_ms, in milliseconds: {example}. " + GRAMMAR
    )


def _check_in_range(field: str, number: str) -> None:
    whole = number.split(".")[0]
    # Digits are counted first: int() refuses strings of more than 4,300 digits.
    if len(whole.lstrip("-").lstrip("0")) > 19 or int(whole) not in _INT64:
        raise InvalidArgumentError(
            f"{clip(field)} is compared as a 64-bit integer, from {_INT64.start} to {_INT64.stop - 1}; "
            f"{shown(number)} is out of that range."
        )


def _check_time_clause(clause: _Clause, *, epoch: bool) -> None:
    field, comparator, values = clause.field, clause.comparator or "=", clause.values
    if not values:
        return
    raw = values[0].value
    if values[0].kind in ("number", "string") and _NUMBER.fullmatch(raw):
        number = float(raw)
        if epoch and 0 < number < _SECONDS_LIMIT:
            as_date = datetime.fromtimestamp(number, UTC).isoformat()
            raise InvalidArgumentError(
                f"{field} is in milliseconds since the epoch, but {raw} looks like seconds ({as_date}), "
                f"which matches (nearly) every trace: write {field} {comparator} {_number_text(number * 1000)}."
            )
        return
    if not epoch:
        raise InvalidArgumentError(
            f"{field} is the trace duration in milliseconds, a number, not a date or text "
            f"(MLflow silently returns no rows): write e.g. {field} {comparator} 5000 (5 seconds)."
        )
    hint = "a number of milliseconds since the epoch"
    if values[0].kind == "string":
        parsed = _parse_datetime(raw)
        if parsed is not None:
            hint = f"{int(parsed.timestamp() * 1000)} (that is {parsed.isoformat()})"
    raise InvalidArgumentError(
        f"{field} compares epoch milliseconds, not dates or text (MLflow silently returns no rows): "
        f"write {field} {comparator} {hint}."
    )


def _check_unquoted_value(clause: _Clause, enumeration: tuple[tuple[str, ...], bool] | None) -> None:
    values = clause.values
    if clause.comparator not in _OPERATORS or not values or values[0].kind != "name" or values[0].keyword == "NULL":
        return
    value = values[0].text
    if enumeration is not None and value.upper() in enumeration[0]:
        value = value.upper()
    raise InvalidArgumentError(
        f"Quote string values: {clip(clause.field)} {clause.comparator} '{clip(value)}'. " + GRAMMAR
    )


def _check_enumerated(clause: _Clause, allowed: tuple[str, ...], open_ended: bool) -> None:
    """Flags values that cannot match: a known value in the wrong case, or (unless open_ended) unknown."""
    if clause.comparator not in _EQUALITY:
        return  # LIKE, ILIKE and RLIKE patterns are the caller's business
    values = clause.strings
    corrected = [value.upper() if value.upper() in allowed else value for value in values]
    unknown = [value for value in corrected if value not in allowed]
    if unknown and not open_ended:
        raise InvalidArgumentError(
            f"{clause.field} is one of {', '.join(repr(v) for v in allowed)} (got {shown(unknown[0])}); "
            f"e.g. {clause.field} = {allowed[1]!r}."
        )
    if corrected != values:
        quoted = clip(", ".join(f"'{value}'" for value in corrected))
        fix = f"({quoted})" if "IN" in clause.comparator.split() else quoted
        raise InvalidArgumentError(
            f"{clause.field} values are upper-case and matched exactly (MLflow returns no rows for "
            f"other spellings): write {clause.field} {clause.comparator} {fix}."
        )


def _check_key_value_clause(clause: _Clause) -> None:
    if "IN" in clause.comparator.split():
        field = clip(re.sub(r"^tag\.", "tags.", clause.field, flags=re.IGNORECASE))
        raise InvalidArgumentError(
            f"{field} does not support IN: run one search per value, or use LIKE "
            f"(e.g. {field} LIKE 'prod%'). " + GRAMMAR
        )


def _check_span_attribute_clause(clause: _Clause) -> None:
    field, comparator = clip(clause.field), clause.comparator
    strings = clause.strings
    value = clip(strings[0].strip("%")) if strings else "value"
    fix = f"{field} LIKE '%{value}%'"
    encoded = "Span attribute values are stored JSON-encoded"
    if comparator == "=":
        raise InvalidArgumentError(f"{encoded}, so = never matches; use {fix}.")
    if comparator in ("!=", "<>"):
        raise InvalidArgumentError(
            f"{encoded}, so {comparator} matches every trace and cannot exclude a value; "
            f"to find traces with the value use {fix}."
        )
    if comparator in ("IN", "NOT IN"):
        raise InvalidArgumentError(
            f"{field} does not support {comparator} (MLflow fails on it); run one search per value, e.g. {fix}."
        )
    if comparator in ("LIKE", "ILIKE") and strings and not strings[0].startswith("%"):
        raise InvalidArgumentError(
            f"{encoded} and matched inside the span's JSON, so the pattern must start with %: "
            f"write {field} {comparator} '%{value}%'."
        )


def _parse_datetime(raw: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)
