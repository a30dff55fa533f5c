"""Loading the committed models and data: shared by the project's and the demos' fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import credit_data
import numpy as np
import pandas as pd

from pytest_modelguard import Dataset

HERE = Path(__file__).resolve().parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow first loads


def load_model(name: str) -> Any:
    """A committed Keras model; Keras loads on first use, not at collection."""
    import keras

    return keras.models.load_model(HERE / "models" / name)


def credit_dataset(split: str, features: list[str]) -> Dataset:
    """A committed credit split; ``sex`` and ``race`` are sensitive, never features."""
    df = credit_data.with_sex_column(pd.read_csv(HERE / "data" / f"credit_{split}.csv"))
    return Dataset.from_pandas(
        df,
        target=credit_data.TARGET,
        sensitive=credit_data.SENSITIVE,
        features=features,
        name=f"credit-{split}" + ("+sex_male" if credit_data.SEX_COLUMN in features else ""),
    )


#: the age bands of the table shared with auditors (exact age is not shared)
AGE_BANDS = {"under 30": 30, "30-39": 40, "40-49": 50, "50-59": 60, "60+": 200}


def shared_applications(split: str) -> Dataset:
    """A credit split as it is shared with the fairness auditors: exact age replaced by a
    10-year band, everything else (the free-text ``purpose`` included) as collected."""
    df = pd.read_csv(HERE / "data" / f"credit_{split}.csv")
    band = pd.cut(df["age"], [0, *AGE_BANDS.values()], right=False, labels=list(AGE_BANDS))
    return Dataset.from_pandas(
        df.drop(columns="age").assign(age_band=band.astype(str)),
        target=credit_data.TARGET,
        sensitive=credit_data.SENSITIVE,
        name=f"credit-{split}-shared",
    )


class ValidatedModel:
    """The credit model as the scoring service deploys it: the input is checked first.

    The bare network answers anything that is a float array: a NaN income comes out as
    NaN, or, under TensorFlow's oneDNN kernels (the default on x86), as a finite, made-up
    probability, so a broken upstream join would be scored silently. The service refuses
    such rows with a ``ValueError`` instead.
    """

    #: every feature is a non-negative amount, count or number of years; 10 million is
    #: 20 times the largest income or loan seen, so anything above it is an input error
    LIMIT = 1e7

    def __init__(self, model: Any, n_features: int) -> None:
        self.model, self.n_features = model, n_features

    def __call__(self, rows: Any) -> np.ndarray:
        x = np.asarray(rows)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"features must be numbers, got dtype {x.dtype}")
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features must be finite: no NaN or infinity")
        if (x < 0).any() or (x > self.LIMIT).any():
            raise ValueError(f"features must lie in [0, {self.LIMIT:g}]")
        if len(x) == 0:
            return np.empty(0, dtype=np.float32)
        return np.asarray(self.model.predict_on_batch(x.astype(np.float32)))[:, 0]
