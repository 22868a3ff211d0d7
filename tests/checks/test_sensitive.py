"""Finding and redacting personal data and secrets: what matches, what must not, and that a
redacted text keeps nothing of what was found."""

from collections import Counter

import pytest

from mlflow_eval_mcp.checks.sensitive import find_sensitive, redact


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+billing@mail.example.co.uk today", "email"),
        ("call 415-555-0134", "phone"),
        ("call (415) 555-0134", "phone"),
        ("call +1 415 555 0134", "phone"),
        ("call +44 20 7946 0958", "phone"),
        ("card 4111-1111-1111-1111", "card_number"),
        ("card 5500 0000 0000 0004.", "card_number"),
        ("ssn 123-45-6789", "ssn"),
        ("key sk-proj-abcdefghijklmnopqrstuvwx", "api_key"),
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "api_key"),
        ("token dapi0123456789abcdef0123456789abcdef", "api_key"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "api_key"),
        ("aws AKIAIOSFODNN7EXAMPLE", "api_key"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "api_key"),
        ("Authorization: Bearer abcdefghijklmnop1234567890", "bearer_token"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "private_key"),
    ],
)
def test_each_kind_is_found_and_redacted(text, kind):
    assert kind in find_sensitive(text)
    counts: Counter[str] = Counter()
    redacted = redact(text, counts)
    assert counts[kind] == 1
    assert f"[REDACTED_{kind.upper()}]" in redacted
    assert redact(redacted) == redacted
    # What was removed is still reported: a redacted recording of a leak is still a leak.
    assert find_sensitive(redacted) == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-49839 placed 2026-01-15 for $1,234.56",
        "tracking 1Z999AA10123456784",
        "order number 1234567890123 (fails the Luhn check)",
        "coordinates -61.1579863984375, 45.17947477132694",
        "url-encoded %2C4111111111111111%2C",
        "call extension 555-0134",
        "sku-not-a-key sk-short",
        "version 3.17.2, build 20260115",
        "the word bearer on its own",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert find_sensitive(text) == set()
    assert redact(text) == text
