"""DuckDB: the embedded default. Reads Parquet, CSV and Arrow out of core, no server."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.logs.engine import Engine


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - the logs extra installs it
        raise GateError(
            "prediction logs need DuckDB: pip install 'pytest-modelguard[logs]'"
        ) from None
    return duckdb


class DuckDBEngine(Engine):
    """A relation read by a DuckDB connection (its own in-memory one by default)."""

    name = "duckdb"

    def __init__(self, connection: Any, relation: str, *, label: str) -> None:
        self.connection = connection
        self._relation = relation
        self.label = label

    @classmethod
    def parquet(cls, path_or_glob: Any, *, connection: Any = None) -> DuckDBEngine:
        """Every Parquet file a path, directory or glob names (hive partitions become columns)."""
        duckdb = _duckdb()
        files = _parquet_files(path_or_glob)
        for file in files:
            _check_parquet_file(file)
        if connection is None:
            connection = _connect(duckdb)
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        relation = f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
        engine = cls(connection, relation, label=str(path_or_glob))
        engine.files = files
        return engine

    @classmethod
    def query(cls, connection_or_path: Any, sql_or_table: str) -> DuckDBEngine:
        """A table name or a SELECT on a DuckDB connection or database file."""
        duckdb = _duckdb()
        connection = connection_or_path
        if isinstance(connection_or_path, str | os.PathLike):
            if not Path(connection_or_path).exists():
                raise GateError(f"DuckDB database {str(connection_or_path)!r} does not exist")
            connection = _connect(duckdb, str(connection_or_path), read_only=True)
        text = sql_or_table.strip()
        relation = f"({text})" if " " in text else text
        return cls(connection, relation, label=text)

    @property
    def relation(self) -> str:
        return self._relation

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        duckdb = _duckdb()
        try:
            with _in_utc(self.connection):
                return self.connection.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise GateError(f"DuckDB could not read {self.label!r}: {_first_line(exc)}") from None

    def columns(self) -> dict[str, str]:
        duckdb = _duckdb()
        try:
            with _in_utc(self.connection):
                described = self.connection.execute(f"DESCRIBE SELECT * FROM {self.relation}")
                return {row[0]: str(row[1]).upper() for row in described.fetchall()}
        except duckdb.Error as exc:
            raise GateError(f"DuckDB could not read {self.label!r}: {_first_line(exc)}") from None

    def epoch_seconds(self, expression: str) -> str:
        return f"epoch(CAST({expression} AS TIMESTAMP))"

    def quantiles(self, expression: str, levels: list[float]) -> str:
        return f"quantile_cont({expression}, [{', '.join(map(repr, levels))}])"

    def describe(self) -> str:
        return f"duckdb {self.label}"


def _connect(duckdb: Any, *args: Any, **kwargs: Any) -> Any:
    """A connection of the plugin's own: UTC (so ``since=``, ``until=`` and month windows
    do not follow the machine's time zone) and no progress bar in pytest's output."""
    connection = duckdb.connect(*args, **kwargs)
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    return connection


@contextlib.contextmanager
def _in_utc(connection: Any) -> Iterator[None]:
    """Run a query in UTC on any connection, restoring a user's own TimeZone after it.

    DuckDB reads TIMESTAMP literals against a TIMESTAMPTZ column, and takes year() and
    month() of one, in the connection's TimeZone (by default the machine's). A cursor
    would not see a user's temporary tables or registered frames, so the setting is
    switched on the user's connection for the query and switched back."""
    before = connection.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    if before == "UTC":
        yield
        return
    connection.execute("SET TimeZone = 'UTC'")
    try:
        yield
    finally:
        connection.execute("SET TimeZone = '" + before.replace("'", "''") + "'")


def _parquet_files(path_or_glob: Any) -> list[str]:
    text = str(path_or_glob)
    if os.path.isdir(text):
        files = sorted(glob.glob(os.path.join(text, "**", "*.parquet"), recursive=True))
    elif any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    else:
        files = [text] if os.path.exists(text) else []
    if not files:
        raise GateError(f"no Parquet files at {text!r}: give a file, a directory or a glob")
    return files


def _check_parquet_file(file: str) -> None:
    """A Parquet file starts and ends with ``PAR1``; anything else is named, not skipped."""
    try:
        size = os.path.getsize(file)
        with open(file, "rb") as handle:
            head = handle.read(4)
            handle.seek(max(size - 4, 0))
            tail = handle.read(4)
    except OSError as exc:
        raise GateError(f"cannot read Parquet file {file!r}: {exc}") from None
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        raise GateError(
            f"{file!r} is not a valid Parquet file (truncated or corrupt: no PAR1 "
            "header/footer); rewrite it or remove it from the log"
        )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
