"""checks.performance on real Keras and scikit-learn models, cross-checked with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from pytest_modelguard import Dataset, GateError, GateFailure, Predictions, adapt, checks


def perf(model, dataset, **spec):
    if "min" not in spec and "max" not in spec:
        spec["min"] = 0.01  # any value but one that cannot fail
    return checks.performance(model, dataset, **spec)


@pytest.fixture(scope="session")
def binary_scores(keras_binary, binary_dataset):
    return keras_binary.predict(binary_dataset.features, verbose=0)[:, 0]


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("accuracy", skm.accuracy_score),
        ("balanced_accuracy", skm.balanced_accuracy_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ],
)
def test_label_metrics_equal_sklearn_on_keras_binary(
    metric, reference, keras_binary, binary_dataset, binary_scores
):
    verdict = perf(keras_binary, binary_dataset, metric=metric)
    y_pred = (binary_scores >= 0.5).astype(int)
    assert verdict.value == pytest.approx(reference(binary_dataset.target, y_pred), abs=1e-12)
    assert verdict.status == "pass" and verdict.n == len(binary_dataset)


def test_score_metrics_equal_sklearn_on_keras_binary(keras_binary, binary_dataset, binary_scores):
    y = binary_dataset.target
    auc = perf(keras_binary, binary_dataset, metric="roc_auc")
    assert auc.value == pytest.approx(skm.roc_auc_score(y, binary_scores), abs=1e-12)
    loss = perf(keras_binary, binary_dataset, metric="log_loss", max=10.0)
    assert loss.value == pytest.approx(skm.log_loss(y, binary_scores.astype(np.float64)), abs=1e-9)
    assert auc.evidence["output"] == "probabilities"
    brier = perf(keras_binary, binary_dataset, metric="brier", max=0.5)
    expected = skm.brier_score_loss(y, binary_scores.astype(np.float64))
    assert brier.value == pytest.approx(expected, abs=1e-12)
    assert brier.evidence["brier_classes"] == 2


def test_brier_on_two_probability_columns_equals_sklearn(tabular):
    x_train, x = (tabular[k].astype(np.float64) for k in ("x_train", "x"))  # rows sum to 1
    clf = LogisticRegression().fit(x_train, tabular["y_train"])
    dataset = Dataset.from_arrays(x, tabular["y"])
    brier = perf(clf, dataset, metric="brier", max=0.5, confidence=0.95, n_resamples=400)
    expected = skm.brier_score_loss(tabular["y"], clf.predict_proba(x))
    assert brier.value == pytest.approx(expected, abs=1e-12)
    assert brier.ci[0] < brier.value < brier.ci[1]
    assert brier.evidence["interval"] == "percentile, Poisson bootstrap of the rows"


def test_decision_threshold_moves_the_labels(keras_binary, binary_dataset, binary_scores):
    verdict = perf(keras_binary, binary_dataset, metric="recall", decision_threshold=0.2)
    expected = skm.recall_score(binary_dataset.target, (binary_scores >= 0.2).astype(int))
    assert verdict.value == pytest.approx(expected, abs=1e-12)


def test_multiclass_logits_equal_sklearn(keras_multiclass_logits, digits):
    dataset = Dataset.from_arrays(digits["x"], digits["y"])
    logits = keras_multiclass_logits.predict(digits["x"], verbose=0).astype(np.float64)
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    y, y_pred = digits["y"], logits.argmax(1)
    assert perf(keras_multiclass_logits, dataset, metric="accuracy").value == pytest.approx(
        skm.accuracy_score(y, y_pred), abs=1e-12
    )
    assert perf(keras_multiclass_logits, dataset, metric="f1").value == pytest.approx(
        skm.f1_score(y, y_pred, average="macro"), abs=1e-12
    )
    auc = perf(keras_multiclass_logits, dataset, metric="roc_auc")
    assert auc.evidence["output"] == "logits"
    assert auc.value == pytest.approx(
        skm.roc_auc_score(y, probabilities, multi_class="ovr"), abs=1e-9
    )
    loss = perf(keras_multiclass_logits, dataset, metric="log_loss", max=10.0)
    assert loss.value == pytest.approx(skm.log_loss(y, probabilities), abs=1e-9)
    # multiclass Brier on scikit-learn's scale: the sum over classes, in [0, 2], not halved
    brier = perf(keras_multiclass_logits, dataset, metric="brier", max=1.5)
    labels = np.arange(probabilities.shape[1])
    assert brier.value == pytest.approx(
        skm.brier_score_loss(y, probabilities, labels=labels), abs=1e-12
    )
    assert brier.evidence["brier_classes"] == len(labels)


def test_per_class_gates_every_class_and_names_the_worst(keras_multiclass_logits, digits):
    dataset = Dataset.from_arrays(digits["x"], digits["y"])
    y_pred = keras_multiclass_logits.predict(digits["x"], verbose=0).argmax(1)
    recalls = skm.recall_score(digits["y"], y_pred, average=None)
    verdict = perf(keras_multiclass_logits, dataset, metric="recall", per_class=True, min=1e-9)
    assert verdict.value == pytest.approx(recalls.min(), abs=1e-12)
    assert verdict.evidence["worst"] == str(int(np.argmin(recalls)))
    assert verdict.evidence["per_class"]["3"] == pytest.approx(recalls[3], abs=1e-12)
    failing = perf(
        keras_multiclass_logits, dataset, metric="recall", per_class=True, min=recalls.min() + 1e-6
    )
    assert failing.status == "fail"


def test_ece_equals_a_direct_computation(keras_binary, binary_dataset, binary_scores):
    p = binary_scores.astype(np.float64)
    confidence = np.maximum(p, 1 - p)
    correct = ((p >= 0.5).astype(int) == binary_dataset.target).astype(float)
    # np.argmax on [1 - p, p] picks class 0 at exactly 0.5; the data has no such ties
    bins = np.minimum((confidence * 15).astype(int), 14)
    expected = sum(
        abs(correct[bins == b].sum() - confidence[bins == b].sum()) for b in range(15)
    ) / len(p)
    assert perf(keras_binary, binary_dataset, metric="ece", max=0.99).value == pytest.approx(
        expected, abs=1e-12
    )


def test_regression_metrics_equal_sklearn(keras_regressor, regression):
    dataset = Dataset.from_arrays(regression["x"], regression["y"])
    y_hat = keras_regressor.predict(regression["x"], verbose=0)[:, 0].astype(np.float64)
    y = regression["y"].astype(np.float64)
    assert perf(keras_regressor, dataset, metric="mae", max=5.0).value == pytest.approx(
        skm.mean_absolute_error(y, y_hat), abs=1e-9
    )
    assert perf(keras_regressor, dataset, metric="rmse", max=5.0).value == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, y_hat)), abs=1e-9
    )
    assert perf(keras_regressor, dataset, metric="r2").value == pytest.approx(
        skm.r2_score(y, y_hat), abs=1e-9
    )


def test_sklearn_regressor_and_classifier(regression, tabular):
    lin = LinearRegression().fit(regression["x_train"], regression["y_train"])
    dataset = Dataset.from_arrays(regression["x"], regression["y"])
    assert perf(lin, dataset, metric="r2").value == pytest.approx(
        skm.r2_score(
            regression["y"].astype(np.float64), lin.predict(regression["x"]).astype(np.float64)
        ),
        abs=1e-9,
    )
    clf = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    data = Dataset.from_arrays(tabular["x"], tabular["y"])
    assert perf(clf, data, metric="roc_auc").value == pytest.approx(
        skm.roc_auc_score(tabular["y"], clf.predict_proba(tabular["x"])[:, 1]), abs=1e-12
    )


def test_confidence_interval_is_seeded_and_decides_on_the_bound(keras_binary, binary_dataset):
    first = perf(keras_binary, binary_dataset, metric="f1", confidence=0.95, seed=1)
    again = perf(keras_binary, binary_dataset, metric="f1", confidence=0.95, seed=1)
    other = perf(keras_binary, binary_dataset, metric="f1", confidence=0.95, seed=2)
    low, high = first.ci
    assert low < first.value < high
    assert first.ci == again.ci and first.ci != other.ci  # a bootstrap, seeded
    # a threshold between the lower bound and the point estimate: the point passes, the bound fails
    threshold = (low + first.value) / 2
    assert perf(keras_binary, binary_dataset, metric="f1", min=threshold).status == "pass"
    decided = perf(
        keras_binary, binary_dataset, metric="f1", min=threshold, confidence=0.95, seed=1
    )
    assert decided.status == "fail" and decided.evidence["decided_on"] == "lower"
    assert "95% CI" in decided.message
    assert f"decided   lower 97.5% bound {decided.ci[0]:.4g} < {threshold:.4g}" in decided.message


def test_accuracy_interval_is_scipys_wilson_interval(keras_binary, binary_dataset):
    """A proportion gets Wilson's score interval (valid near 1 and on few rows), equal to
    scipy's, whatever the seed."""
    from scipy.stats import binomtest

    verdict = perf(keras_binary, binary_dataset, metric="accuracy", confidence=0.95, seed=1)
    other = perf(keras_binary, binary_dataset, metric="accuracy", confidence=0.95, seed=2)
    correct = round(verdict.value * verdict.n)
    reference = binomtest(correct, verdict.n).proportion_ci(0.95, method="wilson")
    assert verdict.ci == pytest.approx((reference.low, reference.high), abs=1e-12)
    assert other.ci == verdict.ci and verdict.evidence["interval"].startswith("Wilson")


def test_a_perfect_sample_still_gets_a_lower_bound_below_one():
    """The percentile bootstrap gives [1, 1] when every row is right, so a gate at min=0.999
    passed a model whose true accuracy may well be 0.99; Wilson's bound is 0.98 on 200 rows."""
    y = np.tile([0, 1], 100)
    verdict = perf(
        Predictions(y_pred=y),
        Dataset.from_arrays(np.zeros((200, 1)), y),
        metric="accuracy",
        min=0.99,
        confidence=0.95,
    )
    assert verdict.value == 1.0 and verdict.status == "fail"
    assert verdict.ci[0] == pytest.approx(1 / (1 + 1.959963984540054**2 / 200), abs=1e-9)


def test_accuracy_interval_matches_the_binomial_width(keras_binary, binary_dataset):
    verdict = perf(
        keras_binary, binary_dataset, metric="accuracy", confidence=0.95, n_resamples=4000
    )
    p, n = verdict.value, verdict.n
    normal_halfwidth = 1.96 * np.sqrt(p * (1 - p) / n)
    assert (verdict.ci[1] - verdict.ci[0]) / 2 == pytest.approx(normal_halfwidth, rel=0.15)


def test_binary_roc_auc_interval_is_delongs_on_the_logit_scale(binary_dataset, binary_scores):
    """Checked against DeLong's variance from the full pair matrix (an independent O(mn) way)."""
    verdict = perf(
        Predictions(y_score=binary_scores), binary_dataset, metric="roc_auc", confidence=0.9
    )
    positive = binary_dataset.target == 1
    pos, neg = binary_scores[positive], binary_scores[~positive]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc = pairs.mean()
    variance = pairs.mean(axis=1).var(ddof=1) / len(pos) + pairs.mean(axis=0).var(ddof=1) / len(neg)
    se = np.sqrt(variance) / (auc * (1 - auc))
    logit = np.log(auc / (1 - auc))
    expected = 1 / (1 + np.exp(-(logit + np.array([-1, 1]) * 1.6448536269514722 * se)))
    assert verdict.value == pytest.approx(auc, abs=1e-12)
    assert verdict.ci == pytest.approx(tuple(expected), abs=1e-9)
    assert verdict.evidence["interval"].startswith("DeLong")


def test_a_perfect_ranking_still_gets_a_lower_bound_below_one():
    y = np.repeat([0, 1], 100)
    verdict = perf(
        Predictions(y_score=np.linspace(0.01, 0.99, 200)),
        Dataset.from_arrays(np.zeros((200, 1)), y),
        metric="roc_auc",
        min=0.999,
        confidence=0.95,
    )
    assert verdict.value == 1.0 and verdict.ci[0] < 0.999 and verdict.status == "fail"


def test_predictions_audit_stored_scores(binary_dataset, binary_scores):
    stored = Predictions(y_score=binary_scores)
    verdict = perf(stored, binary_dataset, metric="roc_auc")
    assert verdict.value == pytest.approx(
        skm.roc_auc_score(binary_dataset.target, binary_scores), abs=1e-12
    )
    labels_only = Predictions(y_pred=(binary_scores > 0.5).astype(int))
    assert perf(labels_only, binary_dataset, metric="accuracy").value == pytest.approx(
        skm.accuracy_score(binary_dataset.target, binary_scores > 0.5), abs=1e-12
    )
    with pytest.raises(GateError, match="needs scores"):
        perf(labels_only, binary_dataset, metric="roc_auc")
    with pytest.raises(GateError, match="latency cannot be measured"):
        perf(stored, binary_dataset, metric="latency_p95_ms", max=10.0)


def test_model_metrics(keras_binary, binary_dataset):
    size = perf(keras_binary, binary_dataset, metric="model_size_mb", max=1.0)
    n_parameters = 6 * 8 + 8 + 8 + 1
    assert size.value == pytest.approx(n_parameters * 4 / 1e6)
    latency = perf(keras_binary, binary_dataset, metric="latency_p95_ms", max=1e6, batch_size=16)
    assert latency.value > 0 and latency.evidence["batch_size"] == 16


def test_raise_for_status(keras_binary, binary_dataset):
    verdict = perf(keras_binary, binary_dataset, metric="accuracy", min=0.999)
    with pytest.raises(GateFailure, match=r"accuracy must be >= 0\.999"):
        verdict.raise_for_status()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"metric": "accurcy", "min": 0.5},
            "unknown performance metric 'accurcy'; choose one of accuracy",
        ),
        ({"metric": "accuracy"}, "needs a threshold: give min= or max="),
        ({"metric": "accuracy", "min": 0.5, "max": 0.9}, "give exactly one"),
        ({"metric": "accuracy", "min": "high"}, "must be a finite number"),
        ({"metric": "accuracy", "min": 0.5, "confidence": 0.97}, "confidence=0.97: use one of"),
        (
            {"metric": "log_loss", "max": 1.0, "per_class": True},
            "per_class=True does not apply to log_loss",
        ),
        ({"metric": "accuracy", "min": 0.5, "decision_threshold": 1.5}, "strictly between 0 and 1"),
        (
            {"metric": "model_size_mb", "max": 1.0, "confidence": 0.95},
            "does not apply to model_size_mb",
        ),
        ({"metric": "mae", "max": 1.0}, "needs one regression value per row"),
    ],
)
def test_bad_specs_are_errors_that_say_what_to_change(
    keras_multiclass_logits, digits, spec, message
):
    dataset = Dataset.from_arrays(digits["x"], digits["y"])
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace("=", "=")):
        checks.performance(keras_multiclass_logits, dataset, **spec)


def test_undefined_metrics_are_errors(tabular):
    one_class = Dataset.from_arrays(tabular["x"][:50], np.zeros(50, dtype=int))
    clf = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    with pytest.raises(GateError, match="roc_auc is undefined: class 1 is no row"):
        perf(clf, one_class, metric="roc_auc")
    never_positive = Predictions(y_pred=np.zeros(len(tabular["y"]), dtype=int))
    with pytest.raises(
        GateError, match="precision is undefined on this data: the model predicts no positives"
    ):
        perf(never_positive, Dataset.from_arrays(tabular["x"], tabular["y"]), metric="precision")


def test_target_labels_the_model_cannot_score_are_an_error(keras_binary, tabular):
    dataset = Dataset.from_arrays(tabular["x"], np.where(tabular["y"] == 1, "yes", "no"))
    with pytest.raises(GateError, match="the target has labels"):
        perf(keras_binary, dataset, metric="roc_auc")


def test_ten_gates_cost_one_inference_pass(keras_binary, tabular):
    import keras

    model = keras.models.clone_model(keras_binary)
    model.set_weights(keras_binary.get_weights())
    dataset = Dataset.from_arrays(tabular["x"], tabular["y"])
    for metric in ["accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc", "ece"]:
        perf(model, dataset, metric=metric, max=0.99)
    perf(model, dataset, metric="log_loss", max=10.0, confidence=0.9)
    assert adapt(model).rows_predicted == len(dataset)
