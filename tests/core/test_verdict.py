"""core/verdict.py: the one message format, status handling and the JSON/JUnit forms."""

from __future__ import annotations

import json

import pytest

from pytest_modelguard.core.verdict import GateError, GateFailure, Verdict


def recall(status="fail", **extra) -> Verdict:
    fields = {"n": 360, "ci": (0.74, 0.82), "confidence": 0.95, "formula": "tp / (tp + fn)"}
    return Verdict("performance", "recall", 0.78125, 0.8, ">=", status, **{**fields, **extra})


def test_the_message_states_measure_requirement_interval_and_decided_bound():
    verdict = recall(evidence={"decided_on": "lower"})
    assert verdict.message.splitlines() == [
        "FAIL performance: recall must be >= 0.8",
        "  measured  0.7812  (95% CI [0.74, 0.82])",
        "  decided   lower 97.5% bound 0.74 < 0.8",
        "  formula   tp / (tp + fn)",
        "  n         360",
    ]
    assert (
        verdict.summary() == "performance.recall = 0.7812 [CI 0.74, 0.82], required >= 0.8 (n=360)"
    )


def test_raise_for_status_fails_on_a_shortfall_errors_on_an_error_and_passes_otherwise():
    with pytest.raises(GateFailure) as failure:
        recall().raise_for_status()
    assert failure.value.verdict.metric == "recall"
    with pytest.raises(GateError, match="no rows"):
        Verdict.error("performance", "recall", "no rows").raise_for_status()
    passing = recall("pass")
    assert passing.raise_for_status() is passing and passing.passed
    assert recall("waived").passed and not recall("fail").passed


def test_a_verdict_survives_json():
    verdict = recall(evidence={"decided_on": "lower", "per_class": {"a": 1.0}})
    copy = Verdict.from_json(json.loads(json.dumps(verdict.to_json())))
    assert copy == verdict
    assert isinstance(copy.ci, tuple)


def test_junit_properties_name_a_repeated_metric_by_occurrence_and_keep_float_precision():
    first = dict(recall().properties())
    second = dict(recall().properties(occurrence=2))
    assert first["modelguard.performance.recall.value"] == "0.78125"
    assert first["modelguard.performance.recall.ci_low"] == "0.74"
    assert first["modelguard.performance.recall.status"] == "fail"
    assert "modelguard.performance.recall[2].value" in second
    error = dict(Verdict.error("fairness", "dp", "why").properties())
    assert error == {"modelguard.fairness.dp.status": "error"}
