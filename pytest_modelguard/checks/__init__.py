"""Requirements as plain functions: ``checks.<requirement>(model, dataset, **spec) -> Verdict``.

Usable without pytest (notebooks, scripts); the markers are sugar over these. A check
returns a ``Verdict`` (``status == "fail"`` when the model falls short) and raises
``GateError`` when the requirement cannot be evaluated. Nothing here imports pytest, and
the ML libraries a check needs load inside it.
"""

from pytest_modelguard.checks.compliance import compliance
from pytest_modelguard.checks.drift import drift
from pytest_modelguard.checks.explainability import explainability
from pytest_modelguard.checks.fairness import fairness
from pytest_modelguard.checks.performance import performance
from pytest_modelguard.checks.privacy import privacy
from pytest_modelguard.checks.robustness import robust
from pytest_modelguard.checks.security import security
from pytest_modelguard.checks.transparency import transparency

REQUIREMENTS = {
    "performance": performance,
    "fairness": fairness,
    "robust": robust,
    "privacy": privacy,
    "security": security,
    "explainability": explainability,
    "transparency": transparency,
    "compliance": compliance,
    "drift": drift,
}

__all__ = [
    "REQUIREMENTS",
    "compliance",
    "drift",
    "explainability",
    "fairness",
    "performance",
    "privacy",
    "robust",
    "security",
    "transparency",
]
