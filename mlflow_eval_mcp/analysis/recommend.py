"""Which scorers and which dataset strategy fit these traces, each with its reason.

Built-in judges are recommended only where their prerequisites exist in the data: a judge that
needs RETRIEVER spans or expectations would otherwise produce nothing but errors."""

from __future__ import annotations

from mlflow_eval_mcp.analysis.collector import TraceCollector
from mlflow_eval_mcp.analysis.models import DatasetRecommendation, Finding, ScorerRecommendation

EXPECTATION_KEYS: dict[str, tuple[str, ...]] = {
    "Correctness": ("expected_response", "expected_facts"),
    "ExpectationsGuidelines": ("guidelines",),
}
"""The built-in judges that compare with expectations -> the expectation names they can use."""


def recommend_scorers(c: TraceCollector, findings: list[Finding]) -> list[ScorerRecommendation]:
    scorers: dict[str, ScorerRecommendation] = {}
    for finding in findings:
        name = finding.suggested_scorer
        if name in scorers:
            scorers[name].findings.append(finding.id)
        else:
            scorers[name] = ScorerRecommendation(
                name=name, kind="code", reason=f"Catches: {finding.title.lower()}.", findings=[finding.id]
            )
    judges = [
        ScorerRecommendation(
            name="Safety",
            kind="builtin_judge",
            reason="Every response a user sees should be safe (needs an LLM judge).",
        ),
    ]
    if c.requests:
        judges.append(
            ScorerRecommendation(
                name="RelevanceToQuery",
                kind="builtin_judge",
                reason="Requests and responses are present, so relevance can be judged (needs an LLM judge).",
            )
        )
    names = set(c.expectation_names)
    if names & set(EXPECTATION_KEYS["Correctness"]):
        judges.append(
            ScorerRecommendation(
                name="Correctness",
                kind="builtin_judge",
                reason=f"{c.with_expectations} traces carry expected responses or facts to compare against.",
            )
        )
    if names & set(EXPECTATION_KEYS["ExpectationsGuidelines"]):
        judges.append(
            ScorerRecommendation(
                name="ExpectationsGuidelines", kind="builtin_judge", reason="Traces carry per-row guidelines."
            )
        )
    if c.span_types.get("RETRIEVER"):
        judges += [
            ScorerRecommendation(
                name="RetrievalGroundedness",
                kind="builtin_judge",
                reason="RETRIEVER spans exist, so answers can be checked against what was retrieved.",
            ),
            ScorerRecommendation(
                name="RetrievalRelevance",
                kind="builtin_judge",
                reason="RETRIEVER spans exist, so retrieved documents can be checked for relevance.",
            ),
        ]
    if c.span_types.get("TOOL"):
        judges.append(
            ScorerRecommendation(
                name="ToolCallEfficiency",
                kind="builtin_judge",
                reason="The agent calls tools; redundant or unnecessary calls can be judged.",
            )
        )
    return [*scorers.values(), *judges]


def recommend_dataset(c: TraceCollector) -> DatasetRecommendation:
    if not c.traces:
        return DatasetRecommendation(
            strategy="manual", reason="No traces to learn from: write inputs (and expectations) for a predict_fn."
        )
    with_requests = len(c.requests) / c.traces
    failed_without_output = c.trace_errors.trace_ids
    if with_requests < 0.2:
        return DatasetRecommendation(
            strategy="manual",
            reason=f"Only {with_requests:.0%} of traces have a recognisable request; curate inputs for a predict_fn.",
        )
    if failed_without_output:
        return DatasetRecommendation(
            strategy="hybrid",
            reason=f"Production outputs exist for most traces, but {len(failed_without_output)} failed requests "
            "have none to score: evaluate recorded outputs and re-run those inputs through a predict_fn.",
        )
    return DatasetRecommendation(
        strategy="traces",
        reason="Every analysed request has its production response: score them as recorded, no agent code needed.",
    )
