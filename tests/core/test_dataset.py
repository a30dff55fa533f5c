"""Dataset and Predictions: construction, validation, fingerprints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_modelguard import Dataset, Predictions


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": [10.0, 20.0, 30.0, 40.0],
            "city": ["a", "b", "a", "c"],
            "sex": ["f", "m", "f", "m"],
            "approved": [0, 1, 1, 0],
        }
    )


def test_from_pandas_keeps_original_columns_for_the_model(frame):
    data = Dataset.from_pandas(frame, target="approved", sensitive="sex")
    assert list(data.features.columns) == ["income", "city"]
    assert data.feature_names == ["income", "city"]
    assert list(data.sensitive) == ["sex"] and data.sensitive["sex"].tolist() == [
        "f",
        "m",
        "f",
        "m",
    ]
    assert data.target.tolist() == [0, 1, 1, 0] and len(data) == 4


def test_explicit_features_may_include_a_sensitive_column_or_be_empty(frame):
    with_sex = Dataset.from_pandas(
        frame, target="approved", sensitive=["sex"], features=["income", "sex"]
    )
    assert list(with_sex.features.columns) == ["income", "sex"]
    empty = Dataset.from_pandas(frame, target="approved", sensitive=["sex"], features=[])
    assert empty.features.shape == (4, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"target": "approve"},
            "target column(s) 'approve' not in the data; available columns: income, city, sex, approved",
        ),
        (
            {"target": "approved", "sensitive": ["race"]},
            "sensitive column(s) 'race' not in the data",
        ),
        (
            {"target": "approved", "features": ["salary"]},
            "features column(s) 'salary' not in the data",
        ),
        (
            {"target": "approved", "kind": "audio"},
            "kind='audio' is not one of tabular, image, text",
        ),
    ],
)
def test_from_pandas_errors_name_what_to_change(frame, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Dataset.from_pandas(frame, **kwargs)


def test_from_csv(tmp_path, frame):
    path = tmp_path / "holdout.csv"
    frame.to_csv(path, index=False)
    data = Dataset.from_csv(path, target="approved", sensitive=["sex"])
    assert data.name == str(path)
    assert (
        data.fingerprint
        == Dataset.from_pandas(frame, target="approved", sensitive=["sex"]).fingerprint
    )
    with pytest.raises(ValueError, match="target column"):
        Dataset.from_csv(path, target="label")


def test_from_arrays_validates_lengths_and_names():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="features have 5 rows but target has 4"):
        Dataset.from_arrays(x, [0, 1, 0, 1])
    with pytest.raises(
        ValueError, match="sensitive column 'sensitive' has 3 rows but target has 5"
    ):
        Dataset.from_arrays(x, np.zeros(5), sensitive=[1, 2, 3])
    with pytest.raises(ValueError, match="3 feature_names for 2 feature columns"):
        Dataset.from_arrays(x, np.zeros(5), feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="target must be one value per row"):
        Dataset.from_arrays(x, np.zeros((5, 2)))
    single = Dataset.from_arrays(x, np.zeros(5), sensitive=np.arange(5))
    assert list(single.sensitive) == ["sensitive"]


def test_fingerprint_follows_content_not_identity():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1] * 3)
    a = Dataset.from_arrays(x, y)
    assert a.fingerprint == Dataset.from_arrays(x.copy(), y.copy()).fingerprint
    changed = x.copy()
    changed[0, 0] = 99
    assert a.fingerprint != Dataset.from_arrays(changed, y).fingerprint
    assert a.fingerprint != Dataset.from_arrays(x, 1 - y).fingerprint
    assert a.fingerprint != Dataset.from_arrays(x.astype(np.float64), y).fingerprint


def test_predictions_validation():
    with pytest.raises(ValueError, match="needs y_pred, y_score or both"):
        Predictions()
    with pytest.raises(ValueError, match="y_pred has 3 rows but y_score has 2"):
        Predictions(y_pred=[0, 1, 1], y_score=[0.1, 0.9])
    assert len(Predictions(y_score=np.zeros((4, 3)))) == 4
