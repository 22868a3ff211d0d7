"""Variables a developer's shell may carry that would point tests at a real store or service, or
let LLM judges really run."""

FOREIGN_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EVAL_MCP_TRACKING_URI",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CONFIG_PROFILE",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "MLFLOW_EVAL_MCP_CLAUDE",
    "MLFLOW_EVAL_MCP_CLAUDE_MODEL",
    "OPENAI_API_KEY",
)

OFFLINE_ENV = {
    # MLflow prices model spans with litellm (installed with the judges extra), whose import would
    # download a price list; and its judges fetch a model catalog before their first call.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "MLFLOW_MODEL_CATALOG_URI": "",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
"""What keeps every test off the network, whatever the libraries would fetch at import or first call."""
