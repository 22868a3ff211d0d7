"""Reading import sources: bad input becomes a reasoned skip, never a crash."""

import json

import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError, NotFoundError
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord, read_records, source_files


def _read(path, **kwargs):
    return list(read_records(path, **kwargs))


def test_json_list_yields_one_record_per_item(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"a": 1}, {"a": 2}]))
    records = _read(path)
    assert [(r.ref, r.value) for r in records] == [("list.json item 0", {"a": 1}), ("list.json item 1", {"a": 2})]


def test_single_object_is_one_record(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"trace": {}, "observations": []}, indent=2))
    (record,) = _read(path)
    assert isinstance(record, SourceRecord) and record.ref == "one.json"


def test_jsonl_malformed_lines_are_skipped_and_the_rest_read(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n\n{"a": 3}\n')
    records = _read(path)
    assert [r.value for r in records if isinstance(r, SourceRecord)] == [{"a": 1}, {"a": 3}]
    (skipped,) = [r for r in records if isinstance(r, Skipped)]
    assert skipped.ref == "runs.jsonl line 2"
    assert "malformed JSON" in skipped.reason


def test_unicode_line_separators_inside_jsonl_strings_do_not_split_records(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"a": "one\u2028two\u2029three\x85four"}\r\n{"a": 2}\n', encoding="utf-8")
    assert [r.value for r in _read(path)] == [{"a": "one\u2028two\u2029three\x85four"}, {"a": 2}]


def test_a_line_in_another_encoding_is_skipped_with_the_fix(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes('{"q": "caf\u00e9"}\n'.encode() + '{"q": "caf\u00e9"}\n'.encode("latin-1"))
    first, second = _read(path)
    assert first.value == {"q": "caf\u00e9"}
    assert second.ref == "mixed.jsonl line 2"
    assert "not UTF-8" in second.reason and "re-save" in second.reason


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_files_with_a_byte_order_mark_are_decoded(tmp_path, encoding):
    path = tmp_path / "bom.json"
    path.write_bytes(json.dumps([{"q": "\U0001f600 ok"}], ensure_ascii=False).encode(encoding))
    (record,) = _read(path)
    assert record.value == {"q": "\U0001f600 ok"}


def test_oversized_records_are_skipped_not_loaded(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"x": "y" * 5000}) + "\n" + json.dumps({"x": 1}) + "\n")
    big, small = _read(path, max_record_bytes=1000)
    assert isinstance(big, Skipped) and "larger than" in big.reason
    assert small.value == {"x": 1}


def test_oversized_items_of_a_large_list_are_skipped(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"x": "y" * 5000}, {"x": 1}]))
    big, small = _read(path, max_record_bytes=1000)
    assert isinstance(big, Skipped) and big.ref == "big.json item 0"
    assert small.value == {"x": 1}


def test_empty_and_invalid_files_are_skipped(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": ')
    assert _read(empty) == [Skipped("empty.json", "the file is empty")]
    (skipped,) = _read(broken)
    assert "not valid JSON" in skipped.reason


def test_a_directory_is_read_file_by_file(tmp_path):
    (tmp_path / "b.jsonl").write_text("{}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in source_files(tmp_path)] == ["b.jsonl", "a.json"]


def test_missing_path_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="absolute path"):
        source_files(tmp_path / "nope.json")


def test_directory_without_json_is_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidArgumentError, match=r"\.jsonl"):
        source_files(tmp_path)
