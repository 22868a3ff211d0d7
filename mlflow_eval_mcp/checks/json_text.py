"""Values that may arrive as JSON text: MLflow stores every span attribute JSON-encoded (a source
that wrote a bare string keeps it), and tool-call arguments are JSON a model wrote."""

from __future__ import annotations

import json
from typing import Any


def from_json(value: Any) -> Any:
    """The value JSON text stands for; text that is not JSON, and any value that is not text, as it is."""
    if not isinstance(value, str):
        return value
    if len(value) > 1 and value[0] == value[-1] == '"' and '"' not in value[1:-1] and "\\" not in value:
        return value[1:-1]  # a plain JSON string (span types, model names): most attributes
    try:
        return json.loads(value)
    except ValueError:
        return value
