"""Real models for the plugin's own tests, trained once per session on seeded data."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from pytest_modelguard import Dataset

SCHEMAS = Path(__file__).resolve().parent / "schemas"  # a copy of the xunit2 schema of ../shared


@pytest.fixture(scope="session")
def tabular() -> dict[str, np.ndarray]:
    """A binary task on 6 features with a known signal and a sensitive attribute."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1600, 6)).astype(np.float32)
    logits = 1.8 * x[:, 0] - 1.2 * x[:, 1] + 0.6 * x[:, 2]
    y = (logits + rng.logistic(size=len(x)) * 0.7 > 0).astype(np.int64)
    group = rng.choice(["a", "b", "c"], size=len(x), p=[0.5, 0.3, 0.2])
    return {
        "x_train": x[:1000],
        "y_train": y[:1000],
        "x": x[1000:],
        "y": y[1000:],
        "group": group[1000:],
    }


@pytest.fixture(scope="session")
def binary_dataset(tabular: dict[str, np.ndarray]) -> Dataset:
    return Dataset.from_arrays(
        tabular["x"], tabular["y"], sensitive={"group": tabular["group"]}, name="holdout"
    )


@pytest.fixture(scope="session")
def keras_binary(tabular: dict[str, np.ndarray]):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(tabular["x_train"], tabular["y_train"], epochs=8, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def keras_binary_path(keras_binary, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The binary model saved once, for pytester projects to load quickly."""
    path = tmp_path_factory.mktemp("models") / "binary.keras"
    keras_binary.save(path)
    return path


@pytest.fixture(scope="session")
def holdout_path(tabular: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "holdout.npz"
    np.savez(path, x=tabular["x"], y=tabular["y"], group=tabular["group"])
    return path


#: a pytester project's conftest: ``model``, a LogisticRegression trained on the holdout's
#: first 300 rows, and ``dataset``, the rest (``DATA`` and ``Dataset`` stay in scope for
#: the fixtures a test module adds after it)
HOLDOUT_SUBJECTS = """
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from pytest_modelguard import Dataset

DATA = np.load({holdout!r})

@pytest.fixture(scope="session")
def model():
    return LogisticRegression().fit(DATA["x"][:300], DATA["y"][:300])

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(DATA["x"][300:], DATA["y"][300:]{sensitive})
"""


@pytest.fixture
def holdout_project(pytester: pytest.Pytester, holdout_path: Path):
    """Writes the conftest of a pytester project that gates a model on the holdout.

    ``holdout_project(groups=True)`` gives the dataset the holdout's ``group`` column as
    its sensitive feature; ``extra=`` is more conftest text (more fixtures) after it.
    """

    def make(*, groups: bool = False, extra: str = "") -> pytest.Pytester:
        sensitive = ', sensitive={"group": DATA["group"][300:]}' if groups else ""
        subjects = HOLDOUT_SUBJECTS.format(holdout=str(holdout_path), sensitive=sensitive)
        pytester.makeconftest(subjects + extra)
        return pytester

    return make


@pytest.fixture(scope="session")
def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return {"x_train": x[:1200], "y_train": y[:1200], "x": x[1200:], "y": y[1200:]}


@pytest.fixture(scope="session")
def keras_multiclass_logits(digits: dict[str, np.ndarray]):
    """Ten classes, linear last layer: the adapter must treat its outputs as logits."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(digits["x_train"], digits["y_train"], epochs=10, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def regression() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(900, 4)).astype(np.float32)
    y = (2.0 * x[:, 0] - x[:, 1] + 0.5 * rng.normal(size=len(x))).astype(np.float32)
    return {"x_train": x[:600], "y_train": y[:600], "x": x[600:], "y": y[600:]}


@pytest.fixture(scope="session")
def keras_regressor(regression: dict[str, np.ndarray]):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(regression["x_train"], regression["y_train"], epochs=15, batch_size=32, verbose=0)
    return model
