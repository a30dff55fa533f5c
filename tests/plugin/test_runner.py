"""A verdict is never lost: what happens after a check decided cannot replace it, and an
exception nobody anticipated is an ERROR verdict recorded in the summary, JUnit and report."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sklearn.linear_model  # noqa: F401  (in-process pytester runs must find it imported)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from pytest_modelguard.adapters import adapt

CONFTEST = """
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from pytest_modelguard import Dataset

DATA = np.load({holdout!r})

@pytest.fixture(scope="session")
def model():
    # the lambda makes the pipeline unpicklable
    identity = FunctionTransformer(lambda x: x)
    return make_pipeline(identity, LogisticRegression()).fit(DATA["x"][:300], DATA["y"][:300])

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(DATA["x"][300:], DATA["y"][300:], name="holdout")

@pytest.fixture(scope="session")
def misaligned():
    return Dataset.from_arrays(DATA["x"][300:], DATA["y"][301:])

class Vendor:
    '''A model served by an SDK whose adapter hook has a bug.'''

@pytest.fixture(scope="session")
def vendor():
    return Vendor()

def pytest_modelguard_adapt(model):
    if isinstance(model, Vendor):
        raise RuntimeError("vendor SDK session expired")
"""

GATES = """
from pytest_modelguard import compliance, performance

@performance(metric="accuracy", min=0.999)
def test_unpicklable_model_falls_short(): ...

@performance(metric="accuracy", min=0.5, model="vendor")
def test_adapter_bug(): ...

@performance(metric="accuracy", min=0.5, data="misaligned")
def test_invalid_dataset(): ...

@compliance(framework="nist-ai-rmf", scope=["measure-2.3", "measure-2.11"])
def test_compliance(): ...
"""


def test_no_verdict_is_lost_in_the_summary_junit_or_report(pytester, holdout_path):
    """One run serves four cases: an unpicklable model that falls short, an adapter hook
    that raises, an invalid Dataset from a fixture, and the compliance gate judging them."""
    pytester.makeconftest(CONFTEST.format(holdout=str(holdout_path)))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_gates=GATES)
    result = pytester.runpytest(
        "--junitxml=junit.xml", "-o", "junit_family=xunit2", "--modelguard-report=out"
    )
    report = json.loads((pytester.path / "out" / "modelguard.json").read_text())
    verdicts = {v["nodeid"].split("::")[-1]: v for v in report["verdicts"]}
    properties = {
        p.get("name"): p.get("value")
        for p in ET.parse(pytester.path / "junit.xml").getroot().iter("property")
    }
    run = result, verdicts, properties
    _a_fail_on_an_unpicklable_model_stays_a_fail(run)
    _an_unexpected_exception_in_a_check_is_an_error_verdict(run)
    _an_invalid_dataset_fixture_is_a_short_error(run)
    _compliance_names_the_clauses_errored_failed_or_missing_gates_leave(run)
    result.assert_outcomes(failed=2, errors=2)


def _a_fail_on_an_unpicklable_model_stays_a_fail(run):
    result, verdicts, properties = run
    result.stdout.fnmatch_lines(
        [
            "*FAIL performance: accuracy must be >= 0.999*",
            "FAIL   test_gates.py::test_unpicklable_model_falls_short  performance.accuracy = "
            "0.*, required >= 0.999 (n=*)",
        ],
        consecutive=False,
    )
    verdict = verdicts["test_unpicklable_model_falls_short"]
    assert verdict["status"] == "fail"
    model = verdict["evidence"]["subjects"]["model"]
    assert model["name"] == "Pipeline" and len(model["fingerprint"]) == 64
    assert model["fingerprint_kind"] == "pickle-names-sha256"
    status = (
        "test_gates.py::test_unpicklable_model_falls_short::modelguard.performance.accuracy.status"
    )
    assert properties[status] == "fail"


def _an_unexpected_exception_in_a_check_is_an_error_verdict(run):
    result, verdicts, properties = run
    result.stdout.fnmatch_lines(
        [
            "ERROR  test_gates.py::test_adapter_bug  performance.accuracy: unexpected "
            "RuntimeError in the performance check at conftest.py:*: vendor SDK session expired*",
        ],
        consecutive=False,
    )
    verdict = verdicts["test_adapter_bug"]
    assert verdict["status"] == "error"
    assert "vendor SDK session expired" in verdict["evidence"]["error"]
    assert "Traceback" in verdict["evidence"]["traceback"]
    assert verdict["evidence"]["subjects"]["model"]["fingerprint"] is None
    status = "test_gates.py::test_adapter_bug::modelguard.performance.accuracy.status"
    assert properties[status] == "error"


def _an_invalid_dataset_fixture_is_a_short_error(run):
    result, verdicts, _ = run
    result.stdout.fnmatch_lines(
        [
            "@performance: the fixture 'misaligned' (the dataset) raised ValueError at "
            "conftest.py:*: features have 300 rows but target has 299: they must be aligned "
            "row for row",
        ],
        consecutive=False,
    )
    section = result.stdout.str().split("ERROR at setup of test_invalid_dataset")[1]
    section = section.split("=====")[0]
    assert "pytest_modelguard" not in section and "def __init__" not in section
    assert len(section.strip().splitlines()) <= 2
    assert verdicts["test_invalid_dataset"]["status"] == "error"


def _compliance_names_the_clauses_errored_failed_or_missing_gates_leave(run):
    result, verdicts, _ = run
    verdict = verdicts["test_compliance"]
    assert verdict["status"] == "fail" and verdict["evidence"]["lacking"] == [
        "measure-2.3",
        "measure-2.11",
    ]
    rows = {row["clause"]: row for row in verdict["evidence"]["matrix"]}
    assert (
        "performance gate(s) failed: test_gates.py::test_unpicklable"
        in rows["measure-2.3"]["reason"]
    )
    assert (
        "performance gate(s) could not be evaluated: test_gates.py::test_adapter_bug"
        in rows["measure-2.3"]["reason"]
    )
    assert rows["measure-2.11"]["reason"] == "no fairness gate ran"
    result.stdout.fnmatch_lines(
        [
            "FAIL   test_gates.py::test_compliance  compliance.nist-ai-rmf = 2, required <= 0 "
            "(n=2); lacking: measure-2.3, measure-2.11"
        ],
        consecutive=False,
    )


# -- fingerprints fall back, and say which kind they are -------------------------------------


def _fitted(transformer):
    x = np.random.default_rng(0).normal(size=(40, 2))
    return make_pipeline(transformer, LogisticRegression()).fit(x, x[:, 0] > 0)


def test_a_picklable_model_is_fingerprinted_by_its_pickle():
    identity = adapt(_fitted(FunctionTransformer(np.abs))).identity()
    assert identity["fingerprint_kind"] == "pickle-sha256" and len(identity["fingerprint"]) == 64


def test_local_functions_are_fingerprinted_by_name_and_the_weights_still_count():
    first = adapt(_fitted(FunctionTransformer(lambda x: x))).identity()
    again = adapt(_fitted(FunctionTransformer(lambda x: x))).identity()
    assert first["fingerprint_kind"] == "pickle-names-sha256"
    assert first["fingerprint"] == again["fingerprint"]  # same fit, same name
    x = np.random.default_rng(1).normal(size=(40, 2))
    refit = make_pipeline(FunctionTransformer(lambda x: x), LogisticRegression()).fit(
        x, x[:, 1] > 0
    )
    assert adapt(refit).identity()["fingerprint"] != first["fingerprint"]


def test_a_model_nothing_can_pickle_falls_back_to_its_repr():
    lock = threading.Lock()
    model = _fitted(FunctionTransformer(lambda x, lock: x, kw_args={"lock": lock}))
    identity = adapt(model).identity()
    assert identity["fingerprint_kind"] == "repr-sha256"
    assert "pickle-sha256 failed (TypeError" in identity["fingerprint_note"]
    other = _fitted(FunctionTransformer(lambda x, lock: x, kw_args={"lock": threading.Lock()}))
    assert adapt(other).identity()["fingerprint"] == identity["fingerprint"]  # no addresses


SKIPPING = """
import pytest
from pytest_modelguard import Dataset, PredictionLog, performance

@pytest.fixture(scope="session")
def model():
    pytest.importorskip("a_framework_that_is_not_installed")

@pytest.fixture(scope="session")
def dataset():
    import numpy as np
    return Dataset.from_arrays(np.zeros((40, 2)), np.arange(40) % 2)

@pytest.fixture(scope="session")
def broken_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "part.parquet"
    path.write_bytes(b"PAR1 truncated")
    return PredictionLog.from_parquet(str(path), y_true="y", y_pred="p")

@performance(metric="accuracy", min=0.8)
def test_model_fixture_skips(): ...

@performance(metric="accuracy", min=0.8, data="broken_log")
def test_log_cannot_be_read(): ...
"""


def test_a_skipping_fixture_or_unreadable_log_is_an_error_not_a_vanished_gate(pytester):
    """A gate whose subject skips cannot be evaluated: an ERROR, never a silent skip. A log
    that cannot be read is reported as such, not as a missing model fixture."""
    pytest.importorskip("duckdb")
    pytester.makepyfile(test_gates=SKIPPING)
    # in a subprocess: run in this process, the nested session left DuckDB (2.0.1) in a
    # state where the next DuckDB query of this process aborted it (SIGABRT), killing an
    # xdist worker mid-suite (tests/core/test_evidence.py's log fixture, when it came next)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*the fixture 'model' (the model) skipped (could not import "
            "'a_framework_that_is_not_installed'*",
            "*broken_log*",
        ]
    )
    assert "no fixture named 'model'" not in result.stdout.str()
