"""TensorFlow SavedModels and ``tf.Module`` callables."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter
from pytest_modelguard.adapters.keras import as_float32
from pytest_modelguard.core.dataset import Dataset


class TensorFlowAdapter(Adapter):
    """A ``tf.Module`` (or ``tf.saved_model.load`` result): its ``serving_default``
    signature when it has one, else the module called on a float32 tensor."""

    def prepare(self, dataset: Dataset) -> np.ndarray:
        return as_float32(dataset)

    def predict_batch(self, rows: np.ndarray) -> Any:
        import tensorflow as tf

        tensor = tf.constant(rows)
        signatures = getattr(self.model, "signatures", None)
        if signatures and "serving_default" in signatures:
            signature = signatures["serving_default"]
            (name,) = signature.structured_input_signature[1].keys()
            return signature(**{name: tensor})
        return self.model(tensor)

    def size_bytes(self) -> int:
        variables = getattr(self.model, "variables", ())
        return int(sum(v.numpy().nbytes for v in variables))
