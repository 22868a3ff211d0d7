"""What the SQL analysis needs from a warehouse: run a statement with named parameters and get rows back.

Two runners implement it: `spark_runner.SparkRunner` (pyspark in local mode, or any SparkSession) and
`databricks_sql.DatabricksSqlRunner` (a SQL warehouse through databricks-sdk's statement execution API).
The statements are written once, through a `Dialect` that spells what the two SQLs spell differently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

SqlValue = str | int | float | bool | datetime | None
"""A named parameter's value (`:name` in the statement); never spliced into the SQL text."""

DialectName = Literal["spark", "databricks"]
SPANS_SUFFIX = "_otel_spans"
"""A Unity Catalog trace location `catalog.schema.prefix` keeps its spans in `<prefix>_otel_spans`."""
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_]+)\b")


def used_parameters(sql: str, params: Mapping[str, SqlValue]) -> dict[str, SqlValue]:
    """The parameters `sql` names (`:name`, not a `::` cast or a `:['key']` path): a warehouse may refuse one it
    was given and does not use."""
    named = set(_PARAMETER.findall(sql))
    return {name: value for name, value in params.items() if name in named}


@dataclass(frozen=True)
class Dialect:
    """How one SQL spells a read of a VARIANT column's field: Databricks' `col:['key']` path syntax, which
    open-source Spark 4 does not parse, against Spark's `try_variant_get(col, '$["key"]', 'variant')`. Typed reads
    need no dialect: a cast of a VARIANT to a struct (`variant_shapes.Shape`) is spelled alike in both."""

    name: DialectName

    def variant(self, column: str, key: str) -> str:
        """`column`'s top-level `key` as a VARIANT (an object, array or scalar), NULL when absent."""
        if '"' in key or "'" in key or "\\" in key:
            raise ValueError(f"variant keys are constants without quotes: {key!r}")
        if self.name == "databricks":
            return f"{column}:['{key}']"
        return f"try_variant_get({column}, '$[\"{key}\"]', 'variant')"


class SqlRunner(Protocol):
    """A warehouse that runs the analysis' statements."""

    dialect: Dialect

    def rows(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        """A statement's result as dicts (column -> value), for aggregates and bounded samples. Values come back
        as Python values (int, float, str, bool, None, lists for ARRAY columns); a VARIANT as its JSON text."""
        ...

    def sample(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        """`rows`, for a bounded sample that may still be large (requests, evidence): a SQL warehouse sends it as
        Arrow files (EXTERNAL_LINKS) instead of inline JSON."""
        ...

    def relation(self, sql: str, params: Mapping[str, SqlValue], name: str) -> str:
        """A derived table the following statements read by the returned name: Spark materialises it once (a
        checkpointed temporary view); a SQL warehouse, where each statement stands alone, defines it again as a
        common table expression of each later statement (whose parameters include the relations')."""
        ...

    def close(self) -> None:
        """Cancel what is still running and release the connection (a cached view, a polling thread)."""
        ...
