"""Plots of evidence that matches its declared type but cannot be drawn: the page says why
("No plot: ..."), and an error that is not about the evidence is named in its caption and a warning."""

from __future__ import annotations

import math

import pytest

from pytest_modelguard.core import evidence as contract
from pytest_modelguard.reporting import html

ROC = {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.8, 1.0]}
GROUPS = {"a": {"selection_rate": 0.4, "n": 50}, "b": {"selection_rate": 0.5, "n": 50}}
FEATURE = {"kind": "numeric", "bins": ["<0", "0-1", ">1"], "reference": [10, 20, 30],
           "current": [12, 18, 30], "drifted": False}  # fmt: skip
RANKED = {"feature": "x", "importance": 0.2, "protected": False}
MALFORMED = {
    "unequal ROC lists": (
        "privacy", "mia_auc",
        {"attacks": {"loss": {"roc": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 1.0]}}}},
        "evidence.attacks.loss.roc: fpr has 3 items, tpr 2",
    ),
    "NaN in a ROC": (
        "privacy", "mia_auc",
        {"attacks": {"loss": {"roc": {"fpr": [0.0, math.nan, 1.0], "tpr": [0.0, 0.8, 1.0]}}}},
        "evidence.attacks.loss.roc.fpr[1] is nan, not a finite number",
    ),
    "no attack": (
        "privacy", "mia_auc", {"attacks": {}}, "evidence.attacks is empty",
    ),
    "a curve without any value": (
        "robust", "robust_accuracy",
        {"curve": [{"eps": 0.1, "robust_accuracy": None}], "clean_accuracy": 0.9,
         "attack": "pgd", "norm": "linf"},
        "no point of evidence.curve has a finite robust_accuracy",
    ),
    "NaN eps": (
        "robust", "robust_accuracy",
        {"curve": [{"eps": math.nan, "robust_accuracy": 0.5}], "clean_accuracy": 0.9,
         "attack": "pgd", "norm": "linf"},
        "evidence.curve[0].eps is nan, not a finite number",
    ),
    "attack success without any value": (
        "security", "attack_success",
        {"per_eps": [{"eps": 0.1, "attack_success": None}], "attack": "pgd", "norm": "linf"},
        "no point of evidence.per_eps has a finite attack_success",
    ),
    "a column without groups": (
        "fairness", "demographic_parity_difference",
        {"by_sensitive": {"sex": {"groups": {}, "value": 0.1}}, "sensitive": ["sex"],
         "method": "bootstrap"},
        "evidence.by_sensitive.sex.groups is empty",
    ),
    "unequal token lists": (
        "explainability", "protected_share",
        {"ranking": [RANKED], "method": "occlusion",
         "token_attributions": [{"tokens": ["a", "b", "c"], "attributions": [0.1, 0.2]}]},
        "evidence.token_attributions[0]: tokens has 3 items, attributions 2",
    ),
    "no importance": (
        "explainability", "protected_share",
        {"ranking": [{**RANKED, "importance": None}], "method": "permutation"},
        "no feature of evidence.ranking has a finite importance",
    ),
    "a histogram with a bin too few": (
        "drift", "psi",
        {"features": {"age": {**FEATURE, "current": [12, 18]}}, "drifted": []},
        "evidence.features.age: bins has 3 items, reference 3, current 2",
    ),
    "no windows": (
        "performance", "accuracy", {"windows": []}, "evidence.windows is empty",
    ),
    "no classes": (
        "performance", "recall", {"per_class": {}}, "evidence.per_class is empty",
    ),
    "no claims": (
        "transparency", "claim_error", {"claims": []}, "evidence.claims is empty",
    ),
}  # fmt: skip


def _verdict(requirement: str, metric: str, evidence: dict) -> dict:
    return {"index": 7, "nodeid": "t.py::test_gate", "requirement": requirement,
            "metric": metric, "status": "pass", "threshold": 0.1, "operator": "<=",
            "evidence": evidence}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_table_of_its_declared_type_says_why_there_is_no_plot(case):
    requirement, metric, evidence, reason = MALFORMED[case]
    declared = contract.evidence_type(requirement, metric)
    assert contract.problems(evidence, declared) == []  # the type cannot tell
    figures = html._plots(_verdict(requirement, metric, evidence))
    assert figures, "a blank: the reader cannot tell a missing plot from a clean run"
    (figure,) = [f for f in figures if "unplotted" in f]
    assert "<svg" not in figure
    assert f"No plot: {html.escape(reason)}" in figure, figure
    assert 'href="#verdict-7"' in figure


def test_an_undeclared_key_of_another_shape_says_why_there_is_no_plot():
    """A drift verdict's evidence does not declare ``windows``: the plot reads the shape the
    log gates declare, and evidence of another shape is said, not drawn or swallowed."""
    evidence = {"features": {"age": FEATURE}, "drifted": [], "windows": [{"window": "w1"}]}
    figures = html._plots(_verdict("drift", "psi", evidence))
    assert sum("<svg" in f for f in figures) == 1  # the histogram
    (caption,) = [f for f in figures if "unplotted" in f]
    assert "No plot: evidence.windows[0]: no &#x27;value&#x27;" in caption, caption


def test_well_formed_evidence_still_draws():
    evidence = {"attacks": {"loss": {"roc": ROC, "auc": 0.7}}}
    (figure,) = html._plots(_verdict("privacy", "mia_auc", evidence))
    assert "<svg" in figure and "No plot" not in figure


def test_a_bug_in_a_plot_is_named_not_blank_and_costs_nothing_else(monkeypatch):
    def broken(v, evidence):
        return evidence["by_sensitive"]["sex"]["groups"]["a"]["tpr"]  # a key never written

    monkeypatch.setitem(html.PLOTS, "by_sensitive", broken)
    evidence = {"by_sensitive": {"sex": {"groups": GROUPS, "value": 0.1}},
                "sensitive": ["sex"], "method": "bootstrap"}  # fmt: skip
    verdict = _verdict("fairness", "demographic_parity_difference", evidence)
    with pytest.warns(RuntimeWarning, match="KeyError: 'tpr'.*a defect in pytest-modelguard"):
        page = html.render({"seed": 1, "profile": "ci", "started": "", "verdicts": [verdict]})
    assert "No plot: drawing it raised KeyError: &#x27;tpr&#x27;" in page
    assert page.count("t.py::test_gate") >= 2  # its row in the table, and the caption
