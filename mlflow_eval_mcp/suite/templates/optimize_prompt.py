"""Optimize a registered prompt of your agent with this suite: MLflow's optimize_prompts (GEPA) on
the cases that have expectations, scored by the scorers named (by default the judges people
calibrated: data/gate_trust.json).

    python evaluation/optimize_prompt.py --prompt-uri prompts:/support/3 --predict-fn my_agent:answer

Your predict_fn must load the prompt with mlflow.genai.load_prompt(...) and call .format(): MLflow
swaps in each candidate there. MLflow registers the optimized prompt as a new version; it is kept,
and --alias moved to it, only when its score beats the original's; otherwise the version is deleted.
Writes a JSON result to --output. Exit code 0 when it ran (improved or not), 2 when it could not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# Before MLflow is imported: GEPA calls predict_fn enough; MLflow's extra first call to check its traces is not needed.
os.environ.setdefault("MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION", "True")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mlflow  # noqa: E402
from run_eval import SuiteError, load_predict_fn, load_trust, tracking_uri, use_experiment, write_json  # noqa: E402

from eval_dataset import load_cases  # noqa: E402
from scorers import get_scorers, judge_model, load_config  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Optimize a registered prompt with this suite's cases and judges.")
    parser.add_argument("--prompt-uri", required=True, help="prompts:/<name>/<version> (or @alias) to optimize")
    parser.add_argument("--predict-fn", required=True, help="your agent as module:function or path/to/file.py:function")
    parser.add_argument("--scorer", action="append", default=[], help="a scorer to optimize for (repeatable)")
    parser.add_argument("--reflection-model", help="the model GEPA reflects with (default: the judge model)")
    parser.add_argument("--max-metric-calls", type=int, default=100, help="GEPA's budget of scorer calls")
    parser.add_argument("--alias", default="production", help="alias moved to an improved version ('' for none)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or the suite's)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "optimize_prompt.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = optimize(args)
    except SuiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print("error: the optimization could not run (traceback above)", file=sys.stderr)
        return 2
    write_json(args.output, result)
    print(json.dumps(result, indent=2))
    return 0


def optimize(args: argparse.Namespace) -> dict[str, Any]:
    from mlflow.genai.optimize import GepaPromptOptimizer

    config = load_config()
    uri, _ = tracking_uri(args.tracking_uri)
    mlflow.set_tracking_uri(uri)
    # The suite's evaluation experiment, as run_eval.py's: never MLflow's Default (and ./mlruns).
    use_experiment(os.environ.get("MLFLOW_EVAL_EXPERIMENT") or f"{config['suite_id']}-eval")
    train = [
        {"inputs": case["inputs"], "expectations": case["expectations"]}
        for case in load_cases()
        if case.get("expectations") and case.get("kind") != "session"
    ]
    if not train:
        raise SuiteError("no case has expectations to optimize against; add expected facts or responses to the cases")
    names = args.scorer or [name for name, entry in load_trust().items() if entry.get("gates")]
    if not names:
        raise SuiteError("no judge is calibrated yet (calibrate_judges); name the scorers to optimize for")
    model = judge_model(None, config)
    chosen = [s for s in get_scorers(include_judges=True, model=model) if s.name in names]
    missing = sorted(set(names) - {s.name for s in chosen})
    if missing:
        raise SuiteError(f"no scorer named {', '.join(missing)} in this suite")
    original = mlflow.genai.load_prompt(args.prompt_uri)
    predict_fn = load_predict_fn(args.predict_fn)
    # litellm (>= 1.92) imports this module lazily from a logging thread while MLflow's evaluation
    # holds its import-hook lock, and the two deadlock; imported first, there is nothing to wait for.
    with contextlib.suppress(ImportError):
        import litellm.proxy.spend_tracking.savings  # noqa: F401
    started = time.perf_counter()
    reflection = args.reflection_model or model
    optimizer = GepaPromptOptimizer(reflection_model=reflection, max_metric_calls=args.max_metric_calls)
    outcome = mlflow.genai.optimize_prompts(
        predict_fn=predict_fn, train_data=train, prompt_uris=[original.uri], optimizer=optimizer, scorers=chosen
    )
    (optimized,) = outcome.optimized_prompts
    initial, final = outcome.initial_eval_score, outcome.final_eval_score
    improved = initial is not None and final is not None and final > initial + 1e-9
    client = mlflow.MlflowClient()
    if improved and args.alias:
        mlflow.genai.set_prompt_alias(optimized.name, alias=args.alias, version=optimized.version)
    elif not improved and str(optimized.version) != str(original.version):
        client.delete_prompt_version(optimized.name, str(optimized.version))
    return {
        "prompt_uri": original.uri,
        "optimizer": "gepa",
        "examples": len(train),
        "scorers": [s.name for s in chosen],
        "initial_score": initial,
        "final_score": final,
        "improved": improved,
        "new_version": optimized.uri if improved else None,
        "alias": (args.alias or None) if improved else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    sys.exit(main())
