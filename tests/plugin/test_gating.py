"""Baselines, waivers and the report directory, wired into real pytest runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

CONFTEST = """
import numpy as np
import pytest
from pytest_modelguard import Dataset, Predictions

@pytest.fixture(scope="session")
def dataset():
    y = np.array([0, 1] * 100)
    return Dataset.from_arrays(np.zeros((200, 1)), y)

@pytest.fixture(scope="session")
def model():
    return Predictions(y_pred=np.load("predictions.npy"))
"""

TESTS = """
from pytest_modelguard import performance

@performance(metric="accuracy", min=0.5, max_regression=0.05)
def test_accuracy(): ...

@performance(metric="recall", min=0.5)
def test_recall(): ...
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gates=TESTS)
    predict(pytester, wrong=10)
    return pytester


def predict(pytester: pytest.Pytester, *, wrong: int) -> None:
    """Predictions that get ``wrong`` of the 200 rows wrong (accuracy 1 - wrong / 200)."""
    y = np.array([0, 1] * 100)
    y[:wrong] = 1 - y[:wrong]
    np.save(pytester.path / "predictions.npy", y)


def test_a_regression_beyond_the_tolerance_fails_with_both_values(project):
    project.runpytest("--modelguard-save-baseline=base.json").assert_outcomes(passed=2)
    saved = json.loads((project.path / "base.json").read_text())
    assert saved["schema_version"] == 1 and len(saved["verdicts"]) == 2
    predict(project, wrong=30)  # accuracy 0.95 -> 0.85: still above min=0.5, but 0.10 worse
    result = project.runpytest("--modelguard-baseline=base.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*regressed accuracy was 0.95 at baseline, now 0.85*",
            "FAIL   test_gates.py::test_accuracy  performance.accuracy = 0.85, required >= 0.5 (n=200) vs baseline 0.95 (-0.1) REGRESSED",
            "PASS   test_gates.py::test_recall  performance.recall = * vs baseline *",
        ]
    )


def test_the_ini_tolerance_applies_to_gates_without_their_own(project):
    project.runpytest("--modelguard-save-baseline=base.json").assert_outcomes(passed=2)
    predict(project, wrong=30)
    project.makeini("[pytest]\nmodelguard_max_regression = 0.2\n")
    project.runpytest("--modelguard-baseline=base.json").assert_outcomes(passed=1, failed=1)
    project.makeini("[pytest]\nmodelguard_max_regression = 0.0\n")
    project.runpytest("--modelguard-baseline=base.json").assert_outcomes(failed=2)


def test_new_and_gone_gates_fail_the_run_by_name(project):
    project.runpytest("--modelguard-save-baseline=base.json").assert_outcomes(passed=2)
    project.makepyfile(
        test_gates=TESTS.replace("test_recall", "test_f1").replace('"recall"', '"f1"')
    )
    result = project.runpytest("--modelguard-baseline=base.json")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str()
    assert "test_gates.py::test_f1" in text and "test_gates.py::test_recall" in text


def test_an_unreadable_baseline_stops_the_run(project):
    (project.path / "base.json").write_text("{not json")
    result = project.runpytest("--modelguard-baseline=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "base.json" in result.stderr.str()


WAIVER = """
[[waiver]]
test = "test_gates.py::test_recall"
reason = "recall on the new market is being fixed in MODEL-42"
owner = "credit-risk-team"
expires = {expires}
"""


def test_a_waived_shortfall_is_reported_as_waived(project):
    predict(project, wrong=150)  # accuracy 0.25, recall 0.25: both fall short
    project.makeini("[pytest]\nmodelguard_waivers = waivers.toml\n")
    (project.path / "waivers.toml").write_text(WAIVER.format(expires="2999-12-31"))
    result = project.runpytest("--junitxml=junit.xml", "-o", "junit_family=xunit2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["WAIVED test_gates.py::test_recall  performance.recall = 0.25, required >= 0.5*"]
    )
    assert 'value="waived"' in (project.path / "junit.xml").read_text()


def test_expired_and_idle_waivers_fail_the_run(project):
    project.makeini("[pytest]\nmodelguard_waivers = waivers.toml\n")
    (project.path / "waivers.toml").write_text(WAIVER.format(expires="2020-01-31"))
    expired = project.runpytest()
    expired.assert_outcomes(passed=2)
    assert expired.ret == pytest.ExitCode.TESTS_FAILED
    assert "expired on 2020-01-31" in expired.stdout.str()
    (project.path / "waivers.toml").write_text(WAIVER.format(expires="2999-12-31"))
    idle = project.runpytest()  # every gate of test_recall passes: the waiver waives nothing
    assert idle.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_gates.py::test_recall" in idle.stdout.str()


def test_a_waiver_file_with_a_bad_entry_stops_the_run(project):
    project.makeini("[pytest]\nmodelguard_waivers = waivers.toml\n")
    (project.path / "waivers.toml").write_text(WAIVER.format(expires='"next spring"'))
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "waivers.toml" in result.stderr.str() and "expires" in result.stderr.str()


def test_a_report_directory_that_cannot_be_created_is_a_usage_error(project):
    (project.path / "blocker").write_text("a file, not a directory")
    result = project.runpytest("--modelguard-report=blocker/signoff")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--modelguard-report=*blocker/signoff: cannot create it*"])


def test_the_report_is_written_by_the_controller_under_xdist(project):
    pytest.importorskip("xdist")
    serial = project.runpytest_subprocess("--modelguard-report=serial")
    parallel = project.runpytest_subprocess("-n", "2", "--modelguard-report=parallel")
    serial.assert_outcomes(passed=2)
    parallel.assert_outcomes(passed=2)

    def verdicts(directory):
        record = json.loads((project.path / directory / "modelguard.json").read_text())
        return [
            {k: v for k, v in verdict.items() if k != "duration"} for verdict in record["verdicts"]
        ]

    assert verdicts("serial") == verdicts("parallel")
    assert (project.path / "parallel" / "index.html").exists()
