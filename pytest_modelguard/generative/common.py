"""What the generative gates share: reproducibility, prompt lists, verdicts with intervals."""

from __future__ import annotations

import math
from typing import Any

from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.verdict import GateError, Verdict
from pytest_modelguard.generative.intervals import wilson
from pytest_modelguard.generative.subject import Generator


def reproducibility(generator: Generator, profile: Profile | None) -> str | None:
    """None when verdicts reproduce; otherwise a note, or an ERROR in the ``ci`` profile."""
    if generator.reproducible:
        return None
    note = (
        f"not reproducible: {generator.name!r} samples at temperature "
        f"{generator.temperature:g} without a seed; give Generator(..., seed=<int>) or "
        "temperature=0 (greedy)"
    )
    if (profile or PROFILES["ci"]).name == "ci":
        raise GateError(note + " (the ci profile fails closed on unreproducible verdicts)")
    return note


def rate_threshold(name: str, value: Any, *, upper: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateError(f"{name}= must be a number, got {value!r}")
    if not 0.0 <= value < upper:
        raise GateError(f"{name}={value!r}: give a share in [0, {upper:g})")
    return float(value)


def confidence_level(confidence: Any) -> float | None:
    if confidence is None:
        return None
    if confidence not in (0.8, 0.9, 0.95, 0.99):
        raise GateError(f"confidence={confidence!r}: use 0.8, 0.9, 0.95 or 0.99 (or None)")
    return float(confidence)


def prompt_list(prompts: Any, what: str = "prompts") -> list[str]:
    """User prompts: a list of strings, or a Dataset whose features are one text column."""
    from pytest_modelguard.core.dataset import Dataset

    if isinstance(prompts, Dataset):
        import numpy as np

        features = prompts.features
        features = features.to_numpy() if hasattr(features, "to_numpy") else np.asarray(features)
        prompts = [str(v) for v in features.reshape(len(features), -1)[:, 0]]
    if isinstance(prompts, str) or not isinstance(prompts, list | tuple):
        raise GateError(
            f"{what} must be a list of strings (or a fixture returning one), got "
            f"{type(prompts).__name__}"
        )
    if not prompts:
        raise GateError(f"{what} is empty: give at least one prompt")
    bad = [p for p in prompts if not isinstance(p, str) or not p.strip()]
    if bad:
        raise GateError(f"{what} holds {bad[0]!r}: every prompt must be a non-empty string")
    return list(prompts)


def share_verdict(
    *,
    requirement: str,
    metric: str,
    hits: int,
    n: int,
    threshold: float,
    formula: str,
    evidence: dict[str, Any],
    confidence: float | None,
    operator: str = "<=",
    counterexample: Any = None,
    notes: list[str] | None = None,
) -> Verdict:
    """A verdict on the share ``hits / n``; with ``confidence`` it decides on the Wilson
    bound on the threshold's side (a pass then holds with that confidence)."""
    if n == 0:
        raise GateError(f"{metric}: nothing was measured (0 trials)")
    value = hits / n
    level = confidence or 0.95
    low, high = wilson(hits, n, level)
    decided = value if confidence is None else (high if operator == "<=" else low)
    ok = decided <= threshold if operator == "<=" else decided >= threshold
    evidence.setdefault(
        "interval", {"method": "wilson", "confidence": level, "low": low, "high": high}
    )
    if confidence is not None:
        evidence["decided_on"] = "upper" if operator == "<=" else "lower"
    verdict = Verdict(
        requirement=requirement,
        metric=metric,
        value=value,
        threshold=threshold,
        operator=operator,  # type: ignore[arg-type]
        status="pass" if ok else "fail",
        n=n,
        ci=(low, high),
        confidence=level,
        formula=formula,
        evidence=evidence,
        counterexample=counterexample if not ok else None,
    )
    verdict.message = verdict.describe()
    for note in notes or []:
        verdict.message += f"\n  note      {note}"
    return verdict
