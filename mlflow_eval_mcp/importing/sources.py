"""Reading import sources: a file or a directory of files, each a JSON document or JSON lines.

Bad input never stops an import: a line that is not JSON, not text, or too large becomes a
`Skipped` with its location and reason, and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError

DEFAULT_MAX_RECORD_BYTES = 32 * 1024 * 1024
_SUFFIXES = (".json", ".jsonl", ".ndjson")
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
    except json.JSONDecodeError as error:
        if "\n" not in stripped:
            yield Skipped(file.name, f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")
            return
        # "\n" only: str.splitlines() also splits at U+2028 and friends, which JSON strings may hold.
        yield from _read_lines(file, stripped.split("\n"), max_record_bytes)
        return
    if isinstance(document, list):
        large = len(data) > max_record_bytes
        for index, item in enumerate(document):
            ref = f"{file.name} item {index}"
            if large and len(json.dumps(item, ensure_ascii=False)) > max_record_bytes:
                yield Skipped(ref, _too_large(max_record_bytes))
            else:
                yield SourceRecord(ref, item, file)
    elif len(data) > max_record_bytes:
        yield Skipped(file.name, _too_large(max_record_bytes))
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


def _read_lines(file: Path, lines: list[str], max_record_bytes: int) -> Iterator[SourceRecord | Skipped]:
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield _parse_line(file, number, line, max_record_bytes)


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
    ref = f"{file.name} line {number}"
    if len(line) > max_record_bytes:
        return Skipped(ref, _too_large(max_record_bytes))
    try:
        return SourceRecord(ref, json.loads(line), file)
    except json.JSONDecodeError as error:
        return Skipped(ref, f"malformed JSON ({error.msg} at column {error.colno})")


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
