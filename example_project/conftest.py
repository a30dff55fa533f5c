"""The subjects under test: the committed models and datasets, loaded once per session.

Gates find ``model`` and ``dataset`` by name; other subjects are named on the marker
(``model="digits_model", data="digits_dataset"``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pytest_modelguard import Dataset, Predictions

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # credit_data, digits_data, subjects: under any --import-mode

import credit_data  # noqa: E402
import digits_data  # noqa: E402
import dp_training  # noqa: E402
from subjects import ValidatedModel, credit_dataset, load_model, shared_applications  # noqa: E402


@pytest.fixture(scope="session")
def model() -> Any:
    """The credit model: an MLP on the seven non-sensitive features."""
    return load_model("credit.keras")


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """The credit holdout (8000 rows) the gates measure on."""
    return credit_dataset("holdout", credit_data.FEATURES)


@pytest.fixture(scope="session")
def train_dataset() -> Dataset:
    """The credit training split, for gates that compare members with non-members."""
    return credit_dataset("train", credit_data.FEATURES)


@pytest.fixture(scope="session")
def credit_service(model: Any) -> ValidatedModel:
    """The credit model behind the scoring service's input validation (what is deployed)."""
    return ValidatedModel(model, n_features=len(credit_data.FEATURES))


@pytest.fixture(scope="session")
def shared_table() -> Dataset:
    """The holdout as shared with auditors: age in 10-year bands, free-text ``purpose``."""
    return shared_applications("holdout")


@pytest.fixture(scope="session")
def biased_model() -> Any:
    """The deliberately unfair variant: it also takes ``sex_male`` (1 male, 0 female)."""
    return load_model("credit_biased.keras")


@pytest.fixture(scope="session")
def biased_dataset() -> Dataset:
    """The credit holdout with ``sex_male`` as the last feature, as the biased model takes."""
    return credit_dataset("holdout", credit_data.BIASED_FEATURES)


@pytest.fixture(scope="session")
def digits_model() -> Any:
    """A small CNN on scikit-learn's 8x8 digits; softmax over the 10 classes."""
    return load_model("digits_cnn.keras")


@pytest.fixture(scope="session")
def digits_dataset() -> Dataset:
    """The digits holdout (540 images) of ``digits_data.split``: no download, same every run."""
    _, x_holdout, _, y_holdout = digits_data.split()
    return Dataset.from_arrays(
        x_holdout, y_holdout, kind="image", bounds=(0.0, 1.0), name="digits-holdout"
    )


@pytest.fixture(scope="session")
def stored_scores() -> Predictions:
    """Scores the deployed credit model logged for the holdout rows, audited without it."""
    scores = pd.read_csv(HERE / "data" / "credit_holdout_scores.csv")["score"]
    return Predictions(y_score=scores.to_numpy())


@pytest.fixture(scope="session")
def dp_train_model() -> Any:
    """Trains the DP-SGD logistic regression (``dp_training.py``) on the rows it is given."""

    def train(subset: Dataset, seed: int = 0) -> Any:
        return dp_training.train_dp(subset.features, subset.target, seed=seed % 2**32)

    return train


@pytest.fixture(scope="session")
def dp_model(train_dataset: Dataset, dp_train_model: Any) -> Any:
    """The credit model trained with DP-SGD on the training split (about 0.2 s)."""
    return dp_train_model(train_dataset, seed=dp_training.SEED)


@pytest.fixture(scope="session")
def production_log_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A year of logged credit decisions (120,000 rows, about a second to write)."""
    from production_log import write_log

    return str(write_log(tmp_path_factory.mktemp("credit-log"), rows=120_000))


@pytest.fixture(scope="session")
def monthly_log(production_log_dir: str) -> Any:
    """Every decision of 2025, evaluated month by month (the worst month decides)."""
    from production_log import open_log

    return open_log(production_log_dir, window="1mo")
