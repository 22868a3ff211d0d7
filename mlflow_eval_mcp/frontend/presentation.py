"""What a tool result looks like to the LLM client that reads it: summary first, details on demand.

An MCP client puts every result into its model's context (Claude Code warns above 10,000 tokens and
cuts at 25,000), so the default result of a tool is summary-sized at any store size: a text written
for the model (the most important first, the ids for the next call, no indentation) and structured
content of the same scope. `detail="full"` returns the whole result; long lists are paged by their
own tools (`get_finding`, `search_traces`' page token). The CLI's `--json` prints the full result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlflow_eval_mcp.analysis.models import TraceAnalysis
from mlflow_eval_mcp.analysis.summary import summarize_analysis
from mlflow_eval_mcp.models import ClaudeUsage, Mode, SearchTracesResult
from mlflow_eval_mcp.suite.models import GenerateResult

Detail = Literal["summary", "full"]
DEFAULT_TRACE_FIELDS = (
    "trace_id",
    "state",
    "request_time",
    "duration_ms",
    "request_preview",
    "response_preview",
    "token_usage",
    "error_span_names",
)
PREVIEW_CHARS = 160


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def present(result: BaseModel, detail: Detail = "summary") -> tuple[str, dict[str, Any]]:
    """The text and the structured content a client is given for `result`."""
    if detail == "full":
        full = result.model_dump(mode="json")
        return compact_json(full), full
    brief = _BRIEFS.get(type(result))
    if brief is None:
        structured = result.model_dump(mode="json")
        return compact_json(structured), structured
    return brief(result)


def _analysis(analysis: TraceAnalysis) -> tuple[str, dict[str, Any]]:
    summary = summarize_analysis(analysis)
    return summary.as_text(), summary.model_dump(mode="json")


def _search(result: SearchTracesResult) -> tuple[str, dict[str, Any]]:
    """The page with only the fields asked for (by default the ones to choose a trace by)."""
    fields = result.fields or list(DEFAULT_TRACE_FIELDS)
    structured = result.model_dump(mode="json", exclude={"traces"})
    structured["traces"] = [_clipped(trace.model_dump(mode="json", include=set(fields))) for trace in result.traces]
    lines = [
        f"{len(result.traces)} traces of experiment {result.experiment_name!r} (id {result.experiment_id})"
        + (f" matching {result.filter_string!r}" if result.filter_string else "")
        + f", ordered by {', '.join(result.order_by)}."
    ]
    lines += [compact_json(trace) for trace in structured["traces"]]
    if result.next_page_token:
        lines.append(f"More: page_token={result.next_page_token!r} with the same arguments.")
    lines.append("get_trace(trace_id=...) shows one trace's spans; fields=[...] chooses what each trace shows.")
    return "\n".join(lines), structured


def _clipped(trace: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value[:PREVIEW_CHARS] + "…" if isinstance(value, str) and len(value) > PREVIEW_CHARS else value
        for key, value in trace.items()
        if value not in (None, [], {})
    }


class SuiteSummary(BaseModel):
    """generate_suite's default result. `detail="full"` gives every case count, scorer spec and reason."""

    mode: Mode
    claude: ClaudeUsage | None = None
    suite_dir: str
    traces_analyzed: int
    findings: int
    cases: int
    recorded_cases: int
    synthetic_cases: int
    session_cases: int = 0
    findings_not_covered: int
    code_scorers: list[str]
    judges: list[str]
    left_out: int = Field(description="Scorers considered and left out (their reasons are in the full result).")
    gates: dict[str, float]
    run_command: str
    next_step: str

    def as_text(self) -> str:
        return "\n".join(
            [
                f"Suite written to {self.suite_dir} ({self.mode}) from {self.traces_analyzed:,} traces and "
                f"{self.findings} findings.",
                f"Dataset: {self.cases} cases ({self.recorded_cases} recorded, {self.synthetic_cases} synthetic, "
                f"{self.session_cases} whole sessions); "
                f"{self.findings_not_covered} findings without a case.",
                f"Code scorers: {', '.join(self.code_scorers) or 'none'}. Judges: {', '.join(self.judges) or 'none'}. "
                f"{self.left_out} left out (detail='full' says why).",
                f"Gates: {', '.join(f'{name} >= {value:g}' for name, value in self.gates.items()) or 'none'}.",
                f"Run it: {self.run_command}",
                f"Next: {self.next_step}",
            ]
        )


def _suite(result: GenerateResult) -> tuple[str, dict[str, Any]]:
    summary = SuiteSummary(
        mode=result.mode,
        claude=result.claude,
        suite_dir=result.suite_dir,
        traces_analyzed=result.traces_analyzed,
        findings=result.findings,
        cases=result.dataset.cases,
        recorded_cases=result.dataset.recorded,
        synthetic_cases=result.dataset.synthetic,
        session_cases=result.dataset.sessions,
        findings_not_covered=len(result.dataset.findings_not_covered),
        code_scorers=[spec.name for spec in [*result.scorers.code_scorers, *result.scorers.generated_code_scorers]],
        judges=[judge.name for judge in result.scorers.judges],
        left_out=len(result.scorers.not_used) + len(result.scorers.dropped),
        gates=result.script.gates,
        run_command=result.script.run_command,
        next_step=result.script.next_step,
    )
    return summary.as_text(), summary.model_dump(mode="json")


_BRIEFS: dict[type, Callable[[Any], tuple[str, dict[str, Any]]]] = {
    TraceAnalysis: _analysis,
    SearchTracesResult: _search,
    GenerateResult: _suite,
}
