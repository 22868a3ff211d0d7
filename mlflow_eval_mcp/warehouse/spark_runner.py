"""The SQL analysis on Spark: a SparkSession in local mode (the `spark` extra), or one the caller has.

One session per process: starting the JVM costs seconds, and Spark allows one active context anyway."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_eval_mcp.errors import ConfigurationError
from mlflow_eval_mcp.warehouse.sql_runner import Dialect, SqlValue, used_parameters

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

LOCAL_MASTER = "local[*]"
_session_lock = threading.Lock()


def local_spark() -> SparkSession:
    """The process' SparkSession, started in local mode on first use (UI off, few shuffle partitions: the
    tables a laptop analyses are small next to what Spark's defaults assume)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise ConfigurationError(
            "The Spark engine needs pyspark 4: pip install 'mlflow-eval-mcp[spark]' (and Java 17 on the PATH)."
        ) from error
    with _session_lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = (
            SparkSession.builder.master(os.environ.get("MLFLOW_EVAL_SPARK_MASTER", LOCAL_MASTER))
            .appName("mlflow-eval-mcp")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(4, 2 * (os.cpu_count() or 2))))
            .config("spark.sql.session.timeZone", "UTC")
            # Spark's own catalog in a temporary directory, not a spark-warehouse/ in the caller's working directory.
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="mlflow-eval-spark-"))
            .config("spark.driver.memory", os.environ.get("MLFLOW_EVAL_SPARK_DRIVER_MEMORY", "2g"))
            # The throughput collector: an analysis is a batch, and G1's pauses took a sixth of its time at 1M traces.
            # Huge methods compiled too: the code Spark generates for the span facts outgrows HotSpot's 8,000-byte
            # limit for compiling a method, and run interpreted it took a third longer.
            .config("spark.driver.extraJavaOptions", "-XX:+UseParallelGC -XX:-DontCompileHugeMethods")
        )
        try:
            session = builder.getOrCreate()
        except Exception as error:  # no Java, a JVM that cannot start
            raise ConfigurationError(
                f"Spark could not start ({type(error).__name__}): install Java 17 and put it on the PATH, "
                "or use --engine python."
            ) from error
        session.sparkContext.setLogLevel("ERROR")
        return session


class SparkRunner:
    """Statements run on a SparkSession; a span table on disk (Parquet or Delta) is read where it lies."""

    dialect = Dialect("spark")

    def __init__(self, spark: SparkSession | None = None) -> None:
        self.spark = spark or local_spark()
        # Relations live in files of this runner's own, and views are named after it (`_own`).
        self._relations = Path(tempfile.mkdtemp(prefix="mlflow-eval-relations-"))
        self._views: list[str] = []

    def rows(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        return [
            _plain(row.asDict(recursive=True))
            for row in self.spark.sql(sql, args=used_parameters(sql, params)).collect()
        ]

    def sample(self, sql: str, params: Mapping[str, SqlValue]) -> list[dict[str, Any]]:
        return self.rows(sql, params)

    def relation(self, sql: str, params: Mapping[str, SqlValue], name: str) -> str:
        # Written out as Parquet and read back: later statements read only the columns they name, from files the
        # operating system caches outside the JVM's heap, and plan a plain scan rather than the large expressions
        # that computed it (a cached view keeps its plan, and re-planning costs seconds per statement).
        view = self._own(name)
        path = self._relations / view
        frame = self.spark.sql(sql, args=used_parameters(sql, params))
        frame.write.mode("overwrite").parquet(str(path))
        self.spark.read.parquet(str(path)).createOrReplaceTempView(view)
        return view

    def register_path(self, path: Path, name: str) -> str:
        """A span table written to a directory (Delta when it has a `_delta_log`, else Parquet) as a temporary
        view named after `name` and this runner, so the statements can name it like a catalog table."""
        view = self._own(name)
        reader = self.spark.read.format("delta" if (path / "_delta_log").is_dir() else "parquet")
        reader.load(str(path)).createOrReplaceTempView(view)
        return view

    def _own(self, name: str) -> str:
        """`name` made this runner's: the process' one session is shared by every analysis running in it."""
        view = f"{name}_{self._relations.name.rsplit('-', 1)[-1]}"
        self._views.append(view)
        return view

    def close(self) -> None:
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        shutil.rmtree(self._relations, ignore_errors=True)


def _plain(value: Any) -> Any:
    """Spark's VARIANT values come back as `VariantVal`: their JSON text, as a SQL warehouse returns them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if type(value).__name__ == "VariantVal":
        return value.toJson()
    return value
