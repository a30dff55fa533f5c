"""Requirements as plain functions: ``checks.<requirement>(model, dataset, **spec) -> Verdict``.

Usable without pytest (notebooks, scripts); the markers are sugar over these. A check
returns a ``Verdict`` (``status == "fail"`` when the model falls short) and raises
``GateError`` when the requirement cannot be evaluated. Nothing here imports pytest, and
the ML libraries a check needs load inside it.

Every function in this package decorated with ``@requirement(...)`` is a requirement
(:mod:`pytest_modelguard.core.spec`): ``REQUIREMENTS`` and the names below are found, not listed,
so a new requirement is one new module.
"""

from importlib import import_module

from pytest_modelguard.core import spec

#: every requirement's check, by name, in listing order
REQUIREMENTS = {
    name: getattr(import_module(requirement.module), name)
    for name, requirement in spec.requirements().items()
}
globals().update(REQUIREMENTS)  # checks.performance, checks.robust, ...

__all__ = ["REQUIREMENTS", *REQUIREMENTS]
