"""Query engines for prediction logs: the same aggregation SQL, run where the data lives.

An engine knows one thing: how to run a SQL query over one relation (a Parquet glob, a
DuckDB table or query, a Spark DataFrame) and hand back a few rows of Python values. The
queries themselves are built once, in :mod:`pytest_modelguard.logs`, in the SQL subset
DuckDB and Spark SQL share; an engine supplies only the few spellings that differ.
"""

from __future__ import annotations

from typing import Any


class Engine:
    """One relation in one query engine."""

    #: shown in evidence and error messages
    name = "engine"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` (which reads ``FROM {self.relation}``) and return its rows."""
        raise NotImplementedError

    def columns(self) -> dict[str, str]:
        """Column name -> engine type name (upper case)."""
        raise NotImplementedError

    @property
    def relation(self) -> str:
        """What a query selects FROM."""
        raise NotImplementedError

    def quote(self, column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    def epoch_seconds(self, expression: str) -> str:
        """Seconds since 1970-01-01 UTC of a timestamp or date expression."""
        raise NotImplementedError

    def quantiles(self, expression: str, levels: list[float]) -> str:
        """An aggregate returning the exact (linearly interpolated) quantiles as one list."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


def numeric(type_name: str) -> bool:
    """Whether an engine type holds numbers (booleans count: they are 0/1 labels)."""
    t = type_name.upper()
    return t.startswith(
        (
            "TINYINT",
            "SMALLINT",
            "INT",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "FLOAT",
            "DOUBLE",
            "DECIMAL",
            "REAL",
            "BOOLEAN",
            "LONG",
            "SHORT",
            "BYTE",
        )
    )


def temporal(type_name: str) -> bool:
    t = type_name.upper()
    return t.startswith(("TIMESTAMP", "DATE"))
