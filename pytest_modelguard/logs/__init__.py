"""Prediction logs: gates over logged predictions, aggregated inside a query engine.

A :class:`PredictionLog` holds no rows. Each gate asks it for sufficient statistics —
per-group confusion cells and weights, rank sums for the exact ROC AUC, log-loss and
Brier sums, ECE bins, histograms for drift — and the log answers with one aggregation query per
(log, grouping) in DuckDB or Spark, cached for every other gate on the same log. The
checks then run the same code as on in-memory data, so verdicts agree to rounding.

``window=`` splits the log into time windows (``"7d"``, ``"1mo"``) or batches (a column
of batch ids); every gate is evaluated per window and the worst window decides.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Required, TypedDict, Unpack

import numpy as np

from pytest_modelguard.core.groups import MISSING, GroupCounts, _order
from pytest_modelguard.core.verdict import GateError, Verdict
from pytest_modelguard.logs.engine import Engine, numeric, temporal

#: most distinct (score, label) cells pulled back for a score metric's bootstrap interval
MAX_SCORE_CELLS = 200_000
_EPS = float(np.finfo(np.float64).eps)
_ECE_BINS = 15
_DURATION = re.compile(r"^\s*(\d+)\s*(d|w|mo)\s*$")
_NO_WINDOW = 0
_MONDAY = 4 * 86400  # 1970-01-05, the first Monday after the Unix epoch


class NotInMemory(GateError, AttributeError):
    """A gate read what only an in-memory Dataset has: an ERROR (and ``hasattr`` is False)."""


class LogRoles(TypedDict, total=False):
    """What the columns of a prediction log are: the keywords of :class:`PredictionLog`
    and of each of its constructors, declared once."""

    #: the label column
    y_true: Required[str]
    #: the logged decision (labels), or
    y_pred: str | None
    #: the logged probability of the positive class (decisions: ``score >= threshold``)
    y_score: str | None
    #: columns that group fairness gates
    sensitive: str | Sequence[str]
    #: the timestamp ``since=``/``until=`` and time windows use
    time: str | None
    #: row weights in fairness gates
    weight: str | None
    #: the columns drift gates compare
    features: Sequence[str]
    #: ``"7d"``, ``"1mo"`` or a column of batch ids: every gate per window, the worst decides
    window: str | None
    since: Any
    until: Any
    name: str | None


def _checked_roles(roles: dict[str, Any]) -> LogRoles:
    """The roles as given, or the TypeError Python raises for a keyword signature."""
    unknown = [key for key in roles if key not in LogRoles.__annotations__]
    if unknown:
        raise TypeError(f"PredictionLog got an unexpected keyword argument {unknown[0]!r}")
    if "y_true" not in roles:
        raise TypeError("PredictionLog missing required keyword argument: 'y_true'")
    return roles  # type: ignore[return-value]


class PredictionLog:
    """Logged predictions in Parquet, a DuckDB table or a Spark DataFrame.

    ``y_true`` names the label column; ``y_pred`` the logged decision or ``y_score`` the
    logged probability of the positive class (decisions are then ``score >=
    decision_threshold``). ``sensitive`` columns group fairness gates, ``weight`` weighs
    rows in them, ``features`` are the columns drift gates compare, ``time`` the
    timestamp ``since=``/``until=`` and time windows use. Gates need no model fixture.
    """

    is_prediction_log = True
    #: gates that read a whole in-memory Dataset see a GateError, as with a stream
    is_streaming = True

    def __init__(self, engine: Engine, **roles: Unpack[LogRoles]) -> None:
        roles = _checked_roles(roles)
        y_pred, y_score = roles.get("y_pred"), roles.get("y_score")
        if (y_pred is None) == (y_score is None):
            raise GateError("a PredictionLog needs exactly one of y_pred= (labels) or y_score=")
        self.roles = roles  # as given: restrict() builds the same log with another range
        self.engine = engine
        self.y_true, self.y_pred, self.y_score = roles["y_true"], y_pred, y_score
        sensitive = roles.get("sensitive", ())
        self.sensitive_columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        self.time, self.weight = roles.get("time"), roles.get("weight")
        self.feature_columns = list(roles.get("features", ()))
        self.name = roles.get("name") or engine.describe()
        self.types = engine.columns()
        self._check_columns()
        since, until = roles.get("since"), roles.get("until")
        self.since, self.until = _instant("since", since), _instant("until", until)
        if (since is not None or until is not None) and self.time is None:
            raise GateError("since=/until= restrict by time: name the timestamp column with time=")
        if self.since and self.until and self.since >= self.until:
            raise GateError(f"since={since!r} is not before until={until!r}: the range is empty")
        self.window = roles.get("window")
        self._window_sql, self._window_kind = self._parse_window(self.window)
        self._cache: dict[Any, Any] = {}
        self._parent: PredictionLog | None = None
        self._key: Any = _NO_WINDOW
        self.window_label: str | None = None

    # -- constructors: each takes the column roles of :class:`LogRoles` as keywords --------

    @classmethod
    def from_parquet(cls, path_or_glob: Any, **roles: Unpack[LogRoles]) -> PredictionLog:
        """Parquet files (a file, a directory of partitions or a glob), read by DuckDB."""
        from pytest_modelguard.logs.duckdb import DuckDBEngine

        return cls(DuckDBEngine.parquet(path_or_glob), **_checked_roles(roles))

    @classmethod
    def from_duckdb(
        cls, connection_or_path: Any, sql_or_table: str, **roles: Unpack[LogRoles]
    ) -> PredictionLog:
        """A table or SELECT on a DuckDB connection (or database file, opened read only)."""
        from pytest_modelguard.logs.duckdb import DuckDBEngine

        roles = _checked_roles(roles)
        return cls(DuckDBEngine.query(connection_or_path, sql_or_table), **roles)

    @classmethod
    def from_spark(cls, dataframe: Any, **roles: Unpack[LogRoles]) -> PredictionLog:
        """A Spark DataFrame: the aggregation runs on its cluster (or local session)."""
        from pytest_modelguard.logs.spark import SparkEngine

        roles = _checked_roles(roles)
        return cls(SparkEngine(dataframe, label=roles.get("name")), **roles)

    def restrict(
        self, *, window: str | None = None, since: Any = None, until: Any = None
    ) -> PredictionLog:
        """The same log with another ``window=`` or time range (a new, uncached view)."""
        roles: LogRoles = {**self.roles, "name": self.name}
        roles.update(window=window, since=since, until=until)
        return PredictionLog(self.engine, **roles)

    @property
    def output_kind(self) -> str:
        """What the log holds, in the terms of a model's outputs."""
        return "probabilities" if self.y_score is not None else "labels"

    def __repr__(self) -> str:
        where = f", window={self.window_label!r}" if self.window_label else ""
        return f"PredictionLog(name={self.name!r}, engine={self.engine.name}{where})"

    # -- what in-memory gates would read: not here ----------------------------------------

    def __getattr__(self, name: str) -> Any:
        """Whatever else a gate reads of a Dataset (``kind``, ``bounds``...) is not here."""
        if name.startswith("__"):
            raise AttributeError(name)
        self._not_in_memory(f"{name!r}")

    def _not_in_memory(self, what: str) -> NoReturn:
        raise NotInMemory(
            f"{self.name!r} is a PredictionLog, so {what} is not in memory: prediction logs "
            "serve performance, fairness and drift gates; gate a Dataset for the others"
        )

    def __len__(self) -> int:
        self._not_in_memory("its length")

    def __bool__(self) -> bool:  # not len(): a log is always a subject
        return True

    @property
    def features(self) -> Any:
        self._not_in_memory("its features")

    @property
    def target(self) -> Any:
        self._not_in_memory("its target")

    @property
    def sensitive(self) -> Any:
        self._not_in_memory("its sensitive columns")

    @property
    def sample_weight(self) -> Any:
        self._not_in_memory("its sample weights")

    @property
    def fingerprint(self) -> str:
        self._not_in_memory("a fingerprint")

    def batches(self) -> NoReturn:
        self._not_in_memory("a stream of batches")

    # -- validation -------------------------------------------------------------------------

    def _check_columns(self) -> None:
        named = {
            "y_true": [self.y_true],
            "y_pred": [self.y_pred] if self.y_pred else [],
            "y_score": [self.y_score] if self.y_score else [],
            "sensitive": self.sensitive_columns,
            "time": [self.time] if self.time else [],
            "weight": [self.weight] if self.weight else [],
            "features": self.feature_columns,
        }
        for role, columns in named.items():
            absent = [c for c in columns if c not in self.types]
            if absent:
                raise GateError(
                    f"{role} column(s) {', '.join(map(repr, absent))} not in {self.name!r}; "
                    f"its columns are: {', '.join(self.types)}"
                )
        if self.y_score and not numeric(self.types[self.y_score]):
            raise GateError(
                f"y_score column {self.y_score!r} has type {self.types[self.y_score]}: scores "
                "are probabilities, a numeric column"
            )
        if self.y_pred:
            kinds = {c: numeric(self.types[c]) for c in (self.y_true, self.y_pred)}
            if len(set(kinds.values())) > 1:
                raise GateError(
                    f"the label columns mix types: {self.y_true!r} is "
                    f"{self.types[self.y_true]} but {self.y_pred!r} is "
                    f"{self.types[self.y_pred]}; cast them to one type"
                )
        if self.y_score and not numeric(self.types[self.y_true]):
            raise GateError(
                f"y_true column {self.y_true!r} has type {self.types[self.y_true]}, but scores "
                "need 0/1 labels: cast it (e.g. CASE WHEN label = 'yes' THEN 1 ELSE 0 END)"
            )
        if self.time and not temporal(self.types[self.time]):
            raise GateError(
                f"time column {self.time!r} has type {self.types[self.time]}: use a TIMESTAMP "
                "or DATE column"
            )
        if self.weight and not numeric(self.types[self.weight]):
            raise GateError(f"weight column {self.weight!r} is not numeric")

    def _parse_window(self, window: str | None) -> tuple[str, str | None]:
        if window is None:
            return str(_NO_WINDOW), None
        if not isinstance(window, str):
            raise GateError(f"window={window!r}: give '7d', '2w', '1mo' or a batch-id column")
        if window in self.types:
            return self.q(window), "column"
        match = _DURATION.match(window)
        if match is None:
            raise GateError(
                f"window={window!r} is neither a duration ('7d', '2w', '1mo') nor a column of "
                f"{self.name!r} (columns: {', '.join(self.types)})"
            )
        if self.time is None:
            raise GateError(f"window={window!r} is a time window: name the time column with time=")
        size, unit = int(match.group(1)), match.group(2)
        if size < 1:
            raise GateError(f"window={window!r}: the size must be at least 1")
        t = self.q(self.time)
        if unit == "mo":
            months = f"((year({t}) - 1970) * 12 + month({t}) - 1)"
            return f"CAST(floor({months} / {size}) AS BIGINT)", f"mo{size}"
        seconds = size * 86400 * (7 if unit == "w" else 1)
        epoch = self.engine.epoch_seconds(t)
        since_monday = f"({epoch} - {_MONDAY})"  # windows start on Mondays, 00:00 UTC
        return f"CAST(floor({since_monday} / {seconds}) AS BIGINT)", f"s{seconds}"

    def _label(self, key: Any) -> str:
        kind = self._window_kind
        if kind is None:
            return "all"
        if kind == "column":
            return str(key)
        if kind.startswith("mo"):
            start = int(key) * int(kind[2:])
            return f"{1970 + start // 12:04d}-{start % 12 + 1:02d}"
        seconds = int(kind[1:])
        start = dt.datetime.fromtimestamp(int(key) * seconds + _MONDAY, tz=dt.UTC)
        return start.date().isoformat()

    # -- SQL ------------------------------------------------------------------------------

    def q(self, column: str) -> str:
        return self.engine.quote(column)

    def _root(self) -> PredictionLog:
        return self if self._parent is None else self._parent

    def _where(self) -> str:
        """Rows inside since/until (a window's view filters the parent's results instead)."""
        root = self._root()
        clauses = []
        if root.since is not None:
            clauses.append(f"{self.q(root.time)} >= TIMESTAMP '{root.since:%Y-%m-%d %H:%M:%S}'")
        if root.until is not None:
            clauses.append(f"{self.q(root.time)} < TIMESTAMP '{root.until:%Y-%m-%d %H:%M:%S}'")
        return " AND ".join(clauses) or "TRUE"

    def _run(self, key: Any, sql: Callable[[], str]) -> list[tuple[Any, ...]]:
        """Rows of a query on the whole log, once; a window's view reads its slice."""
        root = self._root()
        if key not in root._cache:
            root._cache[key] = root.engine.rows(sql())
        return root._cache[key]

    def _slice(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows whose first column is this view's window key, without that column."""
        return [row[1:] for row in rows if row[0] == self._key]

    def _decision(self, decision_threshold: float) -> str:
        if self.y_score is not None:
            threshold = float(decision_threshold)
            return f"CASE WHEN {self.q(self.y_score)} >= {threshold!r} THEN 1 ELSE 0 END"
        return self.q(self.y_pred)

    def _profile_aggregates(self) -> list[str]:
        """Rows, labels, predictions, score range, weights and non-0/1 labels: the checks
        every gate needs, as aggregates any query can carry along (see :meth:`profile`)."""
        root = self._root()
        score = self.q(root.y_score) if root.y_score else "NULL"
        weight = self.q(root.weight) if root.weight else "1"
        pred = self.q(root.y_pred) if root.y_pred else score
        y = self.q(root.y_true)
        not_binary = (
            f"SUM(CASE WHEN CAST({y} AS DOUBLE) IN (0.0, 1.0) THEN 0 ELSE 1 END)"
            if root.y_score
            else "0"
        )
        # a score strictly between 0 and 1 somewhere: else the "scores" are labels
        fractional = (
            f"SUM(CASE WHEN CAST({score} AS DOUBLE) IN (0.0, 1.0) THEN 0 ELSE 1 END)"
            if root.y_score
            else "0"
        )
        return [
            "COUNT(*)",
            f"COUNT({y})",
            f"COUNT({pred})",
            f"MIN(CAST({score} AS DOUBLE))",
            f"MAX(CAST({score} AS DOUBLE))",
            f"MIN(CAST({weight} AS DOUBLE))",
            f"COUNT({weight})",
            not_binary,
            fractional,
        ]

    def profile(self) -> dict[str, Any]:
        """Rows, missing labels and score range of the whole log (checked once)."""
        root = self._root()
        if "profile" not in root._cache:
            rows = self._run(
                "profile-rows",
                lambda: (
                    f"SELECT {', '.join(self._profile_aggregates())} "
                    f"FROM {root.engine.relation} WHERE {root._where()}"
                ),
            )
            root._accept_profile(rows)
        return root._cache["profile"]

    def _accept_profile(self, rows: list[tuple[Any, ...]]) -> None:
        """Check the profile aggregates (summed over rows of partial aggregates)."""

        def total(i: int) -> int:
            return int(sum(r[i] or 0 for r in rows))

        def extreme(i: int, pick: Any) -> Any:
            values = [r[i] for r in rows if r[i] is not None]
            return pick(values) if values else None

        n, true, pred, weights, not_binary, fractional = (total(i) for i in (0, 1, 2, 6, 7, 8))
        low, high, min_weight = extreme(3, min), extreme(4, max), extreme(5, min)
        if n == 0:
            raise GateError(f"{self.name!r} has no rows{self._range_text()}")
        if true < n:
            raise GateError(
                f"label column {self.y_true!r} has {n - true} missing (NULL) values: drop or "
                "fill those rows"
            )
        prediction = self.y_score or self.y_pred
        if pred < n:
            raise GateError(f"column {prediction!r} has {n - pred} missing (NULL) values")
        if self.y_score and not (low >= 0.0 and high <= 1.0):
            raise GateError(
                f"y_score column {self.y_score!r} ranges over [{low}, {high}], outside [0, 1] "
                "(or has NaN): these gates need probabilities; log the probability, not a "
                "logit or a rank"
            )
        if self.weight and (weights < n or not min_weight >= 0):
            raise GateError(f"weight column {self.weight!r} has missing or negative values")
        if not_binary:
            raise GateError(
                f"label column {self.y_true!r} has {not_binary} values besides 0 and 1; a "
                "y_score log is binary: encode the positive class as 1"
            )
        self._cache["profile"] = {
            "rows": n,
            "score_range": (low, high),
            "scores_are_labels": bool(self.y_score) and fractional == 0,
        }

    def _range_text(self) -> str:
        if self.since is None and self.until is None:
            return ""
        return f" between since={self.since} and until={self.until} (an empty time range)"

    # -- windows -------------------------------------------------------------------------

    def window_rows(self) -> list[tuple[str, Any, int]]:
        """``(label, key, rows)`` of every window, in time (or batch-id) order.

        The gates of each window check the log's profile with their own query."""
        rows = self._run(
            ("windows",),
            lambda: (
                f"SELECT {self._window_sql} AS k, COUNT(*) FROM {self.engine.relation} "
                f"WHERE {self._where()} GROUP BY 1"
            ),
        )
        if not rows:
            raise GateError(f"{self.name!r} has no rows{self._range_text()}")
        unplaced = sum(int(n) for k, n in rows if k is None)
        if unplaced:
            column = self.time if self._window_kind != "column" else self.window
            raise GateError(
                f"{unplaced} rows of {self.name!r} have no {column!r} value, so no window: "
                "fill or drop them"
            )
        ordered = sorted(rows, key=lambda r: _order(r[0]))
        return [(self._label(k), k, int(n)) for k, n in ordered]

    def at_window(self, key: Any) -> PredictionLog:
        """The view of one window: its gates read this window's slice of shared queries."""
        view = object.__new__(PredictionLog)
        view.__dict__.update(self.__dict__)
        view._parent, view._key = self, key
        view.window_label = self._label(key)
        view.name = f"{self.name} [{view.window_label}]"
        view._cache = {}
        return view

    # -- sufficient statistics --------------------------------------------------------------

    def group_counts(
        self, columns: Sequence[str], *, decision_threshold: float, missing: str
    ) -> GroupCounts:
        """Rows, weight and squared weight per (joint group, true, predicted) cell.

        One query per decision threshold groups by every sensitive column of the log;
        each gate's grouping is a marginal of it, so gates on one log share one query.
        """
        root = self._root()
        columns = list(columns)
        everything = list(root.sensitive_columns)
        position = [everything.index(c) for c in columns]
        # Only what cannot be read off the group keys rides along: the weights' sums and
        # checks, and the score range and count (a NULL score must not read as a denial).
        extra = []
        if root.weight:
            w = f"CAST({self.q(root.weight)} AS DOUBLE)"
            extra += [f"SUM({w})", f"SUM({w} * {w})", f"MIN({w})", f"COUNT({w})"]
        if root.y_score:
            s = f"CAST({self.q(root.y_score)} AS DOUBLE)"
            fractional = f"SUM(CASE WHEN {s} IN (0.0, 1.0) THEN 0 ELSE 1 END)"
            extra += [f"MIN({s})", f"MAX({s})", f"COUNT({s})", fractional]

        def sql() -> str:
            groups = "".join(f"{self.q(c)}, " for c in everything)
            keys = ", ".join(str(i) for i in range(1, len(everything) + 4))
            return (
                f"SELECT {root._window_sql} AS k, {groups}{self.q(root.y_true)}, "
                f"{root._decision(decision_threshold)} AS pred, "
                f"{', '.join(['COUNT(*)', *extra])} "
                f"FROM {root.engine.relation} WHERE {root._where()} GROUP BY {keys}"
            )

        everywhere = self._run(("cells", decision_threshold), sql)
        width = 1 + len(everything) + 2  # window key, groups, label, decision
        cells = []  # (window key, groups..., label, decision, rows, weight, weight², profile)
        for row in everywhere:
            n, rest = row[width], list(row[width + 1 :])
            weight, square, min_weight, weights = rest[:4] if root.weight else (n, n, 1.0, n)
            low, high, scores, fractional = rest[-4:] if root.y_score else (None, None, n, 0)
            label, decision = row[width - 2], row[width - 1]
            not_binary = n if root.y_score and label is not None and label not in (0, 1) else 0
            profile = (
                n,
                0 if label is None else n,
                scores if root.y_score else (0 if decision is None else n),
                low,
                high,
                min_weight,
                weights,
                not_binary,
                fractional,
            )
            cells.append((*row[:width], n, weight, square, profile))
        if "profile" not in root._cache:  # one scan: the checks ride along the cells
            root._accept_profile([cell[-1] for cell in cells])
        counts = GroupCounts(columns, missing=missing)
        counts.weighted = root.weight is not None
        for row in self._slice(cells):
            values = [row[i] for i in position]
            for column, value in zip(columns, values, strict=True):
                if value is None and missing == "error":
                    raise GateError(
                        f"sensitive column {column!r} has missing (NULL) values in "
                        f"{self.name!r}: fill them, or pass missing='group' to gate them as "
                        "their own group"
                    )
            group = tuple(MISSING if v is None else _plain(v) for v in values)
            key = (group, _plain(row[-6]), _plain(row[-5]))
            stat = np.array([float(row[-4]), float(row[-3]), float(row[-2])])
            counts.cells[key] = counts.cells[key] + stat if key in counts.cells else stat
        if not counts.cells:
            raise GateError(f"{self.name!r} has no rows")
        return counts

    def confusion(self, *, decision_threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Sorted classes and the ``[true, predicted]`` row counts, flattened."""
        counts = self.group_counts((), decision_threshold=decision_threshold, missing="error")
        labels = sorted({k[1] for k in counts.cells} | {k[2] for k in counts.cells}, key=_order)
        _same_kind(labels, self.y_true)
        index = {label: i for i, label in enumerate(labels)}
        matrix = np.zeros(len(labels) * len(labels))
        for (_, true, predicted), stat in counts.cells.items():
            matrix[index[true] * len(labels) + index[predicted]] += stat[0]
        return np.array(labels), matrix

    def score_sums(self) -> dict[str, float]:
        """Positives, rows, twice the positives' rank sum (average ranks for ties), the
        log-loss sum and the Brier sum of a binary score, from one query with a window
        function."""
        root = self._root()
        root._require_binary_scores()
        s = f"CAST({self.q(root.y_score)} AS DOUBLE)"
        y = f"CASE WHEN CAST({self.q(root.y_true)} AS DOUBLE) = 1 THEN 1 ELSE 0 END"
        a = f"LEAST(GREATEST(1.0 - s, {_EPS!r}), {1 - _EPS!r})"
        b = f"LEAST(GREATEST(s, {_EPS!r}), {1 - _EPS!r})"

        def sql() -> str:
            return (
                f"WITH base AS (SELECT {root._window_sql} AS k, {s} AS s, {y} AS y "
                f"FROM {root.engine.relation} WHERE {root._where()}), "
                f"per_score AS (SELECT k, s, SUM(y) AS p, COUNT(*) AS c, "
                f"SUM(-ln(CASE WHEN y = 1 THEN {b} ELSE {a} END / ({a} + {b}))) AS loss, "
                "SUM((s - y) * (s - y)) AS brier "  # not ^: Spark's is bitwise XOR
                "FROM base GROUP BY k, s), "
                "ranked AS (SELECT k, p, c, loss, brier, SUM(c) OVER (PARTITION BY k ORDER BY s "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - c AS below FROM per_score) "
                "SELECT k, SUM(p), SUM(c), SUM(p * (2 * below + c + 1)), SUM(loss), COUNT(*), "
                "SUM(brier) "
                "FROM ranked GROUP BY k"
            )

        rows = self._slice(self._run(("score_sums",), sql))
        if not rows:
            raise GateError(f"{self.name!r} has no rows")
        p, n, twice_rank_sum, loss, distinct, brier = rows[0]
        return {
            "positives": int(p),
            "rows": int(n),
            "twice_rank_sum": int(twice_rank_sum),
            "log_loss_sum": float(loss),
            "distinct_scores": int(distinct),
            "brier_sum": float(brier),
        }

    def ece_bins(self) -> tuple[np.ndarray, np.ndarray]:
        """Per ECE bin (15 on max-class confidence): rows and the sum of correct - confidence."""
        root = self._root()
        root._require_binary_scores()
        s = f"CAST({self.q(root.y_score)} AS DOUBLE)"
        y = f"CASE WHEN CAST({self.q(root.y_true)} AS DOUBLE) = 1 THEN 1 ELSE 0 END"

        def sql() -> str:
            confidence = "GREATEST(1.0 - s, s)"
            correct = (
                "CASE WHEN (CASE WHEN s > 1.0 - s THEN 1 ELSE 0 END) = y THEN 1.0 ELSE 0.0 END"
            )
            return (
                f"WITH base AS (SELECT {root._window_sql} AS k, {s} AS s, {y} AS y "
                f"FROM {root.engine.relation} WHERE {root._where()}) "
                f"SELECT k, LEAST(CAST(floor({confidence} * {_ECE_BINS}) AS INT), "
                f"{_ECE_BINS - 1}) AS bin, COUNT(*), SUM({correct} - {confidence}) "
                "FROM base GROUP BY 1, 2"
            )

        rows = self._slice(self._run(("ece",), sql))
        sizes, gaps = np.zeros(_ECE_BINS), np.zeros(_ECE_BINS)
        for b, n, gap in rows:
            sizes[int(b)], gaps[int(b)] = n, gap
        return sizes, gaps

    def score_cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct ``(score, label)`` cells and their row counts: what a bootstrap of a
        score metric resamples (each cell a Poisson draw, as rows would be)."""
        distinct = self.score_sums()["distinct_scores"]
        if distinct > MAX_SCORE_CELLS:
            raise GateError(
                f"{self.name!r} has {distinct} distinct scores: an interval for a score metric "
                f"resamples (score, label) cells and allows {MAX_SCORE_CELLS}; log rounded "
                "scores (e.g. ROUND(score, 4)) or drop confidence= for the exact point value"
            )
        root = self._root()
        s = f"CAST({self.q(root.y_score)} AS DOUBLE)"
        y = f"CASE WHEN CAST({self.q(root.y_true)} AS DOUBLE) = 1 THEN 1 ELSE 0 END"
        rows = self._slice(
            self._run(
                ("score_cells",),
                lambda: (
                    f"SELECT {root._window_sql} AS k, {s}, {y}, COUNT(*) FROM "
                    f"{root.engine.relation} WHERE {root._where()} GROUP BY 1, 2, 3"
                ),
            )
        )
        array = np.array(rows, dtype=float).reshape(-1, 3)
        return array[:, 0], array[:, 1].astype(int), array[:, 2]

    def _require_binary_scores(self) -> None:
        if self.y_score is None:
            raise GateError(
                f"this metric needs scores, but {self.name!r} logs decisions ({self.y_pred!r}); "
                "build the log with y_score= (the probability of the positive class)"
            )
        if self.profile()["scores_are_labels"]:  # which also checks the labels are 0/1
            raise GateError(
                f"y_score column {self.y_score!r} holds labels (every value is exactly 0 or 1): "
                "use y_pred= for logged decisions, or log the scores; a score metric on labels "
                "would read a perfect ranking and calibration"
            )

    # -- histograms for drift -------------------------------------------------------------

    def column_kind(self, column: str) -> str:
        if column not in self.types:
            raise GateError(
                f"column {column!r} not in {self.name!r}; its columns are: {', '.join(self.types)}"
            )
        kind = self.types[column]
        return "numeric" if numeric(kind) and not kind.startswith("BOOLEAN") else "categorical"

    def quantiles(self, column: str, levels: list[float]) -> list[float]:
        """Exact quantiles of a numeric column over the whole log (a drift reference)."""
        root = self._root()
        x = f"CAST({self.q(column)} AS DOUBLE)"
        rows = self._run(
            ("quantiles", column, tuple(levels)),
            lambda: (
                f"SELECT {root.engine.quantiles(x, levels)} FROM {root.engine.relation} "
                f"WHERE {root._where()} AND {self.q(column)} IS NOT NULL"
            ),
        )
        values = rows[0][0]
        if values is None:
            raise GateError(f"column {column!r} of {self.name!r} has no values")
        return [float(v) for v in values]

    def histogram(
        self, column: str, *, edges: list[tuple[str, float]] | None, windowed: bool = True
    ) -> dict[Any, int]:
        """Counts per bin (numeric: the first ``(op, value)`` cut a value satisfies, see
        ``checks.drift._edges``; -1 for NULL) or per category."""
        root = self._root()
        x = self.q(column)
        if edges is None:
            value = f"CAST({x} AS STRING)"
        else:
            cases = " ".join(
                f"WHEN CAST({x} AS DOUBLE) {op} {edge!r} THEN {i}"
                for i, (op, edge) in enumerate(edges)
            )
            value = f"CASE WHEN {x} IS NULL THEN -1 {cases} ELSE {len(edges)} END"
        window = root._window_sql if windowed else str(_NO_WINDOW)
        rows = self._run(
            ("histogram", column, None if edges is None else tuple(edges), windowed),
            lambda: (
                f"SELECT {window} AS k, {value} AS v, COUNT(*) FROM {root.engine.relation} "
                f"WHERE {root._where()} GROUP BY 1, 2"
            ),
        )
        picked = self._slice(rows) if windowed else [r[1:] for r in rows]
        return {(MISSING if v is None else v): int(n) for v, n in picked}


def _plain(value: Any) -> Any:
    """Engine values as the Python scalars in-memory data gives (Decimal -> float)."""
    if hasattr(value, "as_tuple"):  # decimal.Decimal
        return float(value)
    return value


def _same_kind(labels: list[Any], column: str) -> None:
    kinds = {isinstance(v, str) for v in labels}
    if len(kinds) > 1:
        raise GateError(f"the labels in {column!r} mix text and numbers: cast them to one type")


def _instant(role: str, value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise GateError(f"{role}={value!r}: give an ISO date or timestamp ('2025-03-01')") from None


# -- per-window evaluation --------------------------------------------------------------------


def per_window(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Evaluate ``check`` on every window of a windowed log; the worst window decides.

    Every window's value and interval are kept in ``evidence["windows"]``. A window with
    fewer rows than ``min_group_size`` (default 30) is an error naming it, or left out and
    reported with ``small_groups="ignore"``; it never decides a verdict silently.
    """
    accepts = inspect.signature(check).parameters

    @functools.wraps(check)
    def gate(model: Any, dataset: Any, **spec: Any) -> Verdict:
        if not getattr(dataset, "is_prediction_log", False) or dataset.window is None:
            return check(model, dataset, **spec)
        if dataset._parent is not None:
            return check(model, dataset, **spec)
        default = accepts["min_group_size"].default if "min_group_size" in accepts else 30
        minimum = spec.get("min_group_size", default)
        ignore = "small_groups" in accepts and spec.get("small_groups") == "ignore"
        windows = dataset.window_rows()
        small = {label: rows for label, _, rows in windows if rows < minimum}
        if small and not ignore:
            listed = ", ".join(f"{label} has {n} rows" for label, n in list(small.items())[:5])
            more = f" (and {len(small) - 5} more)" if len(small) > 5 else ""
            # only the remedies this gate takes (performance has no small_groups=)
            remedies = [
                "use a coarser window= (e.g. '1mo')",
                "restrict since=/until= to full windows",
            ]
            if "small_groups" in accepts:
                remedies.append("pass small_groups='ignore' to leave them out")
            raise GateError(
                f"{len(small)} window(s) with fewer rows than min_group_size={minimum}: "
                f"{listed}{more}; {', '.join(remedies[:-1])}, or {remedies[-1]}"
            )
        verdicts = []
        for label, key, rows in windows:
            if rows < minimum:
                continue
            try:
                verdicts.append((label, check(model, dataset.at_window(key), **spec)))
            except GateError as exc:
                raise GateError(f"window {label}: {exc}") from None
        if not verdicts:
            raise GateError(f"no window of {dataset.name!r} has {minimum} rows or more")
        return _worst_window(verdicts, small, dataset)

    return gate


def _worst_window(
    verdicts: list[tuple[str, Verdict]], small: dict[str, int], log: PredictionLog
) -> Verdict:
    def decided(v: Verdict) -> float:
        if v.ci is not None:
            return v.ci[0] if v.operator == ">=" else v.ci[1]
        return float(v.value)

    first = verdicts[0][1]
    pick = min if first.operator == ">=" else max
    label, worst = pick(verdicts, key=lambda lv: decided(lv[1]))
    worst.evidence["windows"] = [
        {
            "window": name,
            "value": v.value,
            "ci": None if v.ci is None else list(v.ci),
            "n": v.n,
            "status": v.status,
        }
        for name, v in verdicts
    ]
    worst.evidence["window"] = log.window
    worst.evidence["worst_window"] = label
    worst.evidence["dataset"] = log.name
    if small:
        worst.evidence["small_windows"] = small
    worst.status = "fail" if any(v.status == "fail" for _, v in verdicts) else worst.status
    # n is the deciding window's (what its value and interval rest on); the total is kept
    worst.evidence["n_total"] = sum(v.n or 0 for _, v in verdicts)
    worst.message = (
        worst.describe()
        + f"\n  window    worst of {len(verdicts)} windows ({log.window}): {label} "
        + f"(n {worst.n} of {worst.evidence['n_total']} in all windows)"
    )
    return worst


# -- the performance gate's statistic over a log -----------------------------------------------


def log_statistic(
    log: PredictionLog,
    spec: Any,
    per_class: bool,
    decision_threshold: float,
    pos_label: Any,
    confidence: float | None,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, Any, list[str] | None, int]:
    """Cell counts, statistic, per-class labels and rows of a performance metric on a log.

    Label metrics use the engine's confusion counts. Score metrics take their exact point
    value from engine sums (rank sums for ROC AUC); with ``confidence`` they resample the
    distinct (score, label) cells through the in-memory statistic, which is the row
    bootstrap in distribution.
    """
    from pytest_modelguard.adapters import ModelOutput
    from pytest_modelguard.checks.performance import _statistic, confusion_statistic

    evidence["engine"] = log.engine.name
    evidence["output"] = log.output_kind
    if spec.needs == "values":
        raise GateError(
            f"{spec.name} on a prediction log is not supported: logs gate classification "
            "metrics (accuracy, precision, recall, f1, roc_auc, log_loss, brier, ece)"
        )
    if spec.needs == "scores":
        if per_class:
            raise GateError("per_class=True with scores on a log: a y_score log is binary")
        if spec.name == "brier":
            evidence["brier_classes"] = 2  # a y_score log is binary: Brier in [0, 1]
        if confidence is None:
            value, n = _score_point(log, spec.name)
            evidence["computed_in"] = "engine (exact sums)"
            return np.array([1.0]), lambda w: np.full(len(w), value), None, n
        scores, truth, counts = log.score_cells()
        output = ModelOutput(array=scores, kind="probabilities")
        _, statistic, labels = _statistic(
            spec, output, truth, per_class, decision_threshold, pos_label, evidence
        )
        evidence["interval_cells"] = len(counts)
        return counts, statistic, labels, int(counts.sum())
    if log.y_score is not None:
        evidence["decision_threshold"] = decision_threshold
    classes, counts = log.confusion(decision_threshold=decision_threshold)
    counts, statistic, labels = confusion_statistic(
        spec.name, classes, counts, per_class, pos_label, evidence
    )
    return counts, statistic, labels, int(np.sum(counts))


def _score_point(log: PredictionLog, metric: str) -> tuple[float, int]:
    if metric == "ece":
        sizes, gaps = log.ece_bins()
        return float(np.abs(gaps).sum() / sizes.sum()), int(sizes.sum())
    sums = log.score_sums()
    n, positives = sums["rows"], sums["positives"]
    if metric == "log_loss":
        return sums["log_loss_sum"] / n, n
    if metric == "brier":
        return sums["brier_sum"] / n, n
    negatives = n - positives
    if positives == 0 or negatives == 0:
        raise GateError(
            f"roc_auc is undefined: class 1 is {'every' if negatives == 0 else 'no'} row of "
            f"{log.name!r}; it needs both positive and negative rows"
        )
    # Mann-Whitney: U = R - P(P+1)/2 with R the positives' rank sum (average ranks for ties)
    u_twice = sums["twice_rank_sum"] - positives * (positives + 1)
    return u_twice / (2 * positives * negatives), n
