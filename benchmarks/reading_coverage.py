"""How much of each autolog fixture set the shared reading understands.

Usage (from the repository root): python -m benchmarks.reading_coverage
For every span the analysis reads (the root, model calls, tool calls, retrievals) of every trace in
tests/fixtures/autolog/*.json, whether its inputs and its outputs were understood: a request found in
the root's and each model call's inputs, a final answer in the root's outputs (or a recorded
failure), an answer or the tools it asked for in each model call's outputs, arguments and an outcome for each
tool. Prints the share per fixture set and names the spans that were not understood. Target: 100%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow_eval_mcp.checks import signals

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "autolog"
READ_TYPES = ("CHAT_MODEL", "LLM", "TOOL", "RETRIEVER")


def _decoded(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _understood(span: dict[str, Any], is_root: bool) -> tuple[bool, bool]:
    attributes = span.get("attributes") or {}
    span_type = _decoded(attributes.get("mlflow.spanType"))
    inputs, outputs = _decoded(attributes.get("mlflow.spanInputs")), _decoded(attributes.get("mlflow.spanOutputs"))
    failed = (span.get("status") or {}).get("code") == "STATUS_CODE_ERROR"
    if is_root:
        answered = (failed and outputs is None) or signals.text_of(signals.final_answer(outputs)) is not None
        return signals.request_text(inputs) is not None, answered
    if span_type in ("CHAT_MODEL", "LLM"):
        events = [(event.get("name", ""), event.get("attributes")) for event in span.get("events") or []]
        text = signals.text_of(outputs)
        # An empty text is an answer only when the call did not stop to call tools it does not name.
        stopped_for_tools = signals.call_finish_reason(outputs, events) in ("tool_calls", "tool_use")
        answered = (
            bool(text) or bool(signals.requested_tools(outputs, events)) or (text is not None and not stopped_for_tools)
        )
        return signals.request_text(inputs) is not None, answered or failed
    # Tools and retrievers: any JSON arguments, and an outcome the checks can always give.
    return isinstance(inputs, dict | list | str) or inputs is None, failed or outputs is not None


def main() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        read = inputs_ok = outputs_ok = 0
        missed: list[str] = []
        for record in fixture["traces"]:
            spans = record["trace"]["data"]["spans"]
            ids = {span.get("span_id") for span in spans}
            for span in spans:
                is_root = span.get("parent_span_id") not in ids
                span_type = _decoded((span.get("attributes") or {}).get("mlflow.spanType"))
                if not is_root and span_type not in READ_TYPES:
                    continue
                read += 1
                got_inputs, got_outputs = _understood(span, is_root)
                inputs_ok += got_inputs
                outputs_ok += got_outputs
                if not (got_inputs and got_outputs):
                    what = "inputs" if not got_inputs else "outputs"
                    missed.append(f"{record['scenario']}/{span.get('name')} ({what})")
        print(
            f"{fixture['integration']:10s} {len(fixture['traces'])} traces, {read} spans read: "
            f"inputs {inputs_ok / read:.0%}, outputs {outputs_ok / read:.0%}"
        )
        for line in missed:
            print(f"  not understood: {line}")


if __name__ == "__main__":
    main()
