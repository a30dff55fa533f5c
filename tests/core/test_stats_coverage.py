"""The coverage study in small: the intervals keep their level where it is hardest (parity,
the threshold, groups at min_group_size), the gate keeps its decisions, and the message
says which one-sided bound decided. The full study is benchmarks/coverage_study.py,
which writes docs/statistics.md."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from pytest_modelguard import Dataset, Predictions, checks
from pytest_modelguard.core.verdict import Verdict

ROOT = Path(__file__).resolve().parents[2]


def load_study():
    if "coverage_study" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "coverage_study", ROOT / "benchmarks" / "coverage_study.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["coverage_study"] = module
        spec.loader.exec_module(module)
    return sys.modules["coverage_study"]


study = load_study()
CASES = {case.key: case for case in study.all_cases()}
FLOOR = 0.93

KEY_CASES = [
    "dp2-0",  # parity, two groups
    "dp2-0.1",  # at the threshold
    "dp4-0",  # parity, four unequal groups
    "dp-overall-0",  # to_overall at parity
    "dp-small-0",  # two groups of 30 rows (min_group_size)
    "dp-small-rate0",  # rates of 0
    "dp-small-rate1",  # a rate of 1
    "dpr2-1",  # ratio 1
    "dpr2-0.8",  # ratio at the threshold
    "dpr-small-1",
    "eo2-0",
    "eo-small-0",
    "eor2-1",
    "gmin2-0.8",
    "gmin-small-0.95",
    "dpw-0",  # weighted, parity
    "dpw-0.1",  # weighted, at the threshold
    "robacc-0.5",
    "flip-0.01",
]


@pytest.mark.parametrize("key", KEY_CASES)
def test_key_intervals_cover(key):
    """2,000 datasets each (closed forms: milliseconds), so the Monte Carlo error is 0.5%."""
    result = study.run(CASES[key], 2000, 40)
    assert result.coverage >= FLOOR, (key, result)
    assert result.decided >= FLOOR, (key, result)


def test_a_small_sample_accuracy_interval_covers_end_to_end():
    """checks.performance on 300 datasets of 30 rows: the Wilson interval, through the gate."""
    result = study.run(CASES["acc-0.9-30"], 300, 40)
    assert result.coverage >= FLOOR and result.decided >= FLOOR, result


def test_the_gate_keeps_its_power_and_its_caution():
    """n=2,000 in two groups, max_disparity=0.1: passes at parity, not at 0.12."""
    at_parity = study.run(CASES["dp2-0"], 2000, 40)
    over = study.run(CASES["dp2-0.12"], 2000, 40)
    assert at_parity.pass_rate >= 0.95
    assert over.pass_rate <= 0.05


def test_the_check_fails_the_previous_percentile_interval():
    """The percentile bootstrap of max - min never covered parity: this study catches it."""
    result = study.run(CASES["dp2-0-percentile"], 600, 40)
    assert result.coverage < 0.5
    assert study.failures([result], FLOOR) == []  # a reference row, reported, not checked
    result.case.reference = False
    try:
        assert study.failures([result], FLOOR)
    finally:
        result.case.reference = True


def test_the_study_counts_cells_as_the_gate_does():
    """The study feeds [TN, FP, FN, TP] counts to the gate's interval; the gate itself, on
    rows with weights and three groups, gives the same interval."""
    rng = np.random.default_rng(5)
    n = 3000
    group = rng.integers(0, 3, n)
    y = rng.integers(0, 2, n)
    y_pred = (rng.random(n) < 0.3 + 0.05 * group).astype(np.int64)
    weight = np.where(rng.random(n) < 0.3, 4.0, 1.0)
    cell = 2 * y + y_pred
    stats = [np.ones(n), weight, weight**2]
    grouped = np.stack(
        [np.bincount(group * 4 + cell, weights=s, minlength=12) for s in stats], axis=-1
    ).reshape(3, 4, 3)
    data = Dataset.from_arrays(np.zeros((n, 1)), y, sensitive={"g": group}, sample_weight=weight)
    for metric, threshold, method in [
        ("demographic_parity_difference", {"max_disparity": 0.5}, "between_groups"),
        ("demographic_parity_difference", {"max_disparity": 0.5}, "to_overall"),
        ("equalized_odds_ratio", {"min_ratio": 0.1}, "between_groups"),
        ("demographic_parity_ratio", {"min_ratio": 0.1}, "to_overall"),
    ]:
        verdict = checks.fairness(
            Predictions(y_pred=y_pred),
            data,
            metric=metric,
            method=method,
            confidence=0.95,
            **threshold,
        )
        low, high = study.fairness_check.disparity_interval(
            study.fairness_check.METRICS[metric], method, grouped, 0.95
        )
        assert verdict.ci == pytest.approx((float(low), float(high)), abs=1e-12), metric


def parity_verdict(**spec) -> Verdict:
    y_pred = np.tile([0, 1], 1000)
    group = np.repeat([0, 1], 1000)
    data = Dataset.from_arrays(np.zeros((2000, 1)), y_pred, sensitive={"g": group})
    return checks.fairness(Predictions(y_pred=y_pred), data, confidence=0.95, **spec)


def test_at_exact_parity_the_interval_starts_at_zero_and_contains_the_value():
    verdict = parity_verdict(max_disparity=0.1)
    assert verdict.value == 0.0 and verdict.ci[0] == 0.0 < verdict.ci[1] < 0.1
    ratio = parity_verdict(metric="demographic_parity_ratio", min_ratio=0.8)
    assert ratio.value == 1.0 and 0.8 < ratio.ci[0] < ratio.ci[1] == 1.0


def test_the_message_names_the_deciding_one_sided_bound():
    verdict = parity_verdict(max_disparity=0.1)
    upper = f"{verdict.ci[1]:.4g}"
    assert f"decided   upper 97.5% bound {upper} <= 0.1" in verdict.message
    assert "95% CI [0, " in verdict.message  # valid two-sided here, so shown too
    failed = parity_verdict(max_disparity=0.01)
    assert f"decided   upper 97.5% bound {upper} > 0.01" in failed.message
    ratio = parity_verdict(metric="demographic_parity_ratio", min_ratio=0.99)
    assert f"decided   lower 97.5% bound {ratio.ci[0]:.4g} < 0.99" in ratio.message


def test_an_interval_valid_on_one_side_only_shows_only_that_bound():
    """ECE is biased upward: at a true 0 its bootstrap interval lies above 0, so only the
    upper bound the gate decides on is shown (docs/statistics.md)."""
    rng = np.random.default_rng(1)
    p = rng.beta(2, 2, 400)
    y = (rng.random(400) < p).astype(np.int64)
    verdict = checks.performance(
        Predictions(y_score=p),
        Dataset.from_arrays(np.zeros((400, 1)), y),
        metric="ece",
        max=0.2,
        confidence=0.95,
        n_resamples=400,
    )
    assert verdict.evidence["one_sided_only"] is True
    assert "CI [" not in verdict.message
    assert f"decided   upper 97.5% bound {verdict.ci[1]:.4g} <= 0.2" in verdict.message
    assert "CI" not in verdict.summary() and "[upper 97.5% bound " in verdict.summary()


def test_the_report_row_shows_the_deciding_bound():
    from pytest_modelguard.reporting import html

    verdict = parity_verdict(max_disparity=0.1).to_json()
    row = html._row({**verdict, "index": 0, "nodeid": "t.py::t"})
    assert f"upper 97.5% bound {html.fmt(verdict['ci'][1])}" in row
    assert "95% [" in row
    one_sided = {**verdict, "index": 0, "evidence": {**verdict["evidence"], "one_sided_only": True}}
    assert "95% [" not in html._row(one_sided)
