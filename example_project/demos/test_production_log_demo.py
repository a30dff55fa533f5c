"""The two production-log gates that FAIL by design (run ``pytest example_project/demos``).

See ``production_log.py``: women were scored 0.12 lower from July to September, and the
applicant population drifted from October.
"""

from __future__ import annotations

import pytest
from production_log import open_log

from pytest_modelguard import PredictionLog, drift, fairness


@pytest.fixture(scope="session")
def first_half(production_log_dir: str) -> PredictionLog:
    return open_log(production_log_dir, until="2025-07-01")


@pytest.fixture(scope="session")
def fourth_quarter(production_log_dir: str) -> PredictionLog:
    return open_log(production_log_dir, since="2025-10-01")


# FAILS: measured 0.092 in September (upper 95 % bound 0.112), July and August alike;
# the other months stay under 0.01. The report draws every month against the threshold.
@fairness(max_disparity=0.05, sensitive="sex", confidence=0.95, data="monthly_log")
def test_approval_rates_by_sex_every_month(): ...


# FAILS naming income (PSI 0.244); region, age, debt ratio and the scores stay under 0.2.
@drift(reference="first_half", max_psi=0.2, data="fourth_quarter")
def test_applicants_stable_in_fourth_quarter(): ...
