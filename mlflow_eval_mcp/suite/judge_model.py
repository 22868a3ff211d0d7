"""The judge model a suite may name: what MLflow accepts as a judge model URI."""

from __future__ import annotations

import re

from mlflow_eval_mcp.errors import InvalidArgumentError, shown

# MLflow 3.17 accepts "databricks" or "<provider>:/<model>" (mlflow.genai.judges.utils.validate_judge_model);
# whitespace and control characters are refused too, because the value is written into the suite's files.
_JUDGE_MODEL = re.compile(r"databricks|[A-Za-z][\w.-]*:/+[^\s/\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*")


def check_judge_model(judge_model: str | None) -> str | None:
    """`judge_model` if MLflow can use it as a judge model URI; raises InvalidArgumentError otherwise."""
    if judge_model is None or _JUDGE_MODEL.fullmatch(judge_model):
        return judge_model
    raise InvalidArgumentError(
        f"judge_model must be 'databricks' or a model URI '<provider>:/<model>', e.g. 'openai:/gpt-4o-mini' "
        f"or 'anthropic:/claude-sonnet-4-5' (got {shown(judge_model)})."
    )
