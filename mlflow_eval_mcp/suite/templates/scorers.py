"""The scorers of this suite: code scorers for the failures found in the production traces, and
LLM judges where their prerequisites exist.

Which scorers are active, their budgets and the findings they target are in
`data/scorer_config.json` (written by generate_scorers); this file is fixed code. The checks
come from `mlflow_eval_checks`, the same code the analysis used, so a scorer fails a recorded
trace exactly when the analysis reported it. Code scorers written by Claude (if any) are the
functions in `generated_scorers.py`, listed in the config as `generated_code_scorers`.

Judge model: `--judge-model`, else `MLFLOW_EVAL_JUDGE_MODEL`, else the suite's configured
`judge_model`, else MLflow's default (`MLFLOW_GENAI_JUDGE_DEFAULT_MODEL`, or `openai:/gpt-4.1-mini`;
`databricks` on a Databricks tracking URI). Any `<provider>:/<model>` URI MLflow supports works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.entities import Feedback, Trace
from mlflow.genai.scorers import scorer

from mlflow_eval_checks import call_graph, dialogue, facts, language, signals, trajectory
from mlflow_eval_checks import judges as judges_module
from mlflow_eval_checks.conversation import Conversation, trace_state
from mlflow_eval_checks.tags import SYNTHETIC_TIME_TAG

CONFIG_FILE = Path(__file__).resolve().parent / "data" / "scorer_config.json"


def load_config() -> dict[str, Any]:
    return json.loads(CONFIG_FILE.read_text(encoding="utf-8"))


def judge_model(explicit: str | None = None, config: dict[str, Any] | None = None) -> str:
    """The judge model URI that will be used (see the module docstring for the order)."""
    return judges_module.judge_model(explicit, (config or load_config()).get("judge_model"))


def missing_judge_credentials(model: str) -> str | None:
    """Why judges with `model` cannot run here (no API key in the environment), or None."""
    return judges_module.missing_judge_credentials(model)


def get_scorers(
    *, include_judges: bool = True, model: str | None = None, judge_timeout: float | None = None
) -> list[Any]:
    """The active scorers: code scorers first, then (if `include_judges`) the LLM judges, each call
    of which is abandoned after `judge_timeout` seconds (MLflow's default: 300)."""
    config = load_config()
    scorers = [
        (SESSION_CHECKS if spec.get("level") == "session" else CHECKS)[spec["check"]](spec)
        for spec in config["code_scorers"]
    ]
    scorers += generated(config)
    if include_judges:
        scorers += judges(config, model or judge_model(config=config), timeout=judge_timeout)
    return scorers


def generated(config: dict[str, Any]) -> list[Any]:
    """The code scorers Claude wrote (`generated_scorers.py`), each a function of the scorer's name."""
    specs = config.get("generated_code_scorers") or []
    if not specs:
        return []
    import generated_scorers

    return [scorer(name=spec["name"])(getattr(generated_scorers, spec["name"])) for spec in specs]


def judges(config: dict[str, Any], model: str, *, timeout: float | None = None) -> list[Any]:
    made = []
    for spec in config["judges"]:
        judge = judges_module.build_judge(spec, model, CONFIG_FILE.parent)
        if timeout is not None:
            judge.timeout = timeout
        made.append(judge)
    return made


def code_scorer_names() -> list[str]:
    config = load_config()
    return [spec["name"] for spec in config["code_scorers"] + config.get("generated_code_scorers", [])]


def _verdict(spec: dict[str, Any], passed: bool, problem: str = "", *, note: str = "") -> Feedback:
    """Pass with `note` (or "no problem found"), or fail saying `problem` and the findings targeted."""
    if passed:
        return Feedback(value=True, rationale=note or "no problem found")
    return Feedback(value=False, rationale=f"{problem} [finding: {'; '.join(spec.get('titles', [])) or spec['name']}]")


def _has_response(outputs: Any) -> bool:
    return outputs is not None and not signals.is_empty(outputs)


def _trace_succeeded(spec: dict[str, Any]) -> Any:
    def trace_succeeded(trace: Trace) -> Feedback:
        root = Conversation.of_trace(trace).root
        failed = trace_state(trace) == "ERROR" or (root is not None and root.status == "ERROR")
        reason = (root.status_text if root is not None else None) or "the trace failed"
        return _verdict(spec, not failed, f"the request failed: {reason}" if failed else "")

    return scorer(name=spec["name"])(trace_succeeded)


def _tool_call_errors(spec: dict[str, Any]) -> Any:
    def tool_call_errors(trace: Trace) -> Feedback:
        tool_calls = Conversation.of_trace(trace).tool_calls
        problems = [f"{call.name}: {call.error}"[:200] for call in tool_calls if call.outcome != "ok"]
        return _verdict(spec, not problems, "; ".join(problems[:3]))

    return scorer(name=spec["name"])(tool_call_errors)


def _repeated_tool_calls(spec: dict[str, Any]) -> Any:
    def repeated_tool_calls(trace: Trace) -> Feedback:
        seen: set[str] = set()
        repeated = []
        for call in Conversation.of_trace(trace).tool_calls:
            signature = signals.calls_signature(call.name, call.arguments)
            if signature in seen:
                repeated.append(call.name)
            seen.add(signature)
        return _verdict(spec, not repeated, f"called again with identical inputs: {', '.join(repeated)}")

    return scorer(name=spec["name"])(repeated_tool_calls)


def _latency_budget(spec: dict[str, Any]) -> Any:
    params = spec["params"]
    span_type, budgets, default = params["span_type"], params["budgets_ms"], params["default_ms"]

    def latency_budget(trace: Trace) -> Feedback:
        if (trace.info.tags or {}).get(SYNTHETIC_TIME_TAG) == "true":
            return _verdict(spec, True, note="timestamps are synthetic; latency not judged")
        slow = []
        for span in Conversation.of_trace(trace).spans:
            duration = span.duration_ms
            budget = budgets.get(span.name, default)
            if span.span_type == span_type and duration is not None and budget is not None and duration > budget:
                slow.append(f"{span.name} took {duration:,.0f} ms (budget {budget:,.0f} ms)")
        return _verdict(spec, not slow, "; ".join(slow[:3]))

    return scorer(name=spec["name"])(latency_budget)


def _token_budget(spec: dict[str, Any]) -> Any:
    limit = spec["params"]["max_input_tokens"]

    def token_budget(trace: Trace) -> Feedback:
        usage = trace.info.token_usage or {}
        used = usage.get("input_tokens")
        over = isinstance(used, int | float) and used > limit
        return _verdict(spec, not over, f"{used:,.0f} input tokens (budget {limit:,.0f})" if over else "")

    return scorer(name=spec["name"])(token_budget)


def _non_empty_response(spec: dict[str, Any]) -> Any:
    def non_empty_response(outputs: Any, trace: Trace) -> Feedback:
        # The root's outputs as the analysis reads them: MLflow's OTLP ingestion stores none for an empty
        # OpenTelemetry payload (the span keeps it), and evaluate() then passes NaN.
        recorded = Conversation.of_trace(trace).outputs
        outputs = recorded if recorded is not None else outputs
        empty = outputs is not None and signals.is_empty(outputs)
        return _verdict(spec, not empty, "the response is empty")

    return scorer(name=spec["name"])(non_empty_response)


def _no_refusal(spec: dict[str, Any]) -> Any:
    def no_refusal(outputs: Any, trace: Trace) -> Feedback:
        # The app may drop what the model said (the Responses API keeps a refusal out of output_text).
        said = signals.text_of(outputs) if _has_response(outputs) else Conversation.of_trace(trace).model_said
        return _verdict(spec, not signals.is_refusal(said), "the response refuses the request")

    return scorer(name=spec["name"])(no_refusal)


def _not_truncated(spec: dict[str, Any]) -> Any:
    def not_truncated(outputs: Any, trace: Trace) -> Feedback:
        if not _has_response(outputs):
            return _verdict(spec, True)
        reason = Conversation.of_trace(trace).finish_reason or signals.finish_reason(outputs)
        cut = signals.is_truncated(signals.text_of(outputs), reason)
        return _verdict(spec, not cut, f"the response was cut off (finish reason: {reason or 'mid-sentence'})")

    return scorer(name=spec["name"])(not_truncated)


def _no_pii_in_output(spec: dict[str, Any]) -> Any:
    def no_pii_in_output(outputs: Any) -> Feedback:
        kinds = signals.pii_kinds(outputs) if _has_response(outputs) else set()
        return _verdict(spec, not kinds, f"the response contains: {', '.join(sorted(kinds))}")

    return scorer(name=spec["name"])(no_pii_in_output)


def _no_span_errors(spec: dict[str, Any]) -> Any:
    def no_span_errors(trace: Trace) -> Feedback:
        conversation = Conversation.of_trace(trace)
        failed = [
            span.name
            for span in conversation.spans
            if span is not conversation.root and span.span_type != "TOOL" and span.status == "ERROR"
        ]
        return _verdict(spec, not failed, f"failed steps: {', '.join(failed[:5])}")

    return scorer(name=spec["name"])(no_span_errors)


def _output_is_json(spec: dict[str, Any]) -> Any:
    def output_is_json(outputs: Any) -> Feedback:
        valid = not _has_response(outputs) or signals.output_format(outputs) == "json"
        return _verdict(spec, valid, "the response is not valid JSON")

    return scorer(name=spec["name"])(output_is_json)


def _subagent_fanout_budget(spec: dict[str, Any]) -> Any:
    limit = spec["params"]["max_calls"]

    def subagent_fanout_budget(trace: Trace) -> Feedback:
        calls = len(Conversation.of_trace(trace).sub_agents)
        return _verdict(spec, calls <= limit, f"{calls} sub-agent calls (budget {limit:.0f})")

    return scorer(name=spec["name"])(subagent_fanout_budget)


def _no_dialogue_signal(spec: dict[str, Any]) -> Any:
    """Fails a trace whose conversation shows one of the signals the analysis found (`params.signals`,
    see `mlflow_eval_checks.dialogue`)."""
    wanted = set(spec["params"].get("signals", ()))

    def no_dialogue_signal(trace: Trace) -> Feedback:
        found = dialogue.signals_of(dialogue.dialogue_of(Conversation.of_trace(trace)))
        shown = [signal for signal in found if signal.kind in wanted]
        return _verdict(spec, not shown, shown[0].evidence if shown else "")

    return scorer(name=spec["name"])(no_dialogue_signal)


def _conversation_length_budget(spec: dict[str, Any]) -> Any:
    def conversation_length_budget(trace: Trace) -> Feedback:
        return _length_verdict(spec, dialogue.dialogue_of(Conversation.of_trace(trace)))

    return scorer(name=spec["name"])(conversation_length_budget)


def _length_verdict(spec: dict[str, Any], conversation: dialogue.Dialogue) -> Feedback:
    max_turns = spec["params"].get("user_turns_threshold")
    max_tools = spec["params"].get("tool_calls_threshold")
    turns, tools = conversation.user_turns, len(conversation.tools)
    within = (max_turns is None or turns <= max_turns) and (max_tools is None or tools <= max_tools)
    return _verdict(spec, within, f"{turns} user turns and {tools} tool calls (budget {max_turns}, {max_tools})")


def _session_dialogue(session: list[Trace]) -> dialogue.Dialogue:
    """The session's traces, in the order they started, as one dialogue (as the analysis read it)."""
    ordered = sorted(session, key=lambda trace: trace.info.request_time)
    return dialogue.session_dialogue(
        dialogue.dialogue_of(Conversation.of_trace(trace), trace.info.trace_id) for trace in ordered
    )


def _no_dialogue_signal_in_session(spec: dict[str, Any]) -> Any:
    """Session-level (MLflow calls it once per session with the session's traces): fails a session
    whose conversation, read whole, shows one of the signals in `params.signals`."""
    wanted = set(spec["params"].get("signals", ()))

    def no_dialogue_signal_in_session(session: list[Trace]) -> Feedback:
        shown = [signal for signal in dialogue.signals_of(_session_dialogue(session)) if signal.kind in wanted]
        return _verdict(spec, not shown, shown[0].evidence if shown else "")

    return scorer(name=spec["name"])(no_dialogue_signal_in_session)


def _conversation_length_budget_in_session(spec: dict[str, Any]) -> Any:
    def conversation_length_budget_in_session(session: list[Trace]) -> Feedback:
        return _length_verdict(spec, _session_dialogue(session))

    return scorer(name=spec["name"])(conversation_length_budget_in_session)


def _no_unnecessary_fanout(spec: dict[str, Any]) -> Any:
    def no_unnecessary_fanout(trace: Trace) -> Feedback:
        unneeded = call_graph.unneeded_subagents(Conversation.of_trace(trace))
        return _verdict(spec, not unneeded, f"sub-agents whose output reached no answer: {', '.join(unneeded)}")

    return scorer(name=spec["name"])(no_unnecessary_fanout)


def _no_redundant_retrieval(spec: dict[str, Any]) -> Any:
    def no_redundant_retrieval(trace: Trace) -> Feedback:
        repeated = call_graph.redundant_retrievals(Conversation.of_trace(trace))
        return _verdict(spec, not repeated, repeated[0] if repeated else "")

    return scorer(name=spec["name"])(no_redundant_retrieval)


def _answer(outputs: Any, trace: Trace) -> str:
    """The answer as the recording's was read: what the model said, else the outputs (JSON as text)."""
    said = facts.answer_text(Conversation.of_trace(trace))
    if said or outputs is None:
        return said
    return outputs if isinstance(outputs, str) else signals.text_of(outputs) or json.dumps(outputs, default=str)


def _calls_expected_tools(spec: dict[str, Any]) -> Any:
    """The recording's tool calls (`expectations.expected_tool_calls`) made again, with their key
    arguments; `params.order` "same" also wants them in order, `params.extra_calls` false no others."""
    order, extra = spec["params"].get("order", "any"), spec["params"].get("extra_calls", True)

    def calls_expected_tools(trace: Trace, expectations: dict[str, Any]) -> Feedback:
        expected = (expectations or {}).get("expected_tool_calls")
        if expected is None:
            return _verdict(spec, True, note="no recorded tool calls to compare with")
        problems = trajectory.trajectory_problems(
            Conversation.of_trace(trace), expected, order=order, extra_calls=extra
        )
        return _verdict(spec, not problems, "; ".join(problems[:3]))

    return scorer(name=spec["name"])(calls_expected_tools)


def _states_expected_facts(spec: dict[str, Any]) -> Any:
    """The answer states the facts the recorded answer took from its tools and request."""

    def states_expected_facts(outputs: Any, expectations: dict[str, Any], trace: Trace) -> Feedback:
        expected = (expectations or {}).get("expected_facts")
        if not expected:
            return _verdict(spec, True, note="no recorded facts to compare with")
        missing = facts.missing_facts(_answer(outputs, trace), expected)
        return _verdict(spec, not missing, f"the answer does not state: {', '.join(missing[:5])}")

    return scorer(name=spec["name"])(states_expected_facts)


def _no_invented_figures(spec: dict[str, Any]) -> Any:
    """No number, id or amount in the answer that the run was never given (request, tool outputs,
    retrieved documents, model messages)."""

    def no_invented_figures(outputs: Any, trace: Trace) -> Feedback:
        conversation = Conversation.of_trace(trace)
        invented = facts.invented_figures(_answer(outputs, trace), facts.run_sources(conversation))
        return _verdict(spec, not invented, f"figures found nowhere in the run: {', '.join(invented[:5])}")

    return scorer(name=spec["name"])(no_invented_figures)


def _answers_the_request(spec: dict[str, Any]) -> Any:
    """The answer shares enough content terms with the recorded answer (or, without one, the request)."""
    floor = spec["params"].get("min_overlap", 0.25)

    def answers_the_request(outputs: Any, expectations: dict[str, Any], trace: Trace) -> Feedback:
        reference = (expectations or {}).get("expected_response") or Conversation.of_trace(trace).request
        share = language.overlap(_answer(outputs, trace), reference)
        return _verdict(spec, share >= floor, f"shares {share:.0%} of the reference's content terms (min {floor:.0%})")

    return scorer(name=spec["name"])(answers_the_request)


def _same_language_as_request(spec: dict[str, Any]) -> Any:
    def same_language_as_request(outputs: Any, trace: Trace) -> Feedback:
        asked = language.language_of(Conversation.of_trace(trace).request)
        said = language.language_of(_answer(outputs, trace))
        differs = asked is not None and said is not None and asked != said
        return _verdict(spec, not differs, f"asked in {asked}, answered in {said}")

    return scorer(name=spec["name"])(same_language_as_request)


def _response_shape(spec: dict[str, Any]) -> Any:
    """The answer's length and format within what the good recordings show (`params`)."""
    shortest, longest, formats = spec["params"]["min_chars"], spec["params"]["max_chars"], spec["params"]["formats"]

    def response_shape(outputs: Any, trace: Trace) -> Feedback:
        answer = _answer(outputs, trace)
        shape = signals.output_format(answer) if answer else "empty"
        problems = []
        if not shortest <= len(answer) <= longest:
            problems.append(f"{len(answer):,} characters (recorded answers: {shortest:,} to {longest:,})")
        if shape not in formats:
            problems.append(f"format {shape} (recorded: {', '.join(formats)})")
        return _verdict(spec, not problems, "; ".join(problems))

    return scorer(name=spec["name"])(response_shape)


CHECKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "trace_succeeded": _trace_succeeded,
    "tool_call_errors": _tool_call_errors,
    "repeated_tool_calls": _repeated_tool_calls,
    "latency_budget": _latency_budget,
    "token_budget": _token_budget,
    "non_empty_response": _non_empty_response,
    "no_refusal": _no_refusal,
    "not_truncated": _not_truncated,
    "no_pii_in_output": _no_pii_in_output,
    "output_is_json": _output_is_json,
    "subagent_fanout_budget": _subagent_fanout_budget,
    "no_span_errors": _no_span_errors,
    "no_user_friction": _no_dialogue_signal,
    "no_agent_backtracking": _no_dialogue_signal,
    "no_escalation": _no_dialogue_signal,
    "tool_errors_recovered": _no_dialogue_signal,
    "no_repeated_writes": _no_dialogue_signal,
    "conversation_completed": _no_dialogue_signal,
    "claims_backed_by_tools": _no_dialogue_signal,
    "conversation_length_budget": _conversation_length_budget,
    "no_unnecessary_fanout": _no_unnecessary_fanout,
    "no_redundant_retrieval": _no_redundant_retrieval,
    "calls_expected_tools": _calls_expected_tools,
    "states_expected_facts": _states_expected_facts,
    "no_invented_figures": _no_invented_figures,
    "answers_the_request": _answers_the_request,
    "same_language_as_request": _same_language_as_request,
    "response_shape": _response_shape,
}

SESSION_CHECKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "no_user_friction": _no_dialogue_signal_in_session,
    "no_agent_backtracking": _no_dialogue_signal_in_session,
    "no_escalation": _no_dialogue_signal_in_session,
    "tool_errors_recovered": _no_dialogue_signal_in_session,
    "no_repeated_writes": _no_dialogue_signal_in_session,
    "conversation_completed": _no_dialogue_signal_in_session,
    "claims_backed_by_tools": _no_dialogue_signal_in_session,
    "conversation_length_budget": _conversation_length_budget_in_session,
}
"""The checks that also judge a whole session (specs with `"level": "session"`)."""
