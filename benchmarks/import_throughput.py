"""Import throughput for OpenAI-style chat transcripts into a sqlite store, against the naive path
of writing the same traces span by span with MLflow's fluent API. Target: at least 5x, 0 lost.

Usage (from the repository root): python -m benchmarks.import_throughput [--transcripts 1000] [--fluent 200]
The transcripts are made from the demo agent's corpus: a user question, assistant tool calls,
tool results (errors returned as output included) and the final answer.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.fluent_baseline import write_with_fluent_api
from mlflow_eval_mcp.demo.sample_agent import generate_corpus
from mlflow_eval_mcp.importing.chat_transcript import FORMAT as CHAT
from mlflow_eval_mcp.importing.formats import ImportedTrace, ParseContext
from mlflow_eval_mcp.importing.importer import import_traces
from mlflow_eval_mcp.importing.sources import SourceRecord, read_records
from mlflow_eval_mcp.tracking import open_client


def transcripts(count: int) -> list[dict[str, Any]]:
    conversations = []
    for demo in generate_corpus(count, seed=11):
        root, *children = demo.record.spans
        messages: list[dict[str, Any]] = [{"role": "user", "content": root.inputs["question"]}]
        for index, span in enumerate(child for child in children if child.span_type == "TOOL"):
            call_id = f"call_{index}"
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": span.name, "arguments": json.dumps(span.inputs)},
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(span.outputs)})
        messages.append({"role": "assistant", "content": root.outputs or ""})
        conversations.append({"id": demo.record.trace_id, "messages": messages, "user": "bench"})
    return conversations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transcripts", type=int, default=1000)
    parser.add_argument("--fluent", type=int, default=200, help="transcripts written by the fluent baseline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "transcripts.jsonl"
        source.write_text("".join(json.dumps(c) + "\n" for c in transcripts(args.transcripts)))
        client = open_client(f"sqlite:///{folder}/import.db")  # migrations are not part of the rate
        result = import_traces(client, source, experiment_name="bench", artifacts_dir=Path(folder))
        print(
            f"import_traces: {result.imported} transcripts in {result.seconds:.2f} s = "
            f"{result.traces_per_second:.0f} traces/s; skipped {result.skipped}, failed {len(result.failed)}, "
            f"lost {result.lost}"
        )
        again = import_traces(client, source, experiment_name="bench", artifacts_dir=Path(folder))
        print(f"  re-import: imported {again.imported}, already present {again.already_present}")

        context = ParseContext("baseline", CHAT.name, synthetic_start_ns=1_700_000_000_000_000_000)
        records = [
            item.record
            for record in read_records(source)
            if isinstance(record, SourceRecord)
            for item in CHAT.parse(record, context)
            if isinstance(item, ImportedTrace)
        ][: args.fluent]
        seconds, lost = write_with_fluent_api(f"sqlite:///{folder}/fluent.db", records)
        fluent_rate = len(records) / seconds
        print(
            f"fluent API (sync), span by span: {len(records)} traces in {seconds:.2f} s = "
            f"{fluent_rate:.0f} traces/s, lost {lost}"
        )
        print(f"speed-up: {result.traces_per_second / fluent_rate:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
