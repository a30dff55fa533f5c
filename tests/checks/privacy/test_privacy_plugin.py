"""@privacy through pytest: members from a fixture, the missing-fixture ERROR, and no raw
personal identifier in the terminal output or the JUnit file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import sklearn.linear_model  # noqa: F401  (loaded once here: in-process pytester runs reuse it)

RAW = ["jane.roe@example.org", "4111 1111 1111 1111", "078-05-1120", "+44 20 7946 0958"]

CONFTEST = """
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from pytest_modelguard import Dataset

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 4))
Y = (X[:, 0] + RNG.normal(size=400) > 0).astype(int)

@pytest.fixture(scope="session")
def model():
    return LogisticRegression().fit(X[:200], Y[:200])

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(X[200:], Y[200:], name="holdout")

@pytest.fixture(scope="session")
def train_dataset():
    return Dataset.from_arrays(X[:200], Y[:200], name="train")

@pytest.fixture(scope="session")
def first_half():
    return Dataset.from_arrays(X[:100], Y[:100], name="first half")

@pytest.fixture(scope="session")
def records():
    notes = {raw!r}
    frame = pd.DataFrame({{
        "note": ["ok", "mail " + notes[0], "card " + notes[1], "call " + notes[3]],
        "name": ["a", "b", "SSN " + notes[2], "d"],
        "y": [0, 1, 0, 1],
    }})
    return Dataset.from_pandas(frame, target="y", name="records")

@pytest.fixture(scope="session")
def people():
    frame = pd.DataFrame({{
        "age": [30, 30, 30, 41, 41, 52], "zip": ["02139"] * 3 + ["02140"] * 2 + ["02141"],
        "y": [0, 1, 0, 1, 0, 1],
    }})
    return Dataset.from_pandas(frame, target="y", name="people")
"""

TESTS = """
from pytest_modelguard import privacy

@privacy(max_mia_auc=0.9)
def test_mia(): ...

@privacy(max_mia_advantage=0.9, members="first_half")
def test_mia_named_members(): ...

@privacy(pii="forbid", data="records")
def test_pii(): ...

@privacy(pii="forbid", data="people", columns=["zip"])
def test_no_pii(): ...

@privacy(k_anonymity=2, quasi_identifiers=["age", "zip"], data="people")
def test_k_anonymity(): ...

@privacy(k_anonymity=2, quasi_identifiers=["age", "postcode"], data="people")
def test_unknown_quasi_identifier(): ...

def test_imperative(modelguard, model, dataset, train_dataset):
    verdict = modelguard.privacy(model, dataset, members=train_dataset, max_mia_auc=0.9)
    assert verdict.metric == "mia_auc"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.format(raw=RAW))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_privacy_gates_and_no_raw_value_in_any_report(project, family):
    project.makepyfile(test_gates=TESTS)
    path = project.path / "junit.xml"
    result = project.runpytest("-rA", "-vv", f"--junitxml={path}", "-o", f"junit_family={family}")
    result.assert_outcomes(passed=4, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL privacy: pii_findings must be <= 0",
            "*measured  4",
            "*found     card in 'note' (1), email in 'note' (1), phone in 'note' (1), ssn in 'name' (1)",
            "*e.g.      row 1 of 'note': email j***@e***.org*",
            "*model output not scanned: the model does not run on this data",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*quasi-identifier column(s) 'postcode' not in dataset 'people'*",
            "*= modelguard =*",
            "PASS   test_gates.py::test_imperative  privacy.mia_auc = 0.*, required <= 0.9 (n=400)",
            "FAIL   test_gates.py::test_k_anonymity  privacy.k_anonymity = 1, required >= 2 (n=6)",
            "PASS   test_gates.py::test_mia  privacy.mia_auc = 0.*, required <= 0.9 (n=400)",
            "PASS   test_gates.py::test_mia_named_members  privacy.mia_advantage = 0.* (n=200)",
            "PASS   test_gates.py::test_no_pii  privacy.pii_findings = 0, required <= 0 (n=6)",
            "FAIL   test_gates.py::test_pii  privacy.pii_findings = 4, required <= 0 (n=4)",
            "ERROR  test_gates.py::test_unknown_quasi_identifier  privacy.k_anonymity: *",
        ]
    )
    output = result.stdout.str() + result.stderr.str()
    junit = path.read_text()
    assert "modelguard.privacy.pii_findings.value" in junit
    leaked = [raw for raw in RAW if raw in output or raw in junit]
    assert not leaked, f"raw identifiers in a report: {leaked}"
    if family == "xunit1":
        cases = {case.get("name"): case for case in ET.parse(path).getroot().iter("testcase")}
        properties = {p.get("name"): p.get("value") for p in cases["test_pii"].iter("property")}
        assert properties["modelguard.privacy.pii_findings.value"] == "4.0"


def test_missing_members_fixture_is_an_error_that_says_how_to_provide_it(project):
    project.makepyfile(
        test_gates="""
from pytest_modelguard import privacy

@privacy(max_mia_auc=0.6, members="training_rows")
def test_named(): ...
"""
    )
    (project.path / "conftest.py").write_text(
        (project.path / "conftest.py").read_text().replace("def train_dataset", "def _unused")
    )
    project.makepyfile(
        test_default="""
from pytest_modelguard import privacy

@privacy(max_mia_auc=0.6)
def test_default(): ...
"""
    )
    result = project.runpytest("-rA")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@privacy: no fixture named 'train_dataset' provides the training members: define "
            "one in conftest.py, e.g. @pytest.fixture(scope='session') def train_dataset(): ..., "
            "or name another fixture with members='...' on the marker",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*no fixture named 'training_rows' provides the training members*"]
    )
