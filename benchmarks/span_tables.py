"""Synthetic Unity Catalog OTel v2 span tables for the SQL engine's benchmarks, and their copy as MLflow traces.

`generate_span_table` writes the table as Parquet with Spark SQL alone (hashes of the trace number stand for
random draws, so a table is the same for the same seed and size, whatever the partitioning), with a VARIANT
`attributes` column holding MLflow's span attributes decoded, as MLflow's OTLP export sends them.
Every trace is one support-agent request of ten spans: a root AGENT `agent`, a CHAIN, a RETRIEVER,
three CHAT_MODEL `ChatOpenAI` calls and four TOOL calls. Failures are planted at known rates
(`FailureRates`); `PlantedFailures` counts the traces showing each, named by the finding kind that should
report it. `write_mlflow_traces` writes a (small) table into an MLflow tracking store, through the importer's
bulk writer, so that the Python engine can analyse the same traces."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlflow_eval_mcp.checks.span_view import MODEL as MODEL_ATTRIBUTE
from mlflow_eval_mcp.checks.span_view import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TOKEN_USAGE
from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, WriteReport, write_traces

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SEED = 7
SPANS_PER_TRACE = 10
SESSION_BLOCK = 5
"""Consecutive traces that may form one session (of 2 to 5 turns)."""
WINDOW_MS = 70 * 3600 * 1000
"""Traces start within the last 70 hours: inside the 3 days an engine bounded by days reads."""
TRACES_PER_FILE = 100_000
GENERATED_FILE = "_generated.json"
"""The `GeneratedTable`, beside the Parquet files (Spark's reader skips names starting with an underscore)."""

SERVICE = "support-agent"
MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are the customer support agent of an online shop. Use the tools to look things up."
REQUESTS = (
    "Where is my order? It was supposed to arrive yesterday.",
    "I want a refund for my last purchase, the kettle stopped working.",
    "Can you check whether the blue kettle is back in stock?",
    "My package arrived damaged, what can I do about it?",
    "How do I change the delivery address of an open order?",
    "Please cancel my subscription before the next billing date.",
    "Why was I charged twice for the same order?",
    "Do you ship to Canada, and how long does it take?",
)
ANSWERS = (  # the answer to each of REQUESTS
    "Your order has shipped and should arrive within two business days.",
    "I have issued a refund of the full amount; it will reach your card in three to five days.",
    "The blue kettle is back in stock and ships within one business day.",
    "Sorry about the damage. I have started a replacement and you do not need to send the item back. "
    "The new one leaves our warehouse tomorrow and you will get a tracking link by email as soon as it ships.",
    "I have updated the delivery address of your open order. Orders that have already shipped cannot be "
    "redirected, but this one had not left the warehouse yet, so the change applies to it in full.",
    "Your subscription is cancelled and you will not be billed again.",
    "The second charge was a temporary authorisation and disappears from your statement within a week.",
    "Yes, we ship to Canada; delivery takes five to eight business days.",
)
REFUSALS = (
    "I can't help with that.",
    "I'm sorry, but I cannot assist with that request.",
    "I'm unable to help with that.",
)
LONG_OPENINGS = (
    "Thanks for your patience while I looked into this. Your order was split into two parcels by the "
    "warehouse and the first one has already been delivered to your door.",
    "I checked the order history on your account and found the payment that was taken twice. The first "
    "payment was captured normally when the order was placed.",
)
CUT_ENDINGS = (
    "The second parcel left the warehouse this morning and the courier expects to deliver it before the "
    "end of the week, after which we will close the ticket and send you a short survey about your experi",
    "The second one is an authorisation hold that your bank will release on its own, and once that "
    "happens you will see the amount back on your statement as a pending credit from our paym",
)
OTHER_TOOLS = ("check_inventory", "send_email", "lookup_customer")
EXCEPTION_TOOLS = ("get_order", "search_docs")
SLOW_TOOLS = ("get_order", "search_docs", "refund")
DOCS = ("kb/shipping.md", "kb/refunds.md", "kb/returns.md", "kb/billing.md")


class FailureRates(BaseModel):
    """The share of traces each failure is planted in, drawn independently (the four answer outcomes
    exclude each other)."""

    tool_exception: float = 0.03
    tool_error_output: float = 0.04
    repeated_tool_call: float = 0.02
    root_error: float = 0.01
    empty_answer: float = 0.015
    refusal: float = 0.02
    truncated_answer: float = 0.025
    slow_tool: float = 0.005
    """One tool call 50x slower than usual."""
    token_outlier: float = 0.005
    """One model call with 20x the usual input tokens."""
    session: float = 0.3
    """The share of blocks of consecutive traces that are turns of one session."""


class PlantedFailures(BaseModel):
    """Traces showing each planted failure, keyed by the finding kind that reports it."""

    traces: int
    spans: int
    sessions: int
    session_traces: int
    counts: dict[str, int]


class GeneratedTable(BaseModel):
    path: str
    planted: PlantedFailures
    seconds: float
    bytes_on_disk: int


def generate_span_table(
    spark: SparkSession,
    path: Path,
    traces: int,
    *,
    seed: int = SEED,
    rates: FailureRates | None = None,
    now: datetime | None = None,
) -> GeneratedTable:
    """Write `traces` traces as a span table in Parquet at `path` (replaced if present), with the planted
    counts and the time it took in `path/_generated.json`."""
    started = time.perf_counter()
    plan = trace_plan(spark, traces, seed=seed, rates=rates or FailureRates(), now=now)
    span_rows(plan).write.mode("overwrite").parquet(str(path))
    planted = count_planted(plan, traces)
    size = sum(file.stat().st_size for file in path.glob("*.parquet"))
    generated = GeneratedTable(
        path=str(path), planted=planted, seconds=round(time.perf_counter() - started, 2), bytes_on_disk=size
    )
    (path / GENERATED_FILE).write_text(generated.model_dump_json(indent=2))
    return generated


def trace_plan(spark: SparkSession, traces: int, *, seed: int, rates: FailureRates, now: datetime | None) -> DataFrame:
    """One row per trace: its ids, times, texts and the failures planted in it."""
    from pyspark.sql import functions as F

    end_ms = int((now or datetime.now(UTC)).timestamp() * 1000) - 3_600_000
    draws = _Draws(seed)
    r = rates
    vocabulary = {
        "requests": REQUESTS,
        "answers": ANSWERS,
        "refusals": REFUSALS,
        "long_openings": LONG_OPENINGS,
        "cut_endings": CUT_ENDINGS,
        "docs": DOCS,
    }
    # One Parquet file per range partition: a trace's spans are made, and stay, in one partition.
    base = spark.range(0, traces, 1, max(2, -(-traces // TRACES_PER_FILE))).select(
        F.col("id").alias("t"),
        F.lit(SYSTEM_PROMPT).alias("system_prompt"),
        *(_literal_array(name, texts) for name, texts in vocabulary.items()),
    )
    answer_draw = draws.uniform("answer")
    decided = base.selectExpr(
        "*",
        f"lower(concat(lpad(hex(xxhash64({seed}, t, 'trace-hi')), 16, '0'), "
        f"lpad(hex(xxhash64({seed}, t, 'trace-lo')), 16, '0'))) AS trace_id",
        f"{end_ms - WINDOW_MS}L + t * {WINDOW_MS}L DIV {max(traces, 1)} AS start_ms",
        f"{draws.pick('request', len(REQUESTS))} + 1 AS topic",
        f"10000 + {draws.pick('order', 90000)} AS order_id",
        f"10000 + {draws.pick('missing_order', 90000)} AS missing_order_id",
        f"CASE WHEN {answer_draw} < {r.root_error} THEN 'error' "
        f"WHEN {answer_draw} < {r.root_error + r.empty_answer} THEN 'empty' "
        f"WHEN {answer_draw} < {r.root_error + r.empty_answer + r.refusal} THEN 'refusal' "
        f"WHEN {answer_draw} < {r.root_error + r.empty_answer + r.refusal + r.truncated_answer} THEN 'truncated' "
        "ELSE 'normal' END AS outcome",
        f"CASE WHEN {draws.uniform('exception')} < {r.tool_exception} "
        f"THEN element_at(array{EXCEPTION_TOOLS}, {draws.pick('exception_tool', 2)} + 1) END AS raising_tool",
        f"{draws.uniform('error_output')} < {r.tool_error_output} AS refund_error",
        f"{draws.uniform('repeat')} < {r.repeated_tool_call} AS repeated",
        f"CASE WHEN {draws.uniform('slow')} < {r.slow_tool} "
        f"THEN element_at(array{SLOW_TOOLS}, {draws.pick('slow_tool', 3)} + 1) END AS slow_tool",
        f"CASE WHEN {draws.uniform('heavy')} < {r.token_outlier} THEN {draws.pick('heavy_call', 3)} + 1 "
        "ELSE 0 END AS heavy_call",
        f"CASE WHEN {draws.block_uniform('session')} < {r.session} "
        f"AND pmod(t, {SESSION_BLOCK}) < 2 + {draws.block_pick('turns', SESSION_BLOCK - 1)} "
        f"THEN concat('sess-', lower(lpad(hex(xxhash64({seed}, t DIV {SESSION_BLOCK}, 'session')), 16, '0'))) "
        "END AS session_id",
        f"concat('user-', {draws.block_pick('user', 5000)}) AS user_id",
        f"element_at(array{OTHER_TOOLS}, {draws.pick('other_tool', 3)} + 1) AS other_tool",
        f"element_at(docs, {draws.pick('doc', len(DOCS))} + 1) AS doc",
        f"5 + {draws.pick('d_chain', 20)} AS d_chain",
        f"30 + {draws.pick('d_retriever', 120)} AS d_retriever",
        *(f"400 + {draws.pick(f'd_llm{k}', 1200)} AS d_llm{k}" for k in (1, 2, 3)),
        *(f"{draws.pick(f'in_llm{k}', 1000)} + 400 AS in_llm{k}" for k in (1, 2, 3)),
        *(f"{draws.pick(f'out_llm{k}', 300)} + 20 AS out_llm{k}" for k in (1, 2, 3)),
        *(f"50 + {draws.pick(f'd_tool{k}', 200)} AS d_tool{k}" for k in (1, 2, 3, 4)),
    )
    return decided.selectExpr(
        "*",
        "CASE outcome WHEN 'empty' THEN '' "
        f"WHEN 'refusal' THEN element_at(refusals, {draws.pick('refusal', len(REFUSALS))} + 1) "
        f"WHEN 'truncated' THEN concat(element_at(long_openings, {draws.pick('opening', len(LONG_OPENINGS))} + 1), "
        f"' ', element_at(cut_endings, {draws.pick('ending', len(CUT_ENDINGS))} + 1)) "
        "ELSE element_at(answers, topic) END AS answer",
        "element_at(requests, topic) AS request",
        "CASE WHEN repeated THEN 'get_order' ELSE other_tool END AS fourth_tool",
    )


def count_planted(plan: DataFrame, traces: int) -> PlantedFailures:
    """The planted failures of a plan, counted over its traces."""
    [row] = plan.selectExpr(
        *(f"count_if({condition}) AS {kind}" for kind, condition in _PLANTED.items()),
        "count(DISTINCT session_id) AS sessions",
        "count(session_id) AS session_traces",
    ).collect()
    return PlantedFailures(
        traces=traces,
        spans=traces * SPANS_PER_TRACE,
        sessions=row["sessions"],
        session_traces=row["session_traces"],
        counts={kind: row[kind] for kind in _PLANTED},
    )


def planted_trace_ids(plan: DataFrame) -> dict[str, set[str]]:
    """The MLflow ids ("tr-" + hex) of the traces each failure was planted in; for small plans."""
    columns = [f"{condition} AS {kind}" for kind, condition in _PLANTED.items()]
    planted: dict[str, set[str]] = {kind: set() for kind in _PLANTED}
    for row in plan.selectExpr("trace_id", *columns).toLocalIterator():
        for kind in _PLANTED:
            if row[kind]:
                planted[kind].add("tr-" + row["trace_id"])
    return planted


# Finding kind -> the SQL condition on a plan row that plants it.
_PLANTED = {
    "trace_errors": "outcome = 'error'",
    "tool_exceptions": "raising_tool IS NOT NULL",
    "tool_error_outputs": "refund_error",
    "repeated_tool_calls": "repeated",
    "empty_responses": "outcome = 'empty'",
    "refusals": "outcome = 'refusal'",
    "truncated_responses": "outcome = 'truncated'",
    "latency_outliers": "slow_tool IS NOT NULL",
    "token_outliers": "heavy_call > 0",
}


def span_rows(plan: DataFrame) -> DataFrame:
    """The plan's traces as span rows with the Databricks OTel v2 span table's columns and types."""
    slots = ", ".join(_slot_structs())
    return plan.selectExpr("trace_id", f"inline(array({slots}))").selectExpr(
        "concat(trace_id, '-', span_id) AS record_id",
        "timestamp_millis(span_start_ms) AS time",
        "to_date(timestamp_millis(span_start_ms)) AS date",
        f"'{SERVICE}' AS service_name",
        "trace_id",
        "span_id",
        "'' AS trace_state",
        "parent_span_id",
        "1 AS flags",
        "name",
        "'SPAN_KIND_INTERNAL' AS kind",
        "span_start_ms * 1000000L AS start_time_unix_nano",
        "span_end_ms * 1000000L AS end_time_unix_nano",
        "attributes",
        "0 AS dropped_attributes_count",
        "events",
        "0 AS dropped_events_count",
        "cast(array() AS array<struct<trace_id: string, span_id: string, trace_state: string, "
        "attributes: variant, dropped_attributes_count: int, flags: int>>) AS links",
        "0 AS dropped_links_count",
        "named_struct('message', status_message, 'code', status_code) AS status",
        f"named_struct('attributes', parse_json('{json.dumps({'service.name': SERVICE})}'), "
        "'dropped_attributes_count', 0) AS resource",
        "'' AS resource_schema_url",
        "named_struct('name', 'mlflow', 'version', '3.17.0', 'attributes', parse_json('{}'), "
        "'dropped_attributes_count', 0) AS instrumentation_scope",
        "'' AS span_schema_url",
    )


def _slot_structs() -> list[str]:
    """One SQL struct per span of a trace, children in the order they ran: each starts 2 ms after the
    previous one ended; the root ends 3 ms after its last child."""
    elapsed = "0"
    children = []
    for slot, name, span_type, duration, (inputs, outputs, *extra) in _CHILDREN:
        start = f"start_ms + {elapsed} + 2"
        elapsed = f"{elapsed} + 2 + {duration}"
        children.append(
            _span_struct(
                span_id=_span_id(slot),
                parent=_span_id("root"),
                name=name,
                start=start,
                end=f"start_ms + {elapsed}",
                error=_CHILD_ERRORS.get(slot),
                attributes=_attributes(span_type, inputs, outputs, extra=tuple(extra)),
            )
        )
    root = _span_struct(
        span_id=_span_id("root"),
        parent="''",
        name="'agent'",
        start="start_ms",
        end=f"start_ms + {elapsed} + 3",
        error=("outcome = 'error'", "'ValueError'", "'could not parse the final answer of the model'"),
        attributes=_attributes(
            "AGENT",
            "to_variant_object(named_struct('messages', array(named_struct('role', 'user', 'content', request))))",
            "CASE WHEN outcome = 'error' THEN NULL ELSE cast(answer AS variant) END",
            extra=("'session.id', cast(session_id AS variant)", "'user.id', cast(user_id AS variant)"),
        ),
    )
    return [root, *children]


def _span_id(slot: str) -> str:
    return f"lower(lpad(hex(xxhash64(trace_id, '{slot}')), 16, '0'))"


def _tool_duration(column: str, name: str) -> str:
    return f"{column} * CASE WHEN slow_tool = '{name}' THEN 50 ELSE 1 END"


def _span_struct(
    *, span_id: str, parent: str, name: str, start: str, end: str, error: tuple[str, str, str] | None, attributes: str
) -> str:
    """A span as a struct; `error` is (condition, exception type, message) in SQL: when the condition
    holds, the span failed as MLflow records a raised exception (status "Type: message", an event)."""
    condition, exception_type, message = error or ("false", "''", "''")
    event = (
        f"named_struct('time_unix_nano', ({end}) * 1000000L, 'name', 'exception', 'attributes', "
        f"to_variant_object(named_struct('exception.type', {exception_type}, 'exception.message', {message})), "
        "'dropped_attributes_count', 0)"
    )
    return (
        f"named_struct('span_id', {span_id}, 'parent_span_id', {parent}, 'name', {name}, "
        f"'span_start_ms', {start}, 'span_end_ms', {end}, "
        f"'status_code', CASE WHEN {condition} THEN 'STATUS_CODE_ERROR' ELSE 'STATUS_CODE_OK' END, "
        f"'status_message', CASE WHEN {condition} THEN concat({exception_type}, ': ', {message}) ELSE '' END, "
        f"'attributes', {attributes}, 'events', filter(array({event}), event -> {condition}))"
    )


def _attributes(span_type: str, inputs: str, outputs: str, *, extra: tuple[str, ...] = ()) -> str:
    """MLflow's span attributes as one VARIANT object; an entry whose value is NULL is left out."""
    entries = [
        "'mlflow.traceRequestId', cast(concat('tr-', trace_id) AS variant)",
        f"'{SPAN_TYPE}', cast('{span_type}' AS variant)",
        f"'{SPAN_INPUTS}', {inputs}",
        f"'{SPAN_OUTPUTS}', {outputs}",
        *extra,
    ]
    return f"to_variant_object(map_filter(map({', '.join(entries)}), (key, value) -> value IS NOT NULL))"


def _model_call(call: int, requested: tuple[str, ...]) -> tuple[str, ...]:
    """A ChatOpenAI call's inputs, outputs (asking for the `requested` tools, else giving the answer) and
    model and token usage; call number `heavy_call` sends 20x the usual input tokens."""
    inputs = (
        "to_variant_object(named_struct('messages', array(named_struct('role', 'system', 'content', system_prompt), "
        "named_struct('role', 'user', 'content', request))))"
    )
    if requested:
        tool_calls = ", ".join(
            f"named_struct('id', 'call_{call}_{index}', 'type', 'function', "
            f"'function', named_struct('name', {_TOOL_CALLS[tool][0]}, 'arguments', to_json({_TOOL_CALLS[tool][1]})))"
            for index, tool in enumerate(requested)
        )
        message = f"named_struct('role', 'assistant', 'content', '', 'tool_calls', array({tool_calls}))"
        finish = "'tool_calls'"
    else:
        message = "named_struct('role', 'assistant', 'content', answer)"
        finish = "CASE WHEN outcome = 'truncated' THEN 'length' ELSE 'stop' END"
    outputs = (
        f"to_variant_object(named_struct('model', '{MODEL}', 'choices', "
        f"array(named_struct('index', 0, 'message', {message}, 'finish_reason', {finish}))))"
    )
    input_tokens = f"in_llm{call} * CASE WHEN heavy_call = {call} THEN 20 ELSE 1 END"
    usage = (
        f"'{TOKEN_USAGE}', to_variant_object(named_struct('input_tokens', {input_tokens}, "
        f"'output_tokens', out_llm{call}, 'total_tokens', {input_tokens} + out_llm{call}))"
    )
    return inputs, outputs, usage, f"'{MODEL_ATTRIBUTE}', cast('{MODEL}' AS variant)"


_ORDER_INPUTS = "to_variant_object(named_struct('order_id', order_id))"
_QUERY_INPUTS = "to_variant_object(named_struct('query', request))"
_ORDER = "to_variant_object(named_struct('order_id', order_id, 'status', 'shipped', 'items', 2))"
_FOURTH_TOOL_INPUTS = (
    f"CASE WHEN repeated THEN {_ORDER_INPUTS} "
    "WHEN fourth_tool = 'check_inventory' THEN to_variant_object(named_struct('sku', concat('SKU-', order_id % 977))) "
    "WHEN fourth_tool = 'send_email' THEN "
    "to_variant_object(named_struct('template', 'ticket_update', 'order_id', order_id)) "
    "ELSE to_variant_object(named_struct('customer_id', concat('C-', order_id % 4999))) END"
)
_FOURTH_TOOL_OUTPUTS = (
    f"CASE WHEN repeated THEN {_ORDER} "
    "WHEN fourth_tool = 'check_inventory' THEN to_variant_object(named_struct('in_stock', true, 'quantity', 14)) "
    "WHEN fourth_tool = 'send_email' THEN to_variant_object(named_struct('sent', true)) "
    "ELSE to_variant_object(named_struct('customer_id', concat('C-', order_id % 4999), 'tier', 'gold')) END"
)
# Tool -> (its name, its inputs), in SQL: a model call passes the inputs as the call's arguments.
_TOOL_CALLS = {
    "get_order": ("'get_order'", _ORDER_INPUTS),
    "search_docs": ("'search_docs'", _QUERY_INPUTS),
    "refund": ("'refund'", _ORDER_INPUTS),
    "fourth": ("fourth_tool", _FOURTH_TOOL_INPUTS),
}
# (slot, name, span type, duration in ms, (inputs, outputs, other attribute entries…)), in SQL, in the order
# the spans run under the root.
_CHILDREN: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    (
        "chain",
        "'build_prompt'",
        "CHAIN",
        "d_chain",
        (
            "to_variant_object(named_struct('question', request))",
            "to_variant_object(named_struct('prompt', concat(system_prompt, ' ', request)))",
        ),
    ),
    (
        "retriever",
        "'retrieve_docs'",
        "RETRIEVER",
        "d_retriever",
        (
            _QUERY_INPUTS,
            "to_variant_object(array("
            "named_struct('page_content', 'Orders ship within one business day of payment.', "
            "'metadata', named_struct('source', doc)), "
            "named_struct('page_content', 'Refunds reach the original payment method within five days.', "
            "'metadata', named_struct('source', 'kb/refunds.md'))))",
        ),
    ),
    ("llm1", "'ChatOpenAI'", "CHAT_MODEL", "d_llm1", _model_call(1, ("get_order", "search_docs"))),
    (
        "tool1",
        "'get_order'",
        "TOOL",
        _tool_duration("d_tool1", "get_order"),
        (
            _ORDER_INPUTS,
            f"CASE WHEN raising_tool = 'get_order' THEN NULL ELSE {_ORDER} END",
        ),
    ),
    (
        "tool2",
        "'search_docs'",
        "TOOL",
        _tool_duration("d_tool2", "search_docs"),
        (
            _QUERY_INPUTS,
            "CASE WHEN raising_tool = 'search_docs' THEN NULL "
            "ELSE to_variant_object(named_struct('results', array(named_struct('title', 'Shipping times', "
            "'url', concat('https://docs.example.com/', doc))))) END",
        ),
    ),
    ("llm2", "'ChatOpenAI'", "CHAT_MODEL", "d_llm2", _model_call(2, ("refund", "fourth"))),
    (
        "tool3",
        "'refund'",
        "TOOL",
        _tool_duration("d_tool3", "refund"),
        (
            _ORDER_INPUTS,
            "CASE WHEN refund_error "
            "THEN to_variant_object(named_struct('error', concat('order ', missing_order_id, ' not found'))) "
            "ELSE to_variant_object(named_struct('status', 'refunded', 'order_id', order_id, 'amount', 42.5D)) END",
        ),
    ),
    ("tool4", "fourth_tool", "TOOL", "d_tool4", (_FOURTH_TOOL_INPUTS, _FOURTH_TOOL_OUTPUTS)),
    ("llm3", "'ChatOpenAI'", "CHAT_MODEL", "d_llm3", _model_call(3, ())),
]
_CHILD_ERRORS = {
    "tool1": ("raising_tool = 'get_order'", "'TimeoutError'", "concat('order ', order_id, ' timed out after 30s')"),
    "tool2": ("raising_tool = 'search_docs'", "'ConnectionError'", "'search index unavailable (shard 3)'"),
}


class _Draws:
    """Deterministic draws from the trace number `t` (or its session block): hashes, not `rand()`, so that
    a trace's draws do not depend on which partition computes it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def uniform(self, salt: str) -> str:
        return f"(pmod(xxhash64({self.seed}, t, '{salt}'), 1000000) / 1e6)"

    def pick(self, salt: str, choices: int) -> str:
        return f"cast(pmod(xxhash64({self.seed}, t, '{salt}'), {choices}) AS int)"

    def block_uniform(self, salt: str) -> str:
        return f"(pmod(xxhash64({self.seed}, t DIV {SESSION_BLOCK}, '{salt}'), 1000000) / 1e6)"

    def block_pick(self, salt: str, choices: int) -> str:
        return f"cast(pmod(xxhash64({self.seed}, t DIV {SESSION_BLOCK}, '{salt}'), {choices}) AS int)"


def _literal_array(name: str, texts: tuple[str, ...]) -> Column:
    from pyspark.sql import functions as F

    # Literals through the DataFrame API: the texts hold apostrophes that SQL text would have to escape.
    return F.array(*(F.lit(text) for text in texts)).alias(name)


def write_mlflow_traces(spark: SparkSession, path: Path, tracking_uri: str, experiment_name: str) -> WriteReport:
    """Write the span table at `path` into a new experiment of an MLflow tracking store, one MLflow trace per
    `trace_id` ("tr-" + its hex), with the importer's bulk writer: the Python engine then reads the same traces
    the SQL engine reads from the table. A root's `session.id` and `user.id` become the trace's session and user
    metadata. Every row is pulled into this process: for tables of thousands of traces, not millions."""
    from mlflow.tracking import MlflowClient

    experiment_id = MlflowClient(tracking_uri=tracking_uri).create_experiment(experiment_name)
    rows = (
        spark.read.parquet(str(path))
        .selectExpr(
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "start_time_unix_nano",
            "end_time_unix_nano",
            "status.code AS status_code",
            "status.message AS status_message",
            "to_json(attributes) AS attributes",
            "to_json(events) AS events",
        )
        .orderBy("trace_id", "start_time_unix_nano")
    )
    return write_traces(tracking_uri, experiment_id, _trace_records(rows.toLocalIterator()), batch_size=200)


def _trace_records(rows: Iterator[Any]) -> Iterator[TraceRecord]:
    """Rows sorted by trace id, grouped into traces."""
    trace_id: str | None = None
    spans: list[tuple[SpanRecord, dict[str, Any]]] = []
    for row in rows:
        if row["trace_id"] != trace_id:
            if spans:
                yield _trace_record(trace_id or "", spans)
            trace_id, spans = row["trace_id"], []
        spans.append(_span_record(row))
    if spans:
        yield _trace_record(trace_id or "", spans)


def _trace_record(trace_id: str, spans: list[tuple[SpanRecord, dict[str, Any]]]) -> TraceRecord:
    # The writer takes the first span for the root.
    ordered = sorted(spans, key=lambda pair: pair[0].parent_id is not None)
    root_attributes = ordered[0][1]
    metadata = {
        key: str(root_attributes[attribute])
        for key, attribute in (("mlflow.trace.session", "session.id"), ("mlflow.trace.user", "user.id"))
        if root_attributes.get(attribute)
    }
    return TraceRecord(trace_id="tr-" + trace_id, spans=[span for span, _ in ordered], metadata=metadata)


def _span_record(row: Any) -> tuple[SpanRecord, dict[str, Any]]:
    """A row as the writer's span, with its attributes as stored (decoded)."""
    attributes: dict[str, Any] = json.loads(row["attributes"])
    others = {
        key: value
        for key, value in attributes.items()
        if key not in (SPAN_TYPE, SPAN_INPUTS, SPAN_OUTPUTS, "mlflow.traceRequestId")
    }
    failed = row["status_code"] == "STATUS_CODE_ERROR"
    span = SpanRecord(
        span_id=row["span_id"],
        parent_id=row["parent_span_id"] or None,
        name=row["name"],
        span_type=attributes.get(SPAN_TYPE, "UNKNOWN"),
        start_ns=row["start_time_unix_nano"],
        end_ns=row["end_time_unix_nano"],
        inputs=attributes.get(SPAN_INPUTS),
        outputs=attributes.get(SPAN_OUTPUTS),
        attributes=others,
        error=(row["status_message"] or "failed") if failed else None,
        events=tuple(
            {"name": event["name"], "time_unix_nano": event["time_unix_nano"], "attributes": event["attributes"]}
            for event in json.loads(row["events"] or "[]")
        ),
    )
    return span, attributes
