"""Checks on span inputs and outputs, shared by the analysis and by generated suites.

This package uses only the standard library and relative imports: `generate_scorers` copies it
verbatim into each suite (as `evaluation/mlflow_eval_checks/`), so that a suite's scorers make
exactly the decisions the analysis made, and run where only MLflow is installed.
"""
