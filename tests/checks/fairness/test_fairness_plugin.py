"""@fairness through pytest: outcomes, the small-group ERROR, terminal summary and JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import sklearn.linear_model  # noqa: F401  (loaded once here: in-process pytester runs reuse it)

TESTS = """
from pytest_modelguard import fairness

@fairness(metric="demographic_parity_difference", max_disparity=0.6)
def test_parity(): ...

@fairness(metric="equalized_odds_difference", max_disparity=0.001, confidence=0.95,
          n_resamples=500)
def test_odds_too_strict(): ...

@fairness(max_disparity=0.6, min_group_size=100)
def test_small_group(): ...

def test_imperative(modelguard, model, dataset):
    verdict = modelguard.fairness(model, dataset, metric="accuracy_group_min", min=0.5)
    assert verdict.passed
"""


@pytest.fixture
def project(holdout_project) -> pytest.Pytester:
    pytester = holdout_project(groups=True)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_gates=TESTS)
    return pytester


def test_fairness_gates_pass_fail_and_error(project):
    path = project.path / "junit.xml"
    result = project.runpytest("-rA", f"--junitxml={path}", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*group 'c' has * rows, fewer than min_group_size=100*small_groups='ignore'*",
            "*FAIL fairness: equalized_odds_difference must be <= 0.001",
            "*(95% CI *",
            "*decided   upper 97.5% bound * > 0.001",
            "*formula   max(max_g TPR_g - min_g TPR_g, max_g FPR_g - min_g FPR_g)",
            "*n         300",
            "*= modelguard =*",
            "PASS   test_gates.py::test_imperative  fairness.accuracy_group_min = 0.*, required >= 0.5*",
            "FAIL   test_gates.py::test_odds_too_strict  fairness.equalized_odds_difference = *",
            "PASS   test_gates.py::test_parity  fairness.demographic_parity_difference = 0.*",
            "ERROR  test_gates.py::test_small_group  fairness.demographic_parity_difference: *",
            "4 gates: 2 pass, 1 fail, 1 error (seed *)",
        ]
    )
    cases = {case.get("name"): case for case in ET.parse(path).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_parity"].iter("property")}
    prefix = "modelguard.fairness.demographic_parity_difference"
    assert 0.0 <= float(properties[f"{prefix}.value"]) <= 0.6
    assert properties[f"{prefix}.status"] == "pass" and properties[f"{prefix}.n"] == "300"
    strict = {p.get("name"): p.get("value") for p in cases["test_odds_too_strict"].iter("property")}
    low = float(strict["modelguard.fairness.equalized_odds_difference.ci_low"])
    high = float(strict["modelguard.fairness.equalized_odds_difference.ci_high"])
    assert low < high and strict["modelguard.fairness.equalized_odds_difference.status"] == "fail"


def test_fairness_properties_in_xunit2_and_the_marker_selection(project):
    path = project.path / "junit2.xml"
    result = project.runpytest(f"--junitxml={path}", "-m", "modelguard_fairness", "-k", "parity")
    result.assert_outcomes(passed=1)
    names = {p.get("name") for p in ET.parse(path).getroot().iter("property")}
    assert (
        "test_gates.py::test_parity::modelguard.fairness.demographic_parity_difference.value"
        in names
    )


def test_a_wrong_fairness_keyword_is_an_error_naming_it(holdout_project):
    pytester = holdout_project(groups=True)
    pytester.makepyfile(
        """
        from pytest_modelguard import fairness

        @fairness(max_disparity=0.1, sensitive_column="group")
        def test_typo(): ...

        @fairness(metric="demographic_parity_difference", min_ratio=0.8)
        def test_wrong_threshold(): ...
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*unknown keyword(s) sensitive_column; accepted: metric, max_disparity, min_ratio, *",
            "*min_ratio= does not apply to demographic_parity_difference (a difference); use "
            "max_disparity=*",
        ]
    )
