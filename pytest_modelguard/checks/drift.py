"""Data drift: does the current data (a log window) still look like the reference?

Each feature becomes two histograms over the same bins — numeric features on quantile
bins taken from the reference, categorical ones per category — computed by the engine
that holds the data (DuckDB, Spark) or by numpy for an in-memory :class:`Dataset`. The
gate compares them by the population stability index (``max_psi=``), the Jensen-Shannon
distance (``max_js=``), or a chi-square test of homogeneity per feature with Holm or
Benjamini-Hochberg control across features (``alpha=``). The verdict names the drifted
features; the evidence keeps both histograms for the report.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.checks._gate import UNIT, check_threshold, one_threshold
from pytest_modelguard.core.groups import MISSING, _order
from pytest_modelguard.core.spec import Fixture, Needs, Reports, requirement
from pytest_modelguard.core.verdict import GateError, Verdict, require_count
from pytest_modelguard.logs import per_window

CORRECTIONS = ("holm", "bh")
PSI_FLOOR = 1e-4  # a bin's share floor in the PSI, so an empty bin is large, not infinite
#: the largest PSI the floor allows (all mass moved to bins that were empty): about 18.4
PSI_MAX = 2 * (1 - PSI_FLOOR) * math.log(1 / PSI_FLOOR)
#: what each threshold bounds, and the range it takes (a bound outside it cannot fail)
RANGES = {
    "max_psi": ("the PSI (bin shares floored at 1e-4)", (0.0, PSI_MAX)),
    "max_js": ("the Jensen-Shannon distance (base 2)", UNIT),
    "alpha": ("a p-value", UNIT),
}
SCORE = "<score>"  # the model's score, compared like a feature


@per_window
@requirement(
    example="max_psi=0.2",
    rank=90,
    needs=Needs(model="unused", data="required", reference="required"),
)
def drift(
    model: Any,
    dataset: Any,
    *,
    reference: Annotated[Any, Fixture("reference")] = None,
    features: str | list[str] | None = None,
    max_psi: Annotated[float | None, Reports("psi")] = None,
    max_js: Annotated[float | None, Reports("js_distance")] = None,
    alpha: Annotated[float | None, Reports("p_value")] = None,
    correction: str = "holm",
    bins: int = 10,
    scores: bool = True,
    min_group_size: int = 30,
) -> Verdict:
    """Gate drift of ``dataset`` from ``reference`` per feature (and on the logged scores).

    ``features`` defaults to the log's ``features=`` columns. Numeric features use
    ``bins`` quantile bins of the reference; categoricals, their categories (missing
    values are a bin of their own). ``max_psi`` / ``max_js`` bound the worst feature;
    ``alpha`` is the family-wise (``correction="holm"``) or false-discovery
    (``correction="bh"``) level of the per-feature chi-square tests.
    """
    started = time.perf_counter()
    name, threshold = one_threshold("drift", {"max_psi": max_psi, "max_js": max_js, "alpha": alpha})
    threshold = _check_options(name, threshold, correction=correction, bins=bins)
    if reference is None or isinstance(reference, str):
        raise GateError(
            "drift needs reference=: name a fixture returning a Dataset or PredictionLog "
            f"(got {reference!r})"
        )
    current, base = _source(dataset, "the current data"), _source(reference, "the reference")
    columns = _features(current, base, features, scores)
    per_feature, rows = _compare(current, base, columns, bins)
    if rows is not None and rows < min_group_size:
        raise GateError(
            f"the current data has {rows} rows, fewer than min_group_size={min_group_size}"
        )
    adjusted = adjust([f["p_value"] for f in per_feature.values()], correction)
    for feature, p_adjusted in zip(per_feature.values(), adjusted, strict=True):
        feature["p_adjusted"] = float(p_adjusted)
    verdict = _decide(name, threshold, per_feature, current=current, base=base, rows=rows,
                      bins=bins, correction=correction)  # fmt: skip
    verdict.duration = time.perf_counter() - started
    return verdict


def _check_options(name: str, threshold: float, *, correction: str, bins: int) -> float:
    """The threshold, range-checked; a bound that can never pass or fail is an error."""
    if correction not in CORRECTIONS:
        raise GateError(f"correction={correction!r}: use one of {', '.join(CORRECTIONS)}")
    what, within = RANGES[name]
    # the shared rule: out of range, or a bound the statistic can never cross, is an error
    operator = ">=" if name == "alpha" else "<="
    threshold = check_threshold(name, threshold, operator=operator, within=within, what=what)
    if name == "alpha" and threshold >= 1.0:
        raise GateError(f"alpha={threshold!r} could never pass: use a level strictly below 1")
    if name != "alpha" and threshold <= 0.0:
        raise GateError(f"{name}={threshold!r}: use a positive bound (0 could never pass)")
    require_count("bins", bins, at_least=2)
    return threshold


def _compare(
    current: Any, base: Any, columns: list[str], bins: int
) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Each feature's two histograms over the same bins and the statistics between them,
    and the number of current rows."""
    rows = None
    per_feature: dict[str, dict[str, Any]] = {}
    for column in columns:
        kind = base.kind(column)
        if kind == "numeric" and current.kind(column) != "numeric":
            raise GateError(
                f"feature {column!r} is numeric in the reference but not in the current data"
            )
        edges = _edges(base.quantiles(column, bins)) if kind == "numeric" else None
        ref, cur = base.histogram(column, edges, windowed=False), current.histogram(column, edges)
        rows = sum(cur.values()) if rows is None else rows
        labels = _bin_labels(edges, [*ref, *cur])
        r = np.array([ref.get(b, 0) for b, _ in labels], dtype=float)
        c = np.array([cur.get(b, 0) for b, _ in labels], dtype=float)
        if r.sum() == 0 or c.sum() == 0:
            empty = "reference" if r.sum() == 0 else "current data"
            raise GateError(f"feature {column!r} has no values in the {empty}")
        stat, p = chi_square(r, c)
        per_feature[column] = {
            "kind": kind,
            "psi": psi(r, c),
            "js_distance": js_distance(r, c),
            "chi2": stat,
            "p_value": p,
            "bins": [text for _, text in labels],
            "reference": r.astype(int).tolist(),
            "current": c.astype(int).tolist(),
        }
    return per_feature, rows


FORMULAS = {
    "max_psi": "max_f sum_b (c_b - r_b) ln(c_b / r_b) over bin shares",
    "max_js": "max_f sqrt(JS(r, c)), base 2",
    "alpha": "min_f {correction}-adjusted p of the chi-square test of homogeneity",
}


def _decide(
    name: str,
    threshold: float,
    per_feature: dict[str, dict[str, Any]],
    *,
    current: Any,
    base: Any,
    rows: int | None,
    bins: int,
    correction: str,
) -> Verdict:
    """The worst feature decides; every feature beyond the threshold is named as drifted."""
    metric = {"max_psi": "psi", "max_js": "js_distance", "alpha": "p_adjusted"}[name]
    values = {column: f[metric] for column, f in per_feature.items()}
    if name == "alpha":
        drifted = [c for c, v in values.items() if v < threshold]
        worst = min(values, key=values.get)
    else:
        drifted = [c for c, v in values.items() if v > threshold]
        worst = max(values, key=values.get)
    for column, feature in per_feature.items():
        feature["drifted"] = column in drifted
    evidence: dict[str, Any] = {
        "dataset": current.name,
        "reference": base.name,
        "features": per_feature,
        "drifted": drifted,
        "worst": worst,
        "bins": bins,
    }
    if name == "alpha":
        evidence["correction"] = correction
    verdict = Verdict(
        requirement="drift",
        metric="p_value" if name == "alpha" else metric,
        value=float(values[worst]),
        threshold=threshold,
        operator=">=" if name == "alpha" else "<=",
        status="fail" if drifted else "pass",
        n=rows,
        formula=FORMULAS[name].format(correction=correction),
        evidence=evidence,
    )
    if drifted:
        verdict.message += "\n  drifted   " + ", ".join(
            f"{c} ({metric} {values[c]:.3g})" for c in drifted
        )
    return verdict


# -- the statistics, on two count vectors over the same bins --------------------------------


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index over bin shares (each share floored at ``PSI_FLOOR``)."""
    r = np.maximum(reference / reference.sum(), PSI_FLOOR)
    c = np.maximum(current / current.sum(), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence), base 2: in [0, 1]."""
    r, c = reference / reference.sum(), current / current.sum()
    m = (r + c) / 2

    def kl(p: np.ndarray) -> float:
        nonzero = p > 0
        return float(np.sum(p[nonzero] * np.log2(p[nonzero] / m[nonzero])))

    return float(np.sqrt(max((kl(r) + kl(c)) / 2, 0.0)))


def chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square test that both samples come from one distribution over the bins."""
    from scipy.stats import chi2

    table = np.stack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0  # one occupied bin: nothing could differ
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, table.shape[1] - 1))


def adjust(p_values: list[float], correction: str) -> np.ndarray:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order]
    if correction == "holm":
        adjusted = np.maximum.accumulate(np.minimum((m - np.arange(m)) * ranked, 1.0))
    else:
        adjusted = np.minimum.accumulate((m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
        adjusted = np.minimum(adjusted, 1.0)
    result = np.empty(m)
    result[order] = adjusted
    return result


def _edges(quantiles: list[float]) -> list[tuple[str, float]]:
    """Bin cuts from the reference's inner quantiles: ``(op, value)``, a row's bin being
    the first cut it satisfies (``x < value`` or ``x <= value``), else the last bin.

    A quantile that repeats marks a point mass (a binary flag, a constant, a popular
    value): it becomes a bin of its own, ``x == value``, cut by ``< value`` then
    ``<= value``. Merging it with its neighbours would let a shift of a 0/1 feature,
    or of a constant, land in one shared bin and read as no drift at all.
    """
    values, counts = np.unique(np.asarray(quantiles, dtype=float), return_counts=True)
    cuts: list[tuple[str, float]] = []
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        cuts.append(("<", float(value)))
        if count > 1:
            cuts.append(("<=", float(value)))
    return cuts


def bin_index(x: np.ndarray, cuts: list[tuple[str, float]]) -> np.ndarray:
    """The bin of each value under ``cuts`` (see :func:`_edges`), as the engines' CASE."""
    index = np.full(len(x), len(cuts), dtype=int)
    for i, (op, value) in reversed(list(enumerate(cuts))):
        index[(x < value) if op == "<" else (x <= value)] = i
    return index


def _bin_labels(edges: list[tuple[str, float]] | None, keys: list[Any]) -> list[tuple[Any, str]]:
    if edges is None:
        present = sorted(set(keys) - {MISSING}, key=_order)
        return [(k, str(k)) for k in present] + ([(MISSING, MISSING)] if MISSING in keys else [])
    labels = []
    lower = "(-inf"
    for i, (op, value) in enumerate(edges):
        if op == "<=" and lower == f"[{value:.4g}":
            labels.append((i, f"= {value:.4g}"))
        else:
            labels.append((i, f"{lower}, {value:.4g}{')' if op == '<' else ']'}"))
        lower = f"[{value:.4g}" if op == "<" else f"({value:.4g}"
    labels.append((len(edges), f"{lower}, inf)"))
    if -1 in keys:
        labels.append((-1, MISSING))
    return labels


# -- where the histograms come from -------------------------------------------------------


class _Log:
    def __init__(self, log: Any) -> None:
        self.log, self.name = log, log.name

    def columns(self) -> list[str]:
        return list(self.log.feature_columns)

    def has(self, column: str) -> bool:
        return (column == SCORE and self.log.y_score is not None) or column in self.log.types

    def _column(self, column: str) -> str:
        return self.log.y_score if column == SCORE else column

    def kind(self, column: str) -> str:
        return self.log.column_kind(self._column(column))

    def quantiles(self, column: str, bins: int) -> list[float]:
        levels = [i / bins for i in range(1, bins)]
        return self.log.quantiles(self._column(column), levels)

    def histogram(
        self, column: str, edges: list[tuple[str, float]] | None, windowed: bool = True
    ) -> dict:
        return self.log.histogram(self._column(column), edges=edges, windowed=windowed)


class _Frame:
    """An in-memory Dataset's feature columns (a DataFrame, or an array with feature_names)."""

    def __init__(self, dataset: Any) -> None:
        self.name = dataset.name
        features = dataset.features
        if hasattr(features, "iloc"):
            self.frame = {str(c): features[c].to_numpy() for c in features.columns}
        else:
            array = np.asarray(features)
            names = dataset.feature_names or [f"x{i}" for i in range(array.shape[1])]
            self.frame = {name: array[:, i] for i, name in enumerate(names)}

    def columns(self) -> list[str]:
        return list(self.frame)

    def has(self, column: str) -> bool:
        return column in self.frame

    def kind(self, column: str) -> str:
        values = self.frame[column]
        return "numeric" if values.dtype.kind in "iuf" else "categorical"

    def quantiles(self, column: str, bins: int) -> list[float]:
        values = self.frame[column].astype(float)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            raise GateError(f"column {column!r} of {self.name!r} has no values")
        return np.quantile(values, [i / bins for i in range(1, bins)]).tolist()

    def histogram(
        self, column: str, edges: list[tuple[str, float]] | None, windowed: bool = True
    ) -> dict:
        values = self.frame[column]
        if edges is not None:
            x = values.astype(float)
            missing = np.isnan(x)
            index = bin_index(x[~missing], edges)
            counts = {
                int(b): int(n) for b, n in zip(*np.unique(index, return_counts=True), strict=True)
            }
            if missing.any():
                counts[-1] = int(missing.sum())
            return counts
        import pandas as pd

        missing = np.asarray(pd.isna(values), dtype=bool)
        # as the engines spell them: booleans lower case, like CAST(x AS STRING)
        present = np.asarray(
            [str(v).lower() if isinstance(v, bool | np.bool_) else str(v) for v in values[~missing]]
        )
        counts = {
            str(k): int(n) for k, n in zip(*np.unique(present, return_counts=True), strict=True)
        }
        if missing.any():
            counts[MISSING] = int(missing.sum())
        return counts


def _source(subject: Any, role: str) -> Any:
    if getattr(subject, "is_prediction_log", False):
        return _Log(subject)
    if getattr(subject, "is_streaming", False) or not hasattr(subject, "features"):
        raise GateError(
            f"{role} is a {type(subject).__name__}: drift compares a PredictionLog or an "
            "in-memory Dataset"
        )
    return _Frame(subject)


def _features(current: Any, base: Any, features: list[str] | None, scores: bool) -> list[str]:
    if features is None:
        columns = current.columns() if isinstance(current, _Log) else base.columns()
    elif isinstance(features, str):
        columns = [features]
    else:
        columns = list(features)
    if scores and isinstance(current, _Log) and isinstance(base, _Log) and current.has(SCORE):
        columns.append(SCORE)
    if not columns:
        raise GateError(
            "drift has no features to compare: pass features=[...] or build the log with "
            "features=[...]"
        )
    for source, role in ((current, "current data"), (base, "reference")):
        absent = [c for c in columns if not source.has(c)]
        if absent:
            raise GateError(
                f"feature(s) {', '.join(map(repr, absent))} not in the {role} {source.name!r}; "
                f"it has: {', '.join(source.columns())}"
            )
    return columns
