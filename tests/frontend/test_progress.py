"""Progress bars on stderr: redrawn on a terminal, a line per tenth in a log."""

import io

from mlflow_eval_mcp.frontend.progress import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_a_bar_prints_one_line_per_tenth():
    log = io.StringIO()
    bar = ProgressBar("traces analysed", stream=log)
    for done in range(0, 501, 5):
        bar(done, 500)
    lines = log.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[-1] == "traces analysed [" + "#" * 30 + "] 500/500"


def test_on_a_terminal_a_bar_redraws_in_place_and_ends_its_line():
    terminal = _Terminal()
    bar = ProgressBar("cases chosen", stream=terminal)
    bar(1, 4)
    bar(4, 4)
    bar.close()
    bar.close()
    assert terminal.getvalue().count("\r") == 2
    assert terminal.getvalue().endswith("4/4\n")


def test_without_a_total_the_count_is_shown():
    log = io.StringIO()
    ProgressBar("traces converted", stream=log)(250)
    assert log.getvalue() == "traces converted: 250\n"
