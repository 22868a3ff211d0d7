"""The paired gate's statistics (`checks.paired`): the exact McNemar test on the cases whose verdict
flipped between production and a candidate, and when that says the candidate regressed."""

from __future__ import annotations

import pytest

from mlflow_eval_mcp.checks.paired import SIGNIFICANCE, mcnemar_exact, regressed


def test_no_flips_is_no_evidence_of_change():
    assert mcnemar_exact(0, 0) == 1.0


@pytest.mark.parametrize(
    ("pass_to_fail", "fail_to_pass", "p_value"),
    [
        (1, 0, 1.0),  # 2 * 1/2, capped
        (5, 0, 2 / 32),
        (6, 0, 2 / 64),
        (10, 2, 2 * (1 + 12 + 66) / 4096),  # 2 * P(X <= 2), X ~ Binomial(12, 1/2)
        (12, 8, 2 * sum((1, 20, 190, 1140, 4845, 15504, 38760, 77520, 125970)) / 2**20),
    ],
)
def test_the_p_value_is_twice_the_binomial_tail_of_the_rarer_flip(pass_to_fail, fail_to_pass, p_value):
    assert mcnemar_exact(pass_to_fail, fail_to_pass) == pytest.approx(p_value)


def test_the_test_is_two_sided():
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)


@pytest.mark.parametrize(("pass_to_fail", "fail_to_pass"), [(3, 3), (40, 40), (7, 6)])
def test_balanced_flips_never_exceed_a_p_value_of_one(pass_to_fail, fail_to_pass):
    assert mcnemar_exact(pass_to_fail, fail_to_pass) == 1.0


def test_six_cases_all_turning_to_failures_is_a_regression():
    assert regressed(6, 0)


def test_five_cases_turning_to_failures_alone_is_not_yet_significant():
    assert not regressed(5, 0)


def test_many_more_failures_than_recoveries_is_a_regression():
    assert regressed(10, 2)


def test_an_improvement_is_not_a_regression_however_significant():
    assert mcnemar_exact(0, 20) <= SIGNIFICANCE
    assert not regressed(0, 20)


@pytest.mark.parametrize(("pass_to_fail", "fail_to_pass"), [(0, 0), (4, 4), (12, 8)])
def test_as_many_or_barely_more_failures_than_recoveries_is_not_a_regression(pass_to_fail, fail_to_pass):
    assert not regressed(pass_to_fail, fail_to_pass)
