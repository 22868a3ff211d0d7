"""`review_traces`: ask people for the pass/fail labels that calibrate the suite's judges.

Each question is a production trace and a label name equal to a scorer's name, with the scorer's
own criterion, so that people answer what the judge answers. The questions are added to the
suite's review file (`state/review.json`) with `value: null`; a person fills the values in and
`push_feedback` writes them onto the traces as HUMAN feedback. The same labels can be given in
the MLflow UI (a feedback assessment of that name on the trace), or on Databricks in the labeling
session this step creates. The traces asked about are balanced between the scorer's passes and
fails in the latest run, so that agreement can show whether it tells one from the other.
"""

from __future__ import annotations

import json
from itertools import chain, zip_longest
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.errors import InvalidArgumentError
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.limits import MIN_LABELS
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.feedback import read_reviews
from mlflow_eval_mcp.suite.judge_loop_models import ReviewResult
from mlflow_eval_mcp.suite.layout import REVIEW_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, JudgeSpec, ScorerConfig
from mlflow_eval_mcp.suite.runner import RESULT_FILE, read_result
from mlflow_eval_mcp.suite.state import named_scorers, read_analysis, read_cases, read_config, suite_lock
from mlflow_eval_mcp.ui_links import traces_url

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

PREVIEW_CHARS = 600
BUILTIN_QUESTIONS = {
    "Safety": "Is the response free of harmful, offensive or unsafe content?",
    "RelevanceToQuery": "Does the response address the user's request?",
    "Correctness": "Is the response correct, given the expected facts or response?",
    "ExpectationsGuidelines": "Does the response follow the guidelines set for this request?",
    "RetrievalGroundedness": "Is every claim in the response supported by the retrieved documents?",
    "RetrievalRelevance": "Are the retrieved documents relevant to the request?",
    "ToolCallEfficiency": "Did the agent call its tools without redundant or needless calls?",
}


def review_traces(
    client: MlflowClient, suite: SuiteLayout, *, scorers: list[str] | None = None, per_scorer: int = MIN_LABELS + 5
) -> ReviewResult:
    """Add questions for people to the review file (and, on Databricks, a labeling session)."""
    config = read_config(suite)
    names = _label_names(config, scorers)
    cases = [case for case in read_cases(suite) if case.kind == "recorded" and case.has_trace and case.source_trace_id]
    verdicts = _latest_verdicts(suite)
    analysis = read_analysis(suite)

    def link(trace_id: str | None) -> str | None:
        return traces_url(analysis.tracking_uri, analysis.experiment_id, trace_id)

    with suite_lock(suite):
        reviews = read_reviews(suite)
        asked = {(review["source_trace_id"], review["name"]) for review in reviews}
        questions = [
            _question(case, name, config, link(case.source_trace_id))
            for name in names
            for case in _balanced(cases, verdicts.get(name, {}), per_scorer)
            if (case.source_trace_id, name) not in asked
        ]
        write_json_atomic(suite.path(REVIEW_FILE), {"reviews": [*reviews, *questions]})
    session = None
    if analysis.tracking_uri.startswith("databricks"):
        from mlflow_eval_mcp.suite.labeling_session import create_labeling_session

        criteria = {name: _criterion(name, config) for name in names}
        asked_traces = list(dict.fromkeys(q["source_trace_id"] for q in questions))
        session = create_labeling_session(client, f"{config.suite_id}-calibration", criteria, asked_traces)
    root = str(suite.root)
    return ReviewResult(
        suite_dir=root,
        review_file=str(suite.path(REVIEW_FILE)),
        traces=len({q["source_trace_id"] for q in questions}),
        labels_asked=names,
        labeling_session=session,
        how_to_label=[
            f"In {suite.path(REVIEW_FILE)}, set each question's value to true (pass) or false (fail), with a "
            "rationale and your name as reviewer; push_feedback then writes them onto the traces as HUMAN feedback.",
            "Or in the MLflow UI: open the trace (ui_url) and add a Feedback assessment named exactly as the scorer "
            f"(e.g. {names[0]}) with the value true or false; the UI records it as HUMAN.",
            *(["Or in the Databricks review app of the labeling session (labeling_session.url)."] if session else []),
            "calibrate_judges then pulls the labels from the traces and measures agreement.",
        ],
        next_step=f"label the traces, then {suggest('push_feedback', suite_dir=root)} (for the review file) and "
        f"{suggest('calibrate_judges', suite_dir=root)}",
    )


def _label_names(config: ScorerConfig, scorers: list[str] | None) -> list[str]:
    if scorers:
        return named_scorers(config, scorers)
    if not config.judges:
        raise InvalidArgumentError(
            "This suite has no LLM judge to calibrate; name the code scorers people should check with scorers=[...]."
        )
    return [judge.name for judge in config.judges]


def _latest_verdicts(suite: SuiteLayout) -> dict[str, dict[str, bool]]:
    """Scorer -> production trace -> its verdict in the latest run of the recorded cases, if any."""
    result = read_result(suite.path(RESULT_FILE))
    if result is None or result.mode != "recorded":
        return {}
    verdicts: dict[str, dict[str, bool]] = {}
    for row in result.row_results:
        for name, scored in row.results.items():
            if row.source_trace_id and isinstance(scored.value, bool):
                verdicts.setdefault(name, {})[row.source_trace_id] = scored.value
    return verdicts


def _balanced(cases: list[DatasetCase], verdicts: dict[str, bool], count: int) -> list[DatasetCase]:
    """Up to `count` cases, alternately one the scorer failed and one it passed (by the latest run,
    else: a case chosen for a finding, then one that was not)."""
    if verdicts:
        failed = [case for case in cases if verdicts.get(case.source_trace_id or "") is False]
        passed = [case for case in cases if verdicts.get(case.source_trace_id or "") is True]
    else:
        failed = [case for case in cases if case.reasons and not case.reasons[0].startswith("cluster")]
        passed = [case for case in cases if case not in failed]
    alternating = [case for case in chain.from_iterable(zip_longest(failed, passed)) if case is not None]
    return alternating[:count]


def _question(case: DatasetCase, name: str, config: ScorerConfig, ui_url: str | None) -> dict[str, Any]:
    return {
        "source_trace_id": case.source_trace_id,
        "name": name,
        "value": None,
        "rationale": None,
        "reviewer": None,
        "question": _criterion(name, config),
        "request": _preview(case.inputs),
        "response": _preview(case.outputs),
        "ui_url": ui_url,
    }


def _criterion(name: str, config: ScorerConfig) -> str:
    """What the scorer of this name decides, in words a person can answer pass or fail."""
    judge: JudgeSpec | None = next((j for j in config.judges if j.name == name), None)
    if judge is None:
        spec = next(spec for spec in config.all_code() if spec.name == name)
        return f"Pass or fail: {spec.reason}"
    if judge.guidelines:
        return "Does the response meet every guideline? " + " ".join(judge.guidelines)
    if judge.instructions:
        return judge.instructions
    return BUILTIN_QUESTIONS.get(judge.judge, judge.reason)


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"
