"""What every gate shares: validating thresholds, deciding on a bound, timing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_modelguard.core import stats
from pytest_modelguard.core.verdict import GateError, Operator, Verdict, require_count

CONFIDENCE_LEVELS = (0.8, 0.9, 0.95, 0.99)


def one_threshold(requirement: str, given: Mapping[str, float | None]) -> tuple[str, float]:
    """The single threshold keyword that was given, or an error naming the choices."""
    chosen = {name: value for name, value in given.items() if value is not None}
    names = " or ".join(f"{name}=" for name in given)
    if not chosen:
        raise GateError(f"{requirement} gate needs a threshold: give {names}")
    if len(chosen) > 1:
        raise GateError(
            f"{requirement} gate got {' and '.join(f'{k}=' for k in chosen)}: give exactly one "
            "(use two markers for a range)"
        )
    ((name, value),) = chosen.items()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateError(f"{name}= must be a finite number, got {value!r}")
    return name, float(value)


#: a proportion, rate, share, AUC or probability: the range most gated metrics take
UNIT = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


def check_threshold(
    name: str,
    value: float,
    *,
    operator: Operator,
    within: tuple[float, float],
    what: str,
) -> float:
    """``value`` as the threshold of a metric that takes values in ``within``, or an error.

    One rule for every requirement: a threshold outside the metric's range is an error
    (with a hint when it looks like a percentage), and so is one the metric can never
    cross, which would make the gate pass by construction (``min=`` at or below the
    lowest value, ``max=`` at or above the highest). ``what`` names the metric.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateError(f"{name}= must be a finite number, got {value!r}")
    low, high = within
    value = float(value)
    span = f"[{low:g}, {high:g}]" if math.isfinite(high) else f"[{low:g}, inf)"
    if math.isinf(low):
        span = f"(-inf, {high:g}]"
    if not low <= value <= high:
        hint = ""
        if high == 1.0 and 1.0 < value <= 100.0:
            hint = f"; a percentage? write {name}={value / 100:g}"
        raise GateError(f"{name}={value!r}: {what} lies in {span}{hint}")
    if operator == ">=" and value <= low:
        raise GateError(
            f"{name}={value!r} cannot fail: {what} is never below {low:g}, so the gate would "
            f"pass by construction; give {name} > {low:g}"
        )
    if operator == "<=" and value >= high:
        raise GateError(
            f"{name}={value!r} cannot fail: {what} never exceeds {high:g}, so the gate would "
            f"pass by construction; give {name} < {high:g}"
        )
    return value


def check_confidence(confidence: float | None, n_resamples: int) -> None:
    if confidence is None:
        return
    if confidence not in CONFIDENCE_LEVELS:
        raise GateError(
            f"confidence={confidence!r}: use one of {', '.join(map(str, CONFIDENCE_LEVELS))} "
            "(or None for a point estimate)"
        )
    require_count("n_resamples", n_resamples, at_least=200)


def decide(
    *,
    requirement: str,
    metric: str,
    values: np.ndarray,
    operator: Operator,
    threshold: float,
    n: int,
    formula: str,
    evidence: dict[str, Any],
    labels: list[str] | None = None,
    confidence: float | None = None,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> Verdict:
    """A verdict over one value or several (per class / per group): the worst one decides.

    With a confidence level the decision is on the bound on the threshold's side, so a
    pass means the requirement holds with that confidence.
    """
    values = np.atleast_1d(np.asarray(values, dtype=float))
    bound = {">=": low, "<=": high}[operator] if confidence is not None else None
    decided = values if bound is None else np.atleast_1d(bound)
    worst = int(np.argmin(decided) if operator == ">=" else np.argmax(decided))
    ok = decided[worst] >= threshold if operator == ">=" else decided[worst] <= threshold
    ci = None
    if confidence is not None and low is not None and high is not None:
        ci = (float(np.atleast_1d(low)[worst]), float(np.atleast_1d(high)[worst]))
        evidence["decided_on"] = "lower" if operator == ">=" else "upper"
    if labels is not None and len(labels) > 1:
        evidence["worst"] = labels[worst]
    return Verdict(
        requirement=requirement,
        metric=metric,
        value=float(values[worst]),
        threshold=threshold,
        operator=operator,
        status="pass" if ok else "fail",
        n=n,
        ci=ci,
        confidence=confidence,
        formula=formula,
        evidence=evidence,
    )


def interval(
    counts: np.ndarray,
    statistic: stats.Statistic,
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
    metric: str,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval from the Poisson bootstrap; too many undefined resamples is an error."""
    samples = stats.poisson_bootstrap(
        counts, statistic, n_resamples=n_resamples, rng=stats.rng_from(seed)
    )
    low, high, undefined = stats.percentile_interval(samples, confidence)
    evidence["n_resamples"] = n_resamples
    evidence["undefined_resamples"] = undefined
    if undefined > 0.05 * n_resamples:
        raise GateError(
            f"{metric} is undefined in {undefined} of {n_resamples} bootstrap resamples: the "
            "data is too small for an interval; add rows or drop confidence="
        )
    return low, high


def share_verdict(
    share: float,
    low: float,
    high: float,
    *,
    threshold: float,
    n: int,
    sampled: str,
    resamples: int,
    confidence: float,
    formula: str,
    evidence: dict[str, Any],
) -> Verdict:
    """The protected-share decision of an attribution gate (features or text tokens): an
    interval that holds the threshold is an error, since pass or fail would be noise."""
    if low <= threshold < high:
        raise GateError(
            f"ranking unstable at this n: the protected share is {share:.4g} with a "
            f"{confidence:.0%} interval [{low:.4g}, {high:.4g}] over {resamples} resamples of "
            f"the {n} sampled {sampled}, which holds max_protected_share={threshold:g}: pass or "
            f"fail would be noise; raise samples= (now {n}) to decide"
        )
    evidence["share_interval"] = (
        f"{confidence:.0%} percentile interval, {resamples} Poisson-bootstrap resamples of the "
        f"sampled {sampled}"
    )
    return decide(
        requirement="explainability",
        metric="protected_share",
        values=np.array([share]),
        operator="<=",
        threshold=threshold,
        confidence=confidence,
        low=np.array([low]),
        high=np.array([high]),
        n=n,
        formula=formula,
        evidence=evidence,
    )
