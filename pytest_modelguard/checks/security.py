"""Security (being written this session)."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.dataset import Dataset
from pytest_modelguard.profiles import Profile
from pytest_modelguard.verdict import GateError, Verdict


def security(
    model: Any = None,
    dataset: Dataset | None = None,
    *,
    sha256: str | None = None,
    artifact: Any = None,
    safe_load: bool = False,
    allow: list[str] | None = None,
    fuzz: bool = False,
    examples: int | None = None,
    max_attack_success: float | None = None,
    eps: float | None = None,
    attack: str | None = None,
    norm: str | None = None,
    samples: int = 500,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    raise GateError("the security requirement is not implemented yet")
