"""Model outputs are validated before any metric reads them: probabilities that are not
probabilities, score columns that do not match the classes, missing labels and an
unnamed positive class are errors, not quietly wrong metrics. And a gate on nothing (no
rows, nothing to time, no parameters) is an error, not a pass."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, GateError, Predictions, adapt, checks


@pytest.fixture(scope="module")
def data(tabular) -> Dataset:
    return Dataset.from_arrays(tabular["x"], tabular["y"], name="holdout")


def perf(model, dataset, **spec):
    if "max" not in spec:
        spec.setdefault("min", 0.01)
    return checks.performance(model, dataset, **spec)


# -- probabilities ----------------------------------------------------------------------------


def test_stated_probabilities_outside_0_1_are_an_error(data):
    margins = adapt(lambda rows: 3.0 * rows[:, 0], output="probabilities")
    with pytest.raises(GateError, match=r"returns probabilities, but row \d+ holds .* outside"):
        perf(margins, data, metric="roc_auc")


def test_probability_rows_must_sum_to_one(data):
    def halves(rows):  # two "probabilities" per row summing to 0.5 + |x|-ish
        p = 1 / (1 + np.exp(-rows[:, 0]))
        return np.column_stack([0.5 * (1 - p), 0.5 * p + 0.3])

    with pytest.raises(GateError, match=r"row \d+ sums to .*, not 1: they are not class prob"):
        perf(halves, data, metric="accuracy")
    with pytest.raises(GateError, match=r"returns probabilities, but row \d+ sums to"):
        perf(adapt(halves, output="probabilities"), data, metric="accuracy")
    # stated as logits, the same numbers are softmaxed (the user said what they are)
    assert perf(adapt(halves, output="logits"), data, metric="accuracy").value > 0.5


def test_stored_scores_are_validated_too(data):
    scores = np.column_stack([np.full(len(data), 0.7), np.full(len(data), 0.7)])
    with pytest.raises(GateError, match=r"sums to 1.4, not 1"):
        perf(Predictions(y_score=scores), data, metric="accuracy")


def test_three_score_columns_for_a_binary_target_are_an_error(data):
    def three(rows):
        p = 1 / (1 + np.exp(-rows[:, 0]))
        return np.column_stack([0.5 * (1 - p), 0.5 * p, np.full(len(rows), 0.5)])

    # used to measure an accuracy (argmax often picks the never-true column 2)
    with pytest.raises(GateError, match=r"returns 3 score columns but the target has 2 classes"):
        perf(three, data, metric="accuracy")
    # a model that knows a class this data lacks says so, and is measured
    named = adapt(three, classes=[0, 1, 2])
    named_verdict = perf(named, data, metric="accuracy")  # column 2 wins every argmax
    assert named_verdict.status == "fail" and named_verdict.value == 0.0


def test_named_classes_must_match_the_columns(data):
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Wrong(ClassifierMixin, BaseEstimator):
        classes_ = np.array([0, 1, 2])

        def fit(self, x, y):
            return self

        def predict(self, rows):
            return (rows[:, 0] > 0).astype(int)

        def predict_proba(self, rows):
            p = 1 / (1 + np.exp(-rows[:, 0]))
            return np.column_stack([1 - p, p])

    with pytest.raises(GateError, match=r"returns 2 score column\(s\) .* names 3 classes"):
        perf(Wrong(), data, metric="roc_auc")


# -- targets and the positive class -----------------------------------------------------------


def test_nan_targets_are_an_error_not_a_class(tabular):
    y = tabular["y"].astype(float)
    y[[3, 7]] = np.nan
    data = Dataset.from_arrays(tabular["x"], y, name="gappy")
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    with pytest.raises(GateError, match=r"target of dataset 'gappy' is missing .* on 2 of 600"):
        perf(model, data, metric="accuracy")
    texts = np.where(tabular["y"] == 1, "yes", "no").astype(object)
    texts[5] = None
    labelled = Dataset.from_arrays(tabular["x"], texts, name="texts")
    with pytest.raises(GateError, match=r"missing \(NaN/None\) on 1 of 600 rows \(first: \[5\]\)"):
        perf(lambda rows: np.where(rows[:, 0] > 0, "yes", "no"), labelled, metric="accuracy")
    with pytest.raises(GateError, match=r"missing \(NaN/None\) on 2 of 600"):
        checks.fairness(
            model,
            Dataset.from_arrays(tabular["x"], y, sensitive={"g": tabular["x"][:, 1] > 0}),
            max_disparity=0.2,
        )


@pytest.fixture(scope="module")
def string_labels(tabular):
    """The same predictions under two spellings of the labels."""
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    predicted = model.predict(tabular["x"])
    group = np.where(tabular["x"][:, 1] > 0, "a", "b")
    out = {}
    for positive, negative in (("approved", "denied"), ("yes", "no")):

        def spell(v, positive=positive, negative=negative):
            return np.where(v == 1, positive, negative)

        out[positive] = (
            Predictions(y_pred=spell(predicted)),
            Dataset.from_arrays(tabular["x"], spell(tabular["y"]), sensitive={"group": group}),
        )
    return out, predicted, tabular["y"]


def test_string_labels_need_pos_label_in_performance_and_fairness(string_labels):
    spelled, predicted, truth = string_labels
    for positive, (stored, dataset) in spelled.items():
        # performance used to pick the alphabetically last label: "denied" or "yes"
        with pytest.raises(GateError, match=r"say which one is the positive .* pos_label="):
            perf(stored, dataset, metric="recall")
        with pytest.raises(GateError, match=r"say which one is the positive .* pos_label="):
            checks.fairness(
                stored, dataset, metric="true_positive_rate_difference", max_disparity=0.5
            )
        recall = perf(stored, dataset, metric="recall", pos_label=positive)
        assert recall.value == pytest.approx(skm.recall_score(truth, predicted))
        assert recall.evidence["pos_label"] == positive
        fair = checks.fairness(
            stored, dataset, metric="true_positive_rate_difference", max_disparity=0.5,
            pos_label=positive,
        )  # fmt: skip
        assert fair.evidence["pos_label"] == positive


@pytest.mark.parametrize(
    ("labels", "positive"), [([0, 1], 1), ([False, True], True), ([-1, 1], 1), ([0.0, 1.0], 1)]
)
def test_the_positive_class_is_inferred_only_from_0_1_labels(tabular, labels, positive):
    truth = np.where(tabular["y"] == 1, labels[1], labels[0])
    data = Dataset.from_arrays(tabular["x"], truth)
    stored = Predictions(y_pred=np.where(tabular["x"][:, 0] > 0, labels[1], labels[0]))
    assert perf(stored, data, metric="precision").evidence["pos_label"] == str(positive)


# -- gates on nothing -------------------------------------------------------------------------


def test_gates_on_no_rows_are_errors(keras_binary):
    empty = Dataset.from_arrays(np.zeros((0, 6), np.float32), np.zeros(0, int), name="none")
    with pytest.raises(GateError, match="batch_size=1 but dataset 'none' has 0 rows"):
        perf(keras_binary, empty, metric="latency_p95_ms", max=100, batch_size=1)
    with pytest.raises(GateError, match="dataset 'none' has no rows: there is no batch to time"):
        adapt(keras_binary).time_batches(empty, batch_size=1, repeats=3)
    with pytest.raises(GateError, match="dataset 'none' has no rows"):
        perf(Predictions(y_pred=np.zeros(0, int)), empty, metric="accuracy")


def test_latency_times_full_batches_only(keras_binary, binary_dataset):
    few = Dataset.from_arrays(binary_dataset.features[:10], binary_dataset.target[:10], name="ten")
    with pytest.raises(GateError, match=r"batch_size=32 but dataset 'ten' has 10 rows"):
        perf(keras_binary, few, metric="latency_p95_ms", max=100, batch_size=32)


def test_a_model_without_parameters_has_no_size(binary_dataset):
    keras = pytest.importorskip("keras")
    unbuilt = keras.Sequential([keras.layers.Dense(1)])  # no input shape: no weights yet
    with pytest.raises(GateError, match=r"has no parameters to measure \(0 bytes\)"):
        perf(unbuilt, binary_dataset, metric="model_size_mb", max=1.0)
