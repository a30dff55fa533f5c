"""Feature attributions: integrated gradients and permutation importance, batched.

Integrated gradients (Sundararajan et al., 2017) need a differentiable model (Keras, a
``tf.Module``); each of the ``steps`` interpolation points is one batched gradient pass
over every row (midpoint rule). Permutation importance runs any model: one batched
inference pass per shuffled feature, scored against the clean outputs the adapter already
cached. TensorFlow and scipy load when first needed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, ModelOutput
from pytest_modelguard.adapters.outputs import class_probabilities, predicted_labels
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.verdict import GateError

DECISION_THRESHOLD = 0.5


# -- what is attributed -----------------------------------------------------------------------


def output_columns(output: ModelOutput) -> np.ndarray | None:
    """The score column attributed per row: the predicted class for ``(n, k)`` scores,
    None (the single output) for binary scores and regression values."""
    array = output.array
    if output.kind in ("probabilities", "logits") and array.ndim == 2 and array.shape[1] > 1:
        return np.asarray(array.argmax(axis=1))
    return None


def row_scores(
    output: ModelOutput, columns: np.ndarray | None, reference: Any = None
) -> np.ndarray:
    """The attributed score of every row: the ``columns`` entry of multi-column scores, the
    single output otherwise; for label-only models, 1.0 where the label equals ``reference``."""
    array = output.array
    if output.kind == "labels":
        return (array == reference).astype(np.float64)
    array = np.asarray(array, dtype=np.float64)
    if columns is not None:
        return array[np.arange(len(array)), columns]
    return array.reshape(len(array), -1)[:, 0]


# -- integrated gradients ---------------------------------------------------------------------


class Differentiable:
    """A model TensorFlow can differentiate: its raw outputs, and the gradient of one score
    column per row, compiled once per model (``tf.function``) for repeated passes."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self._step: Any = None

    def outputs(self, rows: np.ndarray) -> np.ndarray:
        """Raw outputs on ``rows`` (one call), as ``(n, outputs)``."""
        import tensorflow as tf

        out = self._flat(self.fn(tf.constant(rows, dtype=tf.float32)))
        return np.asarray(out.numpy(), dtype=np.float64)

    def gradient(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """d score[i, columns[i]] / d rows[i] for every row, in one batched pass."""
        import tensorflow as tf

        if self._step is None:
            self._step = tf.function(self._gradient, reduce_retracing=True)
        try:
            gradient = self._step(tf.constant(rows), tf.constant(columns, dtype=tf.int64))
        except Exception as exc:
            raise GateError(
                f"computing gradients of the model raised {type(exc).__name__}: {exc}; use "
                "method='permutation' for a model that TensorFlow cannot differentiate"
            ) from exc
        if gradient is None:
            raise GateError(
                "the model's output has no gradient with respect to its inputs (a cast, "
                "argmax or a non-TensorFlow step cuts it); use method='permutation'"
            )
        return gradient.numpy()

    def _gradient(self, rows: Any, columns: Any) -> Any:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(rows)
            out = self._flat(self.fn(rows))
            total = tf.reduce_sum(tf.gather(out, columns, axis=1, batch_dims=1))
        return tape.gradient(total, rows)

    @staticmethod
    def _flat(out: Any) -> Any:
        import tensorflow as tf

        if isinstance(out, dict):
            (out,) = out.values()
        return tf.reshape(tf.cast(out, tf.float32), (tf.shape(out)[0], -1))


_differentiable: weakref.WeakKeyDictionary[Adapter, Differentiable] = weakref.WeakKeyDictionary()


def differentiable(adapter: Adapter) -> Differentiable | None:
    """The model as TensorFlow can differentiate it (the same object for the same adapter),
    or None when its framework has no gradients (scikit-learn, callables, stored outputs)."""
    from pytest_modelguard.adapters.keras import KerasAdapter
    from pytest_modelguard.adapters.tensorflow import TensorFlowAdapter

    if adapter in _differentiable:
        return _differentiable[adapter]
    model = adapter.model
    if isinstance(adapter, KerasAdapter):
        fn: Callable[[Any], Any] = lambda tensor: model(tensor, training=False)  # noqa: E731
    elif isinstance(adapter, TensorFlowAdapter):
        fn = model
        signatures = getattr(model, "signatures", None)
        if signatures and "serving_default" in signatures:
            signature = signatures["serving_default"]
            (name,) = signature.structured_input_signature[1].keys()
            fn = lambda tensor: signature(**{name: tensor})  # noqa: E731
    else:
        return None
    _differentiable[adapter] = Differentiable(fn)
    return _differentiable[adapter]


@dataclass(frozen=True)
class Gradients:
    """Integrated-gradient attributions, shaped like the inputs, and what they cost."""

    attributions: np.ndarray
    passes: int  # batched gradient passes


def integrated_gradients(
    model: Differentiable,
    x: np.ndarray,
    baseline: np.ndarray,
    columns: np.ndarray | None,
    *,
    steps: int,
    batch_size: int,
) -> Gradients:
    """``(x - baseline) * mean_k grad f(baseline + a_k (x - baseline))``, a_k = (k + 1/2) / m.

    One pass per step (per ``batch_size`` rows) computes the gradient of the attributed
    score of every row at once: rows are independent, so the gradient of their sum is
    each row's own gradient. ``columns`` picks the score column per row (None: the first).
    """
    x = np.asarray(x, dtype=np.float32)
    baseline = np.asarray(baseline, dtype=np.float32)
    columns = np.zeros(len(x), np.int64) if columns is None else np.asarray(columns, np.int64)
    difference = x - baseline
    total = np.zeros(x.shape, dtype=np.float64)
    passes = 0
    for k in range(steps):
        alpha = np.float32((k + 0.5) / steps)
        for start in range(0, len(x), batch_size):
            stop = min(start + batch_size, len(x))
            rows = baseline + alpha * difference[start:stop]
            total[start:stop] += model.gradient(rows, columns[start:stop])
            passes += 1
    attributions = difference.astype(np.float64) * total / steps
    if not np.all(np.isfinite(attributions)):
        raise GateError(
            "integrated gradients are NaN or infinite: the features hold NaN/inf values or "
            "the model's gradient overflows; clean the data or use method='permutation'"
        )
    return Gradients(attributions, passes)


# -- permutation importance -------------------------------------------------------------------


@dataclass(frozen=True)
class Permutation:
    """Permutation importances, the per-row evidence behind them, and their cost."""

    importance: np.ndarray  # (features,): mean rise of the loss when the feature is shuffled
    contributions: np.ndarray  # (rows, features): each row's loss rise, mean over repeats
    changes: np.ndarray  # (rows, features): |score(x) - score(x, feature j shuffled)|, repeat 0
    passes: int  # batched inference passes (the clean one not counted: it is cached)
    scoring: str  # the per-row loss: log loss, squared error, or 0/1 loss for labels only


def permutation_importance(
    adapter: Adapter,
    sample: Dataset,
    clean: ModelOutput,
    orders: np.ndarray,
    columns: np.ndarray | None,
) -> Permutation:
    """Shuffle one feature at a time, ``repeats`` times (feature ``j`` of row ``i`` takes row
    ``orders[r, j, i]``'s value in repeat ``r``); the repeats of one feature are scored in
    one batched pass. Importance is the rise of a proper scoring rule (log loss for
    classifiers with scores, squared error for regressors), as scikit-learn's
    ``permutation_importance`` with ``neg_log_loss`` / ``neg_mean_squared_error``; only a
    model that returns labels alone falls back to the 0/1 loss."""
    repeats, width, n = orders.shape
    reference, scoring = row_losses(clean, sample.target)
    labels = clean.array if clean.kind == "labels" else None
    base = row_scores(clean, columns, labels)
    target = np.tile(sample.target, repeats)
    contributions = np.empty((n, width))
    changes = np.empty((n, width))
    for j in range(width):
        column = feature_column(sample.features, j)
        copies = [with_feature(sample.features, j, column[order]) for order in orders[:, j]]
        stacked = Dataset(
            _concatenate(copies),
            target,
            feature_names=sample.feature_names,
            kind=sample.kind,
            name=sample.name,
        )
        output = adapter.predict(stacked)
        losses, _ = row_losses(output, target)
        contributions[:, j] = losses.reshape(repeats, n).mean(axis=0) - reference
        first = ModelOutput(array=output.array[:n], kind=output.kind, classes=output.classes)
        changes[:, j] = np.abs(row_scores(first, columns, labels) - base)
    return Permutation(contributions.mean(axis=0), contributions, changes, width, scoring)


def _concatenate(parts: list[Any]) -> Any:
    if hasattr(parts[0], "iloc"):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    return np.concatenate(parts)


def score_changes(
    adapter: Adapter, rows: Dataset, replacements: list[np.ndarray], columns: np.ndarray | None
) -> np.ndarray:
    """Per-row ``|score(x) - score(x with feature j set to replacements[j])|``: one pass for
    ``x`` and one per feature (the per-row side of permutation importance)."""
    clean = adapter.predict(rows)
    labels = clean.array if clean.kind == "labels" else None
    base = row_scores(clean, columns, labels)
    changes = np.empty((len(rows), len(replacements)))
    for j, values in enumerate(replacements):
        output = adapter.predict(_like(rows, with_feature(rows.features, j, values)))
        changes[:, j] = np.abs(row_scores(output, columns, labels) - base)
    return changes


def _like(dataset: Dataset, features: Any) -> Dataset:
    return Dataset(
        features,
        dataset.target,
        feature_names=dataset.feature_names,
        kind=dataset.kind,
        name=dataset.name,
    )


def row_losses(output: ModelOutput, target: np.ndarray) -> tuple[np.ndarray, str]:
    """Each row's loss and its name: squared error for regression values, log loss (of
    probabilities clipped to [eps, 1 - eps], as scikit-learn's ``log_loss``) for scores,
    and the 0/1 loss for a model that gives labels only."""
    if output.kind == "values":
        values = np.asarray(output.array, dtype=np.float64).reshape(len(target), -1)[:, 0]
        return (np.asarray(target, dtype=np.float64) - values) ** 2, "squared error"
    if output.kind == "labels":
        labels = predicted_labels(output, target, DECISION_THRESHOLD)
        return (labels != target).astype(np.float64), "0/1 loss (the model returns labels only)"
    probabilities, classes = class_probabilities(output, target)
    order = np.argsort(classes)
    truth = order[np.searchsorted(classes, target, sorter=order)]
    p = probabilities[np.arange(len(target)), truth]
    eps = np.finfo(np.float64).eps
    return -np.log(np.clip(p, eps, 1.0 - eps)), "log loss"


# -- features as columns ----------------------------------------------------------------------


def n_features(features: Any) -> int:
    """Tabular columns, or pixel positions (channels together) of images."""
    shape = np.shape(features)
    return int(np.prod(shape[1:3])) if len(shape) > 2 else int(shape[1])


def feature_column(features: Any, j: int) -> np.ndarray:
    """Feature ``j`` of every row: a column, or pixel ``divmod(j, width)`` with its channels."""
    if hasattr(features, "iloc"):
        return features.iloc[:, j].to_numpy()
    array = np.asarray(features)
    if array.ndim > 2:
        return array[:, j // array.shape[2], j % array.shape[2]]
    return array[:, j]


def with_feature(features: Any, j: int, values: np.ndarray) -> Any:
    """A copy of ``features`` (same container) whose feature ``j`` is ``values``."""
    if hasattr(features, "iloc"):
        out = features.copy()
        out.isetitem(j, values)
        return out
    out = np.array(features, copy=True)
    if out.ndim > 2:
        out[:, j // out.shape[2], j % out.shape[2]] = values
    else:
        out[:, j] = values
    return out


def per_feature(attributions: np.ndarray) -> np.ndarray:
    """``|attribution|`` per row and feature: images sum the channels of a pixel."""
    magnitude = np.abs(attributions)
    if magnitude.ndim > 2:
        n, height, width = magnitude.shape[:3]
        magnitude = magnitude.reshape(n, height * width, -1).sum(axis=2)
    return magnitude


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each row of ``a`` with the same row of ``b`` (ties
    take average ranks, as ``scipy.stats.spearmanr``). A row constant on both sides ranks
    identically (1.0); constant on one side only, it keeps no ranking (0.0)."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((ra**2).sum(axis=1)), np.sqrt((rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / (sa * sb)
    flat_a, flat_b = sa == 0, sb == 0
    rho = np.where(flat_a & flat_b, 1.0, np.where(flat_a | flat_b, 0.0, rho))
    return np.clip(rho, -1.0, 1.0)
