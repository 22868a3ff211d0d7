"""Results of the warehouse operations (light: the front ends import them to declare their tools)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SpanTableExport(BaseModel):
    """What `export_span_table` wrote."""

    path: str = Field(description="The span table's directory (`<prefix>_otel_spans`).")
    table_format: Literal["parquet", "delta"]
    traces: int
    spans: int
    experiment_id: str
    message: str
