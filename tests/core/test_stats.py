"""core/stats.py against the reference libraries: scipy's Wilson interval and normal
quantiles, numpy's quantiles, and the Poisson bootstrap's seeding and chunking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from pytest_modelguard.core import stats


@pytest.mark.parametrize(("k", "n"), [(0, 20), (1, 20), (7, 40), (39, 40), (40, 40), (512, 1000)])
def test_wilson_equals_scipys_wilson_interval(k, n):
    low, high = stats.wilson(k / n, n, stats.two_sided_z(0.95))
    reference = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert float(low) == pytest.approx(reference.low, abs=1e-12)
    assert float(high) == pytest.approx(reference.high, abs=1e-12)


def test_wilson_is_elementwise_and_closed_at_zero_and_one():
    low, high = stats.wilson(np.array([0.0, 0.5, 1.0]), np.array([10, 10, 10]), 1.96)
    assert low[0] == 0.0 and high[2] == 1.0
    assert 0.0 < low[1] < 0.5 < high[1] < 1.0


def test_normal_quantiles_equal_scipys():
    levels = np.array([0.025, 0.5, 0.9, 0.975])
    np.testing.assert_allclose(stats.normal_quantile(levels), scipy_stats.norm.ppf(levels))
    assert float(stats.two_sided_z(0.95)) == pytest.approx(scipy_stats.norm.ppf(0.975))


def test_percentile_interval_equals_numpys_quantiles_and_counts_undefined_resamples():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(1000, 2))
    samples[3, 1] = np.nan
    low, high, undefined = stats.percentile_interval(samples, 0.9)
    assert undefined == 1
    np.testing.assert_allclose(low, np.nanquantile(samples, 0.05, axis=0))
    np.testing.assert_allclose(high, np.nanquantile(samples, 0.95, axis=0))


def test_the_poisson_bootstrap_is_seeded_and_does_not_depend_on_its_chunking(monkeypatch):
    counts = np.array([30.0, 10.0, 5.0, 55.0])

    def accuracy(w):
        return (w[:, 0] + w[:, 3]) / w.sum(axis=1)

    one = stats.poisson_bootstrap(counts, accuracy, n_resamples=500, rng=stats.rng_from(7))
    again = stats.poisson_bootstrap(counts, accuracy, n_resamples=500, rng=stats.rng_from(7))
    np.testing.assert_array_equal(one, again)
    monkeypatch.setattr(stats, "_CHUNK_CELLS", 12)  # 3 resamples per chunk
    chunked = stats.poisson_bootstrap(counts, accuracy, n_resamples=500, rng=stats.rng_from(7))
    np.testing.assert_array_equal(one, chunked)
    assert stats.point_estimate(counts, accuracy) == pytest.approx(0.85)
    # a Poisson resample of cells has the row bootstrap's spread: sd ~ sqrt(p(1-p)/n)
    assert one.std() == pytest.approx(np.sqrt(0.85 * 0.15 / 100), rel=0.15)
