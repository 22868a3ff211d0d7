"""The tools a run called and with which key arguments (`checks.trajectory`), read from support-agent
runs recorded with MLflow's tracing API, and whether another run made the same calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.trajectory import expected_tool_calls, key_arguments, trajectory_problems
from tests.recorded_runs import Run, ToolStep, recorded

REQUEST = "Where is my order ORD-11868? It was supposed to arrive last week."
NOTE = "Customer says the parcel was due last week and asks whether it was lost in transit."
CUSTOMER = ToolStep("lookup_customer", {"customer_id": "C-2041", "note": NOTE}, {"name": "Maria Lopez"})
ORDER = ToolStep(
    "lookup_order",
    {"order_id": "ORD-11868", "include_history": True, "limit": 5},
    {"status": "shipped", "tracking_number": "1Z999AA10123456784"},
)
TRACKING = ToolStep(
    "track_shipment", {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}, {"status": "in transit"}
)
REFUND = ToolStep("refund_order", {"order_id": "ORD-11868", "amount": 1249.0}, {"refund_id": "RF-5521"})
ANSWER = "Your order ORD-11868 is in transit with UPS."

RUNS = {
    "recorded": [CUSTOMER, ORDER, TRACKING],
    "reordered": [TRACKING, CUSTOMER, ORDER],
    "without_tracking": [CUSTOMER, ORDER],
    "other_order": [CUSTOMER, ToolStep("lookup_order", {**ORDER.arguments, "order_id": "ORD-11869"}), TRACKING],
    "order_lookup_timed_out": [CUSTOMER, ToolStep("lookup_order", ORDER.arguments, raises="timed out"), TRACKING],
    "order_lookup_returned_error": [
        CUSTOMER,
        ToolStep("lookup_order", ORDER.arguments, {"error": "order service unavailable"}),
        TRACKING,
    ],
    "with_refund": [CUSTOMER, ORDER, TRACKING, REFUND],
    "refund_in_whole_dollars": [ToolStep("refund_order", {**REFUND.arguments, "amount": 1249}, REFUND.result)],
    "order_looked_up_twice": [CUSTOMER, ORDER, ORDER, TRACKING],
    "spelled_otherwise": [
        ToolStep("lookup_customer", {"customer_id": " c-2041 ", "note": "parcel late"}),
        ToolStep("lookup_order", {"order_id": "ord-11868", "include_history": "true", "limit": "5"}),
        ToolStep("track_shipment", {"tracking_number": "1z999aa10123456784", "carrier": "ups"}),
    ],
}


@pytest.fixture(scope="module")
def runs(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Conversation]:
    traces = recorded(
        template_db,
        tmp_path_factory.mktemp("trajectory"),
        {name: Run(REQUEST, ANSWER, tools=tools) for name, tools in RUNS.items()},
    )
    return {name: Conversation.of_trace(trace) for name, trace in traces.items()}


@pytest.fixture(scope="module")
def expected(runs: dict[str, Conversation]) -> list[dict[str, Any]]:
    return expected_tool_calls(runs["recorded"])


# --- key_arguments -------------------------------------------------------------------------------


def test_key_arguments_are_ids_numbers_booleans_and_short_codes():
    arguments = {
        "order_id": "ORD-11868",
        "customer_id": 4471902,
        "amount": 1249.0,
        "include_history": False,
        "since": "2026-11-16",
        "email": "maria.lopez@example.com",
        "url": "https://shop.example.com/orders/ORD-11868",
    }
    assert key_arguments(arguments) == arguments


def test_free_text_and_structures_are_not_key_arguments():
    arguments = {"order_id": "ORD-11868", "note": NOTE, "filters": {"status": "shipped"}, "ids": [1, 2], "x": None}
    assert key_arguments(arguments) == {"order_id": "ORD-11868"}


def test_a_code_longer_than_64_characters_is_not_a_key_argument():
    assert key_arguments({"token": "a" * 65, "order_id": "ORD-11868"}) == {"order_id": "ORD-11868"}


def test_an_empty_string_is_not_a_key_argument():
    assert key_arguments({"coupon": "", "order_id": "ORD-11868"}) == {"order_id": "ORD-11868"}


@pytest.mark.parametrize("arguments", [None, "ORD-11868", ["ORD-11868"], 11868])
def test_arguments_that_are_not_a_mapping_have_no_key_arguments(arguments):
    assert key_arguments(arguments) == {}


# --- expected_tool_calls -------------------------------------------------------------------------


def test_the_expected_calls_are_the_recorded_calls_in_order_with_their_key_arguments(expected):
    assert expected == [
        {"name": "lookup_customer", "arguments": {"customer_id": "C-2041"}},
        {"name": "lookup_order", "arguments": {"order_id": "ORD-11868", "include_history": True, "limit": 5}},
        {"name": "track_shipment", "arguments": {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}},
    ]


@pytest.mark.parametrize("run", ["order_lookup_timed_out", "order_lookup_returned_error"])
def test_a_failed_call_is_not_expected(runs, run):
    assert [call["name"] for call in expected_tool_calls(runs[run])] == ["lookup_customer", "track_shipment"]


def test_a_run_without_tools_expects_no_calls():
    assert expected_tool_calls(Conversation([])) == []


# --- trajectory_problems -------------------------------------------------------------------------


def test_the_same_calls_have_no_problems(runs, expected):
    assert trajectory_problems(runs["recorded"], expected, order="same", extra_calls=False) == []


def test_values_differing_in_case_spacing_or_type_only_are_the_same_arguments(runs, expected):
    assert trajectory_problems(runs["spelled_otherwise"], expected, order="same", extra_calls=False) == []


def test_reordered_calls_satisfy_any_order(runs, expected):
    assert trajectory_problems(runs["reordered"], expected, order="any") == []


def test_reordered_calls_fail_the_same_order(runs, expected):
    assert trajectory_problems(runs["reordered"], expected, order="same") == [
        "track_shipment called out of the expected order"
    ]


def test_a_missing_call_is_named_with_its_key_arguments(runs, expected):
    assert trajectory_problems(runs["without_tracking"], expected) == [
        "no successful track_shipment(tracking_number=1Z999AA10123456784, carrier=UPS) call"
    ]


def test_a_call_with_another_order_id_is_not_the_expected_call(runs, expected):
    assert trajectory_problems(runs["other_order"], expected) == [
        "no successful lookup_order(order_id=ORD-11868, include_history=True, limit=5) call"
    ]


@pytest.mark.parametrize("run", ["order_lookup_timed_out", "order_lookup_returned_error"])
def test_a_failed_call_does_not_count_as_made(runs, expected, run):
    assert trajectory_problems(runs[run], expected) == [
        "no successful lookup_order(order_id=ORD-11868, include_history=True, limit=5) call"
    ]


def test_calls_beyond_the_expected_ones_are_allowed_by_default(runs, expected):
    assert trajectory_problems(runs["with_refund"], expected) == []


def test_calls_beyond_the_expected_ones_are_problems_without_extra_calls(runs, expected):
    assert trajectory_problems(runs["with_refund"], expected, extra_calls=False) == ["unexpected call: refund_order"]


def test_an_amount_in_whole_dollars_is_the_recorded_amount(runs):
    expected = [{"name": "refund_order", "arguments": {"order_id": "ORD-11868", "amount": 1249.0}}]
    assert trajectory_problems(runs["refund_in_whole_dollars"], expected) == []


def test_an_expected_call_made_twice_is_one_extra_call(runs, expected):
    problems = trajectory_problems(runs["order_looked_up_twice"], expected, order="same", extra_calls=False)
    assert problems == ["unexpected call: lookup_order"]


def test_a_call_expected_twice_is_satisfied_by_two_calls(runs, expected):
    assert trajectory_problems(runs["order_looked_up_twice"], [expected[1], expected[1]]) == []


def test_a_call_expected_twice_and_made_once_is_missing_once(runs, expected):
    assert trajectory_problems(runs["recorded"], [expected[1], expected[1]]) == [
        "no successful lookup_order(order_id=ORD-11868, include_history=True, limit=5) call"
    ]


def test_an_expected_call_without_arguments_matches_any_call_of_that_tool(runs):
    assert trajectory_problems(runs["other_order"], [{"name": "lookup_order"}]) == []


def test_nothing_expected_has_no_problems(runs):
    assert trajectory_problems(runs["without_tracking"], []) == []


def test_a_run_without_tools_misses_every_expected_call(expected):
    assert len(trajectory_problems(Conversation([]), expected)) == len(expected)
