"""`optimize_prompt`: MLflow's `optimize_prompts` (GEPA) on a registered prompt of the agent, with the
suite's cases that have expectations and the scorers people calibrated.

The agent's code runs, so it runs where run_eval.py runs it: in a fresh interpreter
(`evaluation/optimize_prompt.py`), never in this process, whose tracking URI MLflow's prompt APIs
would otherwise have to change for everyone. MLflow registers the optimized prompt as a new
version; the script keeps it, and moves the alias, only when its score beats the original's.
"""

from __future__ import annotations

import json
import re

from mlflow_eval_mcp.errors import InvalidArgumentError, shown
from mlflow_eval_mcp.next_steps import suggest
from mlflow_eval_mcp.suite.judge_loop_models import PromptOptimizationResult
from mlflow_eval_mcp.suite.layout import EVALUATION_DIR, SuiteLayout
from mlflow_eval_mcp.suite.runner import run_suite_script
from mlflow_eval_mcp.suite.tasks import require
from mlflow_eval_mcp.suite.templates_io import install_template
from mlflow_eval_mcp.suite.validation import check_predict_fn

OUTPUT_FILE = f"{EVALUATION_DIR}/results/optimize_prompt.json"
OPTIMIZATION_TIMEOUT_S = 3600
_PROMPT_URI = re.compile(r"prompts:/[^/@\s]+(/\d+|@[\w-]+)")


def optimize_prompt(
    suite: SuiteLayout,
    *,
    tracking_uri: str,
    prompt_uri: str,
    predict_fn: str,
    scorers: list[str] | None = None,
    reflection_model: str | None = None,
    max_metric_calls: int = 100,
    alias: str = "production",
    timeout_s: float = OPTIMIZATION_TIMEOUT_S,
) -> PromptOptimizationResult:
    require(suite, "script")
    if not _PROMPT_URI.fullmatch(prompt_uri):
        raise InvalidArgumentError(
            f"prompt_uri {shown(prompt_uri)} must name a registered prompt version: prompts:/<name>/<version> or "
            "prompts:/<name>@<alias>."
        )
    check_predict_fn(predict_fn, suite.root)
    install_template(suite, "optimize_prompt.py")
    output = suite.path(OUTPUT_FILE)
    output.unlink(missing_ok=True)
    args = ["--prompt-uri", prompt_uri, "--predict-fn", predict_fn, "--output", str(output), "--alias", alias]
    args += ["--max-metric-calls", str(max_metric_calls)]
    args += [word for name in scorers or [] for word in ("--scorer", name)]
    args += ["--reflection-model", reflection_model] if reflection_model else []
    finished = run_suite_script(suite, "optimize_prompt.py", tracking_uri=tracking_uri, args=args, timeout_s=timeout_s)
    if finished.timed_out:
        raise InvalidArgumentError(
            f"The optimization did not finish in {timeout_s:.0f} s; lower max_metric_calls or raise timeout_s."
        )
    if finished.exit_code != 0 or not output.is_file():
        raise InvalidArgumentError(f"The optimization could not run: {_reason(finished.stderr_tail)}")
    outcome = json.loads(output.read_text(encoding="utf-8"))
    root = str(suite.root)
    improved = bool(outcome["improved"])
    figures = f"score {outcome['initial_score']} -> {outcome['final_score']} on {outcome['examples']} cases"
    return PromptOptimizationResult(
        suite_dir=root,
        prompt_uri=prompt_uri,
        optimizer=outcome["optimizer"],
        examples=outcome["examples"],
        scorers=outcome["scorers"],
        initial_score=outcome["initial_score"],
        final_score=outcome["final_score"],
        improved=improved,
        new_version=outcome["new_version"],
        alias=outcome["alias"],
        seconds=finished.seconds,
        message=(
            f"The optimized prompt scores better ({figures}): registered as {outcome['new_version']}"
            + (f", alias {outcome['alias']!r} moved to it." if outcome["alias"] else ".")
            if improved
            else f"The optimized prompt does not score better ({figures}); no version was kept."
        ),
        next_step=(
            f"{suggest('validate_eval', suite_dir=root, predict_fn=predict_fn)} to check the agent with the new "
            "prompt against production"
            if improved
            else "add cases with expectations, or raise max_metric_calls, and optimize again"
        ),
    )


def _reason(stderr_tail: str) -> str:
    """The script's own one-line error, else the last line of what it printed."""
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return (errors or lines or ["it printed nothing"])[-1][:500]
