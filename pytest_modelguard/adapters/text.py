"""Keras models that take strings: texts go in as a string tensor, not float32.

A model whose input is a string (its own ``TextVectorization`` or a keras-hub
preprocessor inside) is recognised by its input dtype; the texts of a ``kind="text"``
dataset reach it as a ``(n,)`` or ``(n, 1)`` string batch, whichever its input declares.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter
from pytest_modelguard.adapters.keras import _KERAS_NUMPY2_WARNING, KerasAdapter
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.verdict import GateError


def takes_strings(model: Any) -> bool:
    """Whether a Keras model's (single) input is a string tensor."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return False
    return bool(inputs) and len(inputs) == 1 and str(inputs[0].dtype) == "string"


class KerasTextAdapter(KerasAdapter):
    """A Keras model on strings; outputs are read like any Keras classifier's."""

    def prepare(self, dataset: Dataset) -> np.ndarray:
        return text_batch(dataset)

    def predict_batch(self, rows: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        rank = len(self.model.inputs[0].shape)
        batch = tf.constant(list(rows), dtype=tf.string)
        if rank == 2:
            batch = batch[:, None]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _KERAS_NUMPY2_WARNING, DeprecationWarning)
            return np.asarray(self.model.predict_on_batch(batch))


def text_batch(dataset: Dataset) -> np.ndarray:
    """The texts of a text dataset as an object array, or an error saying what is wrong."""
    if dataset.kind != "text":
        raise GateError(
            f"the model takes strings but dataset {dataset.name!r} is {dataset.kind}: build "
            "it with Dataset.from_texts(texts, target) or from_pandas(df, text='column', ...)"
        )
    features = dataset.features
    values = features.tolist() if hasattr(features, "tolist") else list(features)
    bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
    if bad is not None:
        raise GateError(
            f"dataset {dataset.name!r} row {bad} is {type(values[bad]).__name__}, not a "
            "string: a text model takes one str per row"
        )
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def as_text_list(rows: Any) -> Any:
    """A batch of texts as ``list[str]`` for a plain callable (other batches unchanged)."""
    if (
        isinstance(rows, np.ndarray)
        and rows.ndim == 1
        and rows.dtype == object
        and all(isinstance(v, str) for v in rows[:1])
    ):
        return rows.tolist()
    return rows


__all__ = ["Adapter", "KerasTextAdapter", "as_text_list", "takes_strings", "text_batch"]
