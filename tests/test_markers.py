"""Marker factories and the checks they stand for stay one interface."""

from __future__ import annotations

import inspect

import pytest

from pytest_modelguard import checks, markers


@pytest.mark.parametrize("requirement", sorted(markers.GATES))
def test_every_marker_keyword_is_a_check_keyword_with_the_same_default(requirement):
    marker = inspect.signature(markers.GATES[requirement]).parameters
    check = inspect.signature(checks.REQUIREMENTS[requirement]).parameters
    marker_keywords = {
        name: p.default
        for name, p in marker.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in markers.PLUGIN_KEYWORDS
    }
    check_keywords = {
        name: p.default
        for name, p in check.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in markers.CONTEXT_KEYWORDS
    }
    assert marker_keywords == check_keywords


def test_a_mark_carries_only_what_was_given():
    mark = markers.performance(metric="f1", min=0.8, per_class=False, typo=1).mark
    assert mark.name == "performance"
    assert mark.kwargs == {"metric": "f1", "min": 0.8, "typo": 1}
    assert markers.performance(metric="accuracy", min=1).mark.kwargs == {"min": 1}


@pytest.mark.parametrize(
    ("requirement", "keywords", "metric"),
    [
        ("performance", {}, "accuracy"),
        ("performance", {"metric": "f1"}, "f1"),
        ("fairness", {}, "demographic_parity_difference"),
        ("robust", {"eps": 0.1}, "accuracy_drop"),
        ("robust", {"perturbation": "gaussian_noise"}, "flip_rate"),
        ("privacy", {"k_anonymity": 5}, "k_anonymity"),
        ("security", {"safe_load": True}, "unsafe_globals"),
        ("transparency", {"model_card": "card.md"}, "missing_fields"),
        ("compliance", {"framework": "eu-ai-act"}, "eu-ai-act"),
    ],
)
def test_an_error_verdict_is_named_by_the_metric_the_gate_would_report(
    requirement, keywords, metric
):
    assert markers.metric_of(requirement, keywords) == metric
