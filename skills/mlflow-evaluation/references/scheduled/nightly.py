"""The bundle's task: one mlflow-eval-mcp command, run against the workspace the job runs in.

Databricks passes the task's parameters as sys.argv: the SQL warehouse's id first, then the command. MLflow's
tracking URI is the workspace ("databricks"); a failed validation fails the task (exit code 1)."""

import os
import sys

from mlflow_eval_mcp.frontend.cli import main

warehouse_id, *command = sys.argv[1:]
os.environ["MLFLOW_TRACING_SQL_WAREHOUSE_ID"] = warehouse_id
os.environ.setdefault("MLFLOW_TRACKING_URI", "databricks")
main(command)
