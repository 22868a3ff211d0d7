"""Trace text and error messages are user-controlled: the checks that read them must finish on a
megabyte of adversarial text, not hold the server for minutes. Each case runs in a child process
with a timeout, so a quadratic pattern fails the test instead of hanging the run."""

import subprocess
import sys

import pytest

ADVERSARIAL = {
    "jwt-like run": "'eyJ-' * 250_000",
    "id-like run": "'a1-' * 300_000",
    "quotes": '"\'a" * 500_000',
    "emails": "'a@' * 500_000",
    "dotted domain": "'x@' + 'a.' * 500_000 + '1'",
    "bearer": "'Bearer ' * 150_000",
}
CHECKS = (
    "from mlflow_eval_mcp.checks import signals, sensitive\n"
    "text = {expression}\n"
    "sensitive.find_sensitive(text)\n"
    "signals.error_signature(text)\n"
    "signals.is_refusal(text)\n"
    "signals.output_format(text)\n"
    "signals.error_in_output(text)\n"
)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_the_shared_checks_read_a_megabyte_of_adversarial_text_without_stalling(name):
    code = CHECKS.format(expression=ADVERSARIAL[name])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
