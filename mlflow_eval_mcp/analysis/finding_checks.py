"""Which check catches each kind of finding: the one table the analysis (a finding's suggested
scorer) and `generate_scorers` (the suite's code scorers) both read."""

from __future__ import annotations

from mlflow_eval_mcp.analysis.models import FindingKind

CHECK_OF_KIND: dict[FindingKind, str] = {
    # Two are refined by `generate_scorers`: a latency budget per span type (`latency_scorer_name`),
    # and for a recurring error the check of the step it happened in. A semantic pattern (Claude's
    # reading) is caught by the Guidelines judge that comes with it, not by a check.
    "trace_errors": "trace_succeeded",
    "tool_exceptions": "tool_call_errors",
    "tool_error_outputs": "tool_call_errors",
    "repeated_tool_calls": "repeated_tool_calls",
    "latency_outliers": "latency_budget",
    "token_outliers": "token_budget",
    "empty_responses": "non_empty_response",
    "refusals": "no_refusal",
    "truncated_responses": "not_truncated",
    "pii_in_outputs": "no_pii_in_output",
    "error_cluster": "tool_call_errors",
    "subagent_fanout": "subagent_fanout_budget",
    "span_errors": "no_span_errors",
    "format_violations": "output_is_json",
    "user_corrections": "no_user_friction",
    "user_repeats": "no_user_friction",
    "user_frustration": "no_user_friction",
    "human_requested": "no_user_friction",
    "agent_apologies": "no_agent_backtracking",
    "escalations": "no_escalation",
    "retries_after_tool_error": "tool_errors_recovered",
    "gave_up_after_tool_error": "tool_errors_recovered",
    "repeated_write_actions": "no_repeated_writes",
    "abandoned_conversations": "conversation_completed",
    "unbacked_claims": "claims_backed_by_tools",
    "long_conversations": "conversation_length_budget",
    "unnecessary_fanout": "no_unnecessary_fanout",
    "redundant_retrieval": "no_redundant_retrieval",
}
"""Finding kind -> the name of the check (in a suite's scorers.py) that fails the traces it flags."""


def latency_scorer_name(span_type: str) -> str:
    """The latency scorer of one span type: each type has its own budgets."""
    return f"{CHECK_OF_KIND['latency_outliers']}_{span_type.lower()}"
