"""Stored predictions: the model is a table of outputs aligned with the dataset."""

from __future__ import annotations

import numpy as np

from pytest_modelguard.adapters import Adapter, ModelOutput, infer_output_kind
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.verdict import GateError


class PredictionsAdapter(Adapter):
    """Serves ``y_score`` (as probabilities) or ``y_pred`` without running anything."""

    model: Predictions

    def predict(self, dataset: Dataset) -> ModelOutput:
        stored = self.model
        if len(stored) != len(dataset):
            raise GateError(
                f"Predictions has {len(stored)} rows but dataset {dataset.name!r} has "
                f"{len(dataset)}: stored predictions must be aligned row for row"
            )
        self.rows_predicted += len(stored)
        labels = stored.y_pred
        if stored.y_score is not None:
            scores = np.asarray(stored.y_score, dtype=float)
            if not np.all(np.isfinite(scores)):
                raise GateError("Predictions.y_score contains NaN or infinite values")
            if scores.ndim == 2 and scores.shape[1] == 1:
                scores = scores[:, 0]
            kind = infer_output_kind(scores)
            return ModelOutput(array=scores, kind=kind, labels=labels)
        assert labels is not None
        if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
            raise GateError("Predictions.y_pred contains NaN or infinite values")
        return ModelOutput(array=labels, kind="labels")

    content_kind = "predictions-sha256"

    def content(self) -> bytes:
        parts = [self.model.y_pred, self.model.y_score]
        return b"".join(repr(p.tolist()).encode() for p in parts if p is not None)

    def time_batches(self, dataset: Dataset, *, batch_size: int, repeats: int) -> list[float]:
        raise GateError("latency cannot be measured on stored Predictions: there is no model")
