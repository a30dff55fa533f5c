"""Text gates through pytest: markers with identity swaps (templates when no dataset
fixture exists), WEAT on an encoder fixture, token attributions, and their errors."""

from __future__ import annotations

import pytest

CONFTEST = """
import numpy as np
import pytest
from pytest_modelguard import Dataset, Encoder

def name_biased(texts):
    return np.array([0.3 if ("Jamal" in t or "Lakisha" in t) else 0.6 for t in texts])

@pytest.fixture(scope="session")
def model():
    return name_biased

@pytest.fixture(scope="session")
def fair():
    return lambda texts: np.array([0.6 + 0.1 * ("happy" in t) for t in texts])

@pytest.fixture(scope="session")
def encoder():
    rng = np.random.default_rng(0)
    table = {}
    def encode(texts):
        return np.stack([table.setdefault(t, rng.normal(size=8)) for t in texts])
    return Encoder(encode, name="random-table")

@pytest.fixture(scope="session")
def plain_texts():
    return Dataset.from_texts(["the food was good", "an awful trip"] * 20, [1, 0] * 20)
"""

TESTS = """
from pytest_modelguard import explainability, fairness, robust

NAMES = ("european_american_names", "african_american_names")

@fairness(counterfactual="identity", groups=NAMES, max_gap=0.02)
def test_names_biased(): ...

@fairness(counterfactual="identity", groups=NAMES, max_gap=0.02, model="fair")
def test_names_fair(): ...

@fairness(counterfactual="identity", groups=NAMES, max_gap=0.02, data="plain_texts")
def test_nothing_to_swap(): ...

@fairness(association="weat", targets=("career", "family"), attributes=("male", "female"),
          max_effect_size=1.9, model="encoder", n_resamples=500)
def test_weat_random_encoder(): ...

@fairness(association="weat", targets=("career", "family"), attributes=("male", "female"),
          max_effect_size=0.3, model="encoder", sensitive="sex")
def test_weat_wrong_keyword(): ...
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_text=TESTS)
    return pytester


def test_text_gates_through_pytest(project: pytest.Pytester):
    result = project.runpytest("-rA", "--junitxml=junit.xml")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 and outcomes.get("failed") == 1, result.stdout.str()
    assert outcomes.get("errors") == 2, result.stdout.str()
    out = result.stdout.str()
    assert "identity_swap_gap" in out and "weat_effect_size" in out
    assert "nothing was swapped" in out
    assert "sensitive= does not apply" in out
    junit = (project.path / "junit.xml").read_text()
    assert "modelguard." in junit and "identity_swap_gap" in junit
