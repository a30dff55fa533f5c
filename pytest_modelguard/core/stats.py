"""Confidence intervals from sufficient statistics.

Every metric here is a function of weighted cell counts: rows for row-level metrics,
confusion-matrix cells (or per-group cells) for count metrics. Resampling rows with
replacement is, in distribution, a Poisson draw per cell with the cell's count as its
rate (the Poisson bootstrap), so one resample costs O(cells), not O(rows), and the
point estimate is the same function at the observed counts: one code path for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps weights of shape ``(r, cells)`` to ``r`` values (or ``(r, k)`` for ``k`` at once)."""

_CHUNK_CELLS = 4_000_000  # weights held in memory at once: ~32 MB of float64


def rng_from(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed))


def point_estimate(counts: np.ndarray, statistic: Statistic) -> np.ndarray:
    """The statistic at the observed counts (shape ``()`` or ``(k,)``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return statistic(np.asarray(counts, dtype=float)[None, :])[0]


def poisson_bootstrap(
    counts: np.ndarray,
    statistic: Statistic,
    *,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n_resamples`` values of the statistic under Poisson resampling of the cells."""
    counts = np.asarray(counts, dtype=float)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // max(counts.size, 1)))
    results = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            weights = rng.poisson(counts, size=(size, counts.size)).astype(float)
            results.append(statistic(weights))
    return np.concatenate(results)


def percentile_interval(
    samples: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Two-sided percentile interval per column, and how many resamples were undefined."""
    samples = np.asarray(samples, dtype=float)
    undefined = int(np.sum(~np.isfinite(samples).all(axis=tuple(range(1, samples.ndim)))))
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        low = np.nanquantile(samples, alpha, axis=0)
        high = np.nanquantile(samples, 1.0 - alpha, axis=0)
    return low, high, undefined


# -- closed-form intervals of rates and of comparisons between them ------------------------
#
# Why closed forms, not the bootstrap: a disparity ``max_g r_g - min_g r_g`` is not a smooth
# function of the rates at parity, so its percentile bootstrap never covers 0 there (see
# docs/statistics.md). Differences and ratios of two rates are smooth; score intervals of
# them (Newcombe, MOVER) keep their level at the group sizes ``min_group_size`` allows,
# and a disparity's bounds follow from them (``fold_*`` and the fairness gate).


def normal_quantile(level: float | np.ndarray) -> np.ndarray:
    """The standard normal quantile, elementwise (the standard library's, so no scipy)."""
    from statistics import NormalDist

    levels = np.asarray(level, dtype=float)
    flat = [NormalDist().inv_cdf(float(p)) for p in levels.ravel()]
    return np.asarray(flat, dtype=float).reshape(levels.shape)


def two_sided_z(confidence: float | np.ndarray) -> np.ndarray:
    """``z`` of a two-sided interval at ``confidence`` (1.96 at 0.95)."""
    return normal_quantile(0.5 + np.asarray(confidence, dtype=float) / 2.0)


def wilson(rate: np.ndarray, n: np.ndarray, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``rate`` measured on ``n`` (effective) rows.

    Valid near 0 and 1 and on a few dozen rows, where the normal and bootstrap intervals
    are not; with weights, ``n`` is Kish's effective count ``W² / W2``. Elementwise.
    """
    rate, n, z = (np.asarray(a, dtype=float) for a in (rate, n, z))
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = z * z / n
        centre = (rate + z2 / 2) / (1 + z2)
        half = z * np.sqrt(rate * (1 - rate) / n + z2 / (4 * n)) / (1 + z2)
    low = np.where(rate <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(rate >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def newcombe_difference(
    p1: np.ndarray,
    bounds1: tuple[np.ndarray, np.ndarray],
    p2: np.ndarray,
    bounds2: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``p1 - p2`` for independent rates from their score intervals
    (Newcombe 1998, method 10: the hybrid score interval; the MOVER for a difference)."""
    (l1, u1), (l2, u2) = bounds1, bounds2
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt(
        (u1 - p1) ** 2 + (p2 - l2) ** 2
    )


def mover_ratio(
    p1: np.ndarray,
    bounds1: tuple[np.ndarray, np.ndarray],
    p2: np.ndarray,
    bounds2: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``p1 / p2`` for independent rates from their score intervals
    (MOVER-R, Donner & Zou 2012), in the rationalised form that needs no case split.

    The bounds are the ratios ``r`` at which the MOVER interval of ``p1 - r p2`` just
    reaches 0; the upper bound is ``inf`` when ``p2``'s interval reaches 0.
    """
    (l1, u1), (l2, u2) = bounds1, bounds2
    b = p1 * p2
    with np.errstate(divide="ignore", invalid="ignore"):
        c_low = l1 * (2 * p1 - l1)  # >= 0
        a_low = u2 * (2 * p2 - u2)  # any sign
        root = np.sqrt(np.maximum(b * b - a_low * c_low, 0.0))
        low = np.where(c_low <= 0, 0.0, c_low / (b + root))
        a_high = l2 * (2 * p2 - l2)  # >= 0
        c_high = u1 * (2 * p1 - u1)  # any sign
        root = np.sqrt(np.maximum(b * b - a_high * c_high, 0.0))
        high = np.where(a_high <= 0, np.inf, (b + root) / a_high)
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=np.inf)


def fold_difference(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``|d|`` from one of ``d``: ``[0, max(-low, high)]`` when it spans 0."""
    spans = (low <= 0) & (high >= 0)
    folded_low = np.where(spans, 0.0, np.minimum(np.abs(low), np.abs(high)))
    return folded_low, np.maximum(np.abs(low), np.abs(high))


def fold_ratio(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``min(x, 1/x)`` from one of a positive ``x``: upper bound 1 when it spans 1."""
    with np.errstate(divide="ignore"):
        one_over_high, one_over_low = 1.0 / high, np.where(low > 0, 1.0 / low, np.inf)
    spans = (low <= 1) & (high >= 1)
    below = high < 1  # x < 1 throughout: the interval itself; above 1: its reciprocal
    folded_low = np.where(
        below, low, np.where(spans, np.minimum(low, one_over_high), one_over_high)
    )
    folded_high = np.where(below, high, np.where(spans, 1.0, np.minimum(one_over_low, 1.0)))
    return folded_low, folded_high


def auc_interval(
    scores: np.ndarray,
    positive: np.ndarray,
    z: float | np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """Interval of a binary ROC AUC (ties count half): DeLong's variance on the logit scale.

    The percentile bootstrap of an AUC near 1 is too narrow on its lower side (0.98 on 400
    rows: the lower bound above the truth in 7% of datasets, not 2.5%); the logit keeps
    the interval inside (0, 1) with the skew the AUC has there. At a perfect ranking,
    where DeLong's variance vanishes, Hanley & McNeil's variance of an AUC half a row
    from the bound is the floor, so the interval does not collapse to [1, 1].
    ``weights`` counts the rows each (score, label) stands for, so a prediction log's
    distinct cells give the interval of all its rows.
    """
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    tie_group = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    pos_w = np.bincount(tie_group, weights=(w * positive)[order])
    neg_w = np.bincount(tie_group, weights=(w * ~positive)[order])
    m, n = float(pos_w.sum()), float(neg_w.sum())
    # per tie group: the share of negatives below a positive, of positives above a negative
    v10 = (np.cumsum(neg_w) - neg_w + 0.5 * neg_w) / n
    v01 = (m - np.cumsum(pos_w) + 0.5 * pos_w) / m
    auc = float((pos_w * v10).sum() / m)
    var10 = float((pos_w * (v10 - auc) ** 2).sum() / (m - 1)) if m > 1 else 0.0
    var01 = float((neg_w * (v01 - auc) ** 2).sum() / (n - 1)) if n > 1 else 0.0
    variance = var10 / m + var01 / n
    edge = 0.5 / min(m, n)
    a = min(max(auc, edge), 1.0 - edge)
    e = 1.0 - edge  # Hanley & McNeil's variance half a pair from the bound: the floor
    q1, q2 = e / (2 - e), 2 * e * e / (1 + e)
    floor = (e * (1 - e) + (m - 1) * (q1 - e * e) + (n - 1) * (q2 - e * e)) / (m * n)
    se = math.sqrt(max(variance, floor)) / (a * (1 - a))
    centre = math.log(a / (1 - a))
    z = float(z)
    low, high = (1.0 / (1.0 + math.exp(-(centre + s * z * se))) for s in (-1, 1))
    return (0.0 if auc <= 0 else low), (1.0 if auc >= 1 else high)
