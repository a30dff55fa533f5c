"""Robustness (being written this session)."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.dataset import Dataset
from pytest_modelguard.profiles import Profile
from pytest_modelguard.verdict import GateError, Verdict


def robust(
    model: Any,
    dataset: Dataset,
    *,
    eps: float | list[float] | None = None,
    attack: str | None = None,
    norm: str | None = None,
    steps: int | None = None,
    restarts: int = 1,
    max_accuracy_drop: float | None = None,
    min_accuracy: float | None = None,
    samples: int = 500,
    bounds: tuple[float, float] | None = None,
    perturbation: str | None = None,
    max_flip_rate: float | None = None,
    examples: int | None = None,
    immutable: list[str] | None = None,
    monotonic: dict[str, str] | None = None,
    max_violation_rate: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    raise GateError("the robust requirement is not implemented yet")
