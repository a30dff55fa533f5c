"""checks.explainability on real Keras and scikit-learn models: integrated gradients that add
up, permutation importance equal to scikit-learn's, Spearman equal to scipy's, the protected
gates on a model that leans on a sensitive input and one that does not, and every error."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.compose import make_column_transformer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pytest_modelguard import Dataset, GateError, Predictions, adapt, checks
from pytest_modelguard.checks.explainability import COMPLETENESS_TOLERANCE
from pytest_modelguard.checks.explainability.attribution import (
    differentiable,
    integrated_gradients,
    spearman_rows,
)
from pytest_modelguard.core.profiles import PROFILES

keras = pytest.importorskip("keras")

NAMES = ["income", "debt", "age", "tenure", "sex"]
N_TRAIN, N = 1200, 600


@pytest.fixture(scope="module")
def credit() -> dict[str, np.ndarray]:
    """Five features, the last one the sensitive ``sex``; two labelings: one that depends on
    sex strongly (``lean``) and one that ignores it (``fair``)."""
    rng = np.random.default_rng(5)
    n = N_TRAIN + N
    x = rng.normal(size=(n, 5)).astype(np.float32)
    x[:, 4] = rng.random(n) < 0.5
    signal = 1.5 * x[:, 0] - 1.2 * x[:, 1] + 0.8 * x[:, 2] + 0.6 * x[:, 3]
    noise = rng.logistic(size=n) * 0.4
    return {
        "x": x,
        "lean": (signal + 4.0 * (x[:, 4] - 0.5) + noise > 0).astype(np.int64),
        "fair": (signal + noise > 0).astype(np.int64),
    }


def holdout(credit, labels: str, **kwargs) -> Dataset:
    x = credit["x"][N_TRAIN:]
    return Dataset.from_arrays(
        x,
        credit[labels][N_TRAIN:],
        sensitive={"sex": x[:, 4]},
        feature_names=NAMES,
        name=labels,
        **kwargs,
    )


def mlp(inputs: int, outputs: int = 1, activation: str = "sigmoid", seed: int = 0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(outputs, activation=activation),
        ]
    )


@pytest.fixture(scope="module")
def keras_models(credit) -> dict[str, object]:
    models = {}
    for labels in ("lean", "fair"):
        model = mlp(5)
        model.compile(optimizer=keras.optimizers.Adam(0.03), loss="binary_crossentropy")
        x, y = credit["x"][:N_TRAIN], credit[labels][:N_TRAIN]
        model.fit(x, y, epochs=12, batch_size=64, verbose=0)
        models[labels] = model
    return models


@pytest.fixture(scope="module")
def sklearn_models(credit) -> dict[str, LogisticRegression]:
    x = credit["x"][:N_TRAIN]
    return {
        labels: LogisticRegression().fit(x, credit[labels][:N_TRAIN]) for labels in ("lean", "fair")
    }


def gate(model, dataset, **spec):
    return checks.explainability(model, dataset, **spec)


# -- the protected gates ---------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["keras", "sklearn"])
def test_a_model_leaning_on_a_sensitive_input_fails_and_one_without_it_passes(
    credit, keras_models, sklearn_models, framework
):
    models = keras_models if framework == "keras" else sklearn_models
    method = "integrated_gradients" if framework == "keras" else "permutation"

    leaning = gate(models["lean"], holdout(credit, "lean"), protected_not_in_top_k=3)
    assert leaning.status == "fail"
    assert leaning.evidence["method"] == method
    assert leaning.metric == "protected_in_top_k" and leaning.value == 1.0
    assert leaning.operator == "<=" and leaning.threshold == 0.0
    assert leaning.evidence["worst"].startswith("sex at rank ")
    assert "sex" in leaning.message and "3 most important" in leaning.message
    top = [r["feature"] for r in leaning.evidence["ranking"][:3]]
    assert "sex" in top

    fair = gate(models["fair"], holdout(credit, "fair"), protected_not_in_top_k=3)
    assert fair.status == "pass" and fair.value == 0.0
    assert fair.evidence["protected_features"] == ["sex"]
    assert [r["feature"] for r in fair.evidence["ranking"]][-1] == "sex"


@pytest.mark.parametrize("framework", ["keras", "sklearn"])
def test_max_protected_share(credit, keras_models, sklearn_models, framework):
    models = keras_models if framework == "keras" else sklearn_models
    leaning = gate(models["lean"], holdout(credit, "lean"), max_protected_share=0.05)
    fair = gate(models["fair"], holdout(credit, "fair"), max_protected_share=0.05)
    assert leaning.status == "fail" and leaning.value > 0.2
    assert fair.status == "pass" and fair.value < 0.05
    for verdict in (leaning, fair):
        ranking = verdict.evidence["ranking"]
        share = sum(r["share"] for r in ranking if r["protected"])
        assert verdict.value == pytest.approx(share)
        assert sum(r["share"] for r in ranking) == pytest.approx(1.0)


def test_a_proxy_counts_as_protected(credit, keras_models):
    fair = holdout(credit, "fair")
    verdict = gate(keras_models["fair"], fair, protected_not_in_top_k=2, proxies=["income"])
    assert verdict.status == "fail"
    assert verdict.evidence["protected_features"] == ["income", "sex"]
    assert verdict.evidence["worst"] == "income at rank 1 of 5"
    ranking = {r["feature"]: r for r in verdict.evidence["ranking"]}
    assert ranking["income"]["protected"] and ranking["sex"]["protected"]
    assert not ranking["debt"]["protected"]


def test_a_model_that_does_not_take_the_protected_attribute_is_an_error(credit):
    """sex is a sensitive column of the dataset but not a feature: nothing to rank. This
    used to pass with value 0 (and count as EU AI Act Art. 14 evidence)."""
    x = credit["x"][:, :4]
    model = LogisticRegression().fit(x[:N_TRAIN], credit["fair"][:N_TRAIN])
    dataset = Dataset.from_arrays(
        x[N_TRAIN:],
        credit["fair"][N_TRAIN:],
        sensitive={"sex": credit["x"][N_TRAIN:, 4]},
        feature_names=NAMES[:4],
    )
    for spec in ({"protected_not_in_top_k": 2}, {"max_protected_share": 0.05}):
        with pytest.raises(
            GateError,
            match=r"nothing to measure: the model takes no protected attribute as an input "
            r"\(none of the dataset's sensitive columns \['sex'\].*no proxies= were named"
            r".*proxies=\[\.\.\.\], or pass the attribute",
        ):
            gate(model, dataset, **spec)
    # naming a proxy gives the gate something to measure
    verdict = gate(model, dataset, protected_not_in_top_k=2, proxies=["tenure"])
    assert verdict.status == "pass" and verdict.evidence["protected_features"] == ["tenure"]


def test_ranking_evidence_is_sorted_complete_and_json(credit, keras_models):
    verdict = gate(keras_models["lean"], holdout(credit, "lean"), max_protected_share=0.5)
    ranking = verdict.evidence["ranking"]
    assert sorted(r["feature"] for r in ranking) == sorted(NAMES)
    importances = [r["importance"] for r in ranking]
    assert importances == sorted(importances, reverse=True)
    assert [r["rank"] for r in ranking] == list(range(1, 6))
    assert {r["feature"] for r in ranking if r["protected"]} == {"sex"}
    assert verdict.evidence["reference_input"] == "feature means of the dataset"
    assert (
        verdict.evidence["attributed"]
        == "the model's single output (the positive-class probability)"
    )
    assert verdict.requirement == "explainability" and verdict.n == 200
    json.dumps(verdict.to_json())


def test_samples_caps_the_rows_and_the_seed_decides_which(credit, sklearn_models):
    dataset = holdout(credit, "lean")
    model = sklearn_models["lean"]
    small = gate(model, dataset, max_protected_share=0.9, samples=50, seed=1)
    again = gate(model, dataset, max_protected_share=0.9, samples=50, seed=1)
    other = gate(model, dataset, max_protected_share=0.9, samples=50, seed=2)
    assert small.n == small.evidence["samples"] == 50
    assert small.evidence["ranking"] == again.evidence["ranking"]
    assert small.evidence["ranking"] != other.evidence["ranking"]
    assert gate(model, dataset, max_protected_share=0.9, samples=10_000).n == N


def test_dataframe_pipeline_with_a_categorical_column(credit):
    """Permutation importance and jitter on a DataFrame the pipeline encodes itself."""
    x = credit["x"]
    frame = pd.DataFrame(x[:, :4], columns=NAMES[:4])
    frame["sex"] = np.where(x[:, 4] > 0.5, "f", "m")
    frame["y"] = credit["lean"]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["sex"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame.iloc[:N_TRAIN][NAMES], frame["y"][:N_TRAIN])
    dataset = Dataset.from_pandas(frame.iloc[N_TRAIN:], target="y", sensitive="sex", features=NAMES)
    verdict = gate(model, dataset, protected_not_in_top_k=2)
    assert verdict.status == "fail" and verdict.evidence["method"] == "permutation"
    stable = gate(model, dataset, min_stability=0.5, examples=5)
    assert stable.status == "pass"


# -- integrated gradients ----------------------------------------------------------------------


def _reference_delta(model, x: np.ndarray, baseline: np.ndarray, columns) -> np.ndarray:
    """f(x) - f(baseline) of the attributed score, from Keras' own predict."""
    fx = np.asarray(model.predict(x, verbose=0), dtype=np.float64).reshape(len(x), -1)
    fb = np.asarray(model.predict(baseline[None], verbose=0), dtype=np.float64).reshape(1, -1)
    pick = np.zeros(len(x), int) if columns is None else columns
    return fx[np.arange(len(x)), pick] - fb[0, pick]


@pytest.mark.parametrize("which", ["binary", "softmax", "logits", "regression"])
def test_integrated_gradients_completeness_on_keras(
    which, credit, keras_models, digits, keras_multiclass_logits, keras_regressor, regression
):
    if which == "binary":
        model, x = keras_models["lean"], credit["x"][N_TRAIN : N_TRAIN + 100]
    elif which == "softmax":
        model = mlp(64, 10, "softmax", seed=3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(digits["x_train"], digits["y_train"], epochs=5, verbose=0)
        x = digits["x"][:100]
    elif which == "logits":
        model, x = keras_multiclass_logits, digits["x"][:100]
    else:
        model, x = keras_regressor, regression["x"][:100]
    baseline = x.mean(axis=0)
    outputs = np.asarray(model.predict(x, verbose=0)).reshape(len(x), -1)
    columns = outputs.argmax(axis=1) if outputs.shape[1] > 1 else None
    result = integrated_gradients(
        differentiable(adapt(model)), x, baseline, columns, steps=64, batch_size=1024
    )
    assert result.passes == 64
    assert result.attributions.shape == x.shape
    delta = _reference_delta(model, x, baseline, columns)
    gap = np.abs(result.attributions.sum(axis=1) - delta)
    assert gap.max() <= 0.02 * np.abs(delta).mean() + 1e-5


def test_integrated_gradients_of_a_linear_model_are_exact():
    """For f(x) = w.x + b, IG_j = w_j (x_j - baseline_j) whatever the step count."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w = np.array([[2.0], [-1.0], [0.5]], np.float32)
    model.layers[0].set_weights([w, np.array([0.3], np.float32)])
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    baseline = np.array([0.1, -0.2, 0.3], np.float32)
    result = integrated_gradients(
        differentiable(adapt(model)), x, baseline, None, steps=3, batch_size=7
    )
    assert result.passes == 3 * 3  # 3 steps x ceil(20 / 7) batches
    np.testing.assert_allclose(result.attributions, w[:, 0] * (x - baseline), rtol=1e-5)


def test_the_gate_reports_completeness_and_costs_m_gradient_passes(credit, keras_models):
    model = keras_models["lean"]
    dataset = holdout(credit, "lean")
    verdict = gate(model, dataset, max_protected_share=0.9, steps=40)
    assert verdict.evidence["completeness"] <= COMPLETENESS_TOLERANCE
    assert verdict.evidence["passes"] == {"gradient": 40, "forward": 1}
    assert verdict.evidence["steps"] == 40
    with pytest.raises(GateError, match=r"steps=8 do not add up.*raise steps= \(e\.g\. steps=32\)"):
        gate(model, dataset, max_protected_share=0.9, steps=8)


def test_too_few_steps_is_an_error_that_says_to_raise_them(credit, keras_models):
    model = mlp(5)  # untrained but nonlinear: a single midpoint step cannot add up
    model.layers[0].set_weights([w * 4 for w in model.layers[0].get_weights()])
    with pytest.raises(GateError, match=r"raise steps= \(e\.g\. steps=4\)"):
        gate(model, holdout(credit, "lean"), max_protected_share=0.5, steps=1)


def test_images_rank_pixels_and_refuse_protected_gates(digits, keras_multiclass_logits):
    images = digits["x"].reshape(-1, 8, 8)
    dataset = Dataset.from_arrays(images, digits["y"], kind="image", bounds=(0.0, 1.0))
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras_multiclass_logits])
    verdict = gate(model, dataset, min_stability=0.3, examples=5, samples=64)
    assert verdict.evidence["reference_input"] == "zeros"
    assert verdict.evidence["attributed"] == "the logit of the predicted class"
    assert verdict.evidence["completeness"] <= COMPLETENESS_TOLERANCE
    ranking = verdict.evidence["ranking"]
    assert len(ranking) == 20 and ranking[0]["feature"].startswith("pixel[")
    assert verdict.evidence["perturbation"]["family"] == "gaussian_noise"
    for spec in ({"protected_not_in_top_k": 3}, {"max_protected_share": 0.1}):
        with pytest.raises(GateError, match="do not apply to images"):
            gate(model, dataset, **spec)


# -- permutation importance -------------------------------------------------------------------


def test_permutation_importance_agrees_with_sklearn_for_log_loss(credit, sklearn_models):
    model, dataset = sklearn_models["lean"], holdout(credit, "lean")
    ours = gate(model, dataset, max_protected_share=0.9, samples=N, method="permutation")
    assert ours.evidence["scoring"] == "log loss" and ours.evidence["repeats"] == 5
    assert ours.evidence["attributed"] == "how much the log loss rises when the feature is shuffled"
    reference = permutation_importance(
        model,
        dataset.features,
        dataset.target,
        scoring="neg_log_loss",
        n_repeats=50,
        random_state=0,
    )
    by_name = {r["feature"]: r["importance"] for r in ours.evidence["ranking"]}
    for j, name in enumerate(NAMES):
        mean, std = reference.importances_mean[j], reference.importances_std[j]
        # ours averages 5 repeats: its spread around sklearn's 50-repeat mean is std / sqrt(5)
        assert abs(by_name[name] - mean) <= 4 * std / np.sqrt(5) + 0.005, name
    assert [r["feature"] for r in ours.evidence["ranking"]][:2] == [
        NAMES[j] for j in np.argsort(-reference.importances_mean)[:2]
    ]


def test_permutation_importance_agrees_with_sklearn_for_mse(regression):
    model = LinearRegression().fit(regression["x_train"], regression["y_train"])
    dataset = Dataset.from_arrays(regression["x"], regression["y"])
    ours = gate(model, dataset, max_protected_share=0.9, proxies=["x3"], samples=len(dataset))
    assert ours.evidence["method"] == "permutation" and ours.evidence["scoring"] == "squared error"
    assert "mean squared error" in ours.evidence["attributed"]
    reference = permutation_importance(
        model,
        dataset.features,
        dataset.target,
        scoring="neg_mean_squared_error",
        n_repeats=50,
        random_state=0,
    )
    by_name = {r["feature"]: r["importance"] for r in ours.evidence["ranking"]}
    for j in range(4):
        mean, std = reference.importances_mean[j], reference.importances_std[j]
        assert abs(by_name[f"x{j}"] - mean) <= 4 * std + 0.02
        # a shuffled independent column adds 2 * w^2 * Var(x) to the squared error
        expected = float(2 * model.coef_[j] ** 2 * dataset.features[:, j].var())
        assert by_name[f"x{j}"] == pytest.approx(expected, abs=0.35 * expected + 0.02)


def test_permutation_costs_one_pass_per_feature_beyond_the_cached_one(credit, sklearn_models):
    model, dataset = sklearn_models["fair"], holdout(credit, "fair")
    adapter = adapt(model)
    adapter.outputs(dataset)
    before = adapter.rows_predicted
    verdict = gate(model, dataset, max_protected_share=0.5, samples=100)
    assert adapter.rows_predicted - before == 5 * 5 * 100  # features x repeats x rows
    assert verdict.evidence["passes"] == {"inference": 5, "clean": "cached"}  # one per feature


def test_keras_model_with_permutation(credit, keras_models):
    verdict = gate(
        keras_models["lean"],
        holdout(credit, "lean"),
        protected_not_in_top_k=3,
        method="permutation",
    )
    assert verdict.status == "fail" and verdict.evidence["method"] == "permutation"
    assert "completeness" not in verdict.evidence


# -- stability ---------------------------------------------------------------------------------


def test_spearman_rows_equals_scipy():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(50, 7)).astype(float)  # ties on purpose
    b = a + rng.normal(scale=1.0, size=a.shape)
    ours = spearman_rows(a, b)
    reference = [spearmanr(a[i], b[i]).statistic for i in range(len(a))]
    defined = ~np.isnan(reference)
    assert defined.sum() > 40
    np.testing.assert_allclose(ours[defined], np.asarray(reference)[defined], atol=1e-12)
    flat = np.zeros((2, 4))
    assert spearman_rows(flat, np.array([[0, 0, 0, 0], [1, 2, 3, 4]])).tolist() == [1.0, 0.0]


def _wiggly():
    """f(x) = sigmoid(sum sin(8 x_j)): its attributions reorder under a small jitter."""
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Lambda(lambda t: keras.ops.sin(8.0 * t)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.layers[-1].set_weights([np.ones((5, 1), np.float32), np.zeros(1, np.float32)])
    return model


def test_a_smooth_model_is_stable_and_a_wiggly_one_is_not(credit, keras_models):
    dataset = holdout(credit, "fair")
    smooth = gate(keras_models["fair"], dataset, min_stability=0.8, examples=10)
    assert smooth.status == "pass" and smooth.metric == "stability"
    assert smooth.operator == ">=" and smooth.counterexample is None
    search = smooth.evidence["search"]
    assert search["examples_evaluated"] == 10 and search["worst_stability"] == smooth.value
    assert smooth.evidence["perturbation"] == {"family": "feature_jitter", "eps": 0.05}

    wiggly = gate(_wiggly(), dataset, min_stability=0.8, examples=10, steps=128)
    assert wiggly.status == "fail" and wiggly.value < 0.8
    counterexample = wiggly.counterexample
    assert counterexample["family"] == "feature_jitter"
    assert counterexample["stability"] < 0.8 and len(counterexample["least_stable_rows"]) == 5
    assert "counterexample" in wiggly.message


def test_stability_with_permutation_is_seeded(credit, sklearn_models):
    dataset = holdout(credit, "fair")
    spec = {"min_stability": 0.7, "examples": 8, "seed": 3, "profile": PROFILES["dev"]}
    first = gate(sklearn_models["fair"], dataset, **spec)
    second = gate(sklearn_models["fair"], dataset, **spec)
    assert first.status == "pass" and first.evidence["method"] == "permutation"
    assert first.value == second.value and first.evidence["search"] == second.evidence["search"]


def test_stability_of_a_label_only_model_is_an_error(credit):
    def labels(rows):
        return (rows[:, 0] > 0).astype(np.int64)

    dataset = holdout(credit, "fair")
    assert gate(labels, dataset, protected_not_in_top_k=1).status == "pass"
    with pytest.raises(GateError, match=r"returns only labels.*give a model that returns scores"):
        gate(labels, dataset, min_stability=0.8, examples=3)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "needs a threshold: give protected_not_in_top_k= or max_protected_share= or"),
        ({"protected_not_in_top_k": 3, "min_stability": 0.8}, "give exactly one"),
        ({"protected_not_in_top_k": 0}, "give a positive integer k"),
        ({"protected_not_in_top_k": 2.5}, "give a positive integer k"),
        ({"protected_not_in_top_k": True}, "finite number"),
        ({"protected_not_in_top_k": 5}, "every feature is in the top 5; give k < 5"),
        ({"max_protected_share": 1.0}, "max_protected_share=1.0 cannot fail"),
        ({"max_protected_share": -0.1}, r"a share of importance lies in \[0, 1\]"),
        ({"max_protected_share": 5}, r"a percentage\? write max_protected_share=0.05"),
        ({"min_stability": 0.0}, "0 < min_stability <= 1"),
        ({"min_stability": -1.0}, "min_stability=-1.0 cannot fail"),
        ({"min_stability": 1.5}, r"a Spearman mean lies in \[-1, 1\]"),
        ({"max_protected_share": 0.1, "repeats": 0}, "repeats=0: give a positive integer"),
        ({"min_stability": 0.8, "examples": 0}, "examples=0"),
        ({"max_protected_share": 0.1, "steps": 0}, "steps=0: give a positive integer"),
        ({"max_protected_share": 0.1, "samples": -1}, "samples=-1: give a positive integer"),
        ({"max_protected_share": 0.1, "method": "shap"}, "method='shap': use one of"),
        ({"max_protected_share": 0.1, "proxies": ["zip"]}, r"proxies= names \['zip'\]"),
        ({"max_protected_share": 0.1, "proxies": "income"}, "give a list of feature names"),
        ({"min_stability": 0.8, "proxies": ["income"]}, "drop it from a min_stability= gate"),
    ],
)
def test_invalid_specs_are_errors(credit, sklearn_models, spec, message):
    with pytest.raises(GateError, match=message):
        gate(sklearn_models["fair"], holdout(credit, "fair"), **spec)


def test_integrated_gradients_need_gradients(credit, sklearn_models):
    with pytest.raises(GateError, match="use method='permutation'"):
        gate(
            sklearn_models["fair"],
            holdout(credit, "fair"),
            max_protected_share=0.1,
            method="integrated_gradients",
        )


def test_a_model_with_a_cut_gradient_is_an_error(credit):
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Lambda(lambda t: keras.ops.round(t)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    with pytest.raises(GateError, match="no gradient with respect to its inputs"):
        gate(model, holdout(credit, "fair"), max_protected_share=0.1)


def test_stored_predictions_text_and_streams_are_errors(credit):
    dataset = holdout(credit, "fair")
    stored = Predictions(y_score=np.full(N, 0.5))
    with pytest.raises(GateError, match="stored Predictions cannot"):
        gate(stored, dataset, max_protected_share=0.1)
    texts = Dataset.from_arrays(np.array(["a b", "c d"] * 5, dtype=object), [0, 1] * 5, kind="text")
    with pytest.raises(GateError, match="no token changes the model's output"):
        gate(lambda rows: np.zeros(len(rows)), texts, min_stability=0.8)  # the token gate
    stream = Dataset.from_batches([(dataset.features, dataset.target)])
    with pytest.raises(GateError, match="streamed in batches"):
        gate(LogisticRegression(), stream, min_stability=0.8)


def test_a_constant_model_cannot_be_explained(credit):
    def constant(rows):
        return np.full(len(rows), 0.7)

    with pytest.raises(GateError, match="no feature changes the model's output"):
        gate(constant, holdout(credit, "fair"), max_protected_share=0.1)


def test_importing_the_check_loads_no_ml_library():
    code = (
        "import sys, pytest_modelguard.checks.explainability, pytest_modelguard.checks.explainability.attribution\n"
        "heavy = ('tensorflow', 'keras', 'sklearn', 'hypothesis', 'scipy', 'pandas')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_tensorflow_module_gets_integrated_gradients():
    import tensorflow as tf

    class Linear(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[1.5], [-2.0], [0.5]])

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return tf.sigmoid(x @ self.w)

    module = Linear()
    x = np.random.default_rng(1).normal(size=(300, 3)).astype(np.float32)
    dataset = Dataset.from_arrays(x, (x @ module.w.numpy() > 0)[:, 0].astype(int))
    verdict = gate(module, dataset, max_protected_share=0.9, proxies=["x2"])
    assert verdict.evidence["method"] == "integrated_gradients"
    assert verdict.evidence["completeness"] <= COMPLETENESS_TOLERANCE
    assert [r["feature"] for r in verdict.evidence["ranking"]] == ["x1", "x0", "x2"]


@pytest.mark.parametrize(
    ("extra", "name"), [({"examples": 10}, "examples"), ({"repeats": 9}, "repeats")]
)
def test_a_tabular_only_keyword_on_text_is_an_error_not_ignored(extra, name):
    """Token attributions take neither: the same verdict for any value would be a silent pass."""
    from pytest_modelguard import Dataset, GateError, checks

    texts = [
        f"Jamal wrote a good note {i}" if i % 2 else f"Emily wrote a note {i}" for i in range(40)
    ]
    data = Dataset.from_texts(texts, [i % 2 for i in range(40)], name="names")

    def scorer(batch):
        return np.array([0.2 if "Jamal" in t else 0.7 for t in batch])

    with pytest.raises(GateError, match=rf"{name}= does not apply to a text"):
        checks.explainability(
            scorer, data, protected_tokens="identity", min_stability=0.1, samples=20, **extra
        )
