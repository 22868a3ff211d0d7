"""`generate_scorers`: which scorers a suite runs, derived from its analysis and dataset.

A code scorer for each structural finding (with budgets from the observed data), guards that
every agent should pass, built-in judges only where their prerequisites hold, and Guidelines
judges phrased in terms of "request" and "response" for the failures a judge sees better than code.
The judges that compare with expectations follow the dataset as it is now, not the analysis: the
expectations `pull_feedback` brings in from the traces add them without a new analysis.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, cast

from mlflow_eval_mcp.analysis.conversations import needs_whole_sessions
from mlflow_eval_mcp.analysis.finding_checks import CHECK_OF_KIND, latency_scorer_name
from mlflow_eval_mcp.analysis.models import Finding, TraceAnalysis
from mlflow_eval_mcp.analysis.recommend import EXPECTATION_KEYS
from mlflow_eval_mcp.checks.signals import output_format
from mlflow_eval_mcp.files import write_json_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.claude_scorers import add_claude_scorers, write_generated
from mlflow_eval_mcp.suite.judge_model import check_judge_model
from mlflow_eval_mcp.suite.layout import GENERATED_SCORERS_FILE, SCORER_CONFIG_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import (
    CheckName,
    CodeScorerSpec,
    DatasetCase,
    JudgeSpec,
    ScorerConfig,
    ScorersResult,
)
from mlflow_eval_mcp.suite.state import read_analysis, read_cases
from mlflow_eval_mcp.suite.tasks import record, require
from mlflow_eval_mcp.suite.templates_io import install_checks, install_template

if TYPE_CHECKING:
    from mlflow_eval_mcp.claude.session import ClaudeSession

_HONEST_ABOUT_TOOL_FAILURES = (
    "honest_about_tool_failures",
    "If a tool the assistant relied on failed, the response says that part could not be completed "
    "and does not present made-up results as fact.",
)
_GUIDELINES: dict[str, tuple[str, str]] = {
    # finding kind -> (judge name, guideline)
    "tool_exceptions": _HONEST_ABOUT_TOOL_FAILURES,
    "tool_error_outputs": _HONEST_ABOUT_TOOL_FAILURES,
    "pii_in_outputs": (
        "no_third_party_personal_data",
        "The response does not reveal personal data (names with email addresses, phone numbers or "
        "addresses) of anyone other than the person making the request.",
    ),
    "refusals": (
        "helps_with_in_scope_requests",
        "When the request is within what the assistant is for, the response helps with it instead of refusing.",
    ),
    "truncated_responses": (
        "complete_response",
        "The response is complete: it does not stop mid-sentence or leave part of the request unanswered.",
    ),
}
MIN_OVERLAP = 0.25
"""The share of the recorded answer's content terms an answer must use to be about the same thing."""
_EXPECTATION_PURPOSE = {
    "Correctness": "to compare the response against",
    "ExpectationsGuidelines": "saying what a good response does",
}


def generate_scorers(
    suite: SuiteLayout, *, judge_model: str | None = None, claude: ClaudeSession | None = None
) -> ScorersResult:
    """The engine's scorers for the analysis; with `claude`, also the judges and code scorers it
    proposes that pass their trial (see `suite.claude_scorers`)."""
    check_judge_model(judge_model)
    require(suite, "analyze", "dataset")
    analysis = read_analysis(suite)
    cases = read_cases(suite)
    expectation_keys = Counter(key for case in cases for key in case.expectations)
    code = _code_scorers(analysis)
    judges, not_used = _judges(analysis, expectation_keys)
    sessions, no_sessions = _session_scorers(analysis, has_sessions=any(case.kind == "session" for case in cases))
    code += sessions + _recording_scorers(cases)
    not_used += no_sessions
    config = ScorerConfig(suite_id=suite.name, judge_model=judge_model, code_scorers=code, judges=judges)
    write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_dump(mode="json"))
    write_generated(suite, {})
    files = [SCORER_CONFIG_FILE, install_template(suite, "scorers.py"), *install_checks(suite)]
    dropped: list[str] = []
    if claude is not None:
        # Claude's additions go into a copy: if it fails halfway, the engine's config stands as written.
        enriched = config.model_copy(deep=True)
        added = claude.attempt("scorers", lambda: add_claude_scorers(suite, enriched, claude))
        if added is not None:
            config, dropped = enriched, added
            write_json_atomic(suite.path(SCORER_CONFIG_FILE), config.model_dump(mode="json"))
            if config.generated_code_scorers:
                files.append(GENERATED_SCORERS_FILE)
    record(suite, "scorers", outputs=files)
    result = ScorersResult(
        suite_dir=str(suite.root),
        code_scorers=config.code_scorers,
        judges=config.judges,
        generated_code_scorers=config.generated_code_scorers,
        dropped=dropped,
        not_used=not_used,
        judge_model=judge_model,
        files=files,
        next_step=suggest("render_run_script", suite_dir=str(suite.root)),
    )
    if claude is not None:
        claude.stamp(
            result,
            contributed=bool(config.generated_code_scorers) or any(judge.source == "claude" for judge in config.judges),
        )
    return result


def _code_scorers(analysis: TraceAnalysis) -> list[CodeScorerSpec]:
    by_check: dict[CheckName, list[Finding]] = defaultdict(list)
    latency: dict[str, list[Finding]] = defaultdict(list)
    for finding in analysis.findings:
        if finding.kind == "latency_outliers":
            latency[str(finding.details.get("span_type", "UNKNOWN"))].append(finding)
        elif finding.kind == "error_cluster":
            by_check[_cluster_check(analysis, finding)].append(finding)
        elif finding.kind in CHECK_OF_KIND and not _seen_only_in_sessions(finding):
            by_check[cast("CheckName", CHECK_OF_KIND[finding.kind])].append(finding)
    guards: list[CheckName] = ["trace_succeeded", "non_empty_response"]
    if analysis.structure.has_tools:
        guards.append("tool_call_errors")
    specs: list[CodeScorerSpec] = []
    for check in dict.fromkeys([*guards, *by_check]):
        findings = by_check.get(check, [])
        specs.append(
            CodeScorerSpec(
                name=check,
                check=check,
                findings=[f.id for f in findings],
                titles=_titles(findings),
                params=_params(check, findings),
                reason=f"Catches: {'; '.join(_titles(findings)).lower()}." if findings else _GUARD_REASON[check],
            )
        )
    specs += [_latency_spec(analysis, span_type, findings) for span_type, findings in sorted(latency.items())]
    formats = analysis.outputs.formats
    if "output_is_json" not in by_check and formats.get("json") and set(formats) <= {"json", "non_text"}:
        specs.append(
            CodeScorerSpec(
                name="output_is_json", check="output_is_json", reason="Guard: every analysed response is JSON."
            )
        )
    return specs


def _session_scorers(analysis: TraceAnalysis, *, has_sessions: bool) -> tuple[list[CodeScorerSpec], list[str]]:
    """A session-level scorer for each conversation check with findings that only a whole session
    shows: it reads the session as the analysis did, where a check of one turn's trace cannot."""
    by_check: dict[CheckName, list[Finding]] = defaultdict(list)
    for finding in analysis.findings:
        if finding.kind in CHECK_OF_KIND and needs_whole_sessions(finding):
            by_check[cast("CheckName", CHECK_OF_KIND[finding.kind])].append(finding)
    names = {check: f"{check}_in_session" for check in by_check}
    if not has_sessions:
        return [], [f"{name}: the dataset has no session case to score whole" for name in names.values()]
    return [
        CodeScorerSpec(
            name=names[check],
            check=check,
            level="session",
            findings=[f.id for f in findings],
            titles=_titles(findings),
            params=_params(check, findings),
            reason=f"Catches, over whole sessions: {'; '.join(_titles(findings)).lower()}.",
        )
        for check, findings in by_check.items()
    ], []


def _recording_scorers(cases: list[DatasetCase]) -> list[CodeScorerSpec]:
    """Scorers that hold any agent to what the good recordings did (their derived expectations,
    see `suite.recorded_expectations`): the same tools, the same facts, no figure from nowhere, an
    answer about the request, in its language, of the recorded length and format."""
    answers = [str(case.expectations["expected_response"]) for case in cases if case.tags.get("recording") == "good"]
    if not answers:
        return []
    recorded = f"the {len(answers)} good recordings"
    specs = []
    if any("expected_tool_calls" in case.expectations for case in cases):
        specs.append(
            CodeScorerSpec(
                name="calls_expected_tools",
                check="calls_expected_tools",
                params={"order": "any", "extra_calls": True},
                reason=f"The tools {recorded} called, with their key arguments (expectations.expected_tool_calls).",
            )
        )
    if any(case.expectations.get("expected_facts") for case in cases):
        specs.append(
            CodeScorerSpec(
                name="states_expected_facts",
                check="states_expected_facts",
                reason=f"The ids, figures, dates and names {recorded} took from their tools or request.",
            )
        )
    lengths = [len(answer) for answer in answers]
    specs += [
        CodeScorerSpec(
            name="no_invented_figures",
            check="no_invented_figures",
            reason="Numbers, ids and amounts in an answer must come from its request, tools or documents.",
        ),
        CodeScorerSpec(
            name="answers_the_request",
            check="answers_the_request",
            params={"min_overlap": MIN_OVERLAP},
            reason=f"The answer shares at least {MIN_OVERLAP:.0%} of the recorded answer's content terms.",
        ),
        CodeScorerSpec(
            name="same_language_as_request",
            check="same_language_as_request",
            reason="The answer is in the language of the request.",
        ),
        CodeScorerSpec(
            name="response_shape",
            check="response_shape",
            params={
                "min_chars": min(lengths) // 2,
                "max_chars": max(lengths) * 2,
                "formats": sorted({output_format(answer) for answer in answers}),
            },
            reason=f"Length and format within what {recorded} show (half the shortest to twice the longest).",
        ),
    ]
    return specs


def _ceil_ms(rounded: float) -> int:
    """A whole-millisecond budget never below what was observed (the statistics are rounded to 3 decimals)."""
    return math.ceil(rounded + 0.001)


def _cluster_check(analysis: TraceAnalysis, finding: Finding) -> CheckName:
    """Which check sees a recurring error: the tool check for tool errors, the trace check for
    failed requests, the span check for errors in other steps."""
    names = set(str(finding.details.get("span_names", "")).split(", ")) - set(analysis.structure.root_names)
    if not names:
        return "trace_succeeded"
    if {analysis.latency.span_type_by_name.get(name, "UNKNOWN") for name in names} == {"TOOL"}:
        return "tool_call_errors"  # a tool's error, also seen on the root it propagated to
    return "no_span_errors"


_GUARD_REASON: dict[str, str] = {
    "trace_succeeded": "Guard: no request should fail (none did in the analysed traces).",
    "non_empty_response": "Guard: no response should be empty (none was in the analysed traces).",
    "tool_call_errors": "Guard: tool calls should succeed (all did in the analysed traces).",
}


def _titles(findings: list[Finding]) -> list[str]:
    return list(dict.fromkeys(f.title for f in findings))


def _seen_only_in_sessions(finding: Finding) -> bool:
    """A conversation finding none of whose traces shows it alone: a check of one trace at a time
    would pass every case, so it needs the session's other traces (not a trace-level code scorer)."""
    return int(finding.details.get("session_only", 0)) >= finding.count


def _params(check: CheckName, findings: list[Finding]) -> dict[str, Any]:
    if check == "token_budget":
        return {"max_input_tokens": float(findings[0].details["threshold_tokens"])}
    if check == "subagent_fanout_budget":
        return {"max_calls": float(findings[0].details["threshold_calls"])}
    if check == "conversation_length_budget":
        details = findings[0].details
        return {key: float(details[key]) for key in ("user_turns_threshold", "tool_calls_threshold") if key in details}
    if signals := sorted({str(f.details["signal"]) for f in findings if "signal" in f.details}):
        return {"signals": signals}
    return {}


def _latency_spec(analysis: TraceAnalysis, span_type: str, findings: list[Finding]) -> CodeScorerSpec:
    """Budgets per span name: the outlier fence for names with a latency finding; the slowest
    observed time for the other names of this type (they had no outliers); the slowest of the type
    for names not tracked one by one (pooled) or never seen."""
    latency = analysis.latency
    budgets = {
        name: _ceil_ms(stats.max)
        for name, stats in latency.by_span_name.items()
        if latency.span_type_by_name.get(name) == span_type and stats.max is not None
    }
    budgets.update({str(f.details["span_name"]): float(f.details["threshold_ms"]) for f in findings})
    type_stats = latency.by_span_type.get(span_type)
    return CodeScorerSpec(
        name=latency_scorer_name(span_type),
        check="latency_budget",
        findings=[f.id for f in findings],
        titles=_titles(findings),
        params={
            "span_type": span_type,
            "budgets_ms": budgets,
            "default_ms": _ceil_ms(type_stats.max) if type_stats and type_stats.max is not None else None,
        },
        reason=f"{span_type} spans slower than usual: {', '.join(str(f.details['span_name']) for f in findings)}.",
    )


def _judges(analysis: TraceAnalysis, expectation_keys: Counter[str]) -> tuple[list[JudgeSpec], list[str]]:
    judges: list[JudgeSpec] = []
    not_used: list[str] = []
    for recommendation in analysis.recommended_scorers:
        if recommendation.kind == "builtin_judge" and recommendation.name not in EXPECTATION_KEYS:
            judges.append(
                JudgeSpec(
                    name=_snake(recommendation.name),
                    judge=recommendation.name,  # type: ignore[arg-type]
                    reason=recommendation.reason,
                )
            )
    for judge, needed in EXPECTATION_KEYS.items():
        present = [key for key in needed if expectation_keys[key]]
        if not present:
            not_used.append(f"{judge}: no dataset case has expectations {' or '.join(needed)}")
            continue
        carried = " and ".join(f"{expectation_keys[key]} {key}" for key in present)
        judges.append(
            JudgeSpec(
                name=_snake(judge),
                judge=judge,  # type: ignore[arg-type]
                requires_expectations=present[:1],
                reason=f"Dataset cases carry expectations {_EXPECTATION_PURPOSE[judge]} ({carried}).",
            )
        )
    seen: set[str] = set()
    for finding in analysis.findings:
        if finding.kind in _GUIDELINES and _GUIDELINES[finding.kind][0] not in seen:
            name, guideline = _GUIDELINES[finding.kind]
            seen.add(name)
            judges.append(
                JudgeSpec(
                    name=name, judge="Guidelines", guidelines=[guideline], reason=f"From the finding: {finding.title}."
                )
            )
    for finding in analysis.findings:
        guideline = finding.details.get("guideline")
        if finding.kind == "semantic_pattern" and guideline and finding.suggested_scorer not in seen:
            seen.add(finding.suggested_scorer)
            judges.append(
                JudgeSpec(
                    name=finding.suggested_scorer,
                    judge="Guidelines",
                    guidelines=[str(guideline)],
                    findings=[finding.id],
                    reason=f"From Claude's reading of the traces: {finding.title}.",
                    source="claude",
                )
            )
    if not analysis.structure.has_retrieval:
        not_used.append("RetrievalGroundedness, RetrievalRelevance: the traces have no RETRIEVER spans")
    if not analysis.structure.has_tools:
        not_used.append("ToolCallEfficiency: the traces have no TOOL spans")
    return judges, not_used


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")
