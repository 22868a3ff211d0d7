"""Trace tags the project writes and reads back: here, in the checks copied into every suite, so
the importer, the analysis and a suite's scorers spell them the same way."""

SYNTHETIC_TIME_TAG = "mlflow_eval_mcp.synthetic_timestamps"
"""Set on imported traces whose source had no timestamps: their latency is made up and not judged."""
