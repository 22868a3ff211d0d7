"""Small hand-built traces for tests that need exact, known content."""

from mlflow_eval_mcp.importing.trace_writer import SpanRecord, TraceRecord, span_id_for, stable_trace_id

BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000


def make_trace(index: int, *, tool_error: str | None = None, answer: str = "Your order has shipped.") -> TraceRecord:
    start = BASE_NS + index * 60_000 * MS
    root, llm, tool = span_id_for(0), span_id_for(1), span_id_for(2)
    return TraceRecord(
        trace_id=stable_trace_id(f"test:{index}"),
        spans=[
            SpanRecord(
                root, None, "agent", "AGENT", start, start + 900 * MS, {"question": f"where is order {index}?"}, answer
            ),
            SpanRecord(
                llm,
                root,
                "generate_answer",
                "CHAT_MODEL",
                start + 100 * MS,
                start + 800 * MS,
                {"messages": [{"role": "user", "content": "x" * 5000}]},
                {"choices": [{"message": {"content": answer}, "finish_reason": "stop"}]},
                attributes={
                    "mlflow.chat.tokenUsage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
                    "mlflow.llm.model": "claude-test",
                },
            ),
            SpanRecord(
                tool,
                root,
                "lookup_order",
                "TOOL",
                start + 10 * MS,
                start + 90 * MS,
                {"order_id": index},
                None if tool_error else {"status": "shipped"},
                error=tool_error,
                exception_type="TimeoutError" if tool_error else None,
            ),
        ],
        tags={"env": "test", "index": str(index)},
        metadata={"mlflow.trace.user": f"user-{index % 3}", "mlflow.trace.session": f"session-{index % 5}"},
        client_request_id=f"req-{index}",
    )
