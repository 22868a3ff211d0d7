"""Reading traces: search with paging, one trace as a span tree, experiments."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.checks.span_view import MODEL, TOKEN_USAGE, SpanView
from mlflow_eval_mcp.errors import (
    InvalidArgumentError,
    MlflowEvalError,
    NotFoundError,
    TrackingUnavailableError,
    clip,
    shown,
)
from mlflow_eval_mcp.filters import GRAMMAR, check_filter_string
from mlflow_eval_mcp.limits import MAX_SEARCH_PAGE_SIZE, SEARCH_PAGE_SIZE
from mlflow_eval_mcp.models import (
    ExperimentSummary,
    GetTraceResult,
    ListExperimentsResult,
    SearchTracesResult,
    SpanNode,
    TokenUsage,
    TraceSummary,
)
from mlflow_eval_mcp.page_tokens import decode_page_token, encode_page_token, query_fingerprint
from mlflow_eval_mcp.tracking import redact_uri, resolve_experiment, scrub
from mlflow_eval_mcp.ui_links import traces_url

if TYPE_CHECKING:
    from mlflow.entities import Trace, TraceInfo
    from mlflow.tracking import MlflowClient

DEFAULT_ORDER_BY = ("timestamp_ms DESC",)
PREVIEW_CHARS = 300
SPAN_CONTENT_BUDGET = 6_000
"""Characters of span inputs and outputs a default get_trace result holds in all (a client puts the
whole result into its model's context)."""
MAX_SPAN_CHARS = 2_000
MIN_SPAN_CHARS = 100
# end_time_ms is documented by MLflow but crashes its sqlite store (3.17), so it is not offered.
_ORDER_FIELDS = ("timestamp_ms", "timestamp", "execution_time_ms", "status", "name", "run_id", "request_id")
_ORDER_CLAUSE = re.compile(
    rf"^(?:(?:(?:attributes|trace)\.)?`?(?:{'|'.join(_ORDER_FIELDS)})`?|tags\.(?:`[^`]+`|[\w.]+))(?:\s+(?:ASC|DESC))?$",
    re.IGNORECASE,
)
_INTERNAL_TAGS = {"mlflow.artifactLocation", "mlflow.trace.spansLocation"}


def search_traces(
    client: MlflowClient,
    *,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    filter_string: str | None = None,
    max_results: int = SEARCH_PAGE_SIZE,
    page_token: str | None = None,
    order_by: list[str] | None = None,
    fields: list[str] | None = None,
) -> SearchTracesResult:
    """One page of traces from one experiment, newest first unless `order_by` says otherwise."""
    if not 1 <= max_results <= MAX_SEARCH_PAGE_SIZE:
        raise InvalidArgumentError(
            f"max_results must be between 1 and {MAX_SEARCH_PAGE_SIZE} (got {max_results}); "
            "use page_token to read further pages."
        )
    filter_string = check_filter_string(filter_string)
    ordering = check_order_by(order_by)
    experiment = resolve_experiment(client, experiment_id, experiment_name)
    fingerprint = query_fingerprint(experiment.experiment_id, filter_string, ordering)
    raw_token = decode_page_token(page_token, fingerprint)
    # Spans are loaded separately: with include_spans=True MLflow silently leaves out traces
    # whose spans it cannot load (in progress, or stored where this machine cannot read) and
    # pulls extra pages to make up the count, which breaks paging.
    page = _call_store(
        client.search_traces,
        locations=[experiment.experiment_id],
        filter_string=filter_string,
        max_results=max_results,
        order_by=ordering,
        page_token=raw_token,
        include_spans=False,
    )
    with _span_loader() as executor:
        with_spans = _load_spans(client, [trace.info for trace in page], executor)
    return SearchTracesResult(
        tracking_uri=redact_uri(client.tracking_uri),
        experiment_id=experiment.experiment_id,
        experiment_name=experiment.name,
        filter_string=filter_string,
        order_by=ordering,
        traces=[summarize_trace(with_spans.get(trace.info.trace_id, trace)) for trace in page],
        fields=fields,
        next_page_token=encode_page_token(page.token, fingerprint),
        ui_url=traces_url(client.tracking_uri, experiment.experiment_id),
    )


def iter_trace_pages(
    client: MlflowClient,
    experiment_id: str,
    *,
    filter_string: str | None = None,
    max_traces: int,
    page_size: int = 200,
) -> Iterator[list[Trace]]:
    """Pages of complete traces, newest first, until `max_traces`: one page in memory at a time
    (plus the next, read ahead while the caller works on this one). A trace whose spans cannot be
    loaded comes with its info and no spans, rather than not at all."""
    filter_string = check_filter_string(filter_string)

    def fetch(page_token: str | None, count: int, executor: ThreadPoolExecutor) -> tuple[list[Trace], str | None]:
        page = _call_store(
            client.search_traces,
            locations=[experiment_id],
            filter_string=filter_string,
            max_results=count,
            order_by=list(DEFAULT_ORDER_BY),
            page_token=page_token,
            include_spans=False,
        )
        with_spans = _load_spans(client, [trace.info for trace in page], executor)
        return [with_spans.get(trace.info.trace_id, trace) for trace in page], page.token

    with _span_loader() as executor, ThreadPoolExecutor(max_workers=1, thread_name_prefix="MlflowEvalPages") as ahead:
        remaining = max_traces
        pending = ahead.submit(fetch, None, min(page_size, remaining), executor)
        while pending is not None:
            traces, page_token = pending.result()
            remaining -= len(traces)
            more = bool(page_token and traces and remaining > 0)
            pending = ahead.submit(fetch, page_token, min(page_size, remaining), executor) if more else None
            yield traces


def load_traces(client: MlflowClient, trace_ids: list[str], *, chunk: int = 100) -> list[Trace]:
    """Complete traces by id, in the order given; ids the store does not have are left out."""
    loaded: dict[str, Trace] = {}
    for start in range(0, len(trace_ids), chunk):
        found = _call_store(client._tracing_client.batch_get_traces, trace_ids=trace_ids[start : start + chunk])
        loaded.update((trace.info.trace_id, trace) for trace in found)
    return [loaded[trace_id] for trace_id in trace_ids if trace_id in loaded]


@contextmanager
def _span_loader() -> Iterator[ThreadPoolExecutor]:
    from mlflow.environment_variables import MLFLOW_SEARCH_TRACES_MAX_THREADS

    with ThreadPoolExecutor(
        max_workers=MLFLOW_SEARCH_TRACES_MAX_THREADS.get(), thread_name_prefix="MlflowEvalSpans"
    ) as pool:
        yield pool


def _load_spans(client: MlflowClient, infos: list[TraceInfo], executor: ThreadPoolExecutor) -> dict[str, Trace]:
    """Spans for traces already found, by what MLflow's own search does with include_spans=True.
    `batch_get_traces` would first read every trace's info again, one lazy query per tag table
    (more than half the cost of loading a page), to learn what the search already told us."""
    if not infos:
        return {}
    tracing = client._tracing_client

    def load() -> list[Trace]:
        return tracing._load_traces_by_location(tracing._group_trace_infos_by_location(infos), executor)

    return {trace.info.trace_id: trace for trace in _call_store(load) if trace.data.spans}


def get_trace(client: MlflowClient, trace_id: str, *, max_chars: int | None = None) -> GetTraceResult:
    """A trace with its full span tree; span inputs and outputs are truncated to `max_chars`, by
    default to what keeps their total within `SPAN_CONTENT_BUDGET` (at most `MAX_SPAN_CHARS` each)."""
    from mlflow.exceptions import MlflowException

    trace_id = trace_id.strip()
    try:
        trace = client.get_trace(trace_id)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise NotFoundError(
                f"Trace {shown(trace_id)} was not found in {redact_uri(client.tracking_uri)}; "
                "use search_traces to list trace ids."
            ) from error
        raise TrackingUnavailableError(
            f"Could not read trace {shown(trace_id)}: {clip(scrub(error.message))}"
        ) from error
    spans = trace.data.spans
    if max_chars is None:
        max_chars = max(MIN_SPAN_CHARS, min(MAX_SPAN_CHARS, SPAN_CONTENT_BUDGET // max(1, 2 * len(spans))))
    truncator = _Truncator(max_chars)
    return GetTraceResult(
        tracking_uri=redact_uri(client.tracking_uri),
        trace=summarize_trace(trace),
        spans=_span_tree([SpanView.of(span) for span in spans], truncator),
        truncated_fields=truncator.truncated,
        ui_url=traces_url(client.tracking_uri, trace.info.experiment_id, trace_id)
        if trace.info.experiment_id
        else None,
    )


def list_experiments(client: MlflowClient, *, max_results: int = 100) -> ListExperimentsResult:
    experiments = _call_store(client.search_experiments, max_results=max_results, order_by=["last_update_time DESC"])
    return ListExperimentsResult(
        tracking_uri=redact_uri(client.tracking_uri),
        experiments=[
            ExperimentSummary(
                experiment_id=e.experiment_id,
                name=e.name,
                last_update_time=_iso(e.last_update_time) if e.last_update_time else None,
            )
            for e in experiments
        ],
    )


def check_order_by(order_by: list[str] | None) -> list[str]:
    clauses = [clause.strip() for clause in (order_by or DEFAULT_ORDER_BY) if clause.strip()]
    for clause in clauses:
        if not _ORDER_CLAUSE.match(clause):
            raise InvalidArgumentError(
                f"Cannot order by {shown(clause)}; use one of {', '.join(_ORDER_FIELDS)} or tags.<key>, "
                "followed by ASC or DESC, e.g. 'execution_time_ms DESC'."
            )
    return clauses or list(DEFAULT_ORDER_BY)


def summarize_trace(trace: Trace) -> TraceSummary:
    info = trace.info
    spans = trace.data.spans
    views = [SpanView.of(span) for span in spans]
    metadata = info.trace_metadata or {}
    state = str(getattr(info.state, "value", info.state))
    return TraceSummary(
        trace_id=info.trace_id,
        state=state,
        request_time=_iso(info.request_time),
        duration_ms=info.execution_duration,
        request_preview=_cut(info.request_preview, PREVIEW_CHARS),
        response_preview=_cut(info.response_preview, PREVIEW_CHARS),
        token_usage=_token_usage(info.token_usage),
        span_count=len(spans) if spans else None,
        span_counts_by_type=dict(Counter(view.span_type for view in views)),
        error_span_names=[view.name for view in views if view.status == "ERROR"],
        user=metadata.get("mlflow.trace.user"),
        session=metadata.get("mlflow.trace.session"),
        client_request_id=info.client_request_id,
        tags={key: value for key, value in (info.tags or {}).items() if key not in _INTERNAL_TAGS},
        spans_note=None if spans else _no_spans_note(state),
    )


def _no_spans_note(state: str) -> str:
    if state == "IN_PROGRESS":
        return "The trace is still in progress; its spans are not stored yet."
    return "The spans of this trace could not be loaded from the store."


class _Truncator:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.truncated = 0

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None
        text = _clean(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
        if len(text) <= self.max_chars:
            return text
        self.truncated += 1
        return f"{text[: self.max_chars]}… [truncated: {len(text)} chars]"


def _span_tree(spans: list[SpanView], truncate: _Truncator) -> list[SpanNode]:
    """Depth-first, children in start order; a span whose parent is missing is shown as a root.
    Flat (parent_id and depth) rather than nested, so that no trace is too deep to serialise."""
    if not spans:
        return []
    origin = min(span.start_ns or 0 for span in spans)
    ordered = sorted(spans, key=lambda span: span.start_ns or 0)
    known = {span.span_id for span in ordered}
    children: dict[str | None, list[SpanView]] = {}
    for span in ordered:
        children.setdefault(span.parent_id if span.parent_id in known else None, []).append(span)
    nodes: list[SpanNode] = []
    stack = [(root, 0) for root in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        nodes.append(_span_node(span, depth, origin, truncate))
        stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return nodes


def _span_node(span: SpanView, depth: int, origin_ns: int, truncate: _Truncator) -> SpanNode:
    usage = span.attribute(TOKEN_USAGE)
    model = span.attribute(MODEL) or span.attribute("mlflow.llm.model_name")
    return SpanNode(
        span_id=span.span_id,
        parent_id=span.parent_id,
        depth=depth,
        name=_clean(span.name),
        span_type=span.span_type,
        start_offset_ms=((span.start_ns or origin_ns) - origin_ns) / 1e6,
        duration_ms=span.duration_ms,
        status=span.status,
        status_message=_clean(span.status_text) or None,
        inputs=truncate(span.inputs),
        outputs=truncate(span.outputs),
        model=_clean(str(model)) if model else None,
        token_usage=_token_usage(usage if isinstance(usage, dict) else None),
        exception=_clean(span.exception) or None,
    )


def _token_usage(usage: dict[str, Any] | None) -> TokenUsage | None:
    if not usage:
        return None
    return TokenUsage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        total_tokens=_count(usage.get("total_tokens")),
    )


def _count(value: Any) -> int | None:
    # Sources write counts as ints, floats or numeric strings; anything else is unknown.
    try:
        return int(float(value)) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _clean(text: str | None) -> str:
    """Text that is safe to serialise: lone surrogates from broken sources become U+FFFD."""
    if not text:
        return text or ""
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _cut(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = _clean(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _call_store(method: Any, **kwargs: Any) -> Any:
    import requests
    from mlflow.exceptions import MlflowException

    try:
        return method(**kwargs)
    except MlflowException as error:
        message = clip(scrub(error.message))
        if error.error_code == "INVALID_PARAMETER_VALUE":
            raise InvalidArgumentError(f"MLflow rejected the search: {message}. {GRAMMAR}") from error
        raise TrackingUnavailableError(f"The MLflow tracking store failed: {message}") from error
    except requests.RequestException as error:
        raise TrackingUnavailableError(
            f"The MLflow tracking server did not answer ({type(error).__name__}: {clip(scrub(str(error)))}). "
            "Check that it is up and that MLFLOW_TRACKING_URI points at it."
        ) from error
    except MlflowEvalError:
        raise
    except Exception as error:
        # Not an outage: MLflow itself failed on these arguments (seen with some filter and
        # ordering combinations on sqlite). Say so rather than blame the server.
        raise MlflowEvalError(
            f"MLflow failed on this request ({type(error).__name__}: {clip(scrub(str(error)))}). "
            "Try a simpler filter_string or order_by."
        ) from error
