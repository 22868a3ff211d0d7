"""Langfuse traces: one trace with its observations per record.

Two shapes are read: `{"trace": {...}, "observations": [...]}`, the UI's trace download merged with
its log view, and the public API's trace object, which carries `observations` and `scores` beside
its own fields. Observations become spans by `parentObservationId`; scores become feedback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE
from mlflow_eval_mcp.importing.builder import SYNTHETIC_ROOT, TraceBuilder, decode_json_text, parse_time_ns, token_usage
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext, TraceFormat
from mlflow_eval_mcp.importing.sources import Skipped, SourceRecord
from mlflow_eval_mcp.importing.trace_writer import AssessmentRecord, TraceRecord

# SPAN and EVENT only say that some work happened. UNKNOWN claims nothing more (it is MLflow's
# default type, and what MLflow's own Langfuse translator uses for SPAN); CHAIN would claim a
# composition of steps, which the tool calls and graph nodes that frameworks log as SPAN are not.
_SPAN_TYPES = {
    "GENERATION": "CHAT_MODEL",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "EVALUATOR": "EVALUATOR",
    "GUARDRAIL": "GUARDRAIL",
}
# Only model calls carry token usage: frameworks also put roll-ups on agent observations (see the
# Microsoft Agent Framework trace), and the trace total sums every span that has usage.
_MODEL_CALLS = {"GENERATION", "EMBEDDING"}
_USAGE_ALIASES = (
    ("input", "promptTokens", "prompt_tokens", "input_tokens"),
    ("output", "completionTokens", "completion_tokens", "output_tokens"),
    ("total", "totalTokens", "total_tokens"),
)
# The API's observation view repeats usage as top-level fields, the only usage some exports have.
_VIEW_USAGE = (("inputUsage", "promptTokens"), ("outputUsage", "completionTokens"), ("totalUsage", "totalTokens"))
_SCORE_SOURCES = {"EVAL": "LLM_JUDGE", "ANNOTATION": "HUMAN", "API": "CODE"}


class _Malformed(Exception):
    """A record that cannot become a trace; the message says why."""


def _detect(value: Any) -> bool:
    if not isinstance(value, dict) or "observations" not in value:
        return False
    return isinstance(value.get("trace"), dict) or ("id" in value and "timestamp" in value)


def _parse(record: SourceRecord, context: ParseContext) -> Iterator[ImportedTrace | Skipped]:
    try:
        trace, observations, scores = _unpack(record.value)
        source_id = _trace_id(trace)
        _check_observations(observations)
        yield ImportedTrace(source_id, _build(context.builder(source_id), trace, observations, scores))
    except _Malformed as error:
        yield Skipped(record.ref, str(error))


def _unpack(value: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    if not isinstance(value, dict):
        raise _Malformed("not a Langfuse trace object")
    trace = value["trace"] if isinstance(value.get("trace"), dict) else value
    observations = value.get("observations")
    if not isinstance(observations, list):
        raise _Malformed(f"`observations` is a {type(observations).__name__}, not a list")
    if any(isinstance(item, str) for item in observations):
        raise _Malformed("`observations` lists only ids (a trace listing); export the full trace instead")
    scores = trace.get("scores") if isinstance(trace.get("scores"), list) else value.get("scores")
    return trace, observations, scores if isinstance(scores, list) else []


def _trace_id(trace: dict[str, Any]) -> str:
    trace_id = trace.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        raise _Malformed("the trace has no id")
    return trace_id


def _check_observations(observations: list[Any]) -> None:
    seen: set[str] = set()
    for index, observation in enumerate(observations):
        if not isinstance(observation, dict):
            raise _Malformed(f"observation {index} is a {type(observation).__name__}, not an object")
        observation_id = observation.get("id")
        if not isinstance(observation_id, str) or not observation_id:
            raise _Malformed(f"observation {index} ({observation.get('name')!r}) has no id")
        if observation_id in seen:
            raise _Malformed(f"observation id {observation_id} occurs twice")
        parent = observation.get("parentObservationId")
        if parent is not None and not isinstance(parent, str):
            raise _Malformed(f"observation {observation_id} has a parentObservationId that is not a string")
        seen.add(observation_id)


def _build(
    builder: TraceBuilder, trace: dict[str, Any], observations: list[dict[str, Any]], scores: list[Any]
) -> TraceRecord:
    known = {observation["id"] for observation in observations}
    top = [observation for observation in observations if observation.get("parentObservationId") not in known]
    ordered = _tree_order(observations, top)
    span_ids: dict[str, str] = {}
    # One parentless observation is the framework's own root: it ran, and its times already span
    # the trace, so it becomes the root (taking the trace's input/output where it has none). A
    # synthetic root would be a span that nobody ran. Several, or none, need a root to hang under.
    if len(top) != 1:
        _add_synthetic_root(builder, trace, top)
    for observation in ordered:
        parent = observation.get("parentObservationId")
        is_root = len(top) == 1 and observation is top[0]
        span_ids[observation["id"]] = builder.add_span(
            _name(observation),
            _SPAN_TYPES.get(str(observation.get("type")).upper(), "UNKNOWN"),
            parent_id=span_ids.get(parent) if parent else None,
            start_ns=parse_time_ns(observation.get("startTime")),
            end_ns=parse_time_ns(observation.get("endTime")),
            inputs=_io(observation, trace, "input", is_root),
            outputs=_io(observation, trace, "output", is_root),
            attributes=_attributes(observation, known) | (_trace_attributes(trace) if is_root else {}),
            error=_error(observation),
        )
    return builder.build(tags=_tags(trace), metadata=_metadata(trace), assessments=_assessments(scores))


def _tree_order(observations: list[dict[str, Any]], top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations depth first, siblings by start time, so every parent precedes its children."""
    top_ids = {observation["id"] for observation in top}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for observation in observations:
        if observation["id"] not in top_ids:
            children[observation["parentObservationId"]].append(observation)

    ordered: list[dict[str, Any]] = []
    stack = list(reversed(_by_start(top)))
    while stack:
        observation = stack.pop()
        ordered.append(observation)
        stack.extend(reversed(_by_start(children[observation["id"]])))
    if len(ordered) < len(observations):
        # Every observation left out has a present parent but no path to a top-level one.
        reached = {observation["id"] for observation in ordered}
        cycle = sorted(observation["id"] for observation in observations if observation["id"] not in reached)
        raise _Malformed(f"observations {', '.join(cycle[:5])} form a parent cycle")
    return ordered


def _by_start(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A stable sort: observations without a start, and ties, keep their order in the file.
    def key(observation: dict[str, Any]) -> tuple[bool, int]:
        start = parse_time_ns(observation.get("startTime"))
        return start is None, start or 0

    return sorted(observations, key=key)


def _add_synthetic_root(builder: TraceBuilder, trace: dict[str, Any], top: list[dict[str, Any]]) -> None:
    starts = [parse_time_ns(item.get("startTime")) for item in top] + [parse_time_ns(trace.get("timestamp"))]
    measured = [start for start in starts if start is not None]
    builder.add_span(
        str(trace.get("name") or "langfuse trace"),
        "AGENT",
        start_ns=min(measured) if measured else None,
        inputs=decode_json_text(trace.get("input")),
        outputs=decode_json_text(trace.get("output")),
        attributes={SYNTHETIC_ROOT: True, **_trace_attributes(trace)},
    )


def _name(observation: dict[str, Any]) -> str:
    name = observation.get("name")
    return str(name) if name not in (None, "") else "unnamed"


def _io(observation: dict[str, Any], trace: dict[str, Any], key: str, is_root: bool) -> Any:
    value = observation.get(key)
    if value is None and is_root:
        value = trace.get(key)
    return decode_json_text(value)


def _error(observation: dict[str, Any]) -> str | None:
    if observation.get("level") != "ERROR":
        return None
    return str(observation.get("statusMessage") or "level ERROR without a status message")


def _attributes(observation: dict[str, Any], known: set[str]) -> dict[str, Any]:
    parent = observation.get("parentObservationId")
    attributes: dict[str, Any] = {"langfuse.observation_id": observation["id"]}
    optional = {
        "langfuse.observation_type": observation.get("type"),
        # The parent was not exported; the span hangs under the root instead, and keeps its name.
        "langfuse.parent_observation_id": parent if parent is not None and parent not in known else None,
        "langfuse.level": observation.get("level") if observation.get("level") != "DEFAULT" else None,
        "langfuse.status_message": observation.get("statusMessage"),
        "langfuse.metadata": decode_json_text(observation.get("metadata")),
        "langfuse.model_parameters": observation.get("modelParameters"),
        "langfuse.usage_details": observation.get("usageDetails"),
        "langfuse.cost_details": observation.get("costDetails"),
        "langfuse.completion_start_time": observation.get("completionStartTime"),
        "langfuse.version": observation.get("version"),
        MODEL: observation.get("model"),
    }
    attributes.update({key: value for key, value in optional.items() if value not in (None, "", {}, [])})
    if str(observation.get("type")).upper() in _MODEL_CALLS and (usage := _usage(observation)):
        attributes[TOKEN_USAGE] = usage
    return attributes


def _usage(observation: dict[str, Any]) -> dict[str, int] | None:
    # An empty `usageDetails` means no usage, so only a missing one falls back to older fields.
    for key in ("usageDetails", "usage"):
        details = observation.get(key)
        if isinstance(details, dict):
            return token_usage(*(_first(details, aliases) for aliases in _USAGE_ALIASES))
    return token_usage(*(_first(observation, aliases) for aliases in _VIEW_USAGE))


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((mapping[key] for key in keys if mapping.get(key) is not None), None)


def _trace_attributes(trace: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_json_text(trace.get("metadata"))
    return {"langfuse.trace_metadata": metadata} if metadata not in (None, "", {}) else {}


def _tags(trace: dict[str, Any]) -> dict[str, str]:
    tags = {"langfuse.trace_id": trace["id"]}
    for key in ("release", "version", "environment"):
        if trace.get(key) not in (None, ""):
            tags[f"langfuse.{key}"] = str(trace[key])
    for tag in trace.get("tags") if isinstance(trace.get("tags"), list) else []:
        tags[f"langfuse.tag.{tag}"] = "true"
    return tags


def _metadata(trace: dict[str, Any]) -> dict[str, str]:
    metadata = {}
    if trace.get("userId"):
        metadata["mlflow.trace.user"] = str(trace["userId"])
    if trace.get("sessionId"):
        metadata["mlflow.trace.session"] = str(trace["sessionId"])
    return metadata


def _assessments(scores: list[Any]) -> list[AssessmentRecord]:
    assessments: list[AssessmentRecord] = []
    names: dict[str, int] = defaultdict(int)
    for score in scores:
        value = _score_value(score) if isinstance(score, dict) else None
        if value is None:
            continue
        name = str(score.get("name") or "score")
        names[name] += 1
        # The writer keys an assessment by trace and name, so a repeated name needs a suffix.
        unique = name if names[name] == 1 else f"{name} #{names[name]}"
        assessments.append(
            AssessmentRecord(
                name=unique,
                value=value,
                kind="feedback",
                source_type=_SCORE_SOURCES.get(str(score.get("source")), "CODE"),
                source_id=str(score.get("authorUserId") or score.get("configId") or "langfuse"),
                rationale=score.get("comment") or None,
                metadata=_score_metadata(score),
            )
        )
    return assessments


def _score_value(score: dict[str, Any]) -> Any:
    data_type = score.get("dataType")
    if data_type == "CATEGORICAL":
        return score.get("stringValue")
    if data_type == "BOOLEAN":
        return bool(score["value"]) if isinstance(score.get("value"), int | float) else None
    value = score.get("value")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else score.get("stringValue")


def _score_metadata(score: dict[str, Any]) -> dict[str, str]:
    fields = {
        "langfuse.score_id": score.get("id"),
        "langfuse.observation_id": score.get("observationId"),
        "langfuse.score_source": score.get("source"),
        "langfuse.data_type": score.get("dataType"),
    }
    return {key: str(value) for key, value in fields.items() if value is not None}


FORMAT = TraceFormat(
    name="langfuse",
    description="Langfuse traces: {trace, observations} exports or API trace objects with observations",
    detect=_detect,
    parse=_parse,
)
