"""How much of each autolog fixture set the shared reading understands.

Usage (from the repository root): python -m benchmarks.reading_coverage
For every span the reading interprets (the root, model calls, tool calls, retrievals) of every trace
in tests/fixtures/autolog/*.json, whether its inputs and its outputs were understood, as
`Conversation.unread()` judges it (the same figure analyze_traces reports as `reading`): a request in
the root's and each model call's inputs, a final answer in the root's outputs (or a recorded
failure), an answer or the tools it asked for in each model call's outputs, an outcome for each tool.
A model call whose output MLflow did not record at all (an object's repr, as for Anthropic streaming)
is counted apart. Prints the share per fixture set and names the spans that were not understood.
Target: 100%.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlflow_eval_mcp.checks.conversation import Conversation
from mlflow_eval_mcp.checks.span_view import SpanView

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "autolog"


def main() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        fixture = json.loads(path.read_text(encoding="utf-8"))
        read = 0
        missed: list[str] = []
        unrecorded: list[str] = []
        for record in fixture["traces"]:
            spans = [SpanView.of_dict(span) for span in record["trace"]["data"]["spans"]]
            count, unread = Conversation(spans).unread()
            read += count
            for span in unread:
                where = f"{record['scenario']}/{span.span} ({span.part})"
                (missed if span.recorded else unrecorded).append(where)
        recorded = read - len(unrecorded)
        share = 1 - len(missed) / recorded if recorded else 1.0
        traces = len(fixture["traces"])
        print(
            f"{fixture['integration']:18s} {traces} traces, {read} spans read: {share:.0%} of what was recorded "
            f"understood; {len(unrecorded)} outputs not recorded by MLflow"
        )
        for line in missed:
            print(f"  not understood: {line}")
        for line in unrecorded:
            print(f"  not recorded: {line}")


if __name__ == "__main__":
    main()
