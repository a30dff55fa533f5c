"""Requirements as plain functions: ``checks.<requirement>(model, dataset, **spec) -> Verdict``.

Usable without pytest (notebooks, scripts); the markers are sugar over these. A check
returns a ``Verdict`` (``status == "fail"`` when the model falls short) and raises
``GateError`` when the requirement cannot be evaluated. Nothing here imports pytest.
"""

from pytest_modelguard.checks.fairness import fairness
from pytest_modelguard.checks.performance import performance

REQUIREMENTS = {"performance": performance, "fairness": fairness}

__all__ = ["REQUIREMENTS", "fairness", "performance"]
