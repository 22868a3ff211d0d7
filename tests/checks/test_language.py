"""The language of a request or answer and how much two answers share (`checks.language`), on
support-agent requests and answers in English, German, Spanish and French."""

from __future__ import annotations

import pytest

from mlflow_eval_mcp.checks.language import content_terms, language_of, overlap

RECORDED = "Your order ORD-11868 has shipped and will arrive on November 16."


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Where is my order ORD-11868? It was due last week.", "en"),
        (RECORDED, "en"),
        ("Wo ist meine Bestellung ORD-11868? Sie ist nicht angekommen.", "de"),
        ("Ihre Bestellung ORD-11868 wurde versandt und kommt am 16. November an.", "de"),
        ("¿Dónde está mi pedido ORD-11868? No ha llegado.", "es"),
        ("Su pedido ORD-11868 fue enviado y llegará el 16 de noviembre.", "es"),
        ("Où est ma commande ORD-11868 ? Elle n'est pas arrivée.", "fr"),
        ("Votre commande ORD-11868 a été expédiée et arrivera le 16 novembre.", "fr"),
    ],
)
def test_the_language_of_a_request_or_answer(text, language):
    assert language_of(text) == language


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Hi",  # no common word at all
        "ORD-11868 1Z999AA10123456784 2026-11-16",  # ids and dates only
        "Danke!",  # one word is not enough to tell
    ],
)
def test_short_or_wordless_text_has_no_language(text):
    assert language_of(text) is None


def test_text_mixing_two_languages_equally_has_no_language():
    assert language_of("the and der die") is None


def test_content_terms_leave_out_common_words_short_words_and_numbers():
    assert content_terms("Your ORDER shipped on 2026-11-16 via UPS, it is in transit") == {
        "order",
        "shipped",
        "via",
        "ups",
        "transit",
    }


def test_content_terms_of_another_language_leave_out_its_common_words():
    assert content_terms("Ihre Bestellung wurde mit UPS versandt") == {"bestellung", "wurde", "ups", "versandt"}


@pytest.mark.parametrize("text", [None, "", "the and is to of"])
def test_text_without_content_has_no_content_terms(text):
    assert content_terms(text) == set()


def test_overlap_is_the_share_of_the_references_terms_the_text_uses():
    assert overlap("Your order shipped", "order shipped yesterday") == pytest.approx(2 / 3)


def test_a_paraphrase_of_the_recorded_answer_overlaps_it():
    assert overlap("Good news: order ORD-11868 has shipped and will arrive November 16.", RECORDED) == 1.0


def test_an_answer_about_something_else_shares_nothing():
    assert overlap("I can help you reset your password in the account settings.", RECORDED) == 0.0


def test_an_answer_in_another_language_shares_little():
    german = "Ihre Bestellung ORD-11868 wurde versandt und kommt am 16. November an."
    assert overlap(german, RECORDED) < 0.5


def test_an_evasive_answer_shares_no_content_with_the_recorded_one():
    assert overlap("Sorry, I will have to check; your request has been noted.", RECORDED) == 0.0


def test_no_answer_shares_nothing():
    assert overlap(None, RECORDED) == 0.0


@pytest.mark.parametrize("reference", [None, "", "And so it is."])
def test_any_text_covers_a_reference_without_content_terms(reference):
    assert overlap("Your order has shipped.", reference) == 1.0
