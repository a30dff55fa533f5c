"""Explainability (being written this session)."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.dataset import Dataset
from pytest_modelguard.profiles import Profile
from pytest_modelguard.verdict import GateError, Verdict


def explainability(
    model: Any,
    dataset: Dataset,
    *,
    method: str | None = None,
    protected_not_in_top_k: int | None = None,
    proxies: list[str] | None = None,
    max_protected_share: float | None = None,
    min_stability: float | None = None,
    steps: int = 32,
    samples: int = 200,
    examples: int | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    raise GateError("the explainability requirement is not implemented yet")
