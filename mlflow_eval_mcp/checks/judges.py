"""A suite's LLM judges built from their entries in `scorer_config.json`, by the suite's scorers.py
and by mlflow-eval-mcp's alignment alike, so that what was aligned and measured is what runs.
MLflow is imported only when a judge is built (this package is copied into every suite)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_JUDGE_MODEL = "openai:/gpt-4.1-mini"
_PROVIDER_KEYS = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "togetherai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
}
ALIGNED_DIR = "aligned_judges"
"""Under the suite's evaluation/data: an aligned judge, as MLflow serialises it, per file `<name>.json`."""


def judge_model(explicit: str | None, configured: str | None) -> str:
    """The judge model: `explicit`, else MLFLOW_EVAL_JUDGE_MODEL, else the suite's configured one,
    else MLflow's default (MLFLOW_GENAI_JUDGE_DEFAULT_MODEL; `databricks` on a Databricks tracking
    URI; else openai:/gpt-4.1-mini)."""
    chosen = explicit or os.environ.get("MLFLOW_EVAL_JUDGE_MODEL") or configured
    if chosen:
        return chosen
    default = os.environ.get("MLFLOW_GENAI_JUDGE_DEFAULT_MODEL")
    if default:
        return default
    return "databricks" if os.environ.get("MLFLOW_TRACKING_URI", "").startswith("databricks") else DEFAULT_JUDGE_MODEL


def missing_judge_credentials(model: str) -> str | None:
    """Why judges with `model` cannot run here (no API key in the environment), or None."""
    provider = model.split(":/", 1)[0] if ":/" in model else model
    if provider == "databricks":
        has_auth = os.environ.get("DATABRICKS_HOST") or os.environ.get("DATABRICKS_CONFIG_PROFILE")
        return None if has_auth else "no DATABRICKS_HOST or DATABRICKS_CONFIG_PROFILE for the databricks judge"
    keys = _PROVIDER_KEYS.get(provider)
    if keys and not any(os.environ.get(key) for key in keys):
        return f"no {' or '.join(keys)} in the environment for judge model {model}"
    return None


def llm_judges_may_run(config: dict[str, Any], explicit_model: str | None, no_llm_judges: bool) -> bool:
    """Whether a run with this configuration may call an LLM judge: not when told not to, when the
    suite has none, or when the judge model has no credentials here (they are then skipped)."""
    if no_llm_judges or not config.get("judges"):
        return False
    return missing_judge_credentials(judge_model(explicit_model, config.get("judge_model"))) is None


def build_judge(spec: dict[str, Any], model: str, data_dir: Path) -> Any:
    """The judge `spec` describes. An aligned judge keeps the model it was aligned with; a MemAlign
    one needs DSPy installed and reads its example traces from the tracking store."""
    from mlflow.genai import scorers as builtin

    kind = spec["judge"]
    if kind == "aligned":
        from mlflow.genai.scorers.base import Scorer

        path = data_dir / ALIGNED_DIR / f"{spec['name']}.json"
        return Scorer.model_validate(json.loads(path.read_text(encoding="utf-8")))
    if kind == "Guidelines":
        return builtin.Guidelines(name=spec["name"], guidelines=spec["guidelines"], model=model)
    if kind == "make_judge":
        from mlflow.genai.judges import make_judge

        return make_judge(name=spec["name"], instructions=spec["instructions"], feedback_value_type=bool, model=model)
    return getattr(builtin, kind)(name=spec["name"], model=model)
