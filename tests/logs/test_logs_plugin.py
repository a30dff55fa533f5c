"""Prediction logs through pytest: no model fixture, markers and policy files unchanged."""

from __future__ import annotations

import pytest

from tests.logs.test_logs import credit_frame

pytest.importorskip("duckdb")

CONFTEST = """
import pytest
from pytest_modelguard import PredictionLog

ROLES = dict(y_true="y", y_score="score", sensitive=["sex", "race"], time="ts",
             features=["income", "region"])

@pytest.fixture(scope="session")
def dataset():
    return PredictionLog.from_parquet({path!r}, **ROLES)

@pytest.fixture(scope="session")
def monthly():
    return PredictionLog.from_parquet({path!r}, window="1mo", **ROLES)

@pytest.fixture(scope="session")
def reference():
    return PredictionLog.from_parquet({path!r}, until="2025-07-01", **ROLES)

@pytest.fixture(scope="session")
def last_quarter():
    return PredictionLog.from_parquet({path!r}, since="2025-10-01", **ROLES)
"""

TESTS = """
from pytest_modelguard import drift, fairness, performance, robust

@performance(metric="roc_auc", min=0.7, confidence=0.95, n_resamples=300)
def test_auc(): ...

@fairness(metric="demographic_parity_difference", max_disparity=0.2, sensitive="sex")
def test_parity_over_the_year(): ...

@fairness(metric="demographic_parity_difference", max_disparity=0.2, sensitive="sex",
          data="monthly")
def test_parity_every_month(): ...

@drift(reference="reference", max_psi=0.2, data="last_quarter")
def test_no_drift(): ...

@robust(eps=0.1)
def test_not_for_logs(): ...
"""

POLICY = """
[[requirement]]
name = "accuracy_floor"
kind = "performance"
metric = "accuracy"
min = 0.6
"""


def test_log_gates_through_pytest(pytester: pytest.Pytester, tmp_path):
    path = tmp_path / "log.parquet"
    credit_frame(n=3000, seed=2).to_parquet(path)
    pytester.makeconftest(CONFTEST.format(path=str(path)))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_log=TESTS)
    (pytester.path / "modelguard.toml").write_text(POLICY)
    report = pytester.path / "signoff"
    result = pytester.runpytest("-rA", f"--modelguard-report={report}")
    result.assert_outcomes(passed=3, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*worst of 12 windows (1mo): 2025-0[789]*",
            "*drifted   income (psi *",
            "*the data for robust is a PredictionLog*",
        ]
    )
    assert "no fixture named 'model'" not in result.stdout.str()
    page = (report / "index.html").read_text()
    assert page.count("chart-windows") == 1  # the monthly gate, drawn over time
    assert "income: reference against current (drifted" in page
