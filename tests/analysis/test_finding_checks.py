"""The one table from finding kind to the check that catches it, read by the analysis and by
generate_scorers."""

import typing

from mlflow_eval_mcp.analysis.finding_checks import CHECK_OF_KIND, latency_scorer_name
from mlflow_eval_mcp.analysis.models import FindingKind
from mlflow_eval_mcp.suite.models import CheckName

CLAUDE_ONLY_KINDS = {"semantic_pattern"}  # caught by the Guidelines judge Claude writes with it


def test_every_kind_the_engine_measures_has_a_check():
    assert set(CHECK_OF_KIND) == set(typing.get_args(FindingKind)) - CLAUDE_ONLY_KINDS


def test_every_check_in_the_table_is_one_a_scorer_config_may_name():
    assert set(CHECK_OF_KIND.values()) <= set(typing.get_args(CheckName))


def test_a_latency_scorer_is_named_after_its_check_and_span_type():
    assert latency_scorer_name("CHAT_MODEL") == "latency_budget_chat_model"
