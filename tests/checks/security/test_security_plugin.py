"""@security through pytest: artifact gates without model or data, fixtures as artifacts,
the fuzz gate, and a missing artifact as an ERROR."""

from __future__ import annotations

import hashlib
import pickle

import pytest
import sklearn.linear_model  # noqa: F401  (loaded once here: in-process pytester runs reuse it)

#: fixtures after the shared model and dataset (tests/conftest.py: holdout_project)
CONFTEST = """
@pytest.fixture
def hostile_pickle():
    return {hostile!r}
"""

TESTS = """
from pytest_modelguard import security

@security(sha256={digest!r}, artifact="weights.bin")
def test_integrity(): ...

@security(sha256={digest_upper!r}, artifact="weights.bin")
def test_integrity_upper_case(): ...

@security(sha256="0" * 64, artifact="weights.bin")
def test_tampered(): ...

@security(safe_load=True, artifact="hostile_pickle")
def test_safe_load(): ...

@security(safe_load=True, artifact="models/missing.pkl")
def test_missing_artifact(): ...

@security(fuzz=True, examples=10)
def test_fuzz(): ...

def test_imperative(modelguard):
    assert modelguard.security(artifact="weights.bin", sha256={digest!r}).passed
"""


@pytest.fixture
def project(holdout_project, tmp_path) -> pytest.Pytester:
    hostile = tmp_path / "model.pkl"
    created = tmp_path / "created.txt"
    hostile.write_bytes(pickle.dumps(_Hostile(str(created))))
    pytester = holdout_project(extra=CONFTEST.format(hostile=str(hostile)))
    content = b"weights reviewed on release day"
    digest = hashlib.sha256(content).hexdigest()
    (pytester.path / "weights.bin").write_bytes(content)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_gates=TESTS.format(digest=digest, digest_upper=digest.upper()))
    pytester.created = created  # type: ignore[attr-defined]
    return pytester


class _Hostile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_security_gates_pass_fail_and_error(project):
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=4, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*artifact '*/models/missing.pkl' does not exist*relative to pytest's rootdir*",
            "*FAIL security: sha256 must be >= 1",
            "*counterexample  {'artifact': '*/weights.bin', 'expected': '000*",
            "*FAIL security: unsafe_globals must be <= 0",
            "*io.open in model.pkl @* (denied: runs code or touches files)*",
            "*= modelguard =*",
            "PASS   test_gates.py::test_fuzz  security.fuzz_failures = 0, required <= 0 (n=*)",
            "PASS   test_gates.py::test_integrity  security.sha256 = 1, required >= 1",
        ]
    )
    assert not project.created.exists()
