"""The compliance gate: clauses evidenced by the session's other verdicts, serially and under xdist."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest

from pytest_modelguard import Verdict, checks
from tests.plugin.test_plugin import CONFTEST, suite_properties

GATES = """
import pytest
from pytest_modelguard import compliance, fairness, performance, robust, security

@compliance(framework="eu-ai-act", scope=["art15"])
def test_article_15(): ...

@compliance(framework="eu-ai-act", scope=["art10"])
def test_article_10(): ...

@performance(metric="accuracy", min=0.7)
def test_accuracy(): ...

@security(sha256="{digest}", artifact="weights.bin")
def test_artifact(): ...

@fairness(max_disparity=0.9, sensitive="group")
def test_parity(): ...
"""

ROBUST = """

@robust(perturbation="feature_jitter", eps=0.01, max_flip_rate=0.5, examples=5)
def test_jitter(): ...
"""


@pytest.fixture
def project(holdout_project, keras_binary_path) -> pytest.Pytester:
    pytester = holdout_project(
        groups=True, extra=CONFTEST.format(keras_path=str(keras_binary_path))
    )
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    weights = pytester.path / "weights.bin"
    weights.write_bytes(b"reviewed weights")
    pytester.digest = hashlib.sha256(b"reviewed weights").hexdigest()
    return pytester


def test_without_robustness_evidence_article_15_fails_and_runs_last(project):
    project.makepyfile(test_gates=GATES.format(digest=project.digest))
    result = project.runpytest("-v")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_gates.py::test_accuracy PASSED*",
            "test_gates.py::test_article_15 FAILED*",
            "test_gates.py::test_article_10 PASSED*",
            "*FAIL compliance: eu-ai-act must be <= 0",
            "*Article 15: accuracy, robustness and cybersecurity: no robust gate ran; evidence it with *@robust(eps=...)*",
        ]
    )


def test_with_robustness_evidence_every_clause_in_scope_passes(project):
    project.makepyfile(test_gates=GATES.format(digest=project.digest) + ROBUST)
    result, xml = _run(project)
    result.assert_outcomes(passed=6)
    assert (
        suite_properties(xml)[
            "test_gates.py::test_article_15::modelguard.compliance.eu-ai-act.status"
        ]
        == "pass"
    )


def test_xdist_gives_the_serial_verdicts(project):
    pytest.importorskip("xdist")
    project.makepyfile(
        test_gates=GATES.format(digest=project.digest) + ROBUST.replace("0.5", "0.0")
    )
    serial = project.runpytest_subprocess("--junitxml=serial.xml")
    parallel = project.runpytest_subprocess("-n", "2", "--junitxml=parallel.xml")
    serial.assert_outcomes(passed=4, failed=2)
    parallel.assert_outcomes(passed=4, failed=2)
    serial_xml = suite_properties(ET.parse(project.path / "serial.xml").getroot())
    parallel_xml = suite_properties(ET.parse(project.path / "parallel.xml").getroot())
    key = "test_gates.py::test_article_15::modelguard.compliance.eu-ai-act.status"
    assert serial_xml[key] == parallel_xml[key] == "fail"
    assert {k: v for k, v in serial_xml.items() if "compliance" in k} == {
        k: v for k, v in parallel_xml.items() if "compliance" in k
    }


def _run(project):
    path = project.path / "junit.xml"
    result = project.runpytest(f"--junitxml={path}")
    return result, ET.parse(path).getroot()


def gate(requirement: str, status: str) -> tuple[str, Verdict]:
    verdict = Verdict(requirement, "m", 1.0, 1.0, ">=", status)
    return f"test_{requirement}.py::test_it", verdict


def test_the_matrix_names_tests_and_reasons():
    verdict = checks.compliance(
        framework="nist-ai-rmf",
        scope=["measure-2.11", "measure-2.10", "measure-2.3"],
        session_verdicts=[
            gate("fairness", "pass"),
            gate("privacy", "fail"),
            gate("performance", "waived"),
        ],
    )
    assert verdict.status == "fail" and verdict.value == 2.0 and verdict.n == 3
    rows = {row["clause"]: row for row in verdict.evidence["matrix"]}
    assert rows["measure-2.11"]["status"] == "pass"
    assert rows["measure-2.11"]["tests"] == {"fairness": ["test_fairness.py::test_it"]}
    assert rows["measure-2.10"]["reason"] == "privacy gate(s) failed: test_privacy.py::test_it"
    # a waiver accepts a shortfall; it does not show the requirement held
    assert rows["measure-2.3"]["status"] == "fail"
    assert rows["measure-2.3"]["reason"] == (
        "performance gate(s) fell short and are waived (a waiver is not evidence): "
        "test_performance.py::test_it"
    )
    assert verdict.evidence["lacking"] == ["measure-2.10", "measure-2.3"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"framework": "iso-42001"}, "framework='iso-42001': choose one of eu-ai-act, nist-ai-rmf"),
        (
            {"framework": "eu-ai-act", "scope": ["art99"]},
            r"unknown clause\(s\) \['art99'\] of eu-ai-act",
        ),
    ],
)
def test_bad_frameworks_and_clauses_are_errors(spec, message):
    from pytest_modelguard import GateError

    with pytest.raises(GateError, match=message):
        checks.compliance(**spec)
