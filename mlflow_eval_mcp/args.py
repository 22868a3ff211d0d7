"""Annotated argument types shared by the tools: the schema a model sees, with examples."""

from typing import Annotated, Literal

from pydantic import Field

from mlflow_eval_mcp.traces import MAX_RESULTS_LIMIT

TrackingUri = Annotated[
    str | None,
    Field(
        description="MLflow tracking URI for this call, e.g. 'http://127.0.0.1:5000', 'databricks' or "
        "'sqlite:////abs/path/mlflow.db'. Omit to use MLFLOW_TRACKING_URI or the embedded store."
    ),
]
ExperimentId = Annotated[str | None, Field(description="Experiment id, e.g. '1'. Give this or experiment_name.")]
ExperimentName = Annotated[
    str | None, Field(description="Experiment name, e.g. 'mlflow-eval-demo'. Give this or experiment_id.")
]
FilterString = Annotated[
    str | None,
    Field(
        description="MLflow trace filter, clauses joined by AND, string values in single quotes, e.g. "
        "\"trace.status = 'ERROR' AND span.type = 'TOOL'\", \"trace.execution_time_ms > 5000\", "
        "\"tags.env = 'production'\", \"metadata.`mlflow.trace.user` = 'u1'\". Times are epoch milliseconds."
    ),
]
MaxResults = Annotated[
    int, Field(ge=1, le=MAX_RESULTS_LIMIT, description=f"Traces per page, 1 to {MAX_RESULTS_LIMIT}.")
]
PageToken = Annotated[str | None, Field(description="next_page_token from the previous call with the same arguments.")]
OrderBy = Annotated[
    list[str] | None,
    Field(description="e.g. ['execution_time_ms DESC']; fields: timestamp_ms, execution_time_ms, status, name."),
]
TraceId = Annotated[str, Field(min_length=1, description="Trace id, e.g. 'tr-8f3c2a…' from search_traces.")]
MaxChars = Annotated[
    int, Field(ge=100, le=100_000, description="Longest span input/output kept, in characters; longer ones are cut.")
]
ImportPath = Annotated[
    str,
    Field(
        min_length=1,
        description="Absolute path of a file (.json, .jsonl) or a directory of them on the server's machine.",
    ),
]
TargetExperiment = Annotated[
    str, Field(min_length=1, description="Experiment to import into; created if missing, e.g. 'prod-agent-import'.")
]
ImportFormat = Annotated[
    Literal["auto", "mlflow", "langfuse", "otlp", "inspect_ai", "who_and_when", "chat"],
    Field(
        description="Source format; 'auto' detects it per file. mlflow: Trace.to_dict/to_json exports; "
        "langfuse: trace + observations exports; otlp: OTLP/JSON spans (OpenInference, GenAI semconv); "
        "inspect_ai: Inspect eval logs; who_and_when: Who&When failure runs; chat: OpenAI-style transcripts."
    ),
]
MaxRecordMb = Annotated[
    int, Field(ge=1, le=1024, description="Records larger than this many MiB are skipped with a reason.")
]
MaxTraces = Annotated[int, Field(ge=1, le=50_000, description="Newest traces to analyse, 1 to 50,000 (default 500).")]
OptionalSuiteDir = Annotated[
    str | None,
    Field(
        description="Suite directory to write state/analysis.json into (created if missing), e.g. '/abs/suites/prod'; "
        "a relative path is under WORKSPACE/suites."
    ),
]
SuiteDir = Annotated[
    str,
    Field(
        description="The suite directory (as given to analyze_traces), e.g. '/abs/suites/prod'; "
        "a relative path is under WORKSPACE/suites."
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
    bool, Field(description="Add synthetic edge cases (empty, very long, prompt injection, out of scope, non-English).")
]
Redact = Annotated[bool, Field(description="Redact personal data and secrets from the data files (default true).")]
SyncDataset = Annotated[
    bool, Field(description="Also upsert the cases into an MLflow evaluation dataset named after the suite.")
]
JudgeModel = Annotated[
    str | None,
    Field(
        description="Default judge model URI for the suite, e.g. 'anthropic:/claude-sonnet-4-5'; the environment "
        "(MLFLOW_EVAL_JUDGE_MODEL) overrides it. Default: MLflow's."
    ),
]
Gates = Annotated[
    dict[str, float] | None,
    Field(description="Scorer name -> minimum pass rate (0-1), overriding the production baseline."),
]
Generation = Annotated[
    Literal["auto", "offline", "claude"],
    Field(
        description="auto (default): add Claude's reading when ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL with "
        "ANTHROPIC_AUTH_TOKEN, is set; offline: the deterministic engine only; claude: fail unless Claude is set up. "
        "The result's mode says which produced it."
    ),
]
RunSuite = Annotated[bool, Field(description="Also run run_eval.py (executed checks); false for static checks only.")]
TimeoutSeconds = Annotated[
    int, Field(ge=10, le=7200, description="Seconds before the suite's run is killed (LLM judge calls get a quarter).")
]
PredictFn = Annotated[
    str | None,
    Field(description="Validate with your agent: 'module:function' or '/abs/path/agent.py:function' (default: none)."),
]
RunId = Annotated[
    str | None,
    Field(
        description="MLflow run id of an evaluation of this suite (default: the last one, from results/latest.json)."
    ),
]
DryRun = Annotated[bool, Field(description="Report what would be written without writing anything.")]
EvaluationRunId = Annotated[str, Field(description="MLflow run id of an evaluation run, e.g. '88c475d3e44b4dc9...'.")]
