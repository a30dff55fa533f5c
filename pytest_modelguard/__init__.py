"""pytest-modelguard: requirements on machine-learning models as pytest gates.

Importing this package is cheap: the public names load on first use, so pytest's import
of the plugin never pulls in numpy, pandas, TensorFlow or the checks, and a notebook that
imports a check (``pytest_modelguard.checks.performance``) never imports pytest: the marker
factories load with their first use. Old module paths (the flat ``attacks``, ``dataset``,
``markers``, ...) keep working through the one table in :mod:`pytest_modelguard._moved`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_modelguard import _moved
from pytest_modelguard.core.verdict import GateError, GateFailure, Verdict

_moved.install()

if TYPE_CHECKING:
    from pytest_modelguard import adapters, checks
    from pytest_modelguard.adapters import Adapter, adapt
    from pytest_modelguard.checks.robustness import strategies
    from pytest_modelguard.core.dataset import Dataset, Predictions
    from pytest_modelguard.generative.subject import Generator
    from pytest_modelguard.logs import PredictionLog
    from pytest_modelguard.plugin.markers import (
        compliance,
        drift,
        explainability,
        fairness,
        performance,
        privacy,
        robust,
        security,
        transparency,
    )
    from pytest_modelguard.text.encoders import Encoder

__version__ = "0.1.0"

_LAZY = {
    "Dataset": ("pytest_modelguard.core.dataset", "Dataset"),
    "Predictions": ("pytest_modelguard.core.dataset", "Predictions"),
    "Generator": ("pytest_modelguard.generative.subject", "Generator"),
    "PredictionLog": ("pytest_modelguard.logs", "PredictionLog"),
    "Encoder": ("pytest_modelguard.text.encoders", "Encoder"),
    "Adapter": ("pytest_modelguard.adapters", "Adapter"),
    "adapt": ("pytest_modelguard.adapters", "adapt"),
    "checks": ("pytest_modelguard.checks", None),
    "adapters": ("pytest_modelguard.adapters", None),
    "strategies": ("pytest_modelguard.checks.robustness.strategies", None),
    # the marker factories are the pytest side: they load pytest, so only on use
    **{
        name: ("pytest_modelguard.plugin.markers", name)
        for name in (
            "compliance",
            "drift",
            "explainability",
            "fairness",
            "performance",
            "privacy",
            "robust",
            "security",
            "transparency",
        )
    },
}

__all__ = [
    "Adapter",
    "Dataset",
    "Encoder",
    "GateError",
    "GateFailure",
    "Generator",
    "PredictionLog",
    "Predictions",
    "Verdict",
    "adapt",
    "adapters",
    "checks",
    "compliance",
    "drift",
    "explainability",
    "fairness",
    "performance",
    "privacy",
    "robust",
    "security",
    "strategies",
    "transparency",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'pytest_modelguard' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
