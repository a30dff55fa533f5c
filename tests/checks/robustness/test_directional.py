"""Monotonic expectations on real scikit-learn and Keras models, re-scored by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from pytest_modelguard import Dataset
from pytest_modelguard.checks.robustness.directional import LEVELS, monotonic_gate
from pytest_modelguard.core.profiles import PROFILES
from pytest_modelguard.core.verdict import GateError

FEATURES = ["income", "debt", "age"]


def gate(model, dataset, **spec):
    spec = {
        "max_violation_rate": None,
        "examples": None,
        "bounds": None,
        "seed": 0,
        "profile": None,
        **spec,
    }
    return monotonic_gate(model, dataset, **spec)


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1200
    df = pd.DataFrame(
        {
            "income": rng.uniform(10, 200, n),
            "debt": rng.uniform(0, 50, n),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    noise = rng.logistic(size=n) * 0.5
    df["approved"] = (df.income / 50 - df.debt / 15 - (df.age - 50) / 20 + noise > 0).astype(int)
    df["middling"] = (np.abs(df.income - 100) < 40).astype(int)  # not monotonic in income
    return df


def _dataset(df: pd.DataFrame, target: str = "approved") -> Dataset:
    return Dataset.from_pandas(df, target=target, features=FEATURES)


@pytest.fixture(scope="module")
def logistic(credit):
    return LogisticRegression(max_iter=2000).fit(credit[FEATURES], credit.approved)


@pytest.fixture(scope="module")
def bump(credit):
    """A quadratic model of a target that peaks at middle incomes."""
    model = make_pipeline(
        StandardScaler(), PolynomialFeatures(2), LogisticRegression(max_iter=2000)
    )
    return model.fit(credit[FEATURES], credit.middling)


def test_a_logistic_regression_keeps_its_directions(credit, logistic):
    verdict = gate(
        logistic, _dataset(credit), monotonic={"income": "increasing", "debt": "decreasing"}
    )
    assert verdict.status == "pass", verdict.message
    assert (verdict.requirement, verdict.metric, verdict.threshold) == (
        "robust",
        "violation_rate",
        0.0,
    )
    assert verdict.value == 0.0 and verdict.counterexample is None
    assert verdict.evidence["search"]["examples_evaluated"] == PROFILES["ci"].examples
    assert verdict.evidence["bounds"]["income"] == [credit.income.min(), credit.income.max()]


def test_a_non_monotonic_model_fails_with_a_counterexample_that_rescores(credit, bump):
    verdict = gate(
        bump,
        _dataset(credit, "middling"),
        monotonic={"income": "increasing"},
        max_violation_rate=0.05,
    )
    assert verdict.status == "fail" and verdict.value > 0.05
    found = verdict.counterexample
    first = verdict.evidence["search"]["first_failure"]
    assert found["feature"] == "income" and found["violation_rate"] > 0.05
    assert found["step"] <= first["step"]
    json.dumps(verdict.to_json())
    assert "income" in verdict.message and "scores_after" in verdict.message

    rows = found["rows"]
    raised = credit.iloc[rows][FEATURES].copy()
    np.testing.assert_allclose(raised.income, found["values_before"])
    raised["income"] = found["values_after"]
    np.testing.assert_allclose(bump.predict_proba(raised)[:, 1], found["scores_after"])
    assert all(a < b for a, b in zip(found["scores_after"], found["scores_before"], strict=True))
    assert all(a > b for a, b in zip(found["values_after"], found["values_before"], strict=True))


def test_same_seed_same_verdict_and_counterexample(credit, bump):
    for profile in (PROFILES["dev"], PROFILES["ci"]):
        runs = [
            gate(
                bump,
                _dataset(credit, "middling"),
                monotonic={"debt": "decreasing", "income": "increasing"},
                max_violation_rate=0.2,
                seed=5,
                profile=profile,
            )
            for _ in range(2)
        ]
        first, second = (dict(v.to_json(), duration=0) for v in runs)
        assert first == second and runs[0].status == "fail"


def test_integer_columns_move_by_whole_steps(credit, logistic):
    verdict = gate(logistic, _dataset(credit), monotonic={"age": "increasing"})
    assert verdict.status == "fail"  # the model lowers the score with age
    found = verdict.counterexample
    assert found["step"] == max(1, round((credit.age.max() - credit.age.min()) / LEVELS))
    steps = np.subtract(found["values_after"], found["values_before"])
    assert np.all(steps >= 1) and np.all(steps == np.round(steps))


def test_declared_bounds_override_and_are_checked(credit, logistic):
    wide = gate(
        logistic,
        _dataset(credit),
        monotonic={"income": "increasing"},
        bounds={"income": (0.0, 1000.0)},
        examples=10,
    )
    assert wide.status == "pass" and wide.evidence["bounds"]["income"] == [0.0, 1000.0]
    with pytest.raises(GateError, match="outside the declared bounds"):
        gate(
            logistic,
            _dataset(credit),
            monotonic={"income": "increasing"},
            bounds={"income": (0.0, 100.0)},
        )


def test_a_keras_regressor_on_arrays(regression, keras_regressor):
    dataset = Dataset.from_arrays(
        regression["x"], regression["y"], feature_names=["a", "b", "c", "d"]
    )
    verdict = gate(
        keras_regressor,
        dataset,
        monotonic={"a": "increasing", "b": "decreasing"},
        max_violation_rate=0.05,
        examples=30,
    )
    assert verdict.status == "pass", verdict.message


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monotonic", "message"),
    [
        ({"salary": "increasing"}, "'salary', not a feature of dataset .* income, debt, age"),
        ({"income": "up"}, "must be 'increasing' or 'decreasing'"),
        ({}, "give a dict of feature"),
        ("income", "give a dict of feature"),
    ],
)
def test_bad_monotonic_specs(credit, logistic, monotonic, message):
    with pytest.raises(GateError, match=message):
        gate(logistic, _dataset(credit), monotonic=monotonic)


def test_categorical_feature_is_an_error(credit):
    dataset = Dataset.from_pandas(credit, target="approved", features=["income", "region"])
    with pytest.raises(GateError, match="'region', a categorical column"):
        gate(lambda x: np.zeros(len(x)), dataset, monotonic={"region": "increasing"})


def test_bad_thresholds_data_and_models(credit, logistic, keras_multiclass_logits, digits):
    with pytest.raises(GateError, match=r"max_violation_rate=1\.0 cannot fail"):
        gate(logistic, _dataset(credit), monotonic={"income": "increasing"}, max_violation_rate=1.0)
    with pytest.raises(GateError, match="examples=-1"):
        gate(logistic, _dataset(credit), monotonic={"income": "increasing"}, examples=-1)
    arrays = Dataset.from_arrays(credit[["income", "debt"]].to_numpy(), credit.approved)
    with pytest.raises(GateError, match="no feature_names"):
        gate(logistic, arrays, monotonic={"income": "increasing"})
    images = Dataset.from_arrays(np.zeros((4, 2, 2)), np.zeros(4), kind="image")
    with pytest.raises(GateError, match="kind='image'"):
        gate(logistic, images, monotonic={"income": "increasing"})
    pixels = Dataset.from_arrays(
        digits["x"], digits["y"], feature_names=[f"p{i}" for i in range(64)]
    )
    with pytest.raises(GateError, match="gives 10 per row"):
        gate(keras_multiclass_logits, pixels, monotonic={"p10": "increasing"})
    with pytest.raises(GateError, match="returns <U3 labels"):
        gate(
            lambda x: np.array(["yes"] * len(x)),
            _dataset(credit),
            monotonic={"income": "increasing"},
        )


def test_a_feature_that_cannot_move_is_an_error_not_a_pass(credit, logistic):
    # Every income already at its declared upper bound: no row moves, no violation can be
    # counted, and the gate used to pass with a violation rate of 0.
    capped = credit.assign(income=200.0)
    with pytest.raises(GateError, match=r"nothing to measure: none of the 10 examples changed"):
        gate(
            logistic,
            _dataset(capped),
            monotonic={"income": "increasing"},
            bounds={"income": (10.0, 200.0)},
            examples=10,
        )
