"""Privacy (being written this session)."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.dataset import Dataset
from pytest_modelguard.profiles import Profile
from pytest_modelguard.verdict import GateError, Verdict


def privacy(
    model: Any,
    dataset: Dataset,
    *,
    max_mia_auc: float | None = None,
    max_mia_advantage: float | None = None,
    members: Dataset | None = None,
    attack: str | None = None,
    samples: int | None = None,
    confidence: float | None = None,
    pii: str | None = None,
    columns: list[str] | None = None,
    k_anonymity: int | None = None,
    quasi_identifiers: list[str] | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    raise GateError("the privacy requirement is not implemented yet")
