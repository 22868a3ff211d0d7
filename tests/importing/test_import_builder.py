import pytest

from mlflow_eval_mcp.importing.builder import SYNTHETIC_TIME_TAG, TraceBuilder, parse_time_ns, token_usage

MS = 1_000_000


def test_missing_times_are_synthesized_monotonically_and_tagged():
    builder = TraceBuilder("tr-1", synthetic_start_ns=1_000 * MS)
    root = builder.add_span("run", "AGENT")
    first = builder.add_span("step 1", "AGENT", parent_id=root)
    builder.add_span("tool", "TOOL", parent_id=first)
    builder.add_span("step 2", "AGENT", parent_id=root)
    record = builder.build()
    spans = {span.name: span for span in record.spans}
    assert record.tags[SYNTHETIC_TIME_TAG] == "true"
    assert spans["run"].start_ns < spans["step 1"].start_ns < spans["tool"].start_ns < spans["step 2"].start_ns
    for child, parent in [("step 1", "run"), ("tool", "step 1"), ("step 2", "run")]:
        assert spans[parent].start_ns <= spans[child].start_ns <= spans[child].end_ns <= spans[parent].end_ns
    assert spans["step 1"].end_ns <= spans["step 2"].start_ns


def test_measured_times_are_kept_and_open_spans_closed():
    builder = TraceBuilder("tr-1", synthetic_start_ns=0)
    root = builder.add_span("run", "AGENT", start_ns=100, end_ns=None)
    builder.add_span("tool", "TOOL", parent_id=root, start_ns=150, end_ns=400)
    record = builder.build()
    assert SYNTHETIC_TIME_TAG not in record.tags
    assert [(s.start_ns, s.end_ns) for s in record.spans] == [(100, 400), (150, 400)]


def test_later_parentless_spans_hang_under_the_root():
    builder = TraceBuilder("tr-1", synthetic_start_ns=0)
    root = builder.add_span("run", "AGENT")
    builder.add_span("orphan", "TOOL")
    assert builder.build().spans[1].parent_id == root


def test_unknown_parent_is_refused():
    builder = TraceBuilder("tr-1", synthetic_start_ns=0)
    builder.add_span("run", "AGENT")
    with pytest.raises(ValueError, match="unknown parent"):
        builder.add_span("x", "TOOL", parent_id="00000000000000ff")


def test_a_trace_needs_a_span():
    with pytest.raises(ValueError):
        TraceBuilder("tr-1", synthetic_start_ns=0).build()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-08-22T09:38:57.088Z", 1_755_855_537_088_000_000),
        ("2025-08-22T09:38:57.123456789Z", 1_755_855_537_123_456_789),
        ("2025-05-12T20:28:13-04:00", 1_747_096_093_000_000_000),
        (1_764_694_340_818, 1_764_694_340_818_000_000),
        ("1764694340818", 1_764_694_340_818_000_000),
        (1_764_694_340.5, 1_764_694_340_500_000_000),
        (1_764_694_340_818_061_307, 1_764_694_340_818_061_307),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_times_in_every_common_form(value, expected):
    assert parse_time_ns(value) == expected


def test_token_usage_fills_the_total_and_ignores_junk():
    assert token_usage(10, 5) == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert token_usage("7", None, 9) == {"input_tokens": 7, "output_tokens": 0, "total_tokens": 9}
    assert token_usage(None, "n/a") is None
    assert token_usage(-1, True) is None
