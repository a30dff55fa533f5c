"""Labels and class probabilities derived from a model's raw output, once per output.

A :class:`~pytest_modelguard.adapters.ModelOutput` holds what the model returned
(labels, probabilities, logits or values); every requirement that needs labels at a decision
threshold or ``(n, k)`` probabilities asks here, and the result is kept in
``output.derived`` so gates on the same output share it.
"""

from __future__ import annotations

import numpy as np

from pytest_modelguard.adapters import ModelOutput
from pytest_modelguard.core.verdict import GateError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def class_probabilities(output: ModelOutput, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, k)`` probabilities and the class of each column."""
    if output.kind not in ("probabilities", "logits"):
        raise GateError(
            f"this metric needs scores, but the model returned {output.kind}; use a model "
            "that returns probabilities or logits (for stored predictions, give y_score=)"
        )
    if "probabilities" not in output.derived:
        scores = output.array.astype(np.float64)
        if scores.ndim == 1:
            p = _sigmoid(scores) if output.kind == "logits" else scores
            probabilities = np.column_stack([1.0 - p, p])
        else:
            probabilities = _softmax(scores) if output.kind == "logits" else scores
        probabilities.flags.writeable = False  # shared by every gate on this output
        output.derived["probabilities"] = probabilities
    probabilities = output.derived["probabilities"]
    classes = output.classes if output.classes is not None else np.arange(probabilities.shape[1])
    _check_target_classes(target, classes)
    return probabilities, classes


def predicted_labels(
    output: ModelOutput, target: np.ndarray, decision_threshold: float
) -> np.ndarray:
    """Labels: given ones as they are; binary scores at the threshold; else the argmax."""
    if output.kind == "labels":
        return output.array
    if output.kind == "values":
        raise GateError(
            "this metric needs class labels, but the model returns regression values; use "
            "mae, rmse or r2"
        )
    probabilities, classes = class_probabilities(output, target)
    key = ("labels", decision_threshold)
    if key not in output.derived:
        if probabilities.shape[1] == 2:
            positive = probabilities[:, 1] >= decision_threshold
            labels = np.where(positive, classes[1], classes[0])
        else:
            labels = classes[probabilities.argmax(axis=1)]
        labels.flags.writeable = False
        output.derived[key] = labels
    return output.derived[key]


def _check_target_classes(target: np.ndarray, classes: np.ndarray) -> None:
    unknown = np.setdiff1d(np.unique(target), classes)
    if len(unknown):
        raise GateError(
            f"the target has labels {[str(u) for u in unknown[:5]]} that the model's score "
            f"columns do not stand for (classes {[str(c) for c in classes[:10]]}); encode the "
            "target as class indices or use a model that knows its classes"
        )
