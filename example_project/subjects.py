"""Loading the committed models and data: shared by the project's and the demos' fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import credit_data
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
