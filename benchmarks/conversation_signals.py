"""How often conversation-level findings name real failed conversations, and how rarely clean ones.

Usage (from the repository root): python -m benchmarks.conversation_signals
Imports the 184 failed Who&When multi-agent runs (../shared/data/who_and_when) with the project's
importer into a temporary store and analyses them offline: the share of runs that get at least one
conversation-level finding (user corrections ... long conversations), with the count per signal.
Then the same for the hand-built clean conversations of the tests (tests/conversations.py, imported
as chat transcripts): the share that get none. Target: as many failed runs flagged as the signals
can honestly see, and every clean conversation left alone.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from mlflow_eval_mcp.analysis.conversations import FINDING_KINDS
from mlflow_eval_mcp.analysis.engine import analyze_traces
from mlflow_eval_mcp.importing.importer import import_traces
from mlflow_eval_mcp.tracking import open_client
from tests.conversations import CONVERSATIONS, write_transcripts

WHO_AND_WHEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "who_and_when"


def _flagged(
    uri: str, source: Path, experiment: str, root: Path, *, max_traces: int
) -> tuple[int, set[str], Counter[str]]:
    """Traces analysed, those with a conversation-level finding, and traces per finding kind."""
    client = open_client(uri)
    import_traces(client, str(source), experiment_name=experiment, artifacts_dir=root / "artifacts")
    analysis = analyze_traces(client, experiment_name=experiment, max_traces=max_traces)
    kinds: Counter[str] = Counter()
    flagged: set[str] = set()
    for finding in analysis.findings:
        if finding.kind in FINDING_KINDS:
            kinds[finding.kind] += finding.count
            flagged.update(finding.trace_ids)
    return analysis.overview.traces_analyzed, flagged, kinds


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        if WHO_AND_WHEN.is_dir():
            runs, flagged, kinds = _flagged(uri, WHO_AND_WHEN, "who-and-when", root, max_traces=1000)
            share = len(flagged) / runs if runs else 0.0
            print(f"Who&When failed runs with a conversation-level finding: {len(flagged)}/{runs} ({share:.0%})")
            for kind, count in kinds.most_common():
                print(f"  {kind}: {count}")
        else:
            print(f"Who&When data not found at {WHO_AND_WHEN}: skipped")
        clean = sorted(name for name, (_, signals) in CONVERSATIONS.items() if not signals)
        source = write_transcripts(root / "clean.jsonl", clean)
        total, flagged_clean, kinds = _flagged(uri, source, "clean", root, max_traces=1000)
        print(
            f"Clean hand-built conversations with no conversation-level finding: {total - len(flagged_clean)}/{total}"
        )
        for kind, count in kinds.most_common():
            print(f"  wrongly: {kind}: {count}")


if __name__ == "__main__":
    main()
