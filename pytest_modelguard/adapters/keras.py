"""Keras 3 models: batched ``predict_on_batch`` on float32 arrays."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.verdict import GateError

_PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}
_KERAS_NUMPY2_WARNING = "__array__ implementation doesn't accept a copy keyword"


class KerasAdapter(Adapter):
    """A Keras model; its last layer's activation says whether it emits probabilities."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.output = _output_kind(model)

    def prepare(self, dataset: Dataset) -> np.ndarray:
        return as_float32(dataset)

    def predict_batch(self, rows: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # Keras converts TF tensors with np.array(x), which numpy 2 flags; not the user's code
            warnings.filterwarnings("ignore", _KERAS_NUMPY2_WARNING, DeprecationWarning)
            return np.asarray(self.model.predict_on_batch(rows))

    def size_bytes(self) -> int:
        return int(sum(np.asarray(w).nbytes for w in self.model.weights))

    content_kind = "weights-sha256"

    def content(self) -> bytes:
        weights = b"".join(np.ascontiguousarray(w).tobytes() for w in self.model.get_weights())
        return super().content() + weights


def as_float32(dataset: Dataset) -> np.ndarray:
    """Features as a float32 array, or a clear error naming the columns that are not numbers."""
    features = dataset.features
    if hasattr(features, "dtypes"):
        bad = [str(c) for c, t in features.dtypes.items() if t.kind not in "biuf"]
        if bad:
            raise GateError(
                f"dataset {dataset.name!r} has non-numeric feature columns {bad}: a Keras "
                "model takes a float32 array; encode them, or pass features=[...] "
                "without them"
            )
        return features.to_numpy(dtype=np.float32)
    array = np.asarray(features)
    if array.dtype.kind not in "biuf":
        raise GateError(
            f"dataset {dataset.name!r} has features of dtype {array.dtype}: a Keras model "
            "takes a float32 array"
        )
    return array.astype(np.float32, copy=False)


def output_layer(model: Any) -> Any | None:
    """The model's last layer when it computes the model's one output, else None.

    In Keras 3, ops applied after the last layer (``p * prior``) are not layers: then
    ``layers[-1]`` is not what the model returns, and reading its activation, or
    rebuilding it without one, would describe or attack another function. A subclassed
    model has no graph to check: its ``layers`` are in the order ``__init__`` assigned
    them, and ``call`` may apply an activation after the last one, so its output kind is
    inferred from the values (``adapt(model, output=...)`` states it).
    """
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    last = layers[-1]
    try:
        outputs = model.outputs
    except (AttributeError, ValueError, RuntimeError):
        return None  # subclassed: no graph to check against
    if outputs is None:  # a Sequential model not built yet: its last layer is its output
        return last
    if len(outputs) != 1:
        return None
    history = getattr(outputs[0], "_keras_history", None)  # the op that made the output
    return last if history is not None and history[0] is last else None


def _output_kind(model: Any) -> str:
    last = output_layer(model)
    if last is None:
        return "auto"
    if type(last).__name__ == "Softmax":
        return "probabilities"
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if activation in _PROBABILITY_ACTIVATIONS:
        return "probabilities"
    if activation == "linear":
        return "logits"
    return "auto"
