"""`generate_dataset`: evaluation cases from the analysed traces, written as JSON data files.

Trace content only ever goes into `evaluation/data/*.jsonl`; `eval_dataset.py` is a fixed file
that reads them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.analysis.selection import Candidate, NearDuplicates, candidates
from mlflow_eval_mcp.cancellation import raise_if_cancelled
from mlflow_eval_mcp.checks import signals
from mlflow_eval_mcp.errors import InvalidArgumentError, TrackingUnavailableError
from mlflow_eval_mcp.files import jsonl_line, write_text_atomic
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.redaction import Redactor
from mlflow_eval_mcp.suite.claude_cases import claude_cases, evidence_text
from mlflow_eval_mcp.suite.layout import CASES_FILE, TRACES_FILE, SuiteLayout
from mlflow_eval_mcp.suite.models import DatasetCase, DatasetResult, DatasetSync, Strategy
from mlflow_eval_mcp.suite.recorded_expectations import derived_expectations
from mlflow_eval_mcp.suite.session_cases import session_budget, session_cases
from mlflow_eval_mcp.suite.state import read_analysis, write_cases
from mlflow_eval_mcp.suite.synthetic import EDGE_CASES, synthetic_inputs
from mlflow_eval_mcp.suite.tasks import record
from mlflow_eval_mcp.suite.templates_io import install_template
from mlflow_eval_mcp.traces import load_traces
from mlflow_eval_mcp.tracking import scrub

if TYPE_CHECKING:
    from mlflow.entities import Trace
    from mlflow.tracking import MlflowClient

    from mlflow_eval_mcp.claude.session import ClaudeSession

MAX_CASES_LIMIT = 1_000
MAX_CLAUDE_CASES = 10
_FETCH_CHUNK = 50


def generate_dataset(
    client: MlflowClient,
    suite: SuiteLayout,
    *,
    strategy: Strategy | None = None,
    max_cases: int = 50,
    include_synthetic: bool = True,
    redact: bool = True,
    sync: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    claude: ClaudeSession | None = None,
) -> DatasetResult:
    """Choose up to `max_cases` cases (stratified over findings and request clusters), redact
    them, and write them with the source traces into the suite's data files. With `claude`, part
    of the budget goes to synthetic cases it grounds in the recorded ones (see `suite.claude_cases`)."""
    if not 1 <= max_cases <= MAX_CASES_LIMIT:
        raise InvalidArgumentError(f"max_cases must be between 1 and {MAX_CASES_LIMIT:,} (got {max_cases}).")
    analysis = read_analysis(suite)
    strategy = strategy or analysis.dataset_strategy.strategy
    redactor = Redactor(enabled=redact)
    synthetic_count = len(EDGE_CASES) if include_synthetic else 0
    # Sessions need their traces, which the manual strategy does not keep.
    sessions_wanted = session_budget(analysis, max_cases) if strategy != "manual" else 0
    sessions, session_traces = session_cases(client, analysis, redactor, budget=sessions_wanted)
    in_sessions = {trace_id for case in sessions for trace_id in case.trace_ids}
    budget = max(1, max_cases - synthetic_count - len(sessions))
    builder = _CaseBuilder(analysis, redactor, keep_traces=strategy != "manual")
    # A session case's traces are scored already, each on its own too: the budget goes to other traces,
    # unless there are none (a recorded case also grounds the synthetic ones).
    _fill(builder, client, [c for c in candidates(analysis) if c.trace_id not in in_sessions], budget, on_progress)
    if not builder.cases:
        _fill(builder, client, list(candidates(analysis)), budget, on_progress)
    if not builder.cases:
        raise InvalidArgumentError(
            f"None of the {analysis.overview.traces_analyzed} analysed traces could be read back from the store; "
            f"run {suggest('analyze_traces', experiment_name=analysis.experiment_name, suite_dir=str(suite.root))} "
            "again against the store that holds them."
        )
    fixed = len(builder.cases) + len(sessions)
    synthetic = builder.synthetic_cases()[: max_cases - fixed] if include_synthetic else []
    grounded: list[DatasetCase] = []
    dropped: list[str] = []
    count = min(MAX_CLAUDE_CASES, max(1, max_cases // 6), max_cases - 1)
    if claude is not None and include_synthetic and count > 0:
        added = claude.attempt("dataset", lambda: _claude_cases(analysis, builder, redactor, claude, count))
        if added is not None:
            grounded, dropped = added
            # Claude's cases take the place of the lowest-ranked recorded ones, keeping at least one.
            builder.drop_last(min(len(builder.cases) - 1, fixed + len(synthetic) + len(grounded) - max_cases))
            grounded = grounded[: max_cases - len(builder.cases) - len(sessions) - len(synthetic)]
    cases = builder.cases + sessions + synthetic + grounded
    files = _write(suite, cases, builder.traces + builder.exported(session_traces))
    record(suite, "dataset", outputs=files)
    dataset_sync = _sync(client, suite, analysis, cases) if sync else None
    covered = Counter(reason for case in cases for reason in case.reasons)
    result = DatasetResult(
        suite_dir=str(suite.root),
        strategy=strategy,
        cases=len(cases),
        recorded=sum(case.has_trace and case.kind != "session" for case in cases),
        synthetic=sum(case.kind == "synthetic" for case in cases),
        sessions=len(sessions),
        inputs_only=sum(not case.has_trace for case in cases),
        finding_coverage={finding.id: covered[finding.id] for finding in analysis.findings},
        findings_not_covered=[
            f"{finding.id}: no readable trace that is not a near duplicate"
            for finding in analysis.findings
            if not covered[finding.id]
        ],
        clusters_covered=len({r for case in cases for r in case.reasons if r.startswith("clean:cluster-")}),
        near_duplicates_removed=builder.duplicates,
        redaction=redact,
        redacted=dict(redactor.counts),
        files=files,
        sync=dataset_sync,
        dropped=dropped,
        next_step=suggest("generate_scorers", suite_dir=str(suite.root)),
    )
    if claude is not None:
        claude.stamp(result, contributed=bool(grounded))
    return result


def _fill(
    builder: _CaseBuilder,
    client: MlflowClient,
    ordered: list[Candidate],
    budget: int,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Recorded cases from `ordered` until `budget` of them."""
    for trace, candidate in _fetch(client, iter(ordered)):
        if builder.add(trace, candidate) and on_progress is not None:
            on_progress(len(builder.cases), budget)
        if len(builder.cases) >= budget:
            break


def _claude_cases(
    analysis: TraceAnalysis, builder: _CaseBuilder, redactor: Redactor, claude: ClaudeSession, count: int
) -> tuple[list[DatasetCase], list[str]]:
    traces = {entry["trace_id"]: entry["trace"] for entry in builder.traces}
    evidence = {
        case.case_id: evidence_text(traces[case.source_trace_id])
        for case in builder.cases
        if case.source_trace_id in traces
    }
    return claude_cases(analysis, builder.cases, evidence, count=count, redactor=redactor, claude=claude)


def _fetch(client: MlflowClient, ordered: Iterator[Candidate]) -> Iterator[tuple[Trace, Candidate]]:
    """The candidates' traces, in order, fetched a chunk at a time (most runs need only a few)."""
    chunk: list[Candidate] = []
    for candidate in ordered:
        chunk.append(candidate)
        if len(chunk) == _FETCH_CHUNK:
            yield from _load(client, chunk)
            chunk = []
    if chunk:
        yield from _load(client, chunk)


def _load(client: MlflowClient, chunk: list[Candidate]) -> Iterator[tuple[Trace, Candidate]]:
    raise_if_cancelled()
    by_id = {trace.info.trace_id: trace for trace in load_traces(client, [c.trace_id for c in chunk])}
    for candidate in chunk:
        if candidate.trace_id in by_id:
            yield by_id[candidate.trace_id], candidate


class _CaseBuilder:
    def __init__(self, analysis: TraceAnalysis, redactor: Redactor, *, keep_traces: bool) -> None:
        self.kind_of = {finding.id: finding.kind for finding in analysis.findings}
        self.redactor = redactor
        self.keep_traces = keep_traces
        self.cases: list[DatasetCase] = []
        self.traces: list[dict[str, Any]] = []
        self.duplicates = 0
        self._near = NearDuplicates()
        self._grounding: tuple[Any, str, str | None, str] | None = None

    def add(self, trace: Trace, candidate: Candidate) -> bool:
        spans = trace.data.spans
        root = next((span for span in spans if span.parent_id is None), spans[0] if spans else None)
        raw_inputs = root.inputs if root is not None else None
        request = signals.request_text(raw_inputs) or json.dumps(raw_inputs, default=str)[:500]
        kinds = {self.kind_of[reason] for reason in candidate.reasons if reason in self.kind_of}
        if self._near.is_duplicate(request, kinds):
            self.duplicates += 1
            return False
        trace_id = trace.info.trace_id
        inputs = raw_inputs if isinstance(raw_inputs, dict) else {"request": raw_inputs}
        if self._grounding is None and not kinds and request.strip():
            self._grounding = (inputs, request, _text_key(inputs, request), trace_id)
        expectations = _expectations(trace)
        # A recording no finding names sets what any agent given its request should do (unless a human said no).
        derived = {} if kinds else derived_expectations(trace, expectations.get("human_assessments"))
        tags = {"source_trace_id": trace_id, "case": "recorded"} | ({"recording": "good"} if derived else {})
        self.cases.append(
            DatasetCase(
                case_id=f"case-{len(self.cases) + 1:03d}",
                kind="recorded",
                inputs=self.redactor.value(inputs),
                outputs=self.redactor.value(signals.final_answer(root.outputs) if root is not None else None),
                expectations=self.redactor.value(derived | expectations),
                tags=tags,
                source_trace_id=trace_id,
                has_trace=self.keep_traces,
                reasons=candidate.reasons,
            )
        )
        if self.keep_traces:
            self.traces.extend(self.exported([trace]))
        return True

    def exported(self, traces: list[Trace]) -> list[dict[str, Any]]:
        """traces.jsonl entries for those of `traces` not already kept for a recorded case."""
        kept = {entry["trace_id"] for entry in self.traces}
        return [
            {"trace_id": trace.info.trace_id, "trace": self.redactor.trace_dict(_rooted(trace.to_dict()))}
            for trace in traces
            if trace.info.trace_id not in kept
        ]

    def drop_last(self, count: int) -> None:
        """Forget the last `count` recorded cases (the lowest-ranked) and their traces."""
        if count <= 0:
            return
        kept = self.cases[:-count]
        ids = {case.source_trace_id for case in kept}
        self.cases = kept
        self.traces = [entry for entry in self.traces if entry["trace_id"] in ids]

    def synthetic_cases(self) -> list[DatasetCase]:
        if self._grounding is None and self.cases:
            first = self.cases[0]
            request = signals.request_text(first.inputs) or ""
            self._grounding = (first.inputs, request, _text_key(first.inputs, request), first.source_trace_id or "")
        if self._grounding is None:
            return []
        template, observed, text_key, trace_id = self._grounding
        return [
            DatasetCase(
                case_id=f"synthetic-{edge.name}",
                kind="synthetic",
                inputs=self.redactor.value(synthetic_inputs(template, observed, text_key, edge.make_text)),
                expectations={"guidelines": list(edge.guidelines)},
                tags={"source_trace_id": trace_id, "case": f"synthetic:{edge.name}"},
                source_trace_id=trace_id,
                has_trace=False,
                reasons=[f"synthetic:{edge.name}"],
            )
            for edge in EDGE_CASES
        ]


def _rooted(exported: dict[str, Any]) -> dict[str, Any]:
    """The trace with spans whose parent is not in it (a distributed trace's local part) made roots,
    as the analysis treated them: MLflow's evaluation finds no root span otherwise."""
    spans = exported.get("data", {}).get("spans", [])
    ids = {span.get("span_id") for span in spans}
    exported["data"]["spans"] = [
        {**span, "parent_span_id": None} if span.get("parent_span_id") not in ids else span for span in spans
    ]
    return exported


def _text_key(inputs: dict[str, Any], request: str) -> str | None:
    return next((key for key, value in inputs.items() if value == request), None)


def _expectations(trace: Trace) -> dict[str, Any]:
    """Expectation assessments by name; HUMAN feedback under `human_assessments`."""
    expectations: dict[str, Any] = {}
    human: dict[str, Any] = {}
    for assessment in trace.info.assessments or []:
        if getattr(assessment, "valid", True) is False:
            continue
        if assessment.expectation is not None:
            expectations[assessment.name] = assessment.expectation.value
        elif assessment.feedback is not None and _source_type(assessment) == "HUMAN":
            human[assessment.name] = assessment.feedback.value
    if human:
        expectations["human_assessments"] = human
    return expectations


def _source_type(assessment: Any) -> str:
    source_type = getattr(assessment.source, "source_type", None)
    return str(getattr(source_type, "value", source_type))


def _write(suite: SuiteLayout, cases: list[DatasetCase], traces: list[dict[str, Any]]) -> list[str]:
    write_cases(suite, cases)
    files = [CASES_FILE]
    traces_path = suite.path(TRACES_FILE)
    if traces:
        write_text_atomic(traces_path, "".join(jsonl_line(entry) for entry in traces))
        files.append(TRACES_FILE)
    else:
        traces_path.unlink(missing_ok=True)
    files.append(install_template(suite, "eval_dataset.py"))
    return files


def _sync(client: MlflowClient, suite: SuiteLayout, analysis: TraceAnalysis, cases: list[DatasetCase]) -> DatasetSync:
    """Upsert the cases into an MLflow evaluation dataset named after the suite. MLflow keys
    records on their inputs, so a second sync updates rather than duplicates. The client's own
    store is used throughout (MLflow's dataset entities write to the process-global one), and the
    files and task state are written before, so a failed sync loses nothing."""
    from mlflow.exceptions import MlflowException

    # Unique per suite directory and experiment: two suites named "prod" must not share a dataset.
    digest = hashlib.blake2b(f"{suite.root}|{analysis.experiment_id}".encode(), digest_size=3).hexdigest()
    name = f"{suite.name}-{digest}"
    try:
        return _upsert(client, name, analysis.experiment_id, cases)
    except MlflowException as error:
        raise TrackingUnavailableError(
            f"The cases were written to the suite, but syncing them to the MLflow evaluation dataset {name!r} "
            f"failed: {scrub(error.message)[:300]}. Run "
            f"{suggest('generate_dataset', suite_dir=str(suite.root), sync=False)} again, or fix the store."
        ) from error


def _upsert(client: MlflowClient, name: str, experiment_id: str, cases: list[DatasetCase]) -> DatasetSync:
    existing = client.search_datasets(experiment_ids=[experiment_id], filter_string=f"name = '{name}'", max_results=1)
    if existing:
        dataset = existing[0]
    else:
        dataset = client.create_dataset(name=name, experiment_id=experiment_id, tags={"origin": "mlflow-eval-mcp"})
    records = [
        {
            "inputs": case.inputs,
            "expectations": case.expectations,
            "tags": case.tags,
            "source": _record_source(case),
        }
        for case in cases
    ]
    # MLflow 3.17 offers no public way to upsert records into this client's store: its only public writer,
    # EvaluationDataset.merge_records, writes to the process-global tracking URI, tags every record with
    # mlflow.user and returns no inserted/updated counts.
    counts = client._tracking_client.store.upsert_dataset_records(dataset_id=dataset.dataset_id, records=records)
    return DatasetSync(
        dataset_id=dataset.dataset_id,
        name=name,
        inserted=counts.get("inserted", 0),
        updated=counts.get("updated", 0),
    )


def _record_source(case: DatasetCase) -> dict[str, Any]:
    """Where a record came from, as MLflow's evaluation reads it: a session's records are grouped by
    `source_data.session_id`."""
    if case.kind == "session":
        return {"source_type": "TRACE", "source_data": {"session_id": case.session_id}}
    if case.kind == "recorded":
        return {"source_type": "TRACE", "source_data": {"trace_id": case.source_trace_id}}
    return {"source_type": "CODE", "source_data": {}}
