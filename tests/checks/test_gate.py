"""One threshold rule for every requirement: a threshold outside its metric's range is an
error (with a hint when it looks like a percentage), and so is one the metric can never
cross, which would make the gate pass by construction. Each case passed or measured
before; the checks reject it before running the model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, GateError, checks
from pytest_modelguard.checks._gate import check_threshold


@pytest.fixture(scope="module")
def subject():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    sex = np.where(rng.random(200) < 0.5, "f", "m")
    dataset = Dataset.from_arrays(
        x, y, sensitive={"sex": sex}, feature_names=["a", "b", "c"], name="small"
    )
    return LogisticRegression().fit(x, y), dataset


def _robust(**spec):
    return lambda model, data: checks.robust(model, data, **spec)


CASES = [
    # performance: bounded metrics in [0, 1]
    ("performance", {"metric": "accuracy", "min": 1.5}, r"accuracy lies in \[0, 1\]; a percentage\? write min=0.015"),
    ("performance", {"metric": "accuracy", "min": 90}, r"a percentage\? write min=0.9"),
    ("performance", {"metric": "accuracy", "min": -0.5}, r"min=-0.5: accuracy lies in \[0, 1\]"),
    ("performance", {"metric": "accuracy", "min": 0}, r"min=0.0 cannot fail: accuracy is never below 0"),
    ("performance", {"metric": "recall", "max": 1.0}, r"max=1.0 cannot fail: recall never exceeds 1"),
    ("performance", {"metric": "roc_auc", "min": 0.0}, r"min=0.0 cannot fail"),
    ("performance", {"metric": "ece", "max": 1}, r"max=1.0 cannot fail"),
    # Brier: [0, 2] (multiclass) until the data shows two classes, then [0, 1]
    ("performance", {"metric": "brier", "max": 1}, r"max=1.0 cannot fail: binary brier never exceeds 1"),
    ("performance", {"metric": "brier", "max": 1.5}, r"max=1.5: binary brier lies in \[0, 1\]"),
    ("performance", {"metric": "brier", "max": 2}, r"max=2.0 cannot fail: brier never exceeds 2"),
    ("performance", {"metric": "brier", "max": -0.1}, r"max=-0.1: brier lies in \[0, 2\]"),
    ("performance", {"metric": "brier", "min": 0}, r"min=0.0 cannot fail: brier is never below 0"),
    # unbounded above, bounded below
    ("performance", {"metric": "log_loss", "max": -0.1}, r"log_loss lies in \[0, inf\)"),
    ("performance", {"metric": "log_loss", "min": 0}, r"min=0.0 cannot fail"),
    ("performance", {"metric": "latency_p95_ms", "max": -5}, r"latency_p95_ms lies in \[0, inf\)"),
    ("performance", {"metric": "r2", "min": 1.5}, r"r2 lies in \(-inf, 1\]"),
    ("performance", {"metric": "r2", "max": 1}, r"max=1.0 cannot fail: r2 never exceeds 1"),
    # fairness and counterfactual flips
    ("fairness", {"max_disparity": 10}, r"a disparity lies in \[0, 1\]; a percentage\? write max_disparity=0.1"),
    ("fairness", {"metric": "demographic_parity_ratio", "min_ratio": 0}, r"min_ratio=0.0 cannot fail"),
    ("fairness", {"metric": "counterfactual_flip_rate", "max_disparity": 1, "sensitive": "sex"}, r"max_disparity=1.0 cannot fail: a flip rate"),
    # robustness
    ("robust", {"eps": 0.1, "max_accuracy_drop": 1.0}, r"max_accuracy_drop=1.0 cannot fail"),
    ("robust", {"eps": 0.1, "min_accuracy": 0}, r"min_accuracy=0.0 cannot fail"),
    ("robust", {"eps": 0.1, "max_accuracy_drop": 5}, r"a percentage\? write max_accuracy_drop=0.05"),
    ("robust", {"perturbation": "feature_jitter", "eps": 0.1, "max_flip_rate": 1}, r"max_flip_rate=1.0 cannot fail: a rate"),
    ("robust", {"monotonic": {"a": "increasing"}, "max_violation_rate": 1.0}, r"max_violation_rate=1.0 cannot fail"),
    # privacy, explainability, security
    ("privacy", {"max_mia_auc": 1}, r"max_mia_auc=1.0 cannot fail: an attack AUC never exceeds 1"),
    ("privacy", {"max_mia_advantage": 20}, r"a percentage\? write max_mia_advantage=0.2"),
    ("explainability", {"max_protected_share": 1}, r"max_protected_share=1.0 cannot fail"),
    ("explainability", {"min_stability": -1}, r"min_stability=-1.0 cannot fail"),
    ("security", {"max_attack_success": 1.0, "eps": 0.1}, r"max_attack_success=1.0 cannot fail"),
]  # fmt: skip


@pytest.mark.parametrize(("requirement", "spec", "message"), CASES)
def test_a_threshold_out_of_range_or_that_cannot_fail_is_an_error(
    subject, requirement, spec, message
):
    model, dataset = subject
    check = getattr(checks, requirement)
    if requirement == "privacy":
        spec = {**spec, "members": dataset}
    with pytest.raises(GateError, match=message):
        check(model, dataset, **spec)


def test_the_rule_itself():
    assert check_threshold("min", 1.0, operator=">=", within=(0.0, 1.0), what="recall") == 1.0
    assert check_threshold("max", 0, operator="<=", within=(0.0, 1.0), what="a rate") == 0.0
    assert check_threshold("max", 250.0, operator="<=", within=(0.0, np.inf), what="ms") == 250
    with pytest.raises(GateError, match="must be a finite number"):
        check_threshold("min", float("nan"), operator=">=", within=(0.0, 1.0), what="recall")
    with pytest.raises(GateError, match="must be a finite number"):
        check_threshold("min", True, operator=">=", within=(0.0, 1.0), what="recall")
    with pytest.raises(GateError, match=r"lies in \[0, 1\]$"):  # no percentage hint above 100
        check_threshold("min", 250.0, operator=">=", within=(0.0, 1.0), what="recall")
