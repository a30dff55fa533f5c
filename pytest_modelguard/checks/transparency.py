"""Transparency (being written this session)."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.dataset import Dataset
from pytest_modelguard.verdict import GateError, Verdict


def transparency(
    model: Any = None,
    dataset: Dataset | None = None,
    *,
    model_card: Any = None,
    required: list[str] | None = None,
    verify_claims: bool = False,
    tolerance: float = 0.01,
    seed: int = 0,
) -> Verdict:
    raise GateError("the transparency requirement is not implemented yet")
