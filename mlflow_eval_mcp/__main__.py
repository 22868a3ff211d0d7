from mlflow_eval_mcp.frontend.cli import main

main()
