"""Annotated argument types shared by the operations: the schema a model sees, with examples and limits,
how the command line spells an argument where its rule does not fit (`Cli`), and the sentences that
tell a caller which argument is wrong and what it may be. `check_judge_model`
(suite.judge_model) is the library's rule, so every front end's values are held to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import ErrorDetails

from mlflow_eval_mcp.errors import InvalidArgumentError, shown
from mlflow_eval_mcp.limits import (
    FINDING_PAGE_SIZE,
    MAX_FINDING_PAGE_SIZE,
    MAX_SEARCH_PAGE_SIZE,
    MAX_TRACES,
    MAX_TRACES_LIMIT,
)
from mlflow_eval_mcp.models import TRACE_FIELDS
from mlflow_eval_mcp.suite.judge_model import check_judge_model

MAX_TEXT = 4096
"""Longest name, id, path, URI or model argument: longer ones are refused before any work starts."""
MAX_LONG_TEXT = 16_384
"""Longest filter string or page token."""
MAX_ITEMS = 100
"""Most items in a list or object argument."""


@dataclass(frozen=True)
class Cli:
    """How the command line spells an argument where the rule (`--kebab-name`; a required argument
    positional; a boolean a switch that sets the opposite of its default) does not fit."""

    flag: str | None = None
    metavar: str | None = None
    help: str | None = None
    """For a switch that turns off an argument that defaults to true: what turning it off does."""
    default: object = None
    """The command line's own default, where it differs (None: the operation's)."""
    convert: Callable[[list[str]], object] | None = None
    """Turns the values given to a repeated flag into the argument's value."""


def _gates_from_pairs(pairs: list[str]) -> dict[str, float] | None:
    gates = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            gates[name.strip()] = float(value)
        except ValueError:
            raise InvalidArgumentError(
                f"--gate {pair!r} must look like SCORER=MIN, e.g. tool_call_errors=0.95"
            ) from None
    return gates or None


def _judge_model_value(judge_model: str | None) -> str | None:
    try:
        return check_judge_model(judge_model)
    except InvalidArgumentError as error:
        raise ValueError(str(error)) from error  # pydantic reports a validator's ValueError as the argument's error


TrackingUri = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="MLflow tracking URI for this call, e.g. 'http://host:5000', 'databricks', "
        "'sqlite:////abs/mlflow.db' (default: MLFLOW_TRACKING_URI, else the embedded store).",
    ),
]
ExperimentId = Annotated[
    str | None,
    Field(max_length=MAX_TEXT, description="Experiment id, e.g. '1'. Give this or experiment_name."),
]
ExperimentName = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="Experiment name, e.g. 'mlflow-eval-demo'. Give this or experiment_id.",
    ),
]
FilterString = Annotated[
    str | None,
    Field(
        max_length=MAX_LONG_TEXT,
        description="MLflow trace filter, clauses joined by AND, string values in single quotes, e.g. "
        "\"trace.status = 'ERROR' AND span.type = 'TOOL'\", \"metadata.`mlflow.trace.user` = 'u1'\", "
        '"trace.timestamp_ms > 1700000000000" (epoch ms).',
    ),
    Cli(flag="--filter", metavar="FILTER"),
]
MaxResults = Annotated[
    int, Field(ge=1, le=MAX_SEARCH_PAGE_SIZE, description=f"Traces per page, 1 to {MAX_SEARCH_PAGE_SIZE}.")
]
PageToken = Annotated[
    str | None,
    Field(
        max_length=MAX_LONG_TEXT,
        description="next_page_token from the previous call with the same arguments, unchanged.",
    ),
]
OrderBy = Annotated[
    list[Annotated[str, Field(max_length=MAX_TEXT)]] | None,
    Field(
        max_length=MAX_ITEMS,
        description="e.g. ['execution_time_ms DESC']; fields: timestamp_ms, execution_time_ms, status, name.",
    ),
]
TraceId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, description="Trace id, e.g. 'tr-8f3c2a…' from search_traces."),
]
TraceFields = Annotated[
    list[Literal[TRACE_FIELDS]] | None,  # type: ignore[valid-type]
    Field(
        max_length=len(TRACE_FIELDS),
        description="Per trace (default: trace_id, state, request_time, duration_ms, previews, "
        "token_usage, error_span_names).",
    ),
    Cli(flag="--field"),
]
Detail = Annotated[
    Literal["summary", "full"],
    Field(
        description="summary: sized for a model's context (the MCP default); full: every statistic and id "
        "(the CLI default)."
    ),
    Cli(default="full"),
]
AnalysisId = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT, description="analysis_id from an analyze_traces result.")
]
FindingId = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT, description="A finding's id, e.g. 'tool_exceptions'.")
]
FindingPageSize = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_FINDING_PAGE_SIZE,
        description=f"Traces per page, 1 to {MAX_FINDING_PAGE_SIZE} (default {FINDING_PAGE_SIZE}).",
    ),
]
MaxChars = Annotated[
    int | None,
    Field(
        ge=100,
        le=100_000,
        description="Longest span input/output kept, in characters (longer ones are cut); default: what keeps "
        "the whole trace summary-sized, at most 2,000 per span.",
    ),
]
ImportPath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="Absolute path of a file (.json, .jsonl) or a directory of them on the server's machine.",
    ),
]
TargetExperiment = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="Experiment to import into; created if missing, e.g. 'prod-agent-import'.",
    ),
    Cli(flag="--experiment", metavar="NAME"),
]
ImportFormat = Annotated[
    Literal["auto", "mlflow", "langfuse", "otlp", "inspect_ai", "who_and_when", "chat"],
    Field(
        description="Source format; 'auto' detects it per file. mlflow: Trace.to_dict/to_json exports; "
        "langfuse: trace + observations; otlp: OTLP/JSON spans (OpenInference, GenAI semconv); "
        "inspect_ai: eval logs; who_and_when: Who&When runs; chat: OpenAI-style transcripts."
    ),
]
MaxRecordMb = Annotated[
    int, Field(ge=1, le=1024, description="Records larger than this many MiB are skipped with a reason.")
]
MaxTraces = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_TRACES_LIMIT,
        description=f"Newest traces to analyse, 1 to {MAX_TRACES_LIMIT:,} (default {MAX_TRACES}).",
    ),
]
TraceTable = Annotated[
    str | None,
    Field(max_length=MAX_TEXT, description="Span table for SQL: catalog.schema.prefix, or a directory."),
]
AnalysisEngine = Annotated[
    Literal["auto", "python", "spark", "databricks"],
    Field(description="auto: Databricks SQL for Unity Catalog, Spark for a directory, else python (the store)."),
]
Days = Annotated[float | None, Field(gt=0, le=3650, description="trace_table: last N days (default 7).")]
TablePrefix = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_]{1,100}$", description="Table prefix: writes <out_dir>/<prefix>_otel_spans."),
]
OutDir = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="Directory to write the table into.")]
OptionalSuiteDir = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="Suite directory to write state/analysis.json into (created if missing; relative: under "
        "WORKSPACE/suites).",
    ),
]
SuiteDir = Annotated[
    str,
    Field(
        max_length=MAX_TEXT,
        description="Suite directory, e.g. '/abs/suites/prod' (relative: under WORKSPACE/suites).",
    ),
    Cli(flag="--suite-dir"),
]
NewSuiteDir = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="Suite directory to write, e.g. '/abs/suites/prod' (created if missing; a relative path is "
        "under WORKSPACE/suites). Default: WORKSPACE/suites/<experiment name>.",
    ),
]
DatasetStrategy = Annotated[
    Literal["traces", "manual", "hybrid"] | None,
    Field(
        description="traces: score recorded production traces; manual: inputs only, for a predict_fn; hybrid: both. "
        "Default: the analysis' recommendation."
    ),
]
MaxCases = Annotated[int, Field(ge=1, le=1000, description="Most cases in the dataset, synthetic ones included.")]
IncludeSynthetic = Annotated[
    bool,
    Field(description="Add synthetic edge cases (empty, very long, prompt injection, out of scope, non-English)."),
    Cli(flag="--no-synthetic", help="leave out the synthetic edge cases (empty, very long, prompt injection, ...)"),
]
Redact = Annotated[
    bool,
    Field(description="Redact personal data and secrets from the data files (default true)."),
    Cli(flag="--no-redact", help="keep personal data and secrets in the data files (redacted by default)"),
]
SyncDataset = Annotated[
    bool, Field(description="Also upsert the cases into an MLflow evaluation dataset named after the suite.")
]
JudgeModel = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="Judge model URI, '<provider>:/<model>' (e.g. 'anthropic:/claude-sonnet-4-5') or 'databricks'; "
        "MLFLOW_EVAL_JUDGE_MODEL overrides it (default: MLflow's).",
    ),
    AfterValidator(_judge_model_value),
]
Gates = Annotated[
    dict[Annotated[str, Field(max_length=MAX_TEXT)], Annotated[float, Field(ge=0, le=1)]] | None,
    Field(
        max_length=MAX_ITEMS,
        description="Scorer name -> minimum pass rate (0-1), overriding the production baseline.",
    ),
    Cli(flag="--gate", metavar="SCORER=MIN", convert=_gates_from_pairs),
]
Generation = Annotated[
    Literal["auto", "offline", "claude"],
    Field(
        description="auto: Claude if ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL + ANTHROPIC_AUTH_TOKEN) is set; "
        "offline: no Claude; claude: require it."
    ),
]
TagTraces = Annotated[
    bool,
    Field(
        description="Also write each finding onto its traces as a tag mlflow_eval.finding.<kind> (the finding ids), "
        "to filter them in the MLflow UI; writing the same analysis again changes nothing."
    ),
]
RunSuite = Annotated[
    bool,
    Field(description="Also run run_eval.py (executed checks); false for static checks only."),
    Cli(flag="--static-only", help="static checks only: do not run run_eval.py"),
]
TimeoutSeconds = Annotated[
    int,
    Field(ge=10, le=7200, description="Seconds before the suite's run is killed (LLM judge calls get a quarter)."),
    Cli(flag="--timeout", metavar="SECONDS"),
]
PredictFn = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="Validate with your agent: 'module:function' or '/abs/path/agent.py:function' (default: none).",
    ),
]
RunId = Annotated[
    str | None,
    Field(
        max_length=MAX_TEXT,
        description="MLflow run id of an evaluation of this suite (default: the last one, from results/latest.json).",
    ),
]
DryRun = Annotated[bool, Field(description="Report what would be written without writing anything.")]
ScorerNames = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]] | None,
    Field(max_length=MAX_ITEMS, description="Scorer names (default: the suite's LLM judges; see the tool)."),
    Cli(flag="--scorer", metavar="NAME"),
]
LabelsPerScorer = Annotated[
    int, Field(ge=1, le=1000, description="Traces to ask about per scorer, half it passed and half it failed.")
]
JudgeName = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT, description="The name of one of the suite's LLM judges.")
]
AlignmentOptimizer = Annotated[
    Literal["memalign", "simba", "gepa"],
    Field(description="MLflow's alignment optimizer: memalign (guidelines and examples), simba or gepa (rewrites)."),
]
Holdout = Annotated[
    float,
    Field(ge=0, lt=1, description="Share of labelled traces held out to compare the judges on."),
]
SampleRate = Annotated[float, Field(gt=0, le=1, description="Share of new production traces each judge scores.")]
PromptUri = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, description="Prompt to optimize: prompts:/<name>/<version> or @alias."),
]
AgentFn = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="Your agent, 'module:function' or '/abs/path/agent.py:function', loading the prompt with "
        "mlflow.genai.load_prompt and calling .format().",
    ),
]
ReflectionModel = Annotated[
    str | None,
    Field(max_length=MAX_TEXT, description="The model GEPA reflects with (default: the suite's judge model)."),
    AfterValidator(_judge_model_value),
]
MaxMetricCalls = Annotated[int, Field(ge=1, le=10_000, description="GEPA's budget of scorer calls (default 100).")]
PromptAlias = Annotated[
    str,
    Field(max_length=MAX_TEXT, pattern=r"^[\w-]*$", description="Alias moved to an improved version ('' for none)."),
]
MinLabels = Annotated[
    int,
    Field(ge=1, le=10_000, description="Human labels a judge needs to gate."),
]
MinKappa = Annotated[
    float,
    Field(ge=-1, le=1, description="Cohen's kappa with people a judge needs to gate."),
]
EvaluationRunId = Annotated[
    str,
    Field(max_length=MAX_TEXT, description="MLflow run id of an evaluation run, e.g. '88c475d3e44b4dc9...'."),
]


def argument_problems(tool: str, arguments: dict[str, Any], input_schema: dict[str, Any]) -> list[str]:
    """What the schema cannot say about raw arguments: names the tool does not have, and NUL characters
    (which no name, id, path or filter can hold, and which fail deep inside the file system or the store)."""
    known = input_schema.get("properties", {})
    problems = [
        f"{tool} has no argument {shown(name)}; its arguments are {', '.join(known)}."
        for name in arguments
        if name not in known
    ]
    problems += [
        f"{path} contains a NUL character (\\x00), which no argument may contain; remove it."
        for name, value in arguments.items()
        if name in known
        for path in _paths_with_nul(value, name)
    ]
    return problems


def describe_validation_error(
    error: ValidationError, input_schema: dict[str, Any], spelling: Mapping[str, str] | None = None
) -> list[str]:
    """One sentence per argument that failed validation: what it must be and what was given. An
    argument is named as the caller wrote it: `spelling` maps names to, e.g., command-line flags."""
    sentences: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        argument = str(detail["loc"][0]) if detail["loc"] else ""
        if argument not in sentences:
            sentences[argument] = _sentence(detail, input_schema, spelling or {})
    return list(sentences.values())


def _sentence(detail: ErrorDetails, input_schema: dict[str, Any], spelling: Mapping[str, str]) -> str:
    loc = [part for part in detail["loc"] if part != "[key]"]
    path = _path(loc, spelling)
    schema = _schema_at(input_schema, loc)
    if detail["type"] == "missing":
        return f"{path} is required: {schema.get('description', _allowed(schema)).rstrip('.')}."
    if detail["type"] == "value_error":
        return str(detail["msg"]).removeprefix("Value error, ")
    if "[key]" in detail["loc"]:
        path, schema = f"each key of {path}", schema.get("propertyNames", {})
    return f"{path} must be {_allowed(schema)}; got {_given(detail['input'])}."


def _given(value: Any) -> str:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{len(value):,} characters"
    if isinstance(value, list | dict) and len(value) > MAX_ITEMS:
        return f"{len(value):,} items"
    return shown(value)


def _path(loc: list[int | str], spelling: Mapping[str, str]) -> str:
    head, *rest = loc or ["arguments"]
    return spelling.get(str(head), str(head)) + "".join(
        f"[{part if isinstance(part, int) else shown(part)}]" for part in rest
    )


def _schema_at(schema: dict[str, Any], loc: list[int | str]) -> dict[str, Any]:
    for depth, part in enumerate(loc):
        schema = _not_null(schema)
        if depth == 0:
            schema = schema.get("properties", {}).get(str(part), {})
        elif isinstance(part, int):
            schema = schema.get("items", {})
        else:
            schema = schema.get("additionalProperties", {})
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    return {**schema, **options[0]} if len(options) == 1 else schema


def _allowed(schema: dict[str, Any]) -> str:
    """What a value of `schema` may be, in words: "an integer from 1 to 500", "one of 'a', 'b'"."""
    schema = _not_null(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return "one of " + ", ".join(repr(value) for value in schema["enum"])
    if kind in ("integer", "number"):
        return ("an integer" if kind == "integer" else "a number") + _range(schema)
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        least = " non-empty" if schema.get("minLength") else ""
        # A string's schema names its limit unless it is the one every short text shares (tools/list omits it).
        return f"a{least} string of at most {schema.get('maxLength', MAX_TEXT):,} characters"
    if kind == "array":
        items = _allowed(schema.get("items", {}))
        return f"a list of at most {schema.get('maxItems', MAX_ITEMS):,} items, each {items}"
    if kind == "object":
        values = _allowed(schema.get("additionalProperties", {}))
        return f"an object of at most {schema.get('maxProperties', MAX_ITEMS):,} names, each mapped to {values}"
    return "a valid value"


def _range(schema: dict[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f" from {low:,} to {high:,}"
    if low is not None:
        return f" of at least {low:,}"
    return f" of at most {high:,}" if high is not None else ""


def _paths_with_nul(value: Any, path: str) -> Iterator[str]:
    # A stack, not recursion: a caller can nest lists deeper than Python's recursion limit.
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                yield where
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    yield f"a key of {where}"
                pending.append((child, f"{where}[{shown(key)}]"))
