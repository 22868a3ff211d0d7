"""Which traces become dataset cases: every finding kind first, then every finding, then clean
traces spread over the request clusters, so that scorers are tested on failures and on passes.

The order is deterministic: within a group, traces are ranked by a hash of their id (stable
across runs, unrelated to time, so the newest traces are not always the ones taken).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlflow_eval_mcp.analysis.clusters import tokenize
from mlflow_eval_mcp.analysis.models import TraceAnalysis

NEAR_DUPLICATE = 0.85
"""Requests whose term sets overlap this much (Jaccard) are one case, unless the second shows a
finding kind the first does not."""
PER_FINDING = 3


@dataclass
class Candidate:
    trace_id: str
    reasons: list[str] = field(default_factory=list)


def candidates(analysis: TraceAnalysis) -> Iterator[Candidate]:
    """Trace ids in the order they should be considered, each with why (finding ids, cluster):
    one trace per finding kind (most severe first), then finding traces and clean traces taken
    alternately, so that about half of any budget goes to traces that should pass."""
    reasons_of: dict[str, list[str]] = {}
    for finding in analysis.findings:
        for trace_id in finding.trace_ids:
            reasons_of.setdefault(trace_id, []).append(finding.id)
    ranked = {finding.id: _ranked(finding.trace_ids) for finding in analysis.findings}
    first_of_kind: dict[str, str] = {}
    for finding in analysis.findings:
        if finding.kind not in first_of_kind and ranked[finding.id]:
            first_of_kind[finding.kind] = ranked[finding.id][0]
    flagged_queue = [
        ranked[finding.id][depth]
        for depth in range(PER_FINDING)
        for finding in analysis.findings
        if depth < len(ranked[finding.id])
    ]
    clean_queue = _round_robin(
        [
            (f"clean:cluster-{c.cluster_id}", _ranked([t for t in c.trace_ids if t not in reasons_of]))
            for c in analysis.input_clusters
        ]
    )
    seen: set[str] = set()
    ordered = [(trace_id, "") for trace_id in first_of_kind.values()]
    ordered += _interleave([(trace_id, "") for trace_id in flagged_queue], clean_queue)
    for trace_id, reason in ordered:
        if trace_id not in seen:
            seen.add(trace_id)
            yield Candidate(trace_id, [*reasons_of.get(trace_id, []), *([reason] if reason else [])])


def _round_robin(groups: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    depth = 0
    while any(depth < len(members) for _, members in groups):
        out += [(members[depth], label) for label, members in groups if depth < len(members)]
        depth += 1
    return out


def _interleave(first: list[tuple[str, str]], second: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for index in range(max(len(first), len(second))):
        out += [queue[index] for queue in (first, second) if index < len(queue)]
    return out


class NearDuplicates:
    """Remembers accepted requests; tells whether a new one adds nothing."""

    def __init__(self) -> None:
        self._accepted: list[tuple[frozenset[str], frozenset[str]]] = []

    def is_duplicate(self, request: str, kinds: set[str]) -> bool:
        terms = frozenset(tokenize(request)) or frozenset({request.strip().lower()})
        for other_terms, other_kinds in self._accepted:
            overlap = len(terms & other_terms) / max(1, len(terms | other_terms))
            if overlap >= NEAR_DUPLICATE and kinds <= other_kinds:
                return True
        self._accepted.append((terms, frozenset(kinds)))
        return False


def _ranked(trace_ids: list[str]) -> list[str]:
    return sorted(trace_ids, key=lambda trace_id: hashlib.blake2b(trace_id.encode(), digest_size=8).digest())
