"""Reproduce the committed data and models: ``python example_project/train.py``.

``python example_project/train.py --data-only`` rewrites only the two credit CSVs
(deterministic), keeping the committed models.

Writes ``data/credit_train.csv``, ``data/credit_holdout.csv``, the holdout scores of
the credit model (``data/credit_holdout_scores.csv``) and three Keras models in
``models/``, and prints their holdout quality and fairness. Everything is seeded, but TensorFlow training is not bit-reproducible
across machines: the committed files are what the gates test.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import credit_data  # noqa: E402
import digits_data  # noqa: E402

DATA, MODELS = HERE / "data", HERE / "models"
SEED = 20240601
N_TRAIN, N_HOLDOUT = 8000, 8000
TRAIN_SEED, HOLDOUT_SEED = 1, 2
STORED_SCORES = "credit_holdout_scores.csv"


def credit_mlp(train_features: np.ndarray) -> keras.Model:
    """A small MLP that takes raw feature values: normalisation is its first layer."""
    normalization = keras.layers.Normalization()
    normalization.adapt(train_features)
    model = keras.Sequential(
        [
            keras.Input(shape=(train_features.shape[1],)),
            normalization,
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def train_credit(
    name: str, train: pd.DataFrame, holdout: pd.DataFrame, features: list[str]
) -> keras.Model:
    """Fit the MLP on ``features`` and report its quality and fairness on the holdout."""
    x = train[features].to_numpy(np.float32)
    y = train[credit_data.TARGET].to_numpy(np.float32)
    model = credit_mlp(x)
    model.fit(x, y, epochs=60, batch_size=64, verbose=0)
    scores = model.predict(holdout[features].to_numpy(np.float32), verbose=0)[:, 0]
    report_credit(name, holdout, scores)
    return model


def report_credit(name: str, holdout: pd.DataFrame, scores: np.ndarray) -> None:
    """Accuracy, ROC AUC and fairlearn's group differences by sex and race."""
    from fairlearn.metrics import (
        demographic_parity_difference,
        equalized_odds_difference,
    )

    truth = holdout[credit_data.TARGET].to_numpy()
    approved = (scores > 0.5).astype(int)
    print(
        f"{name}: holdout accuracy {accuracy_score(truth, approved):.3f}, "
        f"roc_auc {roc_auc_score(truth, scores):.3f}"
    )
    for column in credit_data.SENSITIVE:
        groups = holdout[column]
        dp = demographic_parity_difference(truth, approved, sensitive_features=groups)
        eo = equalized_odds_difference(truth, approved, sensitive_features=groups)
        print(f"  by {column}: demographic parity diff {dp:.3f}, equalized odds diff {eo:.3f}")


def write_stored_scores(model: keras.Model, holdout: pd.DataFrame) -> None:
    """The holdout scores as a deployed system would log them (audited as ``Predictions``)."""
    scores = model.predict(holdout[credit_data.FEATURES].to_numpy(np.float32), verbose=0)[:, 0]
    pd.DataFrame({"score": np.round(scores, 5)}).to_csv(DATA / STORED_SCORES, index=False)


def train_digits() -> keras.Model:
    """A small CNN on the 8x8 digits; softmax output."""
    x_train, x_holdout, y_train, y_holdout = digits_data.split()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=60, batch_size=32, verbose=0)
    predicted = model.predict(x_holdout, verbose=0).argmax(axis=1)
    print(f"digits_cnn: holdout accuracy {accuracy_score(y_holdout, predicted):.3f}")
    return model


def write_credit_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate and write the two credit splits; the same bytes on every run."""
    DATA.mkdir(exist_ok=True)
    train = credit_data.generate(N_TRAIN, TRAIN_SEED)
    holdout = credit_data.generate(N_HOLDOUT, HOLDOUT_SEED)
    train.to_csv(DATA / "credit_train.csv", index=False)
    holdout.to_csv(DATA / "credit_holdout.csv", index=False)
    return train, holdout


def main() -> None:
    if "--data-only" in sys.argv[1:]:  # rewrite the CSVs, keep the committed models
        write_credit_data()
        return
    started = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    MODELS.mkdir(exist_ok=True)
    train, holdout = write_credit_data()

    credit = train_credit("credit", train, holdout, credit_data.FEATURES)
    credit.save(MODELS / "credit.keras")
    write_stored_scores(credit, holdout)
    train_credit(
        "credit_biased",
        credit_data.with_sex_column(train),
        credit_data.with_sex_column(holdout),
        credit_data.BIASED_FEATURES,
    ).save(MODELS / "credit_biased.keras")
    train_digits().save(MODELS / "digits_cnn.keras")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
