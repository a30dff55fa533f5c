"""LiRA and the DP audit through pytest: the train_model fixture, trainer=, errors."""

from __future__ import annotations

import json

import pytest

CONFTEST = """
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from pytest_modelguard import Dataset

X, Y = load_digits(return_X_y=True)
X = X / 16.0

def fit(subset):
    return LogisticRegression(max_iter=200).fit(np.asarray(subset.features), subset.target)

@pytest.fixture(scope="session")
def train_dataset():
    return Dataset.from_arrays(X[:300], Y[:300], name="train")

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(X[1000:1400], Y[1000:1400], name="holdout")

@pytest.fixture(scope="session")
def model(train_dataset):
    return fit(train_dataset)

@pytest.fixture(scope="session")
def train_model():
    return fit
"""

TESTS = """
from pytest_modelguard import privacy

@privacy(max_tpr_at_fpr={0.01: 0.5}, shadow_models=2)
def test_lira_with_the_default_fixture(): ...

@privacy(max_tpr_at_fpr={0.01: 0.5}, trainer="no_such_fixture")
def test_lira_with_a_missing_trainer(): ...

@privacy(claimed_epsilon=0.2, delta=1e-5, canaries=300)
def test_audit_of_a_model_trained_without_dp(): ...

@privacy(claimed_epsilon=0.2, max_mia_auc=0.6)
def test_two_kinds(): ...
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_evidence=TESTS)
    return pytester


def test_lira_and_the_audit_through_pytest(project):
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--modelguard-report=out")
    # plain logistic regression claims eps=0.2 but remembers its wrong-label canaries
    result.assert_outcomes(passed=1, failed=1, errors=2)
    text = result.stdout.str()
    assert "FAIL   test_evidence.py::test_audit_of_a_model_trained_without_dp" in text
    report = json.loads((project.path / "out" / "modelguard.json").read_text())
    (lira,) = [v for v in report["verdicts"] if v["nodeid"].endswith("default_fixture")]
    assert lira["evidence"]["trainings"] == 2  # the train_model fixture trained the shadows
    assert "LiRA with shadow models" in lira["evidence"]["bound"]
    assert "trainer= is a str" in text  # a name that is no fixture is not a function
    assert "a privacy gate checks one thing" in text
