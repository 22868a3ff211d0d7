"""MCP prompts: the workflows users follow, as instructions that name the tools in order."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer


def first_evaluation_suite(experiment_name: str, suite_dir: str = "") -> str:
    """Build and validate a first evaluation suite from an experiment's production traces."""
    target = f', suite_dir="{suite_dir}"' if suite_dir else ""
    return f"""Build an evaluation suite for the agent whose production traces are in MLflow experiment \
"{experiment_name}", and prove that it runs.

1. analyze_traces(experiment_name="{experiment_name}"{target}). Summarise the findings: what fails, how often, \
with two example trace ids each; get_trace on one of them if a finding is unclear.
2. generate_suite(experiment_name="{experiment_name}"{target}) writes the dataset, scorers and run_eval.py. Report \
the cases (recorded, synthetic), the code scorers and judges, what was left out and why, and the gates.
3. validate_eval(suite_dir=<the suite_dir it returned>). If a check failed, show its fix and apply it, then \
validate again. Judges reported as skipped need a judge model's API key; say which.
4. Finish with the command that runs the suite in CI (run_command, with --no-llm-judges if no key), and which \
mode (offline or claude) produced each step."""


def regression_check(suite_dir: str, predict_fn: str) -> str:
    """Check a new agent version against production on a suite's cases."""
    return f"""Check whether the agent version behind predict_fn "{predict_fn}" is a regression against \
production, using the suite in "{suite_dir}".

1. validate_eval(suite_dir="{suite_dir}") scores the recorded production traces: this run is the baseline. Note \
its run_id.
2. validate_eval(suite_dir="{suite_dir}", predict_fn="{predict_fn}") runs the new version on the same cases. \
Note its run_id; a failed gate already means it does worse than production somewhere, and a failed paired \
gate names a scorer it fails on significantly more of the well-recorded cases than production did.
3. compare_runs(baseline_run_id=<1>, candidate_run_id=<2>). Report the verdict per scorer with its McNemar \
p-value, and list the rows that went from pass to fail with get_trace on one of them.
4. Conclude: ship, or not, and what to fix first."""


def latency_and_token_profile(experiment_name: str) -> str:
    """Where an agent spends time and tokens, and which traces are outliers."""
    return f"""Profile latency and token use of the agent in MLflow experiment "{experiment_name}".

1. analyze_traces(experiment_name="{experiment_name}", generation="offline", detail="full"): read latency \
(trace percentiles, per span type and name, the spans that dominate slow traces), tokens (per trace, per model, \
the outlier threshold) and the latency_outliers and token_outliers findings.
2. search_traces(experiment_name="{experiment_name}", order_by=["execution_time_ms DESC"], max_results=5), then \
get_trace on the slowest: which span took the time, and was it waiting on a tool, a model or retries?
3. Report a table of the slowest span names (p50, p95, max), the tokens per trace (p50, p95) by model, and three \
concrete changes that would cut latency or tokens, each tied to trace ids."""


def close_the_loop(suite_dir: str) -> str:
    """Put a suite's results on the production traces, collect human reviews, and feed them back."""
    return f"""Close the loop between the evaluation suite in "{suite_dir}" and production.

1. validate_eval(suite_dir="{suite_dir}") if it has not run since the suite last changed.
2. push_feedback(suite_dir="{suite_dir}", dry_run=true), show the counts, then push_feedback without dry_run: \
every scorer's verdict lands on its source trace, tagged with the suite.
3. Tell the user how to review in the MLflow UI (filter feedback.<scorer> = 'false'), and to add HUMAN \
feedback or expectations (expected_response, expected_facts, guidelines) on traces they disagree with.
4. After they have reviewed: pull_feedback(suite_dir="{suite_dir}"), then generate_scorers and \
render_run_script again so judges that need expectations (Correctness) can run, and validate_eval once more."""


def trusted_judges(suite_dir: str) -> str:
    """Make a suite's LLM judges trustworthy: people's labels, agreement, alignment, monitoring."""
    return f"""Make the LLM judges of the suite in "{suite_dir}" trustworthy before they gate CI or \
watch production.

1. validate_eval(suite_dir="{suite_dir}") with a judge model configured, so that the judges give verdicts on the \
recorded traces; then push_feedback(suite_dir="{suite_dir}").
2. review_traces(suite_dir="{suite_dir}"): show the user how_to_label. People answer pass or fail per judge, in the \
review file (then push_feedback) or in the MLflow UI as feedback named exactly as the judge. Wait for them.
3. calibrate_judges(suite_dir="{suite_dir}"): report the table (judge, labels, accuracy, kappa, confusion matrix) \
and which judges gate and why; quote two disagreements of each advisory judge.
4. For an advisory judge with enough labels: align_judge(suite_dir="{suite_dir}", judge=<name>). Report before and \
after agreement on the held-out labels and whether it replaced the judge; if not, try optimizer="simba".
5. validate_eval again, then calibrate_judges again: agreement is now measured on labels the aligned judge did \
not learn from. More labels may be needed (review_traces).
6. With a prompt in the registry and cases with expectations: optimize_prompt(suite_dir="{suite_dir}", \
prompt_uri=<prompts:/name/version>). Report the scores and whether a new version was registered.
7. monitor_judges(suite_dir="{suite_dir}"): report which judges now score production, at what rate, and what the \
backend said about the others."""


WORKFLOWS = {
    "First evaluation suite from production traces": first_evaluation_suite,
    "Regression check of a new agent version": regression_check,
    "Latency and token profile": latency_and_token_profile,
    "Close the loop with human feedback": close_the_loop,
    "Judges you can trust": trusted_judges,
}


def register_workflows(server: MCPServer) -> None:
    for title, workflow in WORKFLOWS.items():
        server.prompt(title=title)(workflow)
