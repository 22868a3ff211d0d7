from mlflow_eval_mcp.cli import main

main()
