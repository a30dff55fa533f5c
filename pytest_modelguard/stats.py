"""Confidence intervals from sufficient statistics.

Every metric here is a function of weighted cell counts: rows for row-level metrics,
confusion-matrix cells (or per-group cells) for count metrics. Resampling rows with
replacement is, in distribution, a Poisson draw per cell with the cell's count as its
rate (the Poisson bootstrap), so one resample costs O(cells), not O(rows), and the
point estimate is the same function at the observed counts: one code path for both.
"""

from __future__ import annotations

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
