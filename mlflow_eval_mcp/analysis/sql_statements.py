"""The SQL analysis' statements over an OTel v2 span table, written once for Spark and Databricks SQL.

Each statement mirrors one reading of the Python engine (`analysis.collector`, `checks.signals`): the same span
facts, the same thresholds and, for text, the same regular expressions (Java's, with `(?U)` so that `\\w`, `\\s`
and `\\b` are Unicode as in Python). What SQL cannot read as the Python engine does (a framework's message shapes
beyond the common ones, personal data, the turns of a dialogue) is not computed here; `SQL_FINDING_KINDS` lists
what is. Values never enter the text: bounds and limits are named parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow_eval_mcp.analysis.variant_shapes import Shape
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.warehouse.sql_runner import Dialect

SQL_FINDING_KINDS = (
    "trace_errors",
    "tool_exceptions",
    "tool_error_outputs",
    "repeated_tool_calls",
    "span_errors",
    "empty_responses",
    "refusals",
    "truncated_responses",
    "latency_outliers",
    "token_outliers",
    "error_cluster",
)
"""The finding kinds the SQL engines compute, with the Python engine's definitions."""

MIN_OUTLIER_SAMPLES = 20
"""As `stats.outlier_threshold`: fewer values than this judge no outlier."""

# checks/signals.py's patterns, which Java reads as Python does given the same flags ((?U): Unicode classes, as
# Python's str patterns); only the sentence end's emoji ranges need Java's \x{...} spelling.
_REFUSAL = "(?iU)" + signals.REFUSAL.pattern
_ERROR_TEXT = "(?iU)" + signals.ERROR_TEXT.pattern
_SENTENCE_END = (
    r"""[.!?…:)\]}"'`*»>|\x{3002}\x{FF01}\x{FF1F}\x{201D}\x{2019}]\s*$|[\x{1F300}-\x{1FAFF}\x{2600}-\x{27BF}]\s*$"""
)
_TABLE_RULE = "(?mU)" + signals.TABLE_RULE.pattern
_MARKDOWN = "(?mU)" + signals.MARKDOWN.pattern
# error_signature's replacements, in its order.
_SIGNATURE_STEPS = (
    ("(?U)" + signals.QUOTED.pattern, "<str>"),
    ("(?iU)" + signals.UUID.pattern, "<id>"),
    ("(?iU)" + signals.HEX.pattern, "<id>"),
    ("(?U)" + signals.MIXED_ID.pattern, "<id>"),
    ("(?U)" + signals.NUMBER.pattern, "<num>"),
)
_TEXT_KEYS = signals.TEXT_KEYS
_MODEL_TYPES = ("LLM", "CHAT_MODEL")
_REQUEST_ID = "mlflow.traceRequestId"
_SPAN_TYPE = "mlflow.spanType"
_MODEL = "mlflow.llm.model"
_SESSION = "session.id"
_USER_ID = "user.id"
_USAGE = "mlflow.chat.tokenUsage"
_INPUTS = "mlflow.spanInputs"
_OUTPUTS = "mlflow.spanOutputs"
# A word every error a returned text reports holds (`_text_error`; `_error_text` under an object's `result`): a text
# that holds none (nor a `\\u` escape that could spell one), in any case, is no error, and is read no further.
_ERROR_CUES = ("error", "exception", "fatal", "traceback", "fail", "exitcode", '"success"', '"ok"', "\\u")


def literal(text: str) -> str:
    """A constant of ours as a SQL string literal (backslashes and quotes escaped, as both SQLs read them)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _listed(texts: frozenset[str]) -> str:
    """A set of constants as the list of a SQL `IN`."""
    return ", ".join(map(literal, sorted(texts)))


def _is_string(value: str) -> str:
    return f"coalesce(schema_of_variant({value}) = 'STRING', false)"


def _variant_at(value: str, path: str) -> str:
    return f"try_variant_get({value}, {literal(path)}, 'variant')"


def _string_of(found: str) -> str:
    """A VARIANT's string, NULL when it is not one (a number is no text)."""
    return f"CASE WHEN {_is_string(found)} THEN try_variant_get({found}, '$', 'string') END"


def _string_at(value: str, path: str) -> str:
    """The string at `path` in a VARIANT, NULL when absent or not a string."""
    return _string_of(_variant_at(value, path))


_FINISH_REASONS = (
    "$.choices[0].finish_reason",
    "$.candidates[0].finish_reason",
    "$.finish_reason",
    "$.stop_reason",
    "$.stopReason",
    "$.response_metadata.finish_reason",
    "$.raw.choices[0].finish_reason",
)
_MESSAGES = "$.messages"
_MESSAGE = "$.messages[*]"
_CHOICE_TEXTS = ("$.choices[0].message.content", "$.choices[0].text", "$.candidates[0].content.parts[0].text")
_SAID = ("$.content", "$.content[0].text", "$.parts[0].content")
_ASSISTANT = ("assistant", "ai", "AIMessageChunk", "model")
_USER = ("user", "human", "UserMessage")
CONTENT = Shape(
    (
        *_CHOICE_TEXTS,
        *(_MESSAGE + path[1:] for path in _SAID),
        *(f"$.{key}" for key in dict.fromkeys(signals.TEXT_KEYS + signals.REQUEST_KEYS)),
        *_FINISH_REASONS,
    ),
    typed=((f"{_MESSAGE}.role", "string"), (f"{_MESSAGE}.type", "string")),
)
"""What the readings of a request, an answer and a finish reason read from a span's inputs or outputs."""


def _messages(value: str, shaped: str) -> str:
    """A message list: `value` itself, or a state's `messages` (`shaped`: `value` cast to `CONTENT`)."""
    return f"coalesce({CONTENT.at(shaped, _MESSAGES)}, {CONTENT.cast(value, within=_MESSAGES)})"


def _last_message(value: str, shaped: str, roles: tuple[str, ...]) -> str:
    """The last message of one of `roles` in `value`'s message list (a struct of `CONTENT`'s messages)."""
    role = ", ".join(CONTENT.at("m", key, within=_MESSAGE) for key in ("$.role", "$.type"))
    spoke = f"coalesce({role}) IN ({', '.join(map(literal, roles))})"
    return f"try_element_at(filter({_messages(value, shaped)}, m -> {spoke}), -1)"


def _said(message: str) -> str:
    """What a message (`_last_message`) says: its content a string, a first text block or an OTel GenAI part."""
    return "coalesce(" + ", ".join(_string_of(CONTENT.at(message, path, within=_MESSAGE)) for path in _SAID) + ")"


def _text_of(value: str, shaped: str, said: str) -> str:
    """`signals.text_of` for the shapes SQL reads: a string; OpenAI's choices; Gemini's candidates; a message
    list's (or a state's `messages`) last assistant message (`said`); the first text key holding a string."""
    keys = ", ".join(_string_of(CONTENT.at(shaped, f"$.{key}")) for key in _TEXT_KEYS)
    choices = ", ".join(_string_of(CONTENT.at(shaped, path)) for path in _CHOICE_TEXTS)
    return (
        f"CASE WHEN {shaped} IS NULL AND {_is_string(value)} THEN try_variant_get({value}, '$', 'string') "
        f"ELSE coalesce({choices}, {said}, {keys}) END"
    )


def _request_of(value: str, shaped: str, *, dialogue: str, said: str) -> str:
    """`signals.request_text` for the shapes SQL reads: a string; a message list's (or a state's `messages`) last
    user message (`said`, when `dialogue` says it has messages); the first request key holding a string; else the
    value's text (which then holds no message to read)."""
    keys = ", ".join(_string_of(CONTENT.at(shaped, f"$.{key}")) for key in signals.REQUEST_KEYS)
    return (
        f"CASE WHEN {shaped} IS NULL AND {_is_string(value)} THEN try_variant_get({value}, '$', 'string') "
        f"WHEN {dialogue} THEN {said} ELSE coalesce({keys}, {_text_of(value, shaped, 'NULL')}) END"
    )


def _is_empty(value: str, text: str) -> str:
    """`signals.is_empty`: an empty or blank string, an empty object or list, or a blank text. A value with a
    text is empty exactly when the text is blank (an empty string is its own text), so only a value without
    one is written out as JSON to be compared."""
    return (
        f"({value} IS NOT NULL AND CASE WHEN {text} IS NOT NULL THEN trim({text}) = '' "
        f"ELSE coalesce(to_json({value}) IN ('{{}}', '[]'), false) END)"
    )


def _stopped_at_limit(shaped: str) -> str:
    """Whether a model call's finish reason (in its outputs cast to `CONTENT`) says it stopped at its token limit
    (NULL when it gives none)."""
    reasons = ", ".join(_string_of(CONTENT.at(shaped, path)) for path in _FINISH_REASONS)
    return f"lower(coalesce({reasons})) IN ({_listed(signals.TRUNCATED_REASONS)})"


def _direct_error(v: str) -> str:
    """The error a returned value `v` (a VARIANT) reports by its fields: an `error`(s) field, an error status,
    `success`/`ok` false."""
    error = f"try_variant_get({v}, '$.error', 'variant')"
    return (
        "coalesce("
        f"{_string_at(v, '$.error')}, {_string_at(v, '$.error.message')}, {_string_at(v, '$.error.detail')}, "
        f"CASE WHEN {error} IS NOT NULL AND NOT coalesce(to_json({error}) IN ('false', '\"\"', '{{}}', '[]', "
        f"'null'), false) THEN substring(to_json({error}), 1, 300) END, "
        f"{_string_at(v, '$.errors[0]')}, {_string_at(v, '$.errors[0].message')}, "
        f"CASE WHEN coalesce(try_variant_get({v}, '$.is_error', 'boolean'), "
        f"try_variant_get({v}, '$.isError', 'boolean'), false) THEN substring(to_json({v}), 1, 300) END, "
        f"CASE WHEN lower({_string_at(v, '$.status')}) IN ({_listed(signals.ERROR_STATUSES)}) "
        f"THEN coalesce({_string_at(v, '$.message')}, {_string_at(v, '$.detail')}, "
        f"concat('status: ', {_string_at(v, '$.status')})) END, "
        f"CASE WHEN try_variant_get({v}, '$.success', 'boolean') = false "
        f"OR try_variant_get({v}, '$.ok', 'boolean') = false "
        f"THEN coalesce({_string_at(v, '$.message')}, {_string_at(v, '$.detail')}, "
        f"substring(to_json({v}), 1, 300)) END)"
    )


def _error_text(text: str) -> str:
    """A text that reads as an error (`signals.ERROR_TEXT`)."""
    return f"CASE WHEN {text} RLIKE {literal(_ERROR_TEXT)} THEN substring(trim({text}), 1, 300) END"


_NESTED = ("$.result", "$.output", "$.response")
_REPORTED = Shape(
    tuple(f"$.{key}" for key in ("error", "errors", "is_error", "isError", "status", "success", "ok")) + _NESTED
)
"""The fields of a returned object `_object_error` reads: an object with none of them reports no error."""
_CUES = literal("(?iU)" + "|".join(map(re.escape, _ERROR_CUES)))


def _object_error(value: str) -> str:
    """`signals.error_in_output` of a returned object: its fields (`_direct_error`), or those of its `result`,
    `output` or `response`, or a text there that reads as an error."""
    nested = ", ".join(
        f"{_direct_error(_variant_at(value, path))}, "
        f"CASE WHEN {_string_at(value, path)} RLIKE {_CUES} THEN {_error_text(_string_at(value, path))} END"
        for path in _NESTED
    )
    return f"coalesce({_direct_error(value)}, {nested})"


def _text_error(text: str) -> str:
    """`signals.error_in_output` of a returned string: a JSON object it holds, or a text that reads as an error."""
    parsed = f"try_parse_json(CASE WHEN ltrim({text}) LIKE '{{%' THEN {text} END)"
    return f"coalesce({_direct_error(parsed)}, {_error_text(text)})"


ATTRIBUTES = Shape(
    (),
    typed=(
        *((f'$["{key}"]', "string") for key in (_REQUEST_ID, _SPAN_TYPE, _MODEL, _SESSION, _USER_ID)),
        *(
            (f'$["{_USAGE}"].{key}', "bigint")
            for key in ("input_tokens", "prompt_tokens", "output_tokens", "completion_tokens")
        ),
    ),
)
"""The span attributes the facts read, from a span's `attributes` cast to it (a column named `a`). Token counts are
read as the integers they are: a field of the type its value already has is taken as it is, while any other type is
converted through an expression Spark builds anew for each value (7 % of the span pass's CPU samples as doubles)."""


def _attribute(key: str, under: str = "") -> str:
    """An attribute the facts read (`ATTRIBUTES`) from their column `a`: a key, or a path `under` it."""
    return ATTRIBUTES.at("a", f'$["{key}"]{under}')


def _unquoted(text: str) -> str:
    """A string attribute as MLflow meant it: a table whose attributes kept MLflow's JSON encoding ('"TOOL"')
    reads as one that decoded them."""
    return f"CASE WHEN {text} LIKE '\"%\"' THEN substring({text}, 2, length({text}) - 2) ELSE {text} END"


def _returned_error(value: str, reported: str, text: str, ascii_lowered: str) -> str:
    """The error a span's outputs (`value`) report: an object (cast to `_REPORTED`: `reported`) read only when it
    has one of the fields read (a status only when it is an error status); a string (`text`, and `ascii_lowered`
    when it is ASCII) only when it holds one of the `_ERROR_CUES`, found in the lower-cased text when there is one,
    else with the case-blind Unicode matching of the patterns it reads. No value is written out as JSON to be
    searched: most tool results are objects, and serialising each one cost more than the rest of their reading."""
    fields = " OR ".join(
        f"{_REPORTED.at(reported, path)} IS NOT NULL" for path in _REPORTED.paths if path != "$.status"
    )
    status = _string_of(_REPORTED.at(reported, "$.status"))
    in_ascii = " OR ".join(f"contains({ascii_lowered}, {literal(cue)})" for cue in _ERROR_CUES)
    cued = f"CASE WHEN {ascii_lowered} IS NOT NULL THEN {in_ascii} ELSE {text} RLIKE {_CUES} END"
    return (
        f"CASE WHEN {reported} IS NOT NULL THEN CASE WHEN {fields} "
        f"OR lower({status}) IN ({_listed(signals.ERROR_STATUSES)}) THEN {_object_error(value)} END "
        f"WHEN {cued} THEN {_text_error(text)} END"
    )


def signature(message: str) -> str:
    """`signals.error_signature` of a message column."""
    expression = f"substring({message}, 1, 1000)"
    for pattern, replacement in _SIGNATURE_STEPS:
        expression = f"regexp_replace({expression}, {literal(pattern)}, {literal(replacement)})"
    return f"substring(trim(regexp_replace({expression}, '(?U)\\\\s+', ' ')), 1, 200)"


@dataclass(frozen=True)
class SpanTableStatements:
    """The statements over one span table (`table`, a name the warehouse resolves), bounded to spans that
    started at or after the `:since` parameter."""

    dialect: Dialect
    table: str

    def facts(self) -> str:
        """One row per span in scope with the facts every later statement reads, in one pass over the table.

        A span's attributes are walked once (`ATTRIBUTES`), and a root's or model call's inputs and outputs once
        each (`CONTENT`); each reading is made only for the spans that need it (a root's answer, a tool's
        arguments and returned error, a model call's finish reason), and no content leaves this statement: at
        scale the facts are most of what the warehouse keeps for the analysis."""
        exception = "get(events, array_position(events.name, 'exception') - 1).attributes"
        walked = f"""
SELECT trace_id AS otel_trace_id, span_id, parent_span_id, name, status, events, start_time_unix_nano,
  end_time_unix_nano, attributes, {ATTRIBUTES.cast("attributes")} AS a
FROM {self.table}
WHERE time >= :since"""
        located = f"""
SELECT
  coalesce({_unquoted(_attribute(_REQUEST_ID))}, concat('tr-', otel_trace_id)) AS trace_id,
  span_id,
  coalesce(parent_span_id, '') AS parent_id,
  coalesce(parent_span_id, '') = '' AS is_root,
  coalesce(name, 'unnamed') AS name,
  coalesce({_unquoted(_attribute(_SPAN_TYPE))}, 'UNKNOWN') AS span_type,
  CASE WHEN status.code IN ('STATUS_CODE_ERROR', 'ERROR') THEN 'ERROR'
       WHEN status.code IN ('STATUS_CODE_OK', 'OK') THEN 'OK' ELSE 'UNSET' END AS status,
  nullif(trim(status.message), '') AS status_message,
  events, start_time_unix_nano,
  greatest(0, (end_time_unix_nano - start_time_unix_nano) / 1e6) AS duration_ms,
  a, attributes
FROM ({walked})"""
        models = ", ".join(map(literal, _MODEL_TYPES))
        read = f"""
SELECT trace_id, span_id, parent_id, is_root, name, span_type, status, status_message,
  CASE WHEN status = 'ERROR' AND {exception} IS NOT NULL THEN
    CASE WHEN try_variant_get({exception}, '$["exception.type"]', 'string') IS NOT NULL
         THEN concat(try_variant_get({exception}, '$["exception.type"]', 'string'), ': ',
                     coalesce(try_variant_get({exception}, '$["exception.message"]', 'string'), 'None'))
         ELSE nullif(try_variant_get({exception}, '$["exception.message"]', 'string'), '') END
  END AS exception_message,
  start_time_unix_nano, duration_ms,
  coalesce({_attribute(_USAGE, ".input_tokens")}, {_attribute(_USAGE, ".prompt_tokens")}) AS input_tokens,
  coalesce({_attribute(_USAGE, ".output_tokens")}, {_attribute(_USAGE, ".completion_tokens")}) AS output_tokens,
  CASE WHEN span_type IN ({models}) THEN {_unquoted(_attribute(_MODEL))} END AS model,
  CASE WHEN is_root THEN {_attribute(_SESSION)} END AS session_id,
  CASE WHEN is_root THEN {_attribute(_USER_ID)} END AS user_id,
  CASE WHEN is_root OR span_type = 'TOOL' THEN {self.dialect.variant("attributes", _INPUTS)} END AS inputs,
  CASE WHEN is_root OR span_type IN ({models}) OR span_type = 'TOOL' OR status = 'ERROR'
    THEN {self.dialect.variant("attributes", _OUTPUTS)} END AS outputs
FROM ({located})"""
        reporting = "span_type = 'TOOL' OR status = 'ERROR'"
        shaped = f"""
SELECT *,
  CASE WHEN is_root THEN {CONTENT.cast("inputs")} END AS asked,
  CASE WHEN is_root OR span_type IN ({models}) THEN {CONTENT.cast("outputs")} END AS said,
  CASE WHEN {reporting} THEN {_REPORTED.cast("outputs")} END AS reported
FROM ({read})"""
        texts = f"""
SELECT *, CASE WHEN ({reporting}) AND reported IS NULL THEN {_string_of("outputs")} END AS outputs_text
FROM ({shaped})"""
        cued = f"""
SELECT *,
  CASE WHEN octet_length(outputs_text) = length(outputs_text) THEN lower(outputs_text) END AS ascii_lowered
FROM ({texts})"""
        # A filter over messages is evaluated row by row, outside Spark's generated code: the tool output's error
        # reading stands beside it, so that the code generated for the following levels stays within a method's
        # 64 KB (beyond it Spark compiles in vain, then falls back).
        spoken = f"""
SELECT *,
  CASE WHEN is_root THEN {_last_message("outputs", "said", _ASSISTANT)} END AS answer_message,
  CASE WHEN is_root THEN {_last_message("inputs", "asked", _USER)} END AS request_message,
  CASE WHEN is_root THEN size({_messages("inputs", "asked")}) > 0 END AS dialogue,
  CASE WHEN {reporting} THEN {_returned_error("outputs", "reported", "outputs_text", "ascii_lowered")} END
    AS returned_error
FROM ({cued})"""
        contents = f"""
SELECT trace_id, span_id, parent_id, is_root, name, span_type, status, status_message, exception_message,
  start_time_unix_nano, duration_ms, input_tokens, output_tokens, model, session_id, user_id, outputs, returned_error,
  CASE WHEN is_root OR span_type IN ({models}) THEN {_stopped_at_limit("said")} END AS stopped_at_limit,
  CASE WHEN span_type = 'TOOL' THEN to_json(inputs) END AS arguments,
  CASE WHEN is_root THEN {_text_of("outputs", "said", _said("answer_message"))} END AS answer,
  CASE WHEN is_root THEN {_request_of("inputs", "asked", dialogue="dialogue", said=_said("request_message"))} END
    AS request
FROM ({spoken})"""
        columns = (
            "trace_id, span_id, parent_id, is_root, name, span_type, status, status_message, exception_message, "
            "start_time_unix_nano, duration_ms, input_tokens, output_tokens, model, session_id, user_id, arguments, "
            "stopped_at_limit, answer, request, returned_error"
        )
        return f"""
SELECT {columns},
  is_root AND outputs IS NOT NULL AS has_outputs,
  is_root AND {_is_empty("outputs", "answer")} AS empty
FROM ({contents})"""

    def traces(self, spans: str) -> str:
        """One row per trace with a root: its (earliest) root's facts, whether its last model call (else its
        root) stopped at the token limit, and its tokens (summed over spans whose parent recorded none, as
        MLflow totals a trace without counting a roll-up twice: each span's tokens are grouped under its parent's id,
        beside the parent itself). Aggregates hold numbers only, so that the warehouse aggregates by hashing rather
        than by sorting every span, and no join matches spans with their parents."""
        models = ", ".join(map(literal, _MODEL_TYPES))
        return f"""
WITH counted AS (
  SELECT trace_id, span_id, parent_id, input_tokens, output_tokens FROM {spans}
  WHERE input_tokens IS NOT NULL OR output_tokens IS NOT NULL
),
by_parent AS (
  SELECT trace_id, max(is_span) AS parent_counted, sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens
  FROM (
    SELECT trace_id, parent_id AS node, input_tokens, output_tokens, false AS is_span FROM counted
    UNION ALL
    SELECT trace_id, span_id, NULL, NULL, true FROM counted)
  GROUP BY trace_id, node
),
tokens AS (
  SELECT trace_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
  FROM by_parent WHERE NOT parent_counted GROUP BY trace_id
),
last_calls AS (
  SELECT trace_id, max_by(stopped_at_limit, start_time_unix_nano + duration_ms * 1e6) AS stopped_at_limit
  FROM {spans} WHERE span_type IN ({models}) GROUP BY trace_id
),
roots AS (
  SELECT *, row_number() OVER (PARTITION BY trace_id ORDER BY start_time_unix_nano, span_id) AS root_rank
  FROM {spans} WHERE is_root
)
SELECT r.trace_id, r.name AS root_name, r.status, r.status_message, floor(r.duration_ms) AS trace_ms,
  r.start_time_unix_nano, r.session_id, r.user_id, r.has_outputs, r.empty, r.answer, r.request,
  coalesce(m.stopped_at_limit, r.stopped_at_limit) AS stopped_at_limit, t.input_tokens, t.output_tokens
FROM roots r LEFT JOIN last_calls m ON m.trace_id = r.trace_id LEFT JOIN tokens t ON t.trace_id = r.trace_id
WHERE r.root_rank = 1"""

    def signals(self, spans: str, traces: str) -> str:
        """(kind, trace_id, name, evidence) for every occurrence of the span- and trace-level signals.

        An answer's tests are computed as columns, each once, and its signals exploded from them: a condition in a
        WHERE would be pushed below the columns it reads, and each of its mentions of one would recompute it."""
        text = "answer"
        # As `signals.is_refusal`, matched only when the window holds one of the cues every refusal says, found
        # case-blind: lower-cased, after mapping to their ASCII letters the few other letters Java's (and Python's)
        # case-blind matching takes for one (long s, Kelvin sign, dotted and dotless i), apostrophes straightened.
        cued = " OR ".join(f"contains(cue_window, {literal(cue)})" for cue in signals.REFUSAL_CUES)
        prose = (
            f"NOT (ltrim({text}) RLIKE '^[\\\\[{{]' AND try_parse_json(trim({text})) IS NOT NULL) "
            f"AND NOT ({text} LIKE '%---%' AND {text} RLIKE {literal(_TABLE_RULE)}) "
            f"AND NOT ({text} RLIKE {literal(_MARKDOWN)})"
        )
        # The cheap tests first (most answers end their sentence), and none that backtracks over a long line.
        cut_off = (
            "substring(stripped, -1) RLIKE '(?U)^\\\\p{IsAlphabetic}$' "
            f"AND NOT (stripped RLIKE {literal(_SENTENCE_END)}) "
            f"AND size(filter(split(trim(substring_index(stripped, '\\n', -1)), '(?U)\\\\s+'), w -> w != '')) >= 8 "
            f"AND {prose}"
        )
        return f"""
WITH tool_calls AS (
  SELECT trace_id, name, status, status_message, exception_message, duration_ms,
    CASE WHEN status = 'ERROR' THEN NULL ELSE returned_error END AS returned_error,
    arguments
  FROM {spans} WHERE span_type = 'TOOL'
),
windows AS (
  SELECT trace_id, root_name, {text}, empty, stopped_at_limit,
    translate(substring({text}, 1, {signals.REFUSAL_WINDOW}), '\u2019\u2018\u02bc', "'''") AS straight_window,
    CASE WHEN length({text}) >= 200 THEN regexp_replace({text}, '(?U)\\\\s+$', '') END AS stripped
  FROM {traces} WHERE has_outputs
),
cued AS (SELECT *, lower(translate(straight_window, '\u017f\u212a\u0130\u0131', 'skii')) AS cue_window FROM windows),
answers AS (
  SELECT trace_id, root_name, {text}, empty,
    NOT empty AND {text} IS NOT NULL AND ({cued}) AND straight_window RLIKE {literal(_REFUSAL)} AS refused,
    NOT empty AND {text} IS NOT NULL AND (stopped_at_limit OR (stripped IS NOT NULL AND {cut_off})) AS truncated
  FROM cued
),
answer_signals AS (
  SELECT kind, trace_id, root_name, {text} FROM answers
  LATERAL VIEW explode(array(CASE WHEN empty THEN 'empty_responses' END, CASE WHEN refused THEN 'refusals' END,
    CASE WHEN truncated THEN 'truncated_responses' END)) signalled AS kind
  WHERE kind IS NOT NULL
)
SELECT 'trace_errors' AS kind, trace_id, root_name AS name,
  coalesce(status_message, 'trace failed') AS evidence FROM {traces} WHERE status = 'ERROR'
UNION ALL
SELECT 'tool_exceptions', trace_id, name,
  concat(name, ': ', coalesce(exception_message, status_message, 'exception')) FROM tool_calls WHERE status = 'ERROR'
UNION ALL
SELECT 'tool_error_outputs', trace_id, name, concat(name, ' returned: ', returned_error)
  FROM tool_calls WHERE returned_error IS NOT NULL
UNION ALL
SELECT 'repeated_tool_calls', trace_id, name, concat(name, ' called again with the same inputs')
  FROM (SELECT trace_id, name, arguments, count(*) AS calls FROM tool_calls GROUP BY trace_id, name, arguments)
  LATERAL VIEW explode(sequence(2, greatest(calls, 2))) repeats AS n WHERE calls >= 2
UNION ALL
SELECT 'span_errors', trace_id, name, concat(name, ': ', coalesce(exception_message, status_message, 'failed'))
  FROM {spans} WHERE status = 'ERROR' AND span_type != 'TOOL' AND NOT is_root
UNION ALL
SELECT kind, trace_id, root_name, CASE kind
    WHEN 'empty_responses' THEN concat(root_name, ' answered ', coalesce(substring({text}, 1, 40), ''))
    WHEN 'refusals' THEN {text}
    ELSE concat('…', substring({text}, -160)) END
  FROM answer_signals"""

    def errors(self, spans: str) -> str:
        """(trace_id, span_name, message) of every failure the error clusters group: failed steps other than
        tools (the root included), and tool calls that raised or returned an error."""
        return f"""
SELECT trace_id, name AS span_name,
  substring(coalesce(exception_message, status_message, returned_error), 1, 300) AS message
FROM {spans} WHERE status = 'ERROR' AND span_type != 'TOOL'
  AND coalesce(exception_message, status_message, returned_error) IS NOT NULL
UNION ALL
SELECT trace_id, name, coalesce(substring(coalesce(exception_message, status_message), 1, 300), 'exception')
FROM {spans} WHERE span_type = 'TOOL' AND status = 'ERROR'
UNION ALL
SELECT trace_id, name, returned_error FROM {spans}
WHERE span_type = 'TOOL' AND status != 'ERROR' AND returned_error IS NOT NULL"""

    def error_clusters(self, errors: str) -> str:
        """Per signature: occurrences, traces, span names and two example messages."""
        return f"""
SELECT signature, count(*) AS occurrences, count(DISTINCT trace_id) AS traces,
  array_sort(collect_set(span_name)) AS span_names, min(message) AS first_example, max(message) AS last_example
FROM (SELECT trace_id, span_name, message, {signature("message")} AS signature FROM {errors})
GROUP BY signature ORDER BY occurrences DESC, signature LIMIT :max_clusters"""

    def cluster_traces(self, errors: str) -> str:
        """A bounded sample of each signature's traces."""
        return f"""
SELECT signature, trace_id FROM (
  SELECT signature, trace_id, row_number() OVER (PARTITION BY signature ORDER BY trace_id) AS rank
  FROM (SELECT DISTINCT {signature("message")} AS signature, trace_id FROM {errors}))
WHERE rank <= :max_trace_ids"""

    def flags(self, signals: str, latency: str, tokens: str) -> str:
        """Every signal occurrence (kind, trace_id, name, evidence), the outliers included."""
        columns = "kind, trace_id, name, evidence"
        return (
            f"SELECT {columns} FROM {signals} UNION ALL SELECT {columns} FROM {latency} "
            f"UNION ALL SELECT {columns} FROM {tokens}"
        )

    def flag_counts(self, flags: str) -> str:
        """Per kind and name, occurrences; per kind (name NULL), distinct traces."""
        return f"""
SELECT kind, name, count(*) AS occurrences, count(DISTINCT trace_id) AS traces FROM {flags}
GROUP BY GROUPING SETS ((kind, name), (kind))"""

    def flag_traces(self, flags: str) -> str:
        """A bounded sample of each kind's traces, with each one's first evidence."""
        return f"""
SELECT kind, trace_id, evidence FROM (
  SELECT kind, trace_id, evidence, row_number() OVER (PARTITION BY kind ORDER BY trace_id) AS rank
  FROM (SELECT kind, trace_id, min(evidence) AS evidence FROM {flags} GROUP BY kind, trace_id))
WHERE rank <= :max_trace_ids"""

    def outlier_details(self, latency: str, tokens: str) -> str:
        return f"""
SELECT kind, min(name) AS name, min(span_type) AS span_type, min(threshold) AS threshold, min(median) AS median
FROM {latency} GROUP BY kind
UNION ALL
SELECT kind, NULL, NULL, min(threshold), min(median) FROM {tokens} GROUP BY kind"""

    def overview(self, traces: str) -> str:
        return f"""
SELECT count(*) AS traces, min(start_time_unix_nano) AS first_ns, max(start_time_unix_nano) AS last_ns,
  count(DISTINCT user_id) AS users, count(DISTINCT session_id) AS sessions,
  sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END) AS errors
FROM {traces}"""

    def percentiles(
        self, relation: str, value: str, *, exact: bool, keys: tuple[str, ...] = (), where: str = "true"
    ) -> str:
        """p25, p50, p75, p90, p95, p99 and max of `value`, per `keys` (or over all rows, `grp` ''): exact (linear
        interpolation, as numpy and `stats.percentile`) or, at scale, approximate."""
        quantiles = "array(0.25, 0.5, 0.75, 0.9, 0.95, 0.99)"
        function = f"percentile({value}, {quantiles})" if exact else f"percentile_approx({value}, {quantiles}, 10000)"
        selected = ", ".join(keys) if keys else "'' AS grp"
        grouping = f"GROUP BY {', '.join(keys)}" if keys else ""
        return f"""
SELECT {selected}, count({value}) AS n, {function} AS q, max({value}) AS top FROM {relation}
WHERE {value} IS NOT NULL AND {where} {grouping}"""

    def span_latency(self, spans: str, *, exact: bool) -> str:
        """Span durations' percentiles per span type (`metric` 'span_type'), per span name ('span_name') and per
        tool ('tool': the TOOL spans of a name), in one aggregation: each span is read once for all three."""
        per_metric = (
            "inline(array(named_struct('metric', 'span_type', 'grp', span_type), "
            "named_struct('metric', 'span_name', 'grp', name), "
            "named_struct('metric', 'tool', 'grp', CASE WHEN span_type = 'TOOL' THEN name END)))"
        )
        return self.percentiles(
            f"(SELECT {per_metric}, duration_ms FROM {spans})",
            "duration_ms",
            exact=exact,
            keys=("metric", "grp"),
            where="grp IS NOT NULL",
        )

    def distributions(self, traces: str, latency: str, *, exact: bool) -> str:
        """Every distribution the statistics report, one row per (metric, group)."""
        parts = [
            f"SELECT '{metric}' AS metric, * FROM ({self.percentiles(traces, metric, exact=exact)})"
            for metric in ("trace_ms", "input_tokens", "output_tokens")
        ]
        parts.append(f"SELECT metric, grp, n, q, top FROM {latency} WHERE metric IN ('span_type', 'span_name')")
        return "\nUNION ALL\n".join(parts)

    def latency_outliers(self, spans: str, latency: str) -> str:
        """Spans far slower than their name's usual: beyond `stats.outlier_threshold` and `:noticeable_ms` above
        the median (as `findings._latency_findings`), for the `:max_names` most frequent names."""
        return f"""
WITH fences AS (
  SELECT grp AS name, q[1] AS median,
    greatest(q[2] + 3 * (q[2] - q[0]), 2 * q[1], q[1] + :noticeable_ms) AS threshold
  FROM {latency} WHERE metric = 'span_name' AND n >= {MIN_OUTLIER_SAMPLES}
  ORDER BY n DESC LIMIT :max_names
)
SELECT concat('latency_outliers:', s.name) AS kind, s.trace_id, s.name,
  concat(s.name, ' took ', format_number(s.duration_ms, 0), ' ms (median ', format_number(f.median, 0), ' ms)')
    AS evidence, s.duration_ms, f.threshold, f.median, s.span_type
FROM {spans} s JOIN fences f ON f.name = s.name WHERE s.duration_ms > f.threshold"""

    def token_outliers(self, traces: str, *, exact: bool) -> str:
        fence = self.percentiles(traces, "input_tokens", exact=exact)
        return f"""
WITH fence AS (
  SELECT q[1] AS median, greatest(q[2] + 3 * (q[2] - q[0]), 2 * q[1]) AS threshold
  FROM ({fence}) WHERE n >= {MIN_OUTLIER_SAMPLES}
)
SELECT 'token_outliers:input' AS kind, t.trace_id, t.root_name AS name,
  concat(format_number(t.input_tokens, 0), ' input tokens (median ', format_number(f.median, 0), ')') AS evidence,
  f.threshold, f.median
FROM {traces} t CROSS JOIN fence f WHERE t.input_tokens > f.threshold"""

    def tools(self, spans: str, signals: str, latency: str) -> str:
        return f"""
WITH calls AS (
  SELECT name, count(*) AS calls, count(DISTINCT trace_id) AS traces,
    sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END) AS exceptions
  FROM {spans} WHERE span_type = 'TOOL' GROUP BY name
),
flagged AS (
  SELECT name, sum(CASE WHEN kind = 'tool_error_outputs' THEN 1 ELSE 0 END) AS error_outputs,
    sum(CASE WHEN kind = 'repeated_tool_calls' THEN 1 ELSE 0 END) AS repeated
  FROM {signals} WHERE kind IN ('tool_error_outputs', 'repeated_tool_calls') GROUP BY name
)
SELECT c.name, c.calls, c.traces, c.exceptions, coalesce(f.error_outputs, 0) AS error_outputs,
  coalesce(f.repeated, 0) AS repeated, l.n, l.q, l.top
FROM calls c LEFT JOIN flagged f ON f.name = c.name
LEFT JOIN (SELECT * FROM {latency} WHERE metric = 'tool') l ON l.grp = c.name
ORDER BY c.calls DESC, c.name LIMIT :max_names"""

    def span_types(self, spans: str) -> str:
        return f"SELECT span_type, count(*) AS spans FROM {spans} GROUP BY span_type"

    def root_names(self, traces: str) -> str:
        return f"SELECT root_name, count(*) AS traces FROM {traces} GROUP BY root_name ORDER BY traces DESC LIMIT 10"

    def models(self, spans: str) -> str:
        return f"""
SELECT substring(coalesce(model, name), 1, 100) AS model, count(*) AS calls,
  sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
FROM {spans} WHERE span_type IN ({", ".join(map(literal, _MODEL_TYPES))})
GROUP BY 1 ORDER BY calls DESC LIMIT :max_names"""

    def requests(self, traces: str) -> str:
        """A bounded, evenly spread sample of requests for the input clusters, with the features they are
        clustered by computed here (length, words)."""
        return f"""
SELECT trace_id, substring(request, 1, 500) AS request, length(request) AS chars
FROM {traces} WHERE trim(coalesce(request, '')) != ''
ORDER BY xxhash64(trace_id) LIMIT :max_requests"""

    def sessions(self, traces: str) -> str:
        """Turns per session, as the conversation statistics report them."""
        return f"""
SELECT count(*) AS sessions, percentile(turns, 0.5) AS turns_p50, max(turns) AS turns_max,
  sum(CASE WHEN turns > 1 THEN 1 ELSE 0 END) AS multi_turn, sum(turns) AS in_sessions
FROM (SELECT session_id, count(*) AS turns FROM {traces} WHERE session_id IS NOT NULL GROUP BY session_id)"""

    def stratified_sample(self, traces: str, signals: str) -> str:
        """Trace ids for a dataset: up to `:per_kind` of each signal's traces, then clean ones spread over the
        window by a hash, so that every failure mode is represented however rare."""
        return f"""
SELECT trace_id, kind FROM (
  SELECT trace_id, kind, row_number() OVER (PARTITION BY kind ORDER BY xxhash64(trace_id)) AS rank
  FROM (SELECT DISTINCT trace_id, regexp_extract(kind, '^[a-z_]+', 0) AS kind FROM {signals}))
WHERE rank <= :per_kind
UNION ALL
SELECT trace_id, 'clean' FROM (
  SELECT t.trace_id FROM {traces} t LEFT ANTI JOIN {signals} s ON s.trace_id = t.trace_id
  ORDER BY xxhash64(t.trace_id) LIMIT :clean)"""
