"""Old import paths of modules that moved into rooms (issue 11), kept working by one table.

``import pytest_modelguard.attacks`` (or ``from pytest_modelguard import pickles``) still
works: a ``sys.meta_path`` finder, installed by the package root, answers an old name with
the module at its new place, the same object (so ``monkeypatch`` and ``isinstance`` see one
module, never a copy). A submodule of a moved package follows it
(``pytest_modelguard.scanning.opcodes``). The table is written by the move script; the
changelog lists the same paths. Nothing here imports anything heavy.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

PACKAGE = "pytest_modelguard"

# --- table (move.py writes it) ---
MOVED = {
    "attacks": "checks.robustness.attacks",
    "attribution": "checks.explainability.attribution",
    "checks.counterfactual": "checks.fairness.counterfactual",
    "checks.directional": "checks.robustness.directional",
    "checks.dp_audit": "checks.privacy.dp_audit",
    "checks.membership": "checks.privacy.membership",
    "checks.perturbation": "checks.robustness.perturbation",
    "dataset": "core.dataset",
    "engines": "logs",
    "engines.duckdb": "logs.duckdb",
    "engines.spark": "logs.spark",
    "exchange": "plugin.exchange",
    "fixtures": "plugin.runner",
    "groups": "core.groups",
    "hookspecs": "plugin.hookspecs",
    "markers": "plugin.markers",
    "modelcard": "checks.transparency.modelcard",
    "options": "plugin.options",
    "pickles": "checks.security.scanning",
    "pii": "checks.privacy.pii",
    "policy": "plugin.policy",
    "profiles": "core.profiles",
    "reporting.baseline": "gating.baseline",
    "reporting.junit": "plugin.junit",
    "reporting.session": "plugin.session",
    "reporting.terminal": "plugin.terminal",
    "reporting.waivers": "gating.waivers",
    "scanning": "checks.security.scanning",
    "scanning.containers": "checks.security.scanning.containers",
    "scanning.opcodes": "checks.security.scanning.opcodes",
    "scanning.policy": "checks.security.scanning.policy",
    "scanning.results": "checks.security.scanning.results",
    "scanning.tensorflow": "checks.security.scanning.tensorflow",
    "seeding": "core.seeding",
    "stats": "core.stats",
    "strategies": "checks.robustness.strategies",
    "verdict": "core.verdict",
}
# --- end of table ---


def new_name(fullname: str) -> str | None:
    """The module an old dotted name now names, or None when it did not move."""
    if not fullname.startswith(PACKAGE + "."):
        return None
    rest = fullname[len(PACKAGE) + 1 :]
    for old in sorted(MOVED, key=len, reverse=True):
        if rest == old or rest.startswith(old + "."):
            return f"{PACKAGE}.{MOVED[old]}{rest[len(old) :]}"
    return None


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name and loads it as the module at its new name."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if new_name(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(new_name(spec.name) or spec.name)
        self._specs[spec.name] = module.__spec__  # the import system overwrites __spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # already executed under its new name; give it back its own spec
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once per interpreter)."""
    if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
        sys.meta_path.insert(0, OldPaths())
