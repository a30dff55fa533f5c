"""Counterfactual flips on real scikit-learn and Keras models, cross-checked with numpy."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pytest_modelguard import Dataset
from pytest_modelguard.adapters import adapt
from pytest_modelguard.checks.fairness.counterfactual import counterfactual_flip_rate
from pytest_modelguard.core.verdict import GateError

N = 800
FEATURES = ["x1", "x2", "sex"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {"x1": rng.normal(size=N), "x2": rng.normal(size=N), "sex": rng.integers(0, 2, N)}
    )
    noise = 0.3 * rng.normal(size=N)
    df["biased"] = (df.x1 + 2.5 * df.sex - 1.25 + noise > 0).astype(int)
    df["mild"] = (df.x1 + 0.4 * df.sex - 0.2 + noise > 0).astype(int)
    df["fair"] = (df.x1 + 0.5 * df.x2 + noise > 0).astype(int)
    return df


def _dataset(df: pd.DataFrame, target: str) -> Dataset:
    return Dataset.from_pandas(df, target=target, sensitive="sex", features=FEATURES)


def _logistic(df: pd.DataFrame, target: str) -> LogisticRegression:
    return LogisticRegression().fit(df[FEATURES], df[target])


def _numpy_flips(model: LogisticRegression, df: pd.DataFrame) -> np.ndarray:
    """Rows whose logistic-regression decision changes when sex is swapped, in plain numpy."""
    x = df[FEATURES].to_numpy(dtype=float)
    swapped = x.copy()
    swapped[:, 2] = 1 - swapped[:, 2]
    w, b = model.coef_[0], model.intercept_[0]
    return (_sigmoid(x @ w + b) >= 0.5) != (_sigmoid(swapped @ w + b) >= 0.5)


# -- scikit-learn -----------------------------------------------------------------------------


def test_logistic_regression_that_uses_sex_fails_with_a_counterexample(frame):
    model = _logistic(frame, "biased")
    dataset = _dataset(frame, "biased")
    verdict = counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.01)

    flips = _numpy_flips(model, frame)
    assert verdict.status == "fail"
    assert verdict.value == pytest.approx(flips.mean(), abs=1e-12)
    assert verdict.value > 0.5
    assert (verdict.operator, verdict.threshold, verdict.n) == ("<=", 0.01, N)
    assert verdict.evidence["flipped_rows"] == flips.sum()
    for original, other in [(0, 1), (1, 0)]:
        of_group = (frame.sex == original).to_numpy()
        cell = verdict.evidence["transitions"][f"{original} -> {other}"]
        assert cell == {
            "rows": of_group.sum(),
            "flips": flips[of_group].sum(),
            "rate": pytest.approx(flips[of_group].mean()),
        }

    example = verdict.counterexample
    row = example["row"]
    assert flips[row]
    assert example["original_group"] == frame.sex[row]
    assert example["counterfactual_group"] == 1 - frame.sex[row]
    assert example["decision"] != example["counterfactual_decision"]
    w, b = model.coef_[0], model.intercept_[0]
    x = frame[FEATURES].to_numpy(dtype=float)[row]
    assert example["score"] == pytest.approx(_sigmoid(x @ w + b))
    x[2] = example["counterfactual_group"]
    assert example["counterfactual_score"] == pytest.approx(_sigmoid(x @ w + b))
    assert verdict.evidence["search"]["found_by"] == "hypothesis"
    assert "counterexample" in verdict.message and f"'row': {row}" in verdict.message
    json.dumps(verdict.to_json())


@pytest.fixture(scope="module")
def mild(frame) -> tuple[LogisticRegression, Dataset, np.ndarray]:
    """A mild effect of sex, rows far from the boundary first: the first flip is far in."""
    order = np.argsort(-np.abs(frame.x1.to_numpy()), kind="stable")
    df = frame.iloc[order].reset_index(drop=True)
    model = _logistic(df, "mild")
    return model, _dataset(df, "mild"), _numpy_flips(model, df)


def test_hypothesis_searches_and_shrinks_to_one_flipped_row(mild):
    model, dataset, flips = mild
    assert 0.05 < flips.mean() < 0.3 and np.flatnonzero(flips)[0] > N / 2

    verdict = counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.01, seed=3)

    assert verdict.value == pytest.approx(flips.mean(), abs=1e-12)
    assert verdict.evidence["search"] == {"examples": 100, "seed": 3, "found_by": "hypothesis"}
    assert flips[verdict.counterexample["row"]]
    # counterfactual rows were scored without entering the cache the other gates share
    assert list(adapt(model)._cache) == [dataset.fingerprint]


def test_same_seed_same_counterexample_whatever_the_users_hypothesis_profile(mild):
    from hypothesis import Phase, Verbosity, settings

    model, dataset, _ = mild
    first = counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.01, seed=5)
    again = counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.01, seed=5)
    assert first.counterexample == again.counterexample
    assert first.evidence == again.evidence

    previous = settings.get_current_profile_name()
    settings.register_profile(
        "a-users-profile",
        max_examples=2,
        derandomize=False,
        verbosity=Verbosity.verbose,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=True,
    )
    settings.load_profile("a-users-profile")
    try:
        under_profile = counterfactual_flip_rate(
            model, dataset, sensitive="sex", max_disparity=0.01, seed=5
        )
    finally:
        settings.load_profile(previous)
    assert under_profile.counterexample == first.counterexample
    assert under_profile.evidence == first.evidence


def test_model_blind_to_the_attribute_passes_with_no_flips(frame):
    keep_x = ColumnTransformer([("x", "passthrough", ["x1", "x2"])], remainder="drop")
    model = make_pipeline(keep_x, LogisticRegression()).fit(frame[FEATURES], frame["fair"])
    verdict = counterfactual_flip_rate(
        model, _dataset(frame, "fair"), sensitive=None, max_disparity=0.0
    )
    assert verdict.status == "pass"
    assert verdict.value == 0.0
    assert verdict.counterexample is None
    assert "search" not in verdict.evidence


def test_three_string_groups_through_a_one_hot_pipeline():
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "race": rng.choice(["a", "b", "c"], n)})
    df["y"] = (df.x + 2.0 * (df.race == "c") - 1.0 > 0).astype(int)
    encode = ColumnTransformer([("race", OneHotEncoder(), ["race"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(df[["x", "race"]], df.y)
    dataset = Dataset.from_pandas(df, target="y", sensitive="race", features=["x", "race"])

    verdict = counterfactual_flip_rate(model, dataset, sensitive="race", max_disparity=0.05)

    base = model.predict(df[["x", "race"]])
    changed = {g: model.predict(df[["x", "race"]].assign(race=g)) != base for g in "abc"}
    expected = np.logical_or.reduce(list(changed.values()))
    assert verdict.value == pytest.approx(expected.mean(), abs=1e-12)
    assert verdict.status == "fail"
    transitions = verdict.evidence["transitions"]
    assert set(transitions) == {f"{o} -> {g}" for o in "abc" for g in "abc" if o != g}
    assert transitions["a -> c"]["flips"] == changed["c"][df.race == "a"].sum()
    example = verdict.counterexample
    assert {example["original_group"], example["counterfactual_group"]} <= {"a", "b", "c"}
    assert example["original_group"] == df.race[example["row"]]
    assert example["decision"] != example["counterfactual_decision"]


# -- Keras ----------------------------------------------------------------------------------


def test_keras_model_that_uses_sex_fails_and_matches_a_numpy_forward_pass(frame):
    import keras

    keras.utils.set_random_seed(0)
    x = frame[FEATURES].to_numpy(dtype=np.float32)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(x, frame["biased"].to_numpy(), epochs=15, batch_size=64, verbose=0)
    dataset = Dataset.from_arrays(
        x, frame["biased"], sensitive={"sex": frame["sex"]}, feature_names=FEATURES
    )

    verdict = counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.05)

    w1, b1, w2, b2 = (np.asarray(w, dtype=np.float64) for w in model.weights)

    def score(rows: np.ndarray) -> np.ndarray:
        return _sigmoid(np.maximum(rows @ w1 + b1, 0) @ w2 + b2)[:, 0]

    swapped = x.astype(np.float64)
    swapped[:, 2] = 1 - swapped[:, 2]
    flips = (score(x.astype(np.float64)) >= 0.5) != (score(swapped) >= 0.5)
    assert verdict.status == "fail"
    assert verdict.value == pytest.approx(flips.mean(), abs=1e-12)
    example = verdict.counterexample
    row = example["row"]
    assert flips[row]
    assert example["counterfactual_group"] == 1 - x[row, 2]
    assert example["decision"] != example["counterfactual_decision"]
    assert example["score"] == pytest.approx(score(x[[row]].astype(np.float64))[0], abs=1e-5)
    assert example["counterfactual_score"] == pytest.approx(score(swapped[[row]])[0], abs=1e-5)


# -- the search and its fallback ----------------------------------------------------------


def _one_flip_model(rows: np.ndarray) -> np.ndarray:
    """Scores on x alone, except the single row with x == 99, which also depends on column 1."""
    rows = np.asarray(rows, dtype=float)
    special = rows[:, 0] == 99.0
    return np.where(special, rows[:, 1], (rows[:, 0] > 0).astype(float))


def _one_flip_data(n: int = 300) -> Dataset:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    x[-1] = [99.0, 0.0]
    return Dataset.from_arrays(
        x, (x[:, 0] > 0).astype(int), sensitive={"g": x[:, 1]}, feature_names=["x", "g"]
    )


def test_a_flip_the_search_misses_still_gives_a_counterexample():
    dataset = _one_flip_data()
    verdict = counterfactual_flip_rate(
        _one_flip_model, dataset, sensitive="g", max_disparity=0.0, examples=1
    )
    assert verdict.status == "fail"
    assert verdict.value == pytest.approx(1 / 300)
    assert verdict.counterexample["row"] == 299
    assert verdict.counterexample["counterfactual_decision"] == 1
    assert verdict.evidence["search"]["found_by"] == "exhaustive pass"


def test_a_model_whose_flips_do_not_reproduce_is_an_error():
    dataset = _one_flip_data()
    calls = []

    def drifting(rows: np.ndarray) -> np.ndarray:
        """Sees the attribute during the exhaustive pass (2 calls), never afterwards."""
        calls.append(len(rows))
        scores = _one_flip_model(rows)
        return scores if len(calls) <= 2 else (np.asarray(rows)[:, 0] > 0).astype(float)

    with pytest.raises(GateError, match=r"row 299 flipped .* not reproducible"):
        counterfactual_flip_rate(drifting, dataset, sensitive="g", max_disparity=0.0, examples=5)


def test_without_hypothesis_a_failure_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(GateError, match=r"pip install 'pytest-modelguard\[robustness\]'"):
        counterfactual_flip_rate(_one_flip_model, _one_flip_data(), sensitive="g", max_disparity=0)


# -- errors: what to change -------------------------------------------------------------------


def _arrays(groups: np.ndarray, **sensitive: np.ndarray) -> Dataset:
    x = np.column_stack([np.linspace(-1, 1, len(groups)), groups])
    return Dataset.from_arrays(
        x,
        (x[:, 0] > 0).astype(int),
        sensitive=sensitive or {"g": groups},
        feature_names=["x", "g"],
    )


def _scores(rows: np.ndarray) -> np.ndarray:
    return _sigmoid(np.asarray(rows, dtype=float) @ np.array([3.0, 1.0]))


TWO = np.tile([0.0, 1.0], 10)
PLAIN = _arrays(TWO)
TARGET4 = [0, 1, 0, 1]
ERRORS = {
    "no-threshold": (PLAIN, {"max_disparity": None}, "give max_disparity="),
    "threshold-1": (PLAIN, {"max_disparity": 1.0}, "max_disparity=1.0 cannot fail"),
    "threshold-negative": (PLAIN, {"max_disparity": -0.1}, r"a flip rate lies in \[0, 1\]"),
    "threshold-string": (PLAIN, {"max_disparity": "0.1"}, "must be a finite number"),
    "decision-threshold": (PLAIN, {"decision_threshold": 1.0}, "strictly between 0 and 1"),
    "examples-0": (PLAIN, {"examples": 0}, "examples=0: give a positive integer"),
    "examples-bool": (PLAIN, {"examples": True}, "examples=True"),
    "several-sensitive": (
        _arrays(TWO, g=TWO, age=TWO),
        {"sensitive": None},
        "sensitive columns 'g', 'age': choose one with sensitive=",
    ),
    "unknown-sensitive": (
        PLAIN,
        {"sensitive": "race"},
        "'race' is not a sensitive column .* columns are 'g'",
    ),
    "not-a-feature": (
        _arrays(TWO, age=TWO),
        {"sensitive": "age"},
        r"no column 'age' .* features=\[\.\.\., 'age'\]",
    ),
    "no-sensitive": (
        Dataset.from_arrays(np.zeros((4, 2)), TARGET4, feature_names=["x", "g"]),
        {"sensitive": None},
        "declares no sensitive column",
    ),
    "no-feature-names": (
        Dataset.from_arrays(np.zeros((4, 2)), TARGET4, sensitive={"g": TARGET4}),
        {},
        "no feature_names",
    ),
    "not-tabular": (
        Dataset.from_arrays(np.zeros((4, 2, 2)), TARGET4, sensitive={"g": TARGET4}),
        {},
        "tabular features",
    ),
    "single-group": (_arrays(np.zeros(20)), {}, r"single value \(0\.0\) .* at least two groups"),
    "too-many-groups": (_arrays(np.arange(60.0)), {}, "60 distinct values: .* bin it"),
    "missing-values": (_arrays(np.r_[TWO[:-1], np.nan]), {}, "missing values"),
}


@pytest.mark.parametrize(("dataset", "kwargs", "message"), ERRORS.values(), ids=ERRORS)
def test_errors_say_what_to_change(dataset, kwargs, message):
    kwargs = {"sensitive": "g", "max_disparity": 0.1, **kwargs}
    with pytest.raises(GateError, match=message):
        counterfactual_flip_rate(_scores, dataset, **kwargs)


def test_attribute_left_out_of_the_features_explains_how_to_include_it(frame):
    dataset = Dataset.from_pandas(frame, target="fair", sensitive="sex")  # sex not a feature
    model = LogisticRegression().fit(dataset.features, dataset.target)
    with pytest.raises(GateError, match=r"take 'sex' as an input.*features=\[\.\.\., 'sex'\]"):
        counterfactual_flip_rate(model, dataset, sensitive="sex", max_disparity=0.01)


def test_regression_model_is_an_error(frame):
    model = LinearRegression().fit(frame[FEATURES], frame.x2)
    with pytest.raises(GateError, match=r"compare decisions.*regression values"):
        counterfactual_flip_rate(model, _dataset(frame, "fair"), sensitive="sex", max_disparity=0.1)
