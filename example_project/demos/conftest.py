"""Subjects of the demos: the deliberately biased credit model (fixtures of the project
conftest are not visible here, because the demos are not under ``tests/``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import credit_data
from subjects import credit_dataset, load_model

from pytest_modelguard import Dataset


@pytest.fixture(scope="session")
def biased_model() -> Any:
    return load_model("credit_biased.keras")


@pytest.fixture(scope="session")
def biased_dataset() -> Dataset:
    return credit_dataset("holdout", credit_data.BIASED_FEATURES)


@pytest.fixture(scope="session")
def sex_input_dataset(biased_dataset: Dataset) -> Dataset:
    """The same rows with the model's own ``sex_male`` input as the sensitive column, so a
    counterfactual gate can flip it."""
    features = biased_dataset.features
    return Dataset.from_pandas(
        features.assign(approved=biased_dataset.target),
        target="approved",
        sensitive=["sex_male"],
        features=list(features.columns),
        name="credit-holdout+sex_male",
    )
