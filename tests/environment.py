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
