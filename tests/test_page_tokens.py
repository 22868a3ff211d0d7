import json

import pytest

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.page_tokens import decode_page_token, encode_page_token, query_fingerprint

QUERY = query_fingerprint("1", "trace.status = 'OK'", ["timestamp_ms DESC"])


@pytest.mark.parametrize("raw", [b"\x00\xffsqlite-offset-100", "opaque-server-token"])
def test_tokens_round_trip_and_are_json_safe(raw):
    token = encode_page_token(raw, QUERY)
    assert json.loads(json.dumps({"token": token}))["token"] == token
    assert decode_page_token(token, QUERY) == raw


def test_no_raw_token_means_no_next_page():
    assert encode_page_token(None, QUERY) is None
    assert encode_page_token(b"", QUERY) is None


@pytest.mark.parametrize("garbage", ["not-a-token", "eyJmb28iOiAxfQ==", "%%%"])
def test_garbage_token_is_rejected_with_advice(garbage):
    with pytest.raises(InvalidArgumentError, match="omit page_token"):
        decode_page_token(garbage, QUERY)


def test_token_from_another_search_is_rejected():
    token = encode_page_token(b"offset", QUERY)
    other = query_fingerprint("2", None, ["timestamp_ms DESC"])
    with pytest.raises(InvalidArgumentError, match="different search"):
        decode_page_token(token, other)
