"""Gates over a year of the deployed credit model's logged decisions.

The log is Parquet partitioned by month (``production_log.py`` writes 5 million rows for
a real run; the main job writes 120,000 in about a second). The gates run inside DuckDB
and pull back only counts, so the same file gates a log of any size, and on a cluster
only the fixture changes (``PredictionLog.from_spark``, see docs/prediction-logs.md).

The log has a fairness regression in the third quarter (a faulty release scored women
0.12 lower, fixed on 1 October) and drift in the fourth (a campaign brought richer
applicants from the east). These gates pass; ``demos/test_production_log_demo.py`` shows
the two gates that catch them.
"""

from __future__ import annotations

import pytest
from production_log import open_log

from pytest_modelguard import PredictionLog, drift, fairness, performance


@pytest.fixture(scope="session")
def log_since_fix(production_log_dir: str) -> PredictionLog:
    """The months after the pipeline fix of 1 October."""
    return open_log(production_log_dir, window="1mo", since="2025-10-01")


@pytest.fixture(scope="session")
def first_half(production_log_dir: str) -> PredictionLog:
    """January to June: the reference population the model was signed off on."""
    return open_log(production_log_dir, until="2025-07-01")


@pytest.fixture(scope="session")
def third_quarter(production_log_dir: str) -> PredictionLog:
    return open_log(production_log_dir, since="2025-07-01", until="2025-10-01")


# Exact AUC (rank sums in DuckDB) every month: worst month 0.887.
@performance(metric="roc_auc", min=0.85, data="monthly_log")
def test_auc_every_month(): ...


# Calibration every month: worst ECE 0.029 (in the faulty third quarter).
@performance(metric="ece", max=0.05, data="monthly_log")
def test_calibration_every_month(): ...


# After the fix the approval rates of women and men are within 5 points every month
# (measured 0.010 at worst, upper 95 % bound 0.029).
@fairness(max_disparity=0.05, sensitive="sex", confidence=0.95, data="log_since_fix")
def test_approval_rates_by_sex_since_the_fix(): ...


# Error rates of every sex x race subgroup in the first half: measured 0.024 (upper 0.050).
@fairness(
    metric="equalized_odds_difference",
    max_disparity=0.1,
    sensitive=["sex", "race"],
    intersectional=True,
    confidence=0.95,
    data="first_half",
)
def test_error_rates_by_subgroup_first_half(): ...


# The applicants of the third quarter look like those of the first half (PSI 0.0006);
# the scores are left out: the faulty release moved them, which the fairness gates judge.
@drift(reference="first_half", max_psi=0.1, scores=False, data="third_quarter")
def test_applicants_stable_in_third_quarter(): ...
