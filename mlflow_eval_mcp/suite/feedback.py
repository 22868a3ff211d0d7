"""Closing the loop with production: scorer results and human reviews onto the source traces
(`push_feedback`), and human feedback and expectations added in the MLflow UI back into the suite
(`pull_feedback`).

Every assessment this suite writes has source id `mlflow-eval-mcp:<suite>:<scorer>`, so a second
push finds and updates it instead of adding another. Both steps hold the suite's lock from reading
the traces to the last write, so pushes at the same time (two CLI runs, parallel tool calls) cannot
each add the same assessment; a push deletes extra copies of its own assessments that an earlier
unlocked push left. Writes go through the client's own store.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.eval_runs import last_run_id, run_traces
from mlflow_eval_mcp.suite.layout import CASES_FILE, REVIEW_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import PullResult, PushResult, ScorerConfig
from mlflow_eval_mcp.suite.state import read_analysis, read_cases, read_config, suite_lock, write_cases
from mlflow_eval_mcp.suite.tasks import record, require
from mlflow_eval_mcp.traces import load_traces
from mlflow_eval_mcp.ui_links import traces_url

if TYPE_CHECKING:
    from mlflow.entities import Assessment
    from mlflow.tracking import MlflowClient

SUITE_TAG = "mlflow_eval_mcp.suite"
SOURCE_PREFIX = "mlflow-eval-mcp"


def source_id(suite_id: str, scorer: str) -> str:
    return f"{SOURCE_PREFIX}:{suite_id}:{scorer}"


def push_feedback(
    client: MlflowClient, suite: SuiteLayout, *, run_id: str | None = None, dry_run: bool = False
) -> PushResult:
    """Write each evaluated row's scorer results onto its source production trace, and the
    suite's human reviews (state/review.json) as HUMAN feedback."""
    # Checked before taking the lock, which would create state/ in a directory that is no suite yet.
    require(suite, "scorers" if run_id else "script")
    with suite_lock(suite):
        return _push(client, suite, run_id=run_id, dry_run=dry_run)


def _push(client: MlflowClient, suite: SuiteLayout, *, run_id: str | None, dry_run: bool) -> PushResult:
    config = read_config(suite)
    run_id = run_id or last_run_id(suite)
    judges = {judge.name for judge in config.judges}
    writes: list[_Write] = []
    skipped: Counter[str] = Counter()
    for eval_trace in run_traces(client, run_id):
        tags = eval_trace.info.tags or {}
        source = tags.get("source_trace_id")
        if tags.get("row_kind") != "recorded" or not source:
            skipped["not a recorded production trace (a predict_fn or synthetic row)"] += 1
            continue
        for assessment in eval_trace.info.assessments or []:
            if assessment.feedback is None or assessment.name not in _scorer_names(config):
                continue
            writes.append(
                _Write(
                    trace_id=source,
                    name=assessment.name,
                    value=assessment.feedback.value,
                    rationale=assessment.rationale,
                    source_type="LLM_JUDGE" if assessment.name in judges else "CODE",
                    source_id=source_id(config.suite_id, assessment.name),
                    metadata={"suite_id": config.suite_id, "run_id": run_id, "eval_trace_id": eval_trace.info.trace_id},
                )
            )
    reviews = read_reviews(suite)
    # A question review_traces asked that nobody has answered yet (value null) is not a label.
    own = [review for review in reviews if review.get("source") != "mlflow"]
    answered = [review for review in own if review.get("value") is not None]
    if len(answered) < len(own):
        skipped["review questions not answered yet"] += len(own) - len(answered)
    writes += [
        _Write(
            trace_id=review["source_trace_id"],
            name=review["name"],
            value=review["value"],
            rationale=review.get("rationale"),
            source_type="HUMAN",
            source_id=str(review.get("reviewer") or "reviewer"),
            metadata={"suite_id": config.suite_id},
        )
        for review in answered  # not those pulled from the traces: they are there already
    ]
    # One write per trace, name and source: a review listed twice in review.json is written once.
    writes = list({(write.trace_id, write.name, write.source_id): write for write in writes}.values())
    counts = _apply(client, writes, skipped, suite_id=config.suite_id, dry_run=dry_run)
    tagged = sorted({write.trace_id for write in writes} - set(counts.pop("missing_traces", [])))
    if not dry_run:
        for trace_id in tagged:
            client.set_trace_tag(trace_id, SUITE_TAG, config.suite_id)
    return PushResult(
        suite_dir=str(suite.root),
        run_id=run_id,
        dry_run=dry_run,
        logged=counts["logged"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        deduplicated=counts["deduplicated"],
        skipped=sum(skipped.values()),
        skipped_reasons=dict(skipped),
        human_reviews=len(answered),
        traces_tagged=0 if dry_run else len(tagged),
        ui_url=traces_url(client.tracking_uri, read_analysis(suite).experiment_id),
    )


class _Write:
    def __init__(self, **fields: Any) -> None:
        self.trace_id: str = fields["trace_id"]
        self.name: str = fields["name"]
        self.value: Any = fields["value"]
        self.rationale: str | None = fields["rationale"]
        self.source_type: str = fields["source_type"]
        self.source_id: str = fields["source_id"]
        self.metadata: dict[str, str] = fields["metadata"]


def _scorer_names(config: ScorerConfig) -> set[str]:
    return set(config.scorer_names())


def _apply(
    client: MlflowClient, writes: list[_Write], skipped: Counter[str], *, suite_id: str, dry_run: bool
) -> dict[str, Any]:
    from mlflow.entities import AssessmentSource, Feedback

    counts: dict[str, Any] = {"logged": 0, "updated": 0, "unchanged": 0, "deduplicated": 0, "missing_traces": []}
    by_trace: dict[str, list[_Write]] = {}
    for write in writes:
        by_trace.setdefault(write.trace_id, []).append(write)
    found = {trace.info.trace_id: trace for trace in load_traces(client, list(by_trace))}
    tracing = client._tracing_client
    for trace_id, trace_writes in by_trace.items():
        trace = found.get(trace_id)
        if trace is None:
            skipped["source trace not in this store"] += len(trace_writes)
            counts["missing_traces"].append(trace_id)
            continue
        copies: dict[tuple[str, str], list[Assessment]] = {}
        for assessment in sorted(trace.info.assessments or [], key=lambda a: (a.create_time_ms or 0, a.assessment_id)):
            if assessment.feedback is not None and getattr(assessment, "valid", True) is not False:
                copies.setdefault((assessment.name, assessment.source.source_id), []).append(assessment)
        for write in trace_writes:
            # The oldest copy stays; the others this suite wrote are extras from pushes that overlapped.
            current, *extras = copies.get((write.name, write.source_id)) or [None]
            for extra in (extra for extra in extras if _written_by(extra, suite_id)):
                counts["deduplicated"] += 1
                if not dry_run:
                    tracing.delete_assessment(trace_id, extra.assessment_id)
            feedback = Feedback(
                name=write.name,
                value=write.value,
                rationale=write.rationale,
                source=AssessmentSource(source_type=write.source_type, source_id=write.source_id),
                metadata=write.metadata,
            )
            if current is None:
                counts["logged"] += 1
                if not dry_run:
                    tracing.log_assessment(trace_id, feedback)
            elif current.feedback.value == write.value and current.rationale == write.rationale:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
                if not dry_run:
                    tracing.update_assessment(trace_id, current.assessment_id, feedback)
    return counts


def _written_by(assessment: Assessment, suite_id: str) -> bool:
    """Whether a push of this suite wrote `assessment` (never delete a copy a person added)."""
    return (
        assessment.source.source_id.startswith(source_id(suite_id, ""))
        or (assessment.metadata or {}).get("suite_id") == suite_id
    )


def read_reviews(suite: SuiteLayout) -> list[dict[str, Any]]:
    path = suite.path(REVIEW_FILE)
    if not path.exists():
        return []
    try:
        reviews = json.loads(path.read_text(encoding="utf-8")).get("reviews", [])
    except (ValueError, AttributeError) as error:
        raise InvalidArgumentError(f"{path} is not valid JSON ({error}); fix it or delete it.") from error
    bad = [r for r in reviews if not (isinstance(r, dict) and r.get("source_trace_id") and r.get("name"))]
    if bad:
        raise InvalidArgumentError(
            f"{path}: every review needs source_trace_id, name and value (null while unanswered; optionally "
            "rationale, reviewer); "
            f"first bad entry: {json.dumps(bad[0])[:200]}"
        )
    return reviews


def pull_feedback(client: MlflowClient, suite: SuiteLayout) -> PullResult:
    """Read HUMAN feedback and expectations on the suite's source traces into state/review.json and
    into the cases' expectations, so the next generation and evaluation use them."""
    require(suite, "dataset")
    with suite_lock(suite):
        return _pull(client, suite)


def _pull(client: MlflowClient, suite: SuiteLayout) -> PullResult:
    cases = read_cases(suite)
    # A session case's turns are production traces too, and people label turns.
    trace_ids = list(
        dict.fromkeys(trace_id for case in cases for trace_id in [case.source_trace_id, *case.trace_ids] if trace_id)
    )
    traces = load_traces(client, trace_ids)
    pulled: dict[str, dict[str, Any]] = {}
    human = expectations = 0
    for trace in traces:
        found: dict[str, Any] = {}
        for assessment in trace.info.assessments or []:
            if getattr(assessment, "valid", True) is False:
                continue
            source_type = str(getattr(assessment.source.source_type, "value", assessment.source.source_type))
            if assessment.expectation is not None:
                found.setdefault("expectations", {})[assessment.name] = assessment.expectation.value
                expectations += 1
            elif assessment.feedback is not None and source_type == "HUMAN":
                found.setdefault("human_assessments", {})[assessment.name] = assessment.feedback.value
                found.setdefault("reviews", []).append(
                    {
                        "source_trace_id": trace.info.trace_id,
                        "name": assessment.name,
                        "value": assessment.feedback.value,
                        "rationale": assessment.rationale,
                        "reviewer": assessment.source.source_id,
                        "source": "mlflow",
                    }
                )
                human += 1
        if found:
            pulled[trace.info.trace_id] = found
    updated = 0
    for case in cases:
        found = pulled.get(case.source_trace_id or "")
        if not found or case.kind != "recorded":
            continue
        merged = {**case.expectations, **found.get("expectations", {})}
        if found.get("human_assessments"):
            merged["human_assessments"] = {**merged.get("human_assessments", {}), **found["human_assessments"]}
        if merged != case.expectations:
            case.expectations = merged
            updated += 1
    write_json_atomic(suite.path(REVIEW_FILE), {"reviews": _merged_reviews(suite, pulled)})
    if updated:
        write_cases(suite, cases)
        record(suite, "dataset", outputs=[CASES_FILE], message="expectations updated from the traces by pull_feedback")
    return PullResult(
        suite_dir=str(suite.root),
        traces_read=len(traces),
        human_feedback=human,
        expectations=expectations,
        cases_updated=updated,
        review_file=str(suite.path(REVIEW_FILE)),
        next_step=(
            f"{suggest('generate_scorers', suite_dir=str(suite.root))} so that judges use the new expectations"
            if updated
            else "nothing new on the traces; add feedback or expectations in the MLflow UI and pull again"
        ),
    )


def _merged_reviews(suite: SuiteLayout, pulled: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The suite's own reviews, plus those read from the traces (one per trace, name and reviewer)."""
    reviews = {(r["source_trace_id"], r["name"], r.get("reviewer")): r for r in read_reviews(suite)}
    for found in pulled.values():
        for review in found.get("reviews", []):
            reviews[(review["source_trace_id"], review["name"], review["reviewer"])] = review
    return list(reviews.values())
