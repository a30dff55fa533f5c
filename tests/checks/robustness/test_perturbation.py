"""Perturbation gates on real Keras, scikit-learn and callable models, replayed by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pytest_modelguard.strategies import Perturbation
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pytest_modelguard import Dataset
from pytest_modelguard.checks.robustness.perturbation import (
    FAMILIES,
    ROWS_PER_EXAMPLE,
    perturbation_gate,
)
from pytest_modelguard.core.profiles import PROFILES
from pytest_modelguard.core.verdict import GateError

N = 1024
IMAGE_FAMILIES = {
    "gaussian_noise": 0.05,
    "uniform_noise": 0.05,
    "brightness": 0.05,
    "contrast": 0.2,
    "occlusion": 0.1,
    "rotation": 15.0,
    "translation": 1.0,  # on 8 x 8 images two pixels already blank 44% of the image
}


def gate(model, dataset, **spec):
    spec = {
        "eps": 0.05,
        "max_flip_rate": 0.01,
        "examples": None,
        "immutable": None,
        "bounds": None,
        "seed": 0,
        "profile": None,
        **spec,
    }
    return perturbation_gate(model, dataset, **spec)


def _dense(keras, weights: np.ndarray, bias: float, shape: tuple[int, ...]):
    model = keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.layers[-1].set_weights([weights.reshape(-1, 1).astype(np.float32), np.array([bias])])
    return model


@pytest.fixture(scope="module")
def noisy_images() -> Dataset:
    """Uniform pixels: the centre pixel sits near 0.5 for many rows."""
    x = np.random.default_rng(0).uniform(0, 1, size=(N, 8, 8)).astype(np.float32)
    return Dataset.from_arrays(x, (x[:, 4, 4] > 0.5).astype(int), kind="image", bounds=(0, 1))


@pytest.fixture(scope="module")
def fragile(noisy_images):
    """Deliberately fragile: the decision hangs on one pixel, with a steep sigmoid."""
    keras = pytest.importorskip("keras")
    weights = np.zeros(64)
    weights[4 * 8 + 4] = 50.0
    return _dense(keras, weights, -25.0, (8, 8))


@pytest.fixture(scope="module")
def clustered_images() -> Dataset:
    """Dark and bright images, far from the decision boundary of the mean pixel."""
    rng = np.random.default_rng(1)
    bright = rng.integers(0, 2, N)
    x = (rng.uniform(0, 0.4, size=(N, 8, 8)) + 0.6 * bright[:, None, None]).astype(np.float32)
    return Dataset.from_arrays(x, bright, kind="image", bounds=(0, 1))


@pytest.fixture(scope="module")
def robust_model(clustered_images):
    """The mean pixel decides: noise averages out and the classes are far apart."""
    keras = pytest.importorskip("keras")
    return _dense(keras, np.full(64, 20.0 / 64), -10.0, (8, 8))


# -- a fragile model fails, with a shrunk counterexample that replays --------------------------


def test_fragile_model_fails_with_a_shrunk_counterexample_that_replays(fragile, noisy_images):
    verdict = gate(fragile, noisy_images, perturbation="gaussian_noise")

    assert verdict.status == "fail"
    assert (verdict.requirement, verdict.metric, verdict.operator) == ("robust", "flip_rate", "<=")
    assert verdict.value > 0.01 and verdict.n == ROWS_PER_EXAMPLE
    found = verdict.counterexample
    first = verdict.evidence["search"]["first_failure"]
    assert found["family"] == "gaussian_noise"
    assert found["flip_rate"] > 0.01 and first["flip_rate"] > 0.01
    # shrinking: a lower magnitude that flips fewer rows than the first failure found
    assert found["magnitude"] < first["magnitude"] <= 0.05
    assert found["flipped"] < first["flipped"]
    assert found["rows"] and found["before"] != found["after"]
    json.dumps(verdict.to_json())
    assert "gaussian_noise" in verdict.message and str(found["rows"][0]) in verdict.message

    # replay by hand: the window's rows, the same perturbation, the model itself
    order = np.random.default_rng(0).permutation(N)
    rows = order[found["window"] * ROWS_PER_EXAMPLE : (found["window"] + 1) * ROWS_PER_EXAMPLE]
    p = Perturbation("gaussian_noise", found["magnitude"], {"seed": found["seed"]})
    x = noisy_images.features
    noisy = p.apply(x[rows], bounds=(0, 1))
    before = fragile.predict_on_batch(x[rows])[:, 0] >= 0.5
    after = fragile.predict_on_batch(noisy)[:, 0] >= 0.5
    flipped = rows[before != after]
    assert len(flipped) == found["flipped"]
    assert list(flipped[: len(found["rows"])]) == found["rows"]
    assert found["after"] == [int(v) for v in after[before != after][: len(found["rows"])]]


def test_same_seed_same_verdict_and_counterexample(fragile, noisy_images):
    for profile in (PROFILES["dev"], PROFILES["ci"]):
        runs = [
            gate(fragile, noisy_images, perturbation="rotation", eps=15, seed=11, profile=profile)
            for _ in range(2)
        ]
        first, second = (dict(v.to_json(), duration=0) for v in runs)
        assert first == second
        assert runs[0].status == "fail" and runs[0].counterexample is not None


@pytest.mark.parametrize("family", sorted(IMAGE_FAMILIES))
def test_a_robust_model_passes_every_image_family(robust_model, clustered_images, family):
    verdict = gate(
        robust_model, clustered_images, perturbation=family, eps=IMAGE_FAMILIES[family], examples=15
    )
    assert verdict.status == "pass", verdict.message
    assert verdict.value <= 0.01 and verdict.counterexample is None
    search = verdict.evidence["search"]
    assert search["examples_evaluated"] <= 15 and search["first_failure"] is None
    assert verdict.evidence["family"] == family
    assert verdict.evidence["eps"] == IMAGE_FAMILIES[family]
    assert verdict.evidence["rows_per_example"] == ROWS_PER_EXAMPLE


@pytest.mark.parametrize("family", ["occlusion", "translation", "brightness"])
def test_the_fragile_model_fails_other_image_families(fragile, noisy_images, family):
    verdict = gate(fragile, noisy_images, perturbation=family, eps=IMAGE_FAMILIES[family])
    assert verdict.status == "fail"
    assert verdict.counterexample["family"] == family


def test_each_example_is_one_batched_model_call(noisy_images):
    calls: list[int] = []

    def centre_pixel(rows: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return (rows[:, 4, 4] > 0.5).astype(np.int64)

    verdict = gate(
        centre_pixel, noisy_images, perturbation="uniform_noise", max_flip_rate=0.5, examples=12
    )
    assert verdict.status == "pass"
    evaluated = verdict.evidence["search"]["examples_evaluated"]
    assert evaluated == 12
    assert calls == [N] + [ROWS_PER_EXAMPLE] * evaluated  # the clean pass, then one per example


def test_examples_default_to_the_profile(robust_model, clustered_images):
    dev = gate(robust_model, clustered_images, perturbation="brightness", profile=PROFILES["dev"])
    assert dev.evidence["search"]["max_examples"] == PROFILES["dev"].examples
    assert dev.evidence["search"]["examples_evaluated"] == PROFILES["dev"].examples
    ci = gate(robust_model, clustered_images, perturbation="brightness", examples=7)
    assert ci.evidence["search"]["examples_evaluated"] == 7
    assert ci.evidence["search"]["profile"] == "ci"


# -- tabular ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 800
    df = pd.DataFrame(
        {
            "income": rng.uniform(10, 200, n),
            "debt": rng.uniform(0, 50, n),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    df["approved"] = ((df.income / 50 - df.debt / 15 + (df.region == "north")) > 0.6).astype(int)
    return df


@pytest.fixture(scope="module")
def credit_model(credit):
    encode = make_column_transformer((OneHotEncoder(), ["region"]), remainder="passthrough")
    features = credit[["income", "debt", "age", "region"]]
    return make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(features, credit.approved)


def _credit(credit: pd.DataFrame) -> Dataset:
    return Dataset.from_pandas(
        credit, target="approved", features=["income", "debt", "age", "region"]
    )


def test_feature_jitter_flips_a_logistic_regression_near_its_boundary(credit, credit_model):
    verdict = gate(
        credit_model, _credit(credit), perturbation="feature_jitter", eps=0.2, max_flip_rate=0.0
    )
    assert verdict.status == "fail"
    found = verdict.counterexample
    assert found["family"] == "feature_jitter" and 0 < found["magnitude"] <= 0.2
    rows = found["rows"]
    assert (
        list(credit_model.predict(credit.iloc[rows][["income", "debt", "age", "region"]]))
        == (found["before"])
    )


def test_immutable_columns_are_not_jittered(credit, credit_model):
    spec = {"perturbation": "feature_jitter", "eps": 0.5, "max_flip_rate": 0.02, "examples": 10}
    fixed = ["income", "debt", "region"]  # only age moves, and the label ignores age
    verdict = gate(credit_model, _credit(credit), immutable=fixed, **spec)
    free = gate(credit_model, _credit(credit), **spec)
    assert verdict.evidence["immutable"] == fixed
    assert verdict.status == "pass" and free.status == "fail" and verdict.value < free.value
    # every column immutable: nothing would change, a gate that cannot fail is an error
    with pytest.raises(GateError, match="immutable= names every feature column"):
        gate(credit_model, _credit(credit), immutable=[*fixed, "age"], **spec)


def test_missing_values_on_a_model_that_handles_them(credit):
    features = credit[["income", "debt", "age"]]
    model = HistGradientBoostingClassifier(random_state=0).fit(features, credit.approved)
    dataset = Dataset.from_pandas(credit, target="approved", features=["income", "debt", "age"])
    verdict = gate(
        model, dataset, perturbation="missing_values", eps=0.3, max_flip_rate=0.5, examples=10
    )
    assert verdict.status == "pass"
    assert 0 < verdict.value <= 0.5  # missing cells change some decisions, not most


def test_a_model_that_raises_on_missing_values_is_an_error(credit):
    features = credit[["income", "debt", "age"]]
    model = LogisticRegression(max_iter=1000).fit(features, credit.approved)
    dataset = Dataset.from_pandas(credit, target="approved", features=["income", "debt", "age"])
    with pytest.raises(GateError, match="raised ValueError"):
        gate(model, dataset, perturbation="missing_values", eps=0.3, examples=5)


# -- text ------------------------------------------------------------------------------------

WORDS = ["the", "service", "was", "food", "staff", "really", "quite", "very", "place", "and"]


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    rng = np.random.default_rng(3)
    texts, labels = [], []
    for i in range(512):
        words = list(rng.choice(WORDS, size=8))
        if i % 2:
            words.insert(int(rng.integers(0, 8)), "good")
        texts.append(" ".join(words).capitalize())
        labels.append(i % 2)
    return Dataset(texts, np.array(labels), kind="text", name="reviews")


def case_sensitive(texts: list[str]) -> np.ndarray:
    return np.array([int("good" in t) for t in texts])


def lowercasing(texts: list[str]) -> np.ndarray:
    return np.array([int("good" in t.lower()) for t in texts])


def token_match(texts: list[str]) -> np.ndarray:
    return np.array([int("good" in t.lower().split()) for t in texts])


@pytest.mark.parametrize(
    ("family", "model", "status"),
    [
        ("case", case_sensitive, "fail"),
        ("case", lowercasing, "pass"),
        ("typo", lowercasing, "fail"),
        ("whitespace", token_match, "pass"),
        ("punctuation", token_match, "fail"),
    ],
)
def test_text_families(reviews, family, model, status):
    verdict = gate(model, reviews, perturbation=family, eps=0.2, examples=20)
    assert verdict.status == status, verdict.message
    if status == "fail":
        found = verdict.counterexample
        old, new = found["texts"][0]
        assert old != new and old == reviews.features[found["rows"][0]]
        assert model([new])[0] == found["after"][0] != found["before"][0]


# -- errors ----------------------------------------------------------------------------------


def test_unknown_family_lists_them(noisy_images):
    with pytest.raises(GateError, match="not a perturbation family") as error:
        gate(lambda x: x[:, 0, 0] > 0.5, noisy_images, perturbation="blur")
    assert all(name in str(error.value) for name in FAMILIES)


@pytest.mark.parametrize(
    ("family", "dataset", "fits"),
    [
        ("gaussian_noise", "credit", "feature_jitter"),
        ("feature_jitter", "reviews", "typo"),
        ("typo", "noisy_images", "rotation"),
    ],
)
def test_family_must_fit_the_dataset_kind(family, dataset, fits, request, credit):
    data = _credit(credit) if dataset == "credit" else request.getfixturevalue(dataset)
    with pytest.raises(GateError, match=f"perturbs .* data.*{fits}"):
        gate(lambda x: np.zeros(len(x)), data, perturbation=family)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"max_flip_rate": None}, "need a threshold: give max_flip_rate="),
        (
            {"max_flip_rate": 1.5},
            r"a rate lies in \[0, 1\]; a percentage\? write max_flip_rate=0.015",
        ),
        ({"eps": None}, "needs eps=: the noise standard deviation"),
        ({"eps": 2.0}, "at most 1"),
        ({"eps": -0.1}, "must be more than 0"),
        ({"perturbation": "rotation", "eps": 400}, "at most 180"),
        ({"perturbation": "translation", "eps": 0.5}, "maximum shift in pixels"),
        ({"examples": 0}, "examples=0: give a positive integer"),
        ({"immutable": ["income"]}, "immutable= names tabular columns"),
        ({"bounds": {"a": (0, 1)}}, "not a mapping of columns"),
        ({"bounds": (0.2, 0.8)}, "outside the declared bounds"),
        ({"bounds": (1, 0)}, "low < high"),
    ],
)
def test_bad_specs_are_errors_that_say_what_to_change(noisy_images, spec, message):
    spec = {"perturbation": "gaussian_noise", **spec}
    with pytest.raises(GateError, match=message):
        gate(lambda x: (x[:, 4, 4] > 0.5).astype(int), noisy_images, **spec)


def test_bad_data_and_models_are_errors(credit, credit_model, noisy_images):
    with pytest.raises(GateError, match="immutable= names \\['salary'\\]"):
        gate(credit_model, _credit(credit), perturbation="feature_jitter", immutable=["salary"])
    flat = Dataset.from_arrays(np.zeros((10, 64)), np.zeros(10), kind="image")
    with pytest.raises(GateError, match=r"shape \(N, H, W\)"):
        gate(lambda x: np.zeros(len(x)), flat, perturbation="brightness")
    numbers = Dataset(np.arange(10), np.zeros(10), kind="text")
    with pytest.raises(GateError, match="one string per row"):
        gate(lambda x: np.zeros(len(x)), numbers, perturbation="typo")
    x = credit[["income", "debt"]]
    regressor = LinearRegression().fit(x, credit.age)
    with pytest.raises(GateError, match="regression values"):
        gate(
            regressor,
            Dataset.from_pandas(credit, target="age", features=["income", "debt"]),
            perturbation="feature_jitter",
        )
    stream = Dataset.from_batches([(noisy_images.features, noisy_images.target)], kind="image")
    with pytest.raises(GateError, match="in-memory Dataset"):
        gate(lambda x: np.zeros(len(x)), stream, perturbation="brightness")


def test_a_perturbation_that_changes_no_input_is_an_error_not_a_pass(reviews):
    # Texts without letters: the case family has nothing to change, every flip rate is 0,
    # and the gate used to pass by construction.
    numbers = Dataset(
        [f"{i} {2 * i} - {i % 7}" for i in range(256)],
        np.arange(256) % 2,
        kind="text",
        name="numbers",
    )
    with pytest.raises(GateError, match=r"nothing to measure: none of the 10 examples changed"):
        gate(case_sensitive, numbers, perturbation="case", eps=0.5, examples=10)
    # the same family on texts with letters measures something
    assert gate(lowercasing, reviews, perturbation="case", eps=0.5, examples=10).passed
