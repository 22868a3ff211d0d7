"""Lexical request clustering: topics separate, every request lands in exactly one cluster, and
the same input always gives the same clusters."""

from mlflow_eval_mcp.analysis.clusters import cluster_errors, cluster_inputs, tokenize

_TOPICS = {
    "refund": [
        "I want a refund for my blender",
        "how do I get a refund for a broken kettle",
        "refund for a damaged toaster please",
        "when will my refund for the mixer arrive",
    ],
    "password": [
        "I forgot my password",
        "password reset link is not working",
        "how can I reset my password",
        "my password reset email never came",
    ],
    "shipping": [
        "how long does shipping to Canada take",
        "what does express shipping cost",
        "is shipping free over 50 dollars",
        "shipping options to Canada",
    ],
}


def _requests() -> list[tuple[str, str]]:
    return [(f"{topic}-{i}", text) for topic, texts in _TOPICS.items() for i, text in enumerate(texts)]


def test_requests_on_different_topics_never_share_a_cluster():
    clusters = cluster_inputs(_requests())
    assert all(len({trace_id.split("-")[0] for trace_id in c.trace_ids}) == 1 for c in clusters)
    assert len(clusters) < len(_requests())
    assert {term for c in clusters for term in c.top_terms} >= {"refund", "password", "shipping"}


def test_every_request_is_in_exactly_one_cluster_and_blank_ones_in_none():
    requests = [*_requests(), ("blank", "   "), ("fillers", "hi thanks ok")]
    clusters = cluster_inputs(requests)
    members = [trace_id for c in clusters for trace_id in c.trace_ids]
    assert sorted(members) == sorted(trace_id for trace_id, _ in requests if trace_id != "blank")
    assert sum(c.size for c in clusters) == len(members)


def test_clustering_is_deterministic():
    assert cluster_inputs(_requests()) == cluster_inputs(list(_requests()))


def test_the_number_of_clusters_is_capped():
    requests = [(f"r{i}", f"topic{i} alpha{i} beta{i}") for i in range(200)]
    assert len(cluster_inputs(requests, max_clusters=5)) <= 5


def test_tokens_drop_fillers_and_generalise_numbers():
    assert tokenize("Hi, where is order 12345? Thanks!") == ["order", "<num>"]
    assert tokenize("注文の状況") == ["注文", "文の", "の状", "状況"]


def test_errors_group_by_signature_with_their_traces():
    errors = [("t1", "lookup", "Order <id> not found", "Order 1 not found")] * 2 + [
        ("t2", "lookup", "Order <id> not found", "Order 2 not found"),
        ("t3", "refund", "disk full", "disk full"),
    ]
    first, second = cluster_errors(errors)
    assert (first.count, first.trace_ids) == (3, ["t1", "t2"])
    assert first.examples == ["Order 1 not found", "Order 2 not found"]
    assert (second.signature, second.span_names) == ("disk full", ["refund"])
