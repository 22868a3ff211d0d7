"""The facts an answer states (`checks.facts`): which ones it found, which came from its run, which a
candidate answer leaves out, and which figures it invented, on support-agent answers in several
languages and on runs recorded with MLflow's tracing API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.entities import Trace

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.facts import (
    facts_in,
    figures_in,
    invented_figures,
    missing_facts,
    run_sources,
    sourced_facts,
)
from tests.recorded_runs import Run, ToolStep, recorded

ANSWER = (
    "Your order ORD-11868 shipped with UPS on 2026-11-14 and arrives on November 16. "
    "The refund of $1,249.00 is on its way: https://shop.example.com/orders/ORD-11868?tab=refund"
)
ORDER = {
    "order_id": "ORD-11868",
    "status": "shipped",
    "carrier": "UPS",
    "shipped_on": "2026-11-14",
    "eta": "2026-11-16",
    "refund": "$1,249.00",
    "url": "https://shop.example.com/orders/ORD-11868?tab=refund",
}
SOURCES = [json.dumps({"question": "Where is my order ORD-11868?"}), json.dumps(ORDER)]


# --- facts_in ----------------------------------------------------------------------------------


def test_an_answer_states_its_order_id_dates_amount_url_and_carrier():
    assert {
        "ORD-11868",
        "2026-11-14",
        "$1,249.00",
        "UPS",
        "https://shop.example.com/orders/ORD-11868?tab=refund",
    } <= set(facts_in(ANSWER))


def test_a_url_is_one_fact_up_to_its_closing_bracket():
    found = facts_in("Track it here (https://track.example.com/1Z999AA10123456784?lang=en).")
    assert found == ["https://track.example.com/1Z999AA10123456784?lang=en"]


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("Su reembolso de 1.249,00 EUR está en camino.", "1.249,00 EUR"),
        ("Customer 4471902 was charged twice.", "4471902"),
        ("Returns are accepted for 30 days.", "30"),
        ("Votre colis arrive le 16/11/2026.", "16/11/2026"),
    ],
)
def test_amounts_with_a_currency_code_long_ids_two_digit_numbers_and_slashed_dates_are_facts(text, fact):
    assert fact in facts_in(text)


def test_a_date_is_one_fact_not_also_its_year_month_and_day():
    assert facts_in("It arrives on 2026-11-16.") == ["2026-11-16"]


def test_numbers_below_ten_are_counts_not_facts():
    assert facts_in("You have 3 items in 2 parcels, step 1 is done.") == []


def test_names_in_a_sentence_are_facts_the_word_starting_it_is_not():
    found = facts_in("Thanks for waiting. Your refund was approved by Maria Lopez at Acme Logistics.")
    assert found == ["Maria Lopez", "Acme Logistics"]


def test_a_fact_stated_twice_is_listed_once():
    assert facts_in("ORD-11868 is late; we escalated ORD-11868.").count("ORD-11868") == 1


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_text_has_no_facts(text):
    assert facts_in(text) == []


def test_a_count_that_is_part_of_an_order_id_is_still_a_fact():
    assert "118" in facts_in("Order ORD-11868 holds 118 items.")


def test_a_tracking_number_is_a_fact():
    assert "1Z999AA10123456784" in facts_in("Your tracking number is 1Z999AA10123456784.")


# --- figures_in ----------------------------------------------------------------------------------


def test_figures_are_the_numbers_of_ten_or_more():
    assert figures_in("Refund $1,249.00 for 3 items of ORD-11868, within 14 days.") == ["ORD-11868", "1,249.00", "14"]


def test_decimals_below_ten_are_not_figures():
    assert figures_in("Shipping costs 3.50 and takes 2 days.") == []


@pytest.mark.parametrize("text", [None, ""])
def test_no_text_has_no_figures(text):
    assert figures_in(text) == []


def test_an_amount_written_the_german_way_is_a_figure():
    assert figures_in("Die Erstattung beträgt 1.249,00 €.") == ["1.249,00"]


# --- sourced_facts -------------------------------------------------------------------------------


def test_sourced_facts_are_the_answers_facts_its_run_was_given():
    assert {"ORD-11868", "2026-11-14", "$1,249.00", "UPS"} <= set(sourced_facts(ANSWER, SOURCES))


def test_a_fact_no_source_holds_is_not_sourced():
    answer = "Your order ORD-11868 shipped with DHL from Rotterdam."
    assert not {"DHL", "Rotterdam"} & set(sourced_facts(answer, SOURCES))


def test_an_amount_is_sourced_whatever_its_thousands_separator():
    assert sourced_facts("Refund: $1,249.00.", [json.dumps({"refund": "$1249.00"})]) == ["$1,249.00"]


def test_nothing_is_sourced_without_sources_or_an_answer():
    assert (sourced_facts(ANSWER, []), sourced_facts(None, SOURCES)) == ([], [])


# --- missing_facts -------------------------------------------------------------------------------


def test_a_paraphrase_states_every_expected_fact():
    paraphrase = "Good news: ord-11868 is with ups since 2026-11-14, and  your $1249.00 refund was sent."
    assert missing_facts(paraphrase, ["ORD-11868", "UPS", "2026-11-14", "$1,249.00"]) == []


def test_the_facts_an_answer_leaves_out_are_missing():
    assert missing_facts("Your order ORD-11868 has shipped.", ["ORD-11868", "UPS", "2026-11-14"]) == [
        "UPS",
        "2026-11-14",
    ]


def test_another_order_id_that_contains_the_expected_one_does_not_state_it():
    assert missing_facts("Your order ORD-118680 has shipped.", ["ORD-11868"]) == ["ORD-11868"]


def test_a_german_answer_states_the_order_id_and_date_it_repeats():
    answer = "Ihre Bestellung ORD-11868 wurde am 2026-11-14 mit UPS versandt."
    assert missing_facts(answer, ["ORD-11868", "2026-11-14", "UPS"]) == []


def test_no_answer_misses_every_expected_fact():
    assert missing_facts(None, ["ORD-11868", "UPS"]) == ["ORD-11868", "UPS"]


def test_nothing_is_missing_when_nothing_is_expected():
    assert missing_facts("Your order has shipped.", []) == []


# --- invented_figures ----------------------------------------------------------------------------


def test_an_answer_repeating_its_tools_figures_invents_none():
    assert invented_figures(ANSWER, SOURCES) == []


def test_an_amount_the_run_never_saw_is_invented():
    assert invented_figures(ANSWER.replace("$1,249.00", "$1,349.00"), SOURCES) == ["1,349.00"]


def test_another_order_number_is_invented():
    assert invented_figures(ANSWER.replace("ORD-11868", "ORD-11869"), SOURCES) == ["ORD-11869"]


@pytest.mark.parametrize(
    "answer",
    [
        "Your refund of $1,249.00 is on its way.",
        "Your refund of $1249 is on its way.",
        "Su reembolso de 1.249,00 EUR está en camino.",
        "Votre remboursement de 1249,00 EUR est en route.",
    ],
)
def test_an_amount_is_the_same_figure_whatever_its_separators(answer):
    assert invented_figures(answer, [json.dumps({"total": 1249.0})]) == []


def test_small_numbers_are_never_invented():
    assert invented_figures("It arrives in 3 to 5 days, in 2 parcels.", []) == []


def test_every_figure_is_invented_when_the_run_was_given_nothing():
    assert invented_figures("Call 0800 555 0142 about ORD-11868.", []) == ["ORD-11868", "0800", "555", "0142"]


def test_no_answer_invents_nothing():
    assert invented_figures(None, SOURCES) == []


def test_a_round_amount_with_a_thousands_separator_is_the_tools_amount():
    assert invented_figures("The refund is $1,250.", [json.dumps({"amount": 1250})]) == []


def test_twenty_thousand_is_not_given_by_twenty_items():
    assert invented_figures("Your refund of $20,000 is approved.", [json.dumps({"items": 20})]) == ["20,000"]


def test_an_invented_german_amount_is_caught():
    assert invented_figures("Die Erstattung beträgt 9.999,00 €.", [json.dumps({"total": 1249.0})]) == ["9.999,00"]


def test_an_invented_tracking_number_is_caught():
    given = [json.dumps({"tracking_number": "1Z999AA10123456784"})]
    assert invented_figures("Your tracking number is 1Z999AA10123456999.", given) != []


# --- run_sources, on a recorded run --------------------------------------------------------------


@pytest.fixture(scope="module")
def refund_run(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Trace:
    run = Run(
        request="Where is my refund for ORD-11868?",
        answer="Your refund of $1,249.00 for ORD-11868 was issued; refunds take 14 days to appear.",
        retrieved=["Refunds take 14 days to appear on your statement."],
        tools=[ToolStep("lookup_refund", {"order_id": "ORD-11868"}, {"order_id": "ORD-11868", "amount": "$1,249.00"})],
        system="You are the support agent of an online shop. Escalate amounts over $5,000.",
    )
    return recorded(template_db, tmp_path_factory.mktemp("facts"), {"refund": run})["refund"]


def test_a_runs_sources_are_its_request_tool_outputs_documents_and_model_messages(refund_run):
    sources = run_sources(Conversation.of_trace(refund_run))
    assert sources == [
        json.dumps({"question": "Where is my refund for ORD-11868?"}),
        json.dumps({"order_id": "ORD-11868", "amount": "$1,249.00"}),
        "Refunds take 14 days to appear on your statement.",
        "You are the support agent of an online shop. Escalate amounts over $5,000.",
        "Where is my refund for ORD-11868?",
    ]


def test_a_figure_from_a_retrieved_document_is_not_invented(refund_run):
    conversation = Conversation.of_trace(refund_run)
    assert invented_figures(conversation.answer_text, run_sources(conversation)) == []


def test_a_figure_from_nowhere_in_the_recorded_run_is_invented(refund_run):
    answer = "Your refund of $1,249.00 for ORD-11868 was issued; it appears within 30 days."
    assert invented_figures(answer, run_sources(Conversation.of_trace(refund_run))) == ["30"]
