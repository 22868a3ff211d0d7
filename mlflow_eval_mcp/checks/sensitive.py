"""Personal data and secrets in text: one set of patterns for finding them (the analysis reports
responses that leak them) and for redacting them (datasets written from traces, prompts sent to
an LLM), so that what is reported and what is removed can never disagree.

The patterns favour precision: a phone number needs separators in a phone-like layout, a card
number must pass the Luhn check, a key must have its vendor's prefix and length. Dates, order
ids, amounts and tracking numbers do not match.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(
    r"(?<![\w+-])(?:"
    r"(?:\+?1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"  # North American layouts
    r"|\+\d{1,3}(?:[\s.-]\(?\d{1,4}\)?){2,5}"  # international, with a leading +
    r")(?![\w-])"
)
_CARD = re.compile(r"(?<![\w.,%-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
# Keys start where a run of key characters starts: matching from inside a long run of them (a
# JWT-looking "eyJ-eyJ-…") would retry at every position and cost quadratic time on trace text.
API_KEY = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{20,}"  # Anthropic, OpenAI, Stripe-style
    r"|dapi[0-9a-f]{32}(?:-\d+)?"  # Databricks personal access tokens
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|glpat-[\w-]{20,}"  # GitLab
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r")"
)
_BEARER = re.compile(r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|$)")


def _luhn(candidate: str) -> bool:
    digits = [int(char) for char in candidate if char.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def _digits_between(low: int, high: int) -> Callable[[str], bool]:
    return lambda match: low <= sum(char.isdigit() for char in match) <= high


@dataclass(frozen=True)
class _Kind:
    name: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    hint: Callable[[str], bool] = bool
    """A cheap test every match passes: most texts hold no secret, and a substring search costs a
    fraction of running the pattern from every position."""


def _contains(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(needle in text for needle in needles)


def _digits_at_least(count: int) -> Callable[[str], bool]:
    """Whether the text holds `count` digits (one linear scan: digits and non-digits never overlap)."""
    scan = re.compile(rf"(?:\D*\d){{{count}}}").match
    return lambda text: scan(text) is not None


def _all(*hints: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: all(hint(text) for hint in hints)


# Order matters for redaction: secrets first, so that a key is not half-eaten by the phone or
# card patterns before its own pattern sees it.
KINDS: tuple[_Kind, ...] = (
    _Kind("private_key", _PRIVATE_KEY, hint=_contains("-----BEGIN ")),
    _Kind(
        "api_key",
        API_KEY,
        hint=_contains("sk-", "dapi", "gh", "github_pat_", "glpat-", "AKIA", "xox", "AIza", "eyJ"),
    ),
    _Kind("bearer_token", _BEARER, hint=_contains("earer")),
    _Kind("email", _EMAIL, hint=_contains("@")),
    _Kind("card_number", _CARD, _luhn, hint=_digits_at_least(13)),
    _Kind("ssn", _SSN, hint=_all(_contains("-"), _digits_at_least(9))),
    _Kind("phone", _PHONE, _digits_between(10, 15), hint=_digits_at_least(10)),
)
KIND_NAMES = tuple(kind.name for kind in KINDS)


_REDACTED = re.compile(r"\[REDACTED_([A-Z_]+)\]")


def find_sensitive(text: str) -> set[str]:
    """The kinds of personal data or secrets present in `text`, including those already replaced
    by `redact`: a redacted recording of a response that leaked an email still leaked it."""
    redacted = _REDACTED.findall(text) if "[REDACTED_" in text else []
    found = {match.lower() for match in redacted if match.lower() in KIND_NAMES}
    for kind in KINDS:
        if not kind.hint(text):
            continue
        for match in kind.pattern.finditer(text):
            if kind.accept is None or kind.accept(match.group()):
                found.add(kind.name)
                break
    return found


def redact(text: str, counts: Counter[str] | None = None) -> str:
    """`text` with every match replaced by `[REDACTED_<KIND>]`; `counts` (if given) is updated
    with how many of each kind were removed."""
    for kind in KINDS:
        if not kind.hint(text):
            continue

        def replace(match: re.Match[str], kind: _Kind = kind) -> str:
            if kind.accept is not None and not kind.accept(match.group()):
                return match.group()
            if counts is not None:
                counts[kind.name] += 1
            return f"[REDACTED_{kind.name.upper()}]"

        text = kind.pattern.sub(replace, text)
    return text
