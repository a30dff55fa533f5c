"""Apache Spark: the same aggregation on a cluster (or ``local[2]`` on one machine)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.logs.engine import Engine

_views = itertools.count()

JAVA_HINT = (
    "Spark needs a Java 17+ runtime: on Debian/Ubuntu `apt-get install -y "
    "default-jre-headless`, elsewhere install a JDK and set JAVA_HOME"
)


def local_session(master: str = "local[2]", *, app_name: str = "pytest-modelguard") -> Any:
    """A SparkSession for tests on one machine (UTC, few shuffle partitions).

    A Spark that cannot start (no Java, no pyspark) is a :class:`GateError` saying what
    to install, so the gates that need it are ERRORs, never silently skipped.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise GateError("Spark logs need pyspark: pip install 'pytest-modelguard[spark]'") from None
    try:
        session = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return session
    except Exception as exc:  # py4j raises RuntimeError/PySparkRuntimeError without Java
        raise GateError(f"Spark could not start ({_first_line(exc)}). {JAVA_HINT}") from None


class SparkEngine(Engine):
    """A Spark DataFrame, queried through a temporary view with Spark SQL."""

    name = "spark"

    def __init__(self, dataframe: Any, *, label: str | None = None) -> None:
        if not hasattr(dataframe, "createOrReplaceTempView"):
            raise GateError(f"from_spark takes a pyspark DataFrame, got {type(dataframe).__name__}")
        self.dataframe = dataframe
        self.session = dataframe.sparkSession
        self.view = f"modelguard_log_{next(_views)}"
        dataframe.createOrReplaceTempView(self.view)
        self.label = label or self.view

    @property
    def relation(self) -> str:
        return self.view

    def quote(self, column: str) -> str:
        return "`" + column.replace("`", "``") + "`"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            with _in_utc(self.session):
                return [tuple(row) for row in self.session.sql(sql).collect()]
        except Exception as exc:  # AnalysisException and friends
            raise GateError(
                f"Spark could not run the query on {self.label!r}: {_first_line(exc)}"
            ) from None

    def columns(self) -> dict[str, str]:
        return {f.name: f.dataType.simpleString().upper() for f in self.dataframe.schema.fields}

    def epoch_seconds(self, expression: str) -> str:
        return f"unix_timestamp(CAST({expression} AS TIMESTAMP))"

    def quantiles(self, expression: str, levels: list[float]) -> str:
        return f"percentile({expression}, array({', '.join(map(repr, levels))}))"

    def describe(self) -> str:
        return f"spark {self.label}"


@contextlib.contextmanager
def _in_utc(session: Any) -> Iterator[None]:
    """Run a query with ``spark.sql.session.timeZone=UTC``, restoring the session's own.

    Spark reads TIMESTAMP literals (``since=``/``until=``) and takes month() in the
    session time zone (by default the JVM's, i.e. the machine's)."""
    key = "spark.sql.session.timeZone"
    before = session.conf.get(key)
    if before == "UTC":
        yield
        return
    session.conf.set(key, "UTC")
    try:
        yield
    finally:
        session.conf.set(key, before)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
