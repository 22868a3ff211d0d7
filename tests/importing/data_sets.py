"""The public data sets' documents as parsed JSON, for checking that a format recognises its own and no other."""

from __future__ import annotations

import json
from typing import Any

from tests.realdata import DATA_DIR

DOCUMENT_FILES = {
    "inspect_ai": "inspect_ai/*.json",
    "langfuse": "langfuse_framework_traces/*.json",
    "who_and_when": "who_and_when/*/*.json",
}
"""Where the data sets of one document per file are, by the name of the format they are in."""
MLFLOW_EXPORT = DATA_DIR / "mlflow_real_examples" / "mnorberg_mlflow3_traces.json"
"""One file holding a list of exported MLflow traces."""


def documents(format_name: str) -> list[Any]:
    return [json.loads(file.read_text()) for file in DATA_DIR.glob(DOCUMENT_FILES[format_name])]


def documents_in_other_formats(format_name: str) -> list[Any]:
    """The other data sets' documents, and each trace of the MLflow export."""
    others = [document for name in DOCUMENT_FILES if name != format_name for document in documents(name)]
    return others + json.loads(MLFLOW_EXPORT.read_text())
