"""Removing credentials from text bound for results, error messages and logs.

Error texts from MLflow, HTTP servers and databases quote what they were given: tracking URIs
with a password, request URLs with signed query strings, headers with bearer tokens. Every
pattern here runs in time linear in its input (no nested or overlapping unbounded repeats), and
the input is bounded first, because the text often quotes user input such as a filter string.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache

from mlflow_eval_mcp.checks.sensitive import API_KEY

MAX_MESSAGE_CHARS = 4_000
MAX_LOG_CHARS = 16_000
REDACTED = "***"

# The password (and user) in scheme://user:password@host. The run stops at the first '/', '?',
# '#' or space, so the runs of successive URLs never overlap; the greedy run backs off to the
# last '@' so that an unencoded '@' in a password does not leave its tail behind.
_USERINFO = re.compile(r"://[^/?#\s]*@")
# Values of credential-like keys: query parameters (?token=, &X-Amz-Signature=), key=value pairs
# and JSON or header fields ("api_key": "…", X-Api-Key: …). The lookbehind anchors the name at
# the start of a word, and each prefix segment ends at a separator, so no run is scanned twice.
_SECRET_NAMES = (
    r"token|secret|passw(?:or)?d|passphrase|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?|signature|client[_-]?secret"
)
_SECRET_FIELD = re.compile(
    rf"(?i)(?<![\w-])((?:[a-z0-9]+[_.-]){{0,4}}(?:{_SECRET_NAMES})(?![\w-])[\"']?\s?([=:])\s?([\"']?))"
    r"(?![\s<*])([^\s&#\"',;)}\]]+)"
)
# After an unquoted ':' the name is often prose ("needs Claude credentials: set ANTHROPIC_API_KEY"):
# there only a value that looks generated (a digit or symbol in it, or a long run) is a secret.
_PROSE_WORD = re.compile(r"[A-Za-z]{1,11}")


def _secret_field(match: re.Match[str]) -> str:
    prefix, separator, quote, value = match.groups()
    if separator == ":" and not quote and _PROSE_WORD.fullmatch(value):
        return match.group(0)
    return prefix + REDACTED


# Names too common in prose to redact after ':' ("missing key: inputs"), so only in a query string.
_SECRET_QUERY_PARAM = re.compile(r"(?i)([?&;](?:key|sig|auth|code)=)[^\s&#\"',;)}\]]+")
# The whole value of an Authorization header, whatever its scheme; atomic so that a placeholder
# such as "Bearer <token>" in a usage hint is left alone rather than matched as a bare token.
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s{0,8}[:=]\s{0,8}[\"']?(?>(?:(?:bearer|basic|token)\s{1,8})?))[\w.~+/=-]+"
)
_BEARER = re.compile(r"(?i)(\bbearer\s{1,8})[\w.~+/-]+=*")
# MLflow's advice for a databricks://profile:prefix URI repeats the prefix, i.e. the password part.
_DATABRICKS_SECRET_COMMAND = re.compile(r"(put-secret\s{1,8}[^\s']+\s{1,8})[^\s']+")
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_USERINFO, "://"),
    (_DATABRICKS_SECRET_COMMAND, rf"\1{REDACTED}"),
    (_AUTHORIZATION, rf"\1{REDACTED}"),
    (_BEARER, rf"\1{REDACTED}"),
    (_SECRET_FIELD, _secret_field),
    (_SECRET_QUERY_PARAM, rf"\1{REDACTED}"),
    (API_KEY, REDACTED),  # the vendors' key formats that the trace checks know too
)


def scrub(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` without credentials, cut to about `limit` characters (marked with "…").

    The cut comes first and falls on whitespace, so that no credential is split into a prefix
    that the patterns would no longer recognise."""
    if len(text) > limit:
        head = text[:limit]
        cut = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        text = head[: max(cut, 0)] + "…"
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


@cache
def install_log_scrubber() -> None:
    """Scrub every log record, from any logger and for any handler, including its traceback."""
    make_record = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def scrubbed_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed call would otherwise fail later in a handler, which prints the raw arguments.
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(message, MAX_LOG_CHARS), None
        if record.exc_info:
            # Handlers format exc_info only when exc_text is empty; the traceback quotes the error.
            record.exc_text = scrub(formatter.formatException(record.exc_info), MAX_LOG_CHARS)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, MAX_LOG_CHARS)
        return record

    logging.setLogRecordFactory(scrubbed_record)
