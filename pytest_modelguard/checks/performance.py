"""Model quality: classification, ranking, calibration, regression, latency and size."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.adapters import ModelOutput, adapt, positive_label
from pytest_modelguard.adapters.outputs import class_probabilities, predicted_labels
from pytest_modelguard.checks._gate import (
    NON_NEGATIVE,
    UNIT,
    check_confidence,
    check_threshold,
    decide,
    interval,
    one_threshold,
)
from pytest_modelguard.core import stats
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.spec import Reports, requirement
from pytest_modelguard.core.verdict import GateError, Operator, Verdict, require_count
from pytest_modelguard.logs import per_window

ECE_BINS = 15
#: the Brier score lies in [0, 1] on two classes and in [0, 2] on more (scikit-learn's scale);
#: a threshold is checked against [0, 2] first and against [0, 1] once the data is binary
BRIER_RANGE = (0.0, 2.0)


@dataclass(frozen=True)
class Metric:
    name: str
    needs: str  # "labels", "scores", "values" or "model"
    formula: str
    per_class: bool = False
    within: tuple[float, float] = UNIT  # the values the metric can take


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "labels", "correct / n", per_class=True),
        Metric("balanced_accuracy", "labels", "mean over classes of recall"),
        Metric("precision", "labels", "TP / (TP + FP)", per_class=True),
        Metric("recall", "labels", "TP / (TP + FN)", per_class=True),
        Metric("f1", "labels", "2 TP / (2 TP + FP + FN)", per_class=True),
        Metric("roc_auc", "scores", "P(score(pos) > score(neg)) + P(tie) / 2", per_class=True),
        Metric("log_loss", "scores", "-mean log p(true class)", within=NON_NEGATIVE),
        Metric(
            "brier",
            "scores",
            "mean over rows of sum over classes (p_k - [y = k])^2; halved on two classes, "
            "i.e. mean (p_1 - y)^2 (scikit-learn's brier_score_loss)",
            within=BRIER_RANGE,
        ),
        Metric("ece", "scores", f"sum over {ECE_BINS} bins of |accuracy - confidence| * n_bin / n"),
        Metric("mae", "values", "mean |y - y_hat|", within=NON_NEGATIVE),
        Metric("rmse", "values", "sqrt(mean (y - y_hat)^2)", within=NON_NEGATIVE),
        Metric("r2", "values", "1 - SS_res / SS_tot", within=(-math.inf, 1.0)),
        Metric(
            "latency_p95_ms",
            "model",
            "95th percentile of ms per model call on batch_size rows",
            within=NON_NEGATIVE,
        ),
        Metric("model_size_mb", "model", "bytes of parameters / 1e6", within=NON_NEGATIVE),
    ]
}


@per_window
@requirement(example='metric="accuracy", min=0.8', rank=10)
def performance(
    model: Any,
    dataset: Dataset,
    *,
    metric: Annotated[str, Reports("{value}")] = "accuracy",
    min: float | None = None,
    max: float | None = None,
    confidence: float | None = None,
    n_resamples: int = 2000,
    per_class: bool = False,
    decision_threshold: float = 0.5,
    pos_label: Any = None,
    batch_size: int = 32,
    seed: int = 0,
) -> Verdict:
    """Gate a quality metric of ``model`` on ``dataset`` at ``min=`` or ``max=``.

    Binary scores are thresholded at ``decision_threshold``; multiclass scores take the
    argmax. ``precision``/``recall``/``f1`` are for ``pos_label`` on two classes and
    macro-averaged on more. ``per_class=True`` gates every class (one-vs-rest) and the
    worst decides. With ``confidence`` the gate decides on the interval's bound from
    ``n_resamples`` Poisson-bootstrap resamples seeded by ``seed``.
    """
    started = time.perf_counter()
    spec = METRICS.get(metric)
    if spec is None:
        raise GateError(
            f"unknown performance metric {metric!r}; choose one of {', '.join(METRICS)}"
        )
    name, threshold = one_threshold("performance", {"min": min, "max": max})
    operator = ">=" if name == "min" else "<="
    check_threshold(name, threshold, operator=operator, within=spec.within, what=metric)
    check_confidence(confidence, n_resamples)
    if per_class and not spec.per_class:
        accepting = ", ".join(m.name for m in METRICS.values() if m.per_class)
        raise GateError(f"per_class=True does not apply to {metric}; it applies to {accepting}")
    if not 0.0 < decision_threshold < 1.0:
        raise GateError(
            f"decision_threshold={decision_threshold!r} must lie strictly between 0 and 1"
        )

    log = getattr(dataset, "is_prediction_log", False)
    adapter = None if log else adapt(model)
    subject = "logged predictions" if adapter is None else adapter.name
    evidence: dict[str, Any] = {"model": subject, "dataset": dataset.name}
    gate = _Gate(spec, name, operator, threshold, evidence)
    if spec.needs == "model":
        verdict = _model_gate(gate, adapter, dataset, confidence=confidence, batch_size=batch_size)
    else:
        verdict = _data_gate(
            gate, adapter, dataset, per_class=per_class, decision_threshold=decision_threshold,
            pos_label=pos_label, confidence=confidence, n_resamples=n_resamples, seed=seed,
        )  # fmt: skip
    verdict.duration = time.perf_counter() - started
    return verdict


@dataclass(frozen=True)
class _Gate:
    """What a performance gate requires: the metric, its threshold and the evidence so far."""

    spec: Metric
    keyword: str  # "min" or "max"
    operator: Operator
    threshold: float
    evidence: dict[str, Any]


def _model_gate(
    gate: _Gate, adapter: Any, dataset: Dataset, *, confidence: float | None, batch_size: int
) -> Verdict:
    """A metric of the model itself (its latency, its size): measured once, no interval."""
    metric = gate.spec.name
    if adapter is None:
        raise GateError(f"{metric} measures a model; a prediction log has none")
    if confidence is not None:
        raise GateError(f"confidence= does not apply to {metric}: it is measured, not sampled")
    value, n = _model_metric(metric, adapter, dataset, batch_size, gate.evidence)
    return decide(
        requirement="performance",
        metric=metric,
        values=np.array([value]),
        operator=gate.operator,
        threshold=gate.threshold,
        n=n,
        formula=gate.spec.formula,
        evidence=gate.evidence,
    )


def _data_gate(
    gate: _Gate,
    adapter: Any,
    dataset: Any,
    *,
    per_class: bool,
    decision_threshold: float,
    pos_label: Any,
    confidence: float | None,
    n_resamples: int,
    seed: int,
) -> Verdict:
    """A metric of the outputs against the target, on a dataset or a prediction log."""
    spec, evidence = gate.spec, gate.evidence
    if adapter is None:
        from pytest_modelguard.logs import log_statistic

        counts, statistic, labels, n = log_statistic(
            dataset, spec, per_class, decision_threshold, pos_label, confidence, evidence
        )
    else:
        output = adapter.outputs(dataset)
        evidence["output"] = output.kind
        counts, statistic, labels = _statistic(
            spec, output, dataset.target, per_class, decision_threshold, pos_label, evidence
        )
        n = len(dataset)
    if evidence.get("brier_classes") == 2:  # binary Brier lies in [0, 1], not [0, 2]
        check_threshold(
            gate.keyword, gate.threshold, operator=gate.operator, within=UNIT, what="binary brier"
        )
    values = stats.point_estimate(counts, statistic)
    _require_defined(spec.name, values, labels)
    low = high = None
    if confidence is not None:
        low, high = _interval(
            counts, statistic, spec.name, confidence, n_resamples=n_resamples, seed=seed,
            evidence=evidence,
        )  # fmt: skip
    if labels is not None:
        evidence["per_class"] = {
            label: float(v) for label, v in zip(labels, np.atleast_1d(values), strict=True)
        }
    return decide(
        requirement="performance",
        metric=spec.name,
        values=values,
        labels=labels,
        operator=gate.operator,
        threshold=gate.threshold,
        confidence=confidence,
        low=low,
        high=high,
        n=n,
        formula=spec.formula,
        evidence=evidence,
    )


def _interval(
    counts: Any,
    statistic: Any,
    metric: str,
    confidence: float,
    *,
    n_resamples: int,
    seed: int,
    evidence: dict[str, Any],
) -> tuple[Any, Any]:
    """Wilson for a proportion, DeLong for a binary AUC, else a Poisson bootstrap."""
    if isinstance(statistic, Proportion | BinaryAUC):
        evidence["interval"] = (
            "Wilson score interval of the proportion"
            if isinstance(statistic, Proportion)
            else "DeLong's variance on the logit scale"
        )
        return statistic.interval(counts, confidence)
    low, high = interval(
        counts,
        statistic,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        metric=metric,
        evidence=evidence,
    )
    evidence["interval"] = "percentile, Poisson bootstrap of the rows"
    if metric == "ece":  # a sum of absolute gaps: biased up, so only the upper
        evidence["one_sided_only"] = True  # bound keeps its level (statistics.md)
    return low, high


# -- metrics on the model itself ------------------------------------------------------------


def _model_metric(
    metric: str, adapter: Any, dataset: Dataset, batch_size: int, evidence: dict[str, Any]
) -> tuple[float, int]:
    if metric == "model_size_mb":
        size = adapter.size_bytes()
        if size <= 0:
            raise GateError(
                f"the model {adapter.name} has no parameters to measure (0 bytes): an "
                "unbuilt Keras model or a tf.Module without variables? Build or load it first"
            )
        evidence["bytes"] = size
        return size / 1e6, 1
    require_count("batch_size", batch_size)
    if not dataset.is_streaming and len(dataset) < batch_size:
        raise GateError(
            f"batch_size={batch_size} but dataset {dataset.name!r} has {len(dataset)} rows: "
            "the latency gate times full batches of batch_size rows; give more rows or a "
            "smaller batch_size="
        )
    repeats = 50
    timings = adapter.time_batches(dataset, batch_size=batch_size, repeats=repeats)
    evidence.update(
        batch_size=batch_size, repeats=repeats, median_ms=1e3 * float(np.median(timings))
    )
    return 1e3 * float(np.percentile(timings, 95)), repeats


# -- the statistic of each metric, as a function of cell weights ---------------------------


class Proportion:
    """A metric that is a proportion of counted rows (successes / trials): its interval is
    Wilson's score interval, valid near 0 and 1 and on a few dozen rows, where the
    percentile bootstrap is not (at a true rate of 0.999 on 200 rows it is usually [1, 1])."""

    def __init__(self, parts: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
        self.parts = parts

    def __call__(self, w: np.ndarray) -> np.ndarray:
        successes, trials = self.parts(w)
        return successes / trials

    def interval(self, counts: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        successes, trials = (a[0] for a in self.parts(np.asarray(counts, dtype=float)[None]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return stats.wilson(successes / trials, trials, stats.two_sided_z(confidence))


def _statistic(
    spec: Metric,
    output: ModelOutput,
    target: np.ndarray,
    per_class: bool,
    decision_threshold: float,
    pos_label: Any,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, stats.Statistic, list[str] | None]:
    """Cell counts, the statistic over weighted cells, and per-class labels if gated per class."""
    if spec.needs == "values":
        return _regression(spec.name, output, target)
    if spec.needs == "scores":
        probabilities, classes = class_probabilities(output, target)
        if spec.name == "roc_auc":
            return _roc_auc(probabilities, classes, target, per_class)
        truth = _class_index(target, classes)
        if spec.name == "log_loss":
            eps = np.finfo(probabilities.dtype).eps
            clipped = np.clip(probabilities, eps, 1 - eps)
            clipped /= clipped.sum(axis=1, keepdims=True)
            loss = -np.log(clipped[np.arange(len(truth)), truth])
            return np.ones(len(loss)), lambda w: _mean(w, loss), None
        if spec.name == "brier":
            return _brier(probabilities, truth, evidence)
        return _ece(probabilities, truth)
    predicted = predicted_labels(output, target, decision_threshold)
    evidence["decision_threshold"] = decision_threshold
    return _confusion(spec.name, target, predicted, per_class, pos_label, evidence)


def _confusion(
    metric: str,
    target: np.ndarray,
    predicted: np.ndarray,
    per_class: bool,
    pos_label: Any,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, stats.Statistic, list[str] | None]:
    classes = np.union1d(target, predicted)
    k = len(classes)
    cells = np.searchsorted(classes, target) * k + np.searchsorted(classes, predicted)
    counts = np.bincount(cells, minlength=k * k)
    return confusion_statistic(metric, classes, counts, per_class, pos_label, evidence)


def confusion_statistic(
    metric: str,
    classes: np.ndarray,
    counts: np.ndarray,
    per_class: bool,
    pos_label: Any,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, stats.Statistic, list[str] | None]:
    """The statistic of a label metric over ``[true, predicted]`` cell counts of ``classes``
    (sorted); shared by in-memory data and prediction logs, which count in their engine."""
    k = len(classes)
    labels = [str(c) for c in classes]

    def matrix(w: np.ndarray) -> np.ndarray:
        return w.reshape(len(w), k, k)  # [resample, true, predicted]

    def per_class_parts(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = matrix(w)
        diagonal = np.diagonal(c, axis1=1, axis2=2)
        true_totals, predicted_totals = c.sum(axis=2), c.sum(axis=1)
        if metric in ("accuracy", "recall", "balanced_accuracy"):
            return diagonal, true_totals
        if metric == "precision":
            return diagonal, predicted_totals
        return 2 * diagonal, true_totals + predicted_totals  # f1

    def per_class_values(w: np.ndarray) -> np.ndarray:
        successes, trials = per_class_parts(w)
        return successes / trials

    if metric == "accuracy" and not per_class:
        return (
            counts,
            Proportion(lambda w: (np.trace(matrix(w), axis1=1, axis2=2), w.sum(axis=1))),
            None,
        )
    if metric == "balanced_accuracy":
        return counts, lambda w: np.nanmean(per_class_values(w), axis=1), None
    if per_class:
        return counts, Proportion(per_class_parts) if metric != "f1" else per_class_values, labels
    if k <= 2 or pos_label is not None:
        positive = positive_label(classes, pos_label)
        evidence["pos_label"] = str(positive)
        if positive not in classes.tolist():
            raise GateError(
                f"{metric} is undefined on this data: the positive class {positive!r} is in "
                f"neither the target nor the predictions (labels {classes.tolist()[:10]})"
            )
        index = classes.tolist().index(positive)
        if metric == "f1":
            return counts, lambda w: per_class_values(w)[:, index], None
        return counts, Proportion(lambda w: tuple(a[:, index] for a in per_class_parts(w))), None
    evidence["average"] = "macro"
    return counts, lambda w: np.nan_to_num(per_class_values(w)).mean(axis=1), None


def _roc_auc(
    probabilities: np.ndarray, classes: np.ndarray, target: np.ndarray, per_class: bool
) -> tuple[np.ndarray, stats.Statistic, list[str] | None]:
    columns = [1] if len(classes) == 2 and not per_class else range(len(classes))
    rankings = []
    for column in columns:
        positive = target == classes[column]
        if positive.all() or not positive.any():
            raise GateError(
                f"roc_auc is undefined: class {classes[column]} is "
                f"{'every' if positive.all() else 'no'} row of the target; it needs both "
                "positive and negative rows"
            )
        rankings.append(_ranking(probabilities[:, column], positive))

    def statistic(w: np.ndarray) -> np.ndarray:
        aucs = np.stack([_weighted_auc(w, *ranking) for ranking in rankings], axis=1)
        return aucs if per_class else aucs.mean(axis=1)

    labels = [str(classes[c]) for c in columns] if per_class else None
    if len(columns) == 1 and not per_class:
        scores, positive = probabilities[:, 1], target == classes[1]
        return np.ones(len(target)), BinaryAUC(statistic, scores, positive), None
    return np.ones(len(target)), statistic, labels


class BinaryAUC:
    """A binary ROC AUC: its interval is DeLong's on the logit scale (``stats.auc_interval``),
    which keeps its level next to 1, where the percentile bootstrap's lower bound does not."""

    def __init__(self, statistic: stats.Statistic, scores: np.ndarray, positive: np.ndarray):
        self.statistic, self.scores, self.positive = statistic, scores, positive

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return self.statistic(w)

    def interval(self, counts: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        z = stats.two_sided_z(confidence)  # counts: the rows each score stands for (a log's
        low, high = stats.auc_interval(self.scores, self.positive, z, weights=counts)  # cells)
        return np.array(low), np.array(high)


def _ranking(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort order and tie groups of one score column, computed once per gate."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    group = np.cumsum(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]) - 1
    ends = np.r_[starts[1:], len(scores)] - 1
    return order, positive[order], starts[group], ends[group]


def _weighted_auc(
    w: np.ndarray, order: np.ndarray, positive: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    w = w[:, order]
    neg = np.cumsum(w * ~positive, axis=1)
    neg_before = np.where(start > 0, neg[:, np.maximum(start - 1, 0)], 0.0)
    neg_tied = neg[:, end] - neg_before
    pos_w = w * positive
    wins = np.sum(pos_w * (neg_before + 0.5 * neg_tied), axis=1)
    return wins / (pos_w.sum(axis=1) * neg[:, -1])


def _brier(
    probabilities: np.ndarray, truth: np.ndarray, evidence: dict[str, Any]
) -> tuple[np.ndarray, stats.Statistic, None]:
    """Per-row squared errors of the Brier score on scikit-learn's scale: the sum over
    classes of ``(p_k - [y = k])^2`` (range [0, 2]), halved on two classes, where it is
    ``(p_1 - y)^2`` (range [0, 1]) when the columns sum to 1, as a prediction log's are."""
    k = probabilities.shape[1]
    evidence["brier_classes"] = k
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(len(truth)), truth] = 1.0
    squared = ((probabilities - onehot) ** 2).sum(axis=1)
    if k == 2:
        squared /= 2
    return np.ones(len(squared)), lambda w: _mean(w, squared), None


def _ece(probabilities: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, stats.Statistic, None]:
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == truth).astype(float)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    order = np.argsort(bins, kind="stable")
    gap = (correct - confidence)[order]
    starts = np.flatnonzero(np.r_[True, bins[order][1:] != bins[order][:-1]])

    def statistic(w: np.ndarray) -> np.ndarray:
        w = w[:, order]
        per_bin = np.add.reduceat(w * gap, starts, axis=1)
        return np.abs(per_bin).sum(axis=1) / w.sum(axis=1)

    return np.ones(len(truth)), statistic, None


def _regression(
    metric: str, output: ModelOutput, target: np.ndarray
) -> tuple[np.ndarray, stats.Statistic, None]:
    predicted = output.array
    if predicted.ndim != 1:
        raise GateError(
            f"{metric} needs one regression value per row; the model returned shape "
            f"{predicted.shape}"
        )
    if target.dtype.kind not in "biuf":
        raise GateError(f"{metric} needs a numeric target; it has dtype {target.dtype}")
    y = target.astype(float)
    error = y - predicted.astype(float)
    if metric == "mae":
        absolute = np.abs(error)
        return np.ones(len(y)), lambda w: _mean(w, absolute), None
    squared = error**2
    if metric == "rmse":
        return np.ones(len(y)), lambda w: np.sqrt(_mean(w, squared)), None

    def r2(w: np.ndarray) -> np.ndarray:
        total = w.sum(axis=1)
        ss_tot = _total(w, y**2) - _total(w, y) ** 2 / total
        return 1.0 - _total(w, squared) / ss_tot

    return np.ones(len(y)), r2, None


def _total(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Weighted sums per resample. Not ``w @ values``: BLAS threads contend with TensorFlow's
    and make this 100x slower for the single-row point estimate."""
    return np.einsum("rn,n->r", w, values)


def _mean(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    return _total(w, values) / w.sum(axis=1)


def _class_index(target: np.ndarray, classes: np.ndarray) -> np.ndarray:
    order = np.argsort(classes)
    return order[np.searchsorted(classes, target, sorter=order)]


def _require_defined(metric: str, values: np.ndarray, labels: list[str] | None) -> None:
    values = np.atleast_1d(values)
    if np.all(np.isfinite(values)):
        return
    if labels is not None:
        bad = [label for label, v in zip(labels, values, strict=True) if not np.isfinite(v)]
        raise GateError(
            f"{metric} is undefined for class(es) {bad} on this data (no rows to divide by)"
        )
    reasons = {
        "precision": "the model predicts no positives",
        "recall": "the target has no positives",
        "f1": "there are no positives in the target or the predictions",
        "r2": "the target is constant",
    }
    raise GateError(
        f"{metric} is undefined on this data: {reasons.get(metric, 'a division by zero')}"
    )
