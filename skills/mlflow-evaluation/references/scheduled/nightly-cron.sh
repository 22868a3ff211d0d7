#!/usr/bin/env bash
# Nightly suite from a machine with cron (crontab -e):
#   30 2 * * * /path/to/nightly-cron.sh >> /var/log/mlflow-eval-nightly.log 2>&1
# Analyses yesterday's spans where they are (a Databricks SQL warehouse, or local Spark on an exported table),
# regenerates the suite from the traces the analysis samples, and validates it; exits 1 when validation fails.
set -euo pipefail

: "${EXPERIMENT_NAME:?the MLflow experiment, e.g. /Shared/support-agent}"
: "${TRACE_TABLE:?catalog.schema.prefix on Databricks, or the directory export-span-table wrote}"
: "${SUITE_DIR:=$HOME/suites/nightly}"
# On Databricks also: DATABRICKS_HOST, DATABRICKS_TOKEN (or DATABRICKS_CONFIG_PROFILE), MLFLOW_TRACKING_URI=databricks
# and MLFLOW_TRACING_SQL_WAREHOUSE_ID.

uvx mlflow-eval-mcp generate --experiment-name "$EXPERIMENT_NAME" --trace-table "$TRACE_TABLE" --days 1 \
  --suite-dir "$SUITE_DIR"
uvx mlflow-eval-mcp validate-eval --suite-dir "$SUITE_DIR"
