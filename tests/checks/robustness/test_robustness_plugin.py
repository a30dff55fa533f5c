"""@robust through pytest: outcomes, failure messages, errors, JUnit, reruns and xdist."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sklearn.tree  # noqa: F401  (loaded once here: in-process pytester runs reuse it)

keras = pytest.importorskip("keras")

CONFTEST = """
import keras
import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier
from pytest_modelguard import Dataset

DATA = np.load({data!r})

@pytest.fixture(scope="session")
def model():
    return keras.models.load_model({model!r})

@pytest.fixture(scope="session")
def tree():
    return DecisionTreeClassifier(max_depth=6, random_state=0).fit(DATA["x_train"], DATA["y_train"])

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(DATA["x"], DATA["y"], kind="image", bounds=(0, 1), name="digits")

@pytest.fixture(scope="session")
def unbounded():
    return Dataset.from_arrays(DATA["x"], DATA["y"], kind="image", name="raw digits")
"""

TESTS = """
from pytest_modelguard import robust

@robust(eps=0.01, attack="pgd", steps=5, min_accuracy=0.5)
def test_small_eps(): ...

@robust(eps=[0.05, 0.2], attack="pgd", steps=5, samples=80)
def test_curve_too_strict(): ...

@robust(eps=1.0, attack="boundary", steps=20, samples=20, max_accuracy_drop=0.99, model="tree")
def test_tree_boundary(): ...

@robust(eps=0.03, attack="pgd", model="tree")
def test_pgd_on_tree(): ...

@robust(eps=0.03, attack="pgd", perturbation="gaussian")
def test_mixed_modes(): ...

@robust(eps=8)
def test_eps_in_pixels(): ...

@robust(eps=0.03, data="unbounded")
def test_no_bounds(): ...

def test_imperative(modelguard, model, dataset):
    verdict = modelguard.robust(model, dataset, eps=0.01, attack="pgd", steps=5, samples=50, min_accuracy=0.5)
    assert verdict.passed and verdict.n == 50
"""


@pytest.fixture(scope="session")
def digits_files(digits, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small digits classifier with a linear last layer, saved once, and its data."""
    keras.utils.set_random_seed(6)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(digits["x_train"], digits["y_train"], epochs=10, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("robust")
    np.savez(
        folder / "digits.npz",
        x=digits["x"][:150],
        y=digits["y"][:150],
        x_train=digits["x_train"],
        y_train=digits["y_train"],
    )
    model.save(folder / "digits.keras")
    return {"data": str(folder / "digits.npz"), "model": str(folder / "digits.keras")}


@pytest.fixture
def project(pytester: pytest.Pytester, digits_files) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.format(**digits_files))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_gates=TESTS)
    return pytester


def junit_properties(path) -> dict[str, dict[str, str]]:
    cases = ET.parse(path).getroot().iter("testcase")
    return {
        c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases
    }


def test_robust_gates_pass_fail_and_error(project):
    path = project.path / "junit.xml"
    args = ["-rA", f"--junitxml={path}", "-o", "junit_family=xunit1", "--modelguard-seed=5"]
    result = project.runpytest(*args)
    result.assert_outcomes(passed=3, failed=1, errors=4)
    result.stdout.fnmatch_lines_random(
        [
            "*FAIL robust: accuracy_drop must be <= 0.05",
            "*formula   clean accuracy - robust accuracy = rows the attack broke / n",
            "*n         80",
            "*worst     eps=0.2",
            "*attack    pgd (linf, steps=5, restarts=1; given by attack=) at eps=0.2: accuracy * "
            "clean -> * under attack",
            "*@robust: attack='pgd' needs gradients, but DecisionTreeClassifier has none*"
            "attack='hopskipjump' or attack='boundary'*",
            "*@robust: attack= does not apply to a perturbation gate*",
            "*@robust: eps=8 is larger than the input range*",
            "*@robust: image dataset 'raw digits' has no bounds*",
            "PASS   test_gates.py::test_small_eps  robust.robust_accuracy = *, required >= 0.5 (n=150) [[]pgd, linf]",
            "PASS   test_gates.py::test_tree_boundary  robust.accuracy_drop = *, required <= 0.99 "
            "(n=20) [[]boundary, l2]",
            "FAIL   test_gates.py::test_curve_too_strict  robust.accuracy_drop = *, required <= 0.05 "
            "(n=80) [[]pgd, linf]",
        ]
    )
    properties = junit_properties(path)
    small = properties["test_small_eps"]
    prefix = "modelguard.robust.robust_accuracy"
    assert small[f"{prefix}.status"] == "pass" and small[f"{prefix}.n"] == "150"
    low, value, high = (float(small[f"{prefix}.{k}"]) for k in ("ci_low", "value", "ci_high"))
    assert 0.5 <= low <= value <= high <= 1.0

    rerun = project.path / "rerun.xml"
    project.runpytest(f"--junitxml={rerun}", "-o", "junit_family=xunit1", "--modelguard-seed=5")
    assert junit_properties(rerun) == properties


def test_xdist_workers_reproduce_the_serial_verdicts(project):
    project.makepyfile(
        test_gates="""
from pytest_modelguard import robust

@robust(eps=0.03, attack="pgd", steps=5, samples=60, max_accuracy_drop=0.99)
def test_a(): ...

@robust(eps=[0.02, 0.05], attack="pgd", steps=5, samples=60, max_accuracy_drop=0.99)
def test_b(): ...
"""
    )
    serial, parallel = project.path / "serial.xml", project.path / "parallel.xml"
    options = ["-o", "junit_family=xunit1", "--modelguard-seed=9"]
    project.runpytest(f"--junitxml={serial}", *options).assert_outcomes(passed=2)
    project.runpytest_subprocess("-n", "2", f"--junitxml={parallel}", *options).assert_outcomes(
        passed=2
    )
    assert junit_properties(parallel) == junit_properties(serial)
