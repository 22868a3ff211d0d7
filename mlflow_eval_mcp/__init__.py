"""mlflow-eval-mcp: MLflow traces in, runnable and validated MLflow 3 evaluation suites out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlflow-eval-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
