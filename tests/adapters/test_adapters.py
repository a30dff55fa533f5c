"""Adapters on real models: outputs, batching, caching, and the errors of a bad model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from pytest_modelguard import Adapter, Dataset, GateError, Predictions, adapt, checks


def test_keras_outputs_equal_predict_and_are_batched(keras_binary, binary_dataset):
    adapter = adapt(keras_binary, batch_size=128)
    calls = []
    original = keras_binary.predict_on_batch

    def counting(rows):
        calls.append(len(rows))
        return original(rows)

    keras_binary.predict_on_batch = counting
    try:
        output = adapter.outputs(binary_dataset)
        again = adapter.outputs(binary_dataset)
    finally:
        del keras_binary.predict_on_batch
    expected = keras_binary.predict(binary_dataset.features, verbose=0)[:, 0]
    np.testing.assert_allclose(output.array, expected, rtol=1e-6)
    assert output.kind == "probabilities" and again is output
    assert calls == [128, 128, 128, 128, 88]
    assert adapt(keras_binary) is adapter


def test_keras_gets_float32_from_a_dataframe(keras_binary, tabular):
    frame = pd.DataFrame(tabular["x"].astype(np.float64), columns=list("abcdef"))
    frame["y"] = tabular["y"]
    data = Dataset.from_pandas(frame, target="y")
    verdict = checks.performance(keras_binary, data, metric="accuracy", min=0.5)
    array = Dataset.from_arrays(tabular["x"], tabular["y"])
    assert (
        verdict.value == checks.performance(keras_binary, array, metric="accuracy", min=0.5).value
    )


def test_keras_rejects_non_numeric_columns_by_name(keras_binary):
    frame = pd.DataFrame({"a": [1.0, 2.0], "city": ["x", "y"], "y": [0, 1]})
    with pytest.raises(GateError, match=r"non-numeric feature columns \['city'\]"):
        checks.performance(
            keras_binary, Dataset.from_pandas(frame, target="y"), metric="accuracy", min=0.5
        )


def test_tf_module_saved_model(keras_binary, binary_dataset, tmp_path):
    import tensorflow as tf

    keras_binary.export(tmp_path / "saved", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    verdict = checks.performance(loaded, binary_dataset, metric="roc_auc", min=0.5)
    expected = checks.performance(keras_binary, binary_dataset, metric="roc_auc", min=0.5)
    assert verdict.value == pytest.approx(expected.value, abs=1e-6)
    assert verdict.evidence["output"] == "probabilities"


def test_sklearn_pipeline_with_column_transformer_gets_the_dataframe():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"income": rng.normal(50, 10, 400), "city": rng.choice(["a", "b", "c"], 400)}
    )
    frame["approved"] = ((frame.income > 50) ^ (frame.city == "c")).astype(int)
    pipeline = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["income"]), ("cat", OneHotEncoder(), ["city"])]
        ),
        LogisticRegression(),
    ).fit(frame[["income", "city"]], frame.approved)
    data = Dataset.from_pandas(frame, target="approved")
    verdict = checks.performance(pipeline, data, metric="accuracy", min=0.5)
    assert verdict.value == pytest.approx(pipeline.score(frame[["income", "city"]], frame.approved))


def test_sklearn_output_kinds(tabular, regression):
    assert (
        adapt(LogisticRegression().fit(tabular["x_train"], tabular["y_train"])).output
        == "probabilities"
    )
    assert adapt(LinearSVC().fit(tabular["x_train"], tabular["y_train"])).output == "logits"
    regressor = adapt(LinearRegression().fit(regression["x_train"], regression["y_train"]))
    assert regressor.output == "values"


def test_string_classes_of_sklearn_are_kept(tabular):
    y = np.where(tabular["y_train"] == 1, "approved", "denied")
    clf = LogisticRegression().fit(tabular["x_train"], y)
    data = Dataset.from_arrays(tabular["x"], np.where(tabular["y"] == 1, "approved", "denied"))
    verdict = checks.performance(clf, data, metric="precision", pos_label="approved", min=0.5)
    assert verdict.evidence["pos_label"] == "approved"
    assert verdict.value == pytest.approx(
        np.mean(data.target[clf.predict(tabular["x"]) == "approved"] == "approved")
    )


def test_plain_callable_and_explicit_output_kind(tabular):
    data = Dataset.from_arrays(tabular["x"], tabular["y"])

    def margin(rows):
        return 1.8 * rows[:, 0] - 1.2 * rows[:, 1]

    assert adapt(margin).outputs(data).kind == "logits"
    stated = adapt(lambda rows: np.clip(rows[:, 0], 0, 1), output="logits")
    assert stated.outputs(data).kind == "logits"
    labels = adapt(lambda rows: (rows[:, 0] > 0).astype(int))
    assert labels.outputs(data).kind == "labels"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (lambda rows: 1 / 0, r"the model <lambda> raised ZeroDivisionError on rows 0-599"),
        (lambda rows: np.full(len(rows), np.nan), "returned NaN or infinite output for row 0"),
        (lambda rows: np.zeros(3), r"returned shape \(3,\) for a batch of 600 rows"),
        (lambda rows: np.zeros((len(rows), 2, 5)), r"returned shape \(600, 2, 5\)"),
    ],
)
def test_a_bad_model_is_an_error_not_a_pass(tabular, model, message):
    data = Dataset.from_arrays(tabular["x"], tabular["y"])
    with pytest.raises(GateError, match=message):
        checks.performance(model, data, metric="accuracy", min=0.5)


def test_an_unknown_model_type_is_an_error():
    with pytest.raises(GateError, match=r"does not know how to run a builtins\.str"):
        adapt("model.keras")


def test_a_custom_adapter_subclass(tabular):
    class Doubling(Adapter):
        output = "logits"

        def predict_batch(self, rows):
            return 2 * rows[:, 0]

    adapter = Doubling(object(), batch_size=100)
    data = Dataset.from_arrays(tabular["x"], tabular["y"])
    verdict = checks.performance(adapter, data, metric="roc_auc", min=0.5)
    assert verdict.status == "pass" and adapter.rows_predicted == len(data)


def test_predictions_must_align_with_the_dataset(binary_dataset):
    with pytest.raises(GateError, match="Predictions has 3 rows but dataset 'holdout' has 600"):
        checks.performance(
            Predictions(y_pred=[0, 1, 0]), binary_dataset, metric="accuracy", min=0.5
        )


def test_keras_output_kind_is_read_from_the_layer_that_makes_the_output():
    """Only a layer known to make the output says what the output is. A subclassed model
    has no graph to check, and its ``call`` may apply a softmax after a linear last layer
    (review: read as logits, softmaxed twice, an ECE gate passed at 0.05 where the truth is
    0.43): its kind is inferred from the values, or stated with ``output=``. ops after the
    last layer of a functional model make that layer say nothing either."""
    keras = pytest.importorskip("keras")
    from keras import ops

    class SoftmaxInCall(keras.Model):
        def __init__(self):
            super().__init__()
            self.head = keras.layers.Dense(3)  # linear: says nothing of what call returns

        def call(self, x):
            return ops.softmax(self.head(x))

    subclassed = SoftmaxInCall()
    rows = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    subclassed(rows)
    assert adapt(subclassed).output == "auto"
    inferred = adapt(subclassed).outputs(Dataset.from_arrays(rows, np.arange(20) % 3))
    assert inferred.kind == "probabilities"
    assert adapt(subclassed, output="logits").output == "logits"  # stated, not inferred
    inputs = keras.Input((3,))
    p = keras.layers.Dense(2, activation="softmax")(inputs)
    assert adapt(keras.Model(inputs, p)).output == "probabilities"
    reweighted = keras.Model(inputs, p * ops.convert_to_tensor([[2.0, 1.0]]))
    assert adapt(reweighted).output == "auto"  # inferred from the values, and said so
