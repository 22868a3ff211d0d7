"""What an answer states that can be checked without a model: the identifiers, numbers, amounts,
dates, URLs and names in it, whether they came from what the run was given (the request, tool
outputs, retrieved documents, the messages a model was sent), and whether another answer repeats them.

A recorded answer's facts that came from its run are the facts a candidate answer must repeat; the
figures of a candidate answer found nowhere in its own run are invented. Standard library only:
this package is copied into every generated suite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .conversation import Conversation

_URL = re.compile(r"https?://[^\s)\]>\"']+")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_AMOUNT = re.compile(
    r"[$€£¥]\s?\d[\d,.]*\d|\b\d[\d,.]*\d?\s?(?:[€£¥]|USD|EUR|GBP|dollars?|euros?)(?!\w)", re.IGNORECASE
)
_IDENTIFIER = re.compile(
    r"\b(?=(?:[A-Za-z-]*\d){3})(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b"  # ORD-11868, not 1-year
    r"|\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{8,}\b"  # 1Z999AA10123456784
    r"|\b\d{5,}\b"
)
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_NAME = re.compile(r"\b[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z0-9]+)*\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n)([A-Z][a-z]+)")
_SMALL_NUMBER = 10
"""Numbers below this are counts and ordinals ("2 items", "step 1") more often than facts."""


def answer_text(conversation: Conversation) -> str:
    """The run's answer as text: what the model said, else the root's outputs as JSON."""
    if conversation.answer_text:
        return conversation.answer_text
    outputs = conversation.outputs
    return "" if outputs is None else outputs if isinstance(outputs, str) else _dumped(outputs)


def run_sources(conversation: Conversation) -> list[str]:
    """What a run was given: its request, its tool outputs, its retrieved documents and the
    messages its models were sent."""
    sources = [_dumped(conversation.request_inputs)]
    sources += [_dumped(call.result) for call in conversation.tool_calls]
    sources += [document.text or "" for retrieval in conversation.retrievals for document in retrieval.documents]
    sources += [message.text or "" for call in conversation.model_calls for message in call.messages]
    return sources


def facts_in(text: str | None) -> list[str]:
    """The checkable facts of `text`, in order: URLs, dates, amounts, identifiers, numbers of two
    digits or more, and capitalised names that do not only start a sentence (nor are part of an id)."""
    if not text:
        return []
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for pattern in (_URL, _DATE, _AMOUNT, _IDENTIFIER):
        for match in pattern.finditer(text):
            if not _inside(match.span(), taken):
                found.append(match.group(0).strip())
                taken.append(match.span())
    for match in _NUMBER.finditer(text):
        if not _inside(match.span(), taken) and _value(match.group(0)) >= _SMALL_NUMBER:
            found.append(match.group(0))
    starts = {match.group(1) for match in _SENTENCE_START.finditer(text)}
    found += [
        match.group(0)
        for match in _NAME.finditer(text)
        if match.group(0) not in starts and not _overlaps(match.span(), taken)
    ]
    return list(dict.fromkeys(found))


def sourced_facts(answer: str | None, sources: Iterable[str]) -> list[str]:
    """The facts of `answer` that one of `sources` also holds: what the answer took from its run."""
    pool = " \n ".join(sources)
    normal, figures = _normal(pool), _figure_values(pool)
    return [fact for fact in facts_in(answer) if _holds(normal, fact) or _figure_value(fact) in figures]


def missing_facts(answer: str | None, expected: Iterable[str]) -> list[str]:
    """The expected facts `answer` does not state (case, spacing and number formats aside)."""
    said, figures = _normal(answer or ""), _figure_values(answer or "")
    return [fact for fact in expected if not (_holds(said, fact) or _figure_value(fact) in figures)]


def figures_in(text: str | None) -> list[str]:
    """The figures of `text` that carry a value: numbers of two digits or more (amounts in any
    notation) and identifiers holding digits."""
    if not text:
        return []
    ids = list(_IDENTIFIER.finditer(text))
    taken = [match.span() for match in ids]
    numbers = [
        match.group(0)
        for match in _NUMBER.finditer(text)
        if _value(match.group(0)) >= _SMALL_NUMBER and not _inside(match.span(), taken)
    ]
    return list(dict.fromkeys([match.group(0) for match in ids] + numbers))


def invented_figures(answer: str | None, sources: Iterable[str]) -> list[str]:
    """The figures of `answer` that appear in none of `sources`: numbers the run was never given."""
    pool = " \n ".join(sources)
    normal, given = _normal(pool), _figure_values(pool)
    return [figure for figure in figures_in(answer) if not (_holds(normal, figure) or _figure_value(figure) in given)]


def _figure_values(text: str) -> set[str]:
    return {_canonical(match.group(0)) for match in _NUMBER.finditer(text)}


def _figure_value(fact: str) -> str | None:
    """The number a fact is, if it is one (an amount's currency aside)."""
    match = _NUMBER.search(fact)
    return _canonical(match.group(0)) if match and len(match.group(0)) >= len(re.sub(r"[^\d.,]", "", fact)) else None


def _canonical(number: str) -> str:
    """A number's value as text: 1,250 = 1250 = 1.250,00 and 3.50 = 3,5. A last separator followed
    by exactly three digits groups thousands; any other marks the decimals."""
    last = max(number.rfind("."), number.rfind(","))
    if last < 0 or len(number) - last - 1 == 3:
        whole, decimals = number, ""
    else:
        whole, decimals = number[:last], number[last + 1 :]
    whole = re.sub(r"\D", "", whole).lstrip("0") or "0"
    decimals = decimals.rstrip("0")
    return f"{whole}.{decimals}" if decimals else whole


def _value(number: str) -> float:
    return float(_canonical(number))


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in taken)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _holds(normal_text: str, fact: str) -> bool:
    """Whether the (normalised) text states `fact` as a whole word or figure, not inside another."""
    return re.search(rf"(?<![\w]){re.escape(_normal(fact))}(?![\w])", normal_text) is not None


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold())


def _dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
