"""Reading import sources: a file or a directory of files, each a JSON document or JSON lines.

Bad input never stops an import: a line that is not JSON, not text, too large or nested too
deeply becomes a `Skipped` with its location and reason, and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError

DEFAULT_MAX_RECORD_BYTES = 32 * 1024 * 1024
MAX_NESTING = 100
"""Deeper records are skipped: real traces nest a dozen levels, and Python's recursion limit
(parsing, converting, and every later reader of the stored trace) is only ten times this."""
NESTED_TOO_DEEPLY = f"nested too deeply (more than {MAX_NESTING} levels)"
_SUFFIXES = (".json", ".jsonl", ".ndjson")
# JSON strings (which may hold brackets) and the structural characters, to find a top-level
# array's items without parsing them.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class SourceRecord:
    """One parsed JSON value and where it came from (`ref`, e.g. 'runs.jsonl line 12')."""

    ref: str
    value: Any
    file: Path


@dataclass(frozen=True)
class Skipped:
    ref: str
    reason: str


def source_files(path: Path) -> list[Path]:
    """The files an import reads: `path` itself, or the JSON/JSONL files under a directory."""
    path = path.expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
        if not files:
            raise InvalidArgumentError(f"{path} holds no .json, .jsonl or .ndjson files to import.")
        return files
    raise NotFoundError(
        f"No file or directory at {path} (resolved from the server's working directory {Path.cwd()}); "
        "give an absolute path."
    )


def read_records(file: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[SourceRecord | Skipped]:
    """Yield each record of `file`: the items of a top-level JSON list, a single JSON object,
    or one value per line of JSON lines."""
    data = file.read_bytes()
    text = _decode(data)
    if isinstance(text, UnicodeDecodeError):
        yield from _read_lines_bytewise(file, data, max_record_bytes, text)
        return
    stripped = text.strip()
    if not stripped:
        yield Skipped(file.name, "the file is empty")
        return
    try:
        document = json.loads(stripped)
    except RecursionError:
        yield from _read_deep_document(file, stripped, max_record_bytes)
        return
    except json.JSONDecodeError as error:
        if "\n" not in stripped:
            yield Skipped(file.name, f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")
            return
        yield from _read_lines(file, stripped, max_record_bytes)
        return
    if isinstance(document, list):
        large = len(data) > max_record_bytes
        shallow = _surely_shallow(stripped)
        for index, item in enumerate(document):
            ref = f"{file.name} item {index}"
            if not shallow and _too_deep(item):
                yield Skipped(ref, NESTED_TOO_DEEPLY)
            elif large and len(json.dumps(item, ensure_ascii=False)) > max_record_bytes:
                yield Skipped(ref, _too_large(max_record_bytes))
            else:
                yield SourceRecord(ref, item, file)
    elif len(data) > max_record_bytes:
        yield Skipped(file.name, _too_large(max_record_bytes))
    elif not _surely_shallow(stripped) and _too_deep(document):
        yield Skipped(file.name, NESTED_TOO_DEEPLY)
    else:
        yield SourceRecord(file.name, document, file)


def describe(file: Path, sample: list[SourceRecord]) -> str:
    """What a file looked like, for an error that says no format matched it."""
    if not sample:
        return f"{file.name} had no readable JSON records"
    first = sample[0].value
    if isinstance(first, dict):
        keys = ", ".join(sorted(first)[:12])
        return f"{file.name}: {len(sample)}+ JSON records; the first is an object with keys [{keys}]"
    return f"{file.name}: the first record is a JSON {type(first).__name__}, not an object"


def _read_lines(file: Path, text: str, max_record_bytes: int) -> Iterator[SourceRecord | Skipped]:
    # "\n" only: str.splitlines() also splits at U+2028 and friends, which JSON strings may hold.
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            yield _parse_line(file, number, line, max_record_bytes)


def _read_deep_document(file: Path, text: str, max_record_bytes: int) -> Iterator[SourceRecord | Skipped]:
    """A file that Python cannot parse in one go because something in it nests too deeply: each
    item of a top-level array, or each line of JSON lines, is read on its own."""
    outline = _outline(text)
    if outline is not None and outline[0] < len(text) and "\n" in text:
        yield from _read_lines(file, text, max_record_bytes)
    elif outline is not None and outline[0] == len(text) and text.startswith("["):
        for index, (start, end) in enumerate(outline[1]):
            yield _parse_text(file, f"{file.name} item {index}", text[start:end], max_record_bytes)
    else:
        yield Skipped(file.name, NESTED_TOO_DEEPLY)


def _outline(text: str) -> tuple[int, list[tuple[int, int]]] | None:
    """Where the JSON array or object that `text` begins with ends, and where its items are if it
    is an array; found by scanning rather than parsing, so nesting depth costs nothing. None if it
    never ends."""
    items: list[tuple[int, int]] = []
    depth, start = 0, 1
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()
        if char in ("[", "{"):
            depth += 1
        elif char in ("]", "}"):
            depth -= 1
            if depth == 0:
                if text[start : token.start()].strip():
                    items.append((start, token.start()))
                return token.end(), items
        elif char == "," and depth == 1:
            items.append((start, token.start()))
            start = token.end()
    return None


def _surely_shallow(text: str) -> bool:
    # Cheap: a value cannot nest deeper than the number of brackets in its text.
    return text.count("[") + text.count("{") <= MAX_NESTING


def _too_deep(value: Any) -> bool:
    """True if `value` nests more than MAX_NESTING levels; level by level, so it cannot recurse."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(MAX_NESTING):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _read_lines_bytewise(
    file: Path, data: bytes, max_record_bytes: int, error: UnicodeDecodeError
) -> Iterator[SourceRecord | Skipped]:
    # Not UTF-8 as a whole: keep every line that is, and name the lines that are not.
    lines = data.splitlines()
    if len(lines) == 1:
        yield Skipped(file.name, _not_text(error))
        return
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as line_error:
            yield Skipped(f"{file.name} line {number}", _not_text(line_error))
            continue
        if line.strip():
            yield _parse_line(file, number, line, max_record_bytes)


def _parse_line(file: Path, number: int, line: str, max_record_bytes: int) -> SourceRecord | Skipped:
    return _parse_text(file, f"{file.name} line {number}", line, max_record_bytes)


def _parse_text(file: Path, ref: str, text: str, max_record_bytes: int) -> SourceRecord | Skipped:
    if len(text) > max_record_bytes:
        return Skipped(ref, _too_large(max_record_bytes))
    try:
        value = json.loads(text)
    except RecursionError:
        return Skipped(ref, NESTED_TOO_DEEPLY)
    except json.JSONDecodeError as error:
        return Skipped(ref, f"malformed JSON ({error.msg} at column {error.colno})")
    if not _surely_shallow(text) and _too_deep(value):
        return Skipped(ref, NESTED_TOO_DEEPLY)
    return SourceRecord(ref, value, file)


def _decode(data: bytes) -> str | UnicodeDecodeError:
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        return error


def _not_text(error: UnicodeDecodeError) -> str:
    return (
        f"not UTF-8 text (byte {error.object[error.start : error.start + 1]!r} at offset {error.start}); "
        "re-save the file as UTF-8"
    )


def _too_large(limit: int) -> str:
    return f"record is larger than {limit // (1024 * 1024)} MiB; raise max_record_mb to import it"
