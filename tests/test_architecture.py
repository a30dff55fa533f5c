"""The directions of import that docs/architecture.md states, read from the source with ast.

Nothing is imported: each module of ``pytest_modelguard`` is parsed and its import
statements are resolved to module names (``from pytest_modelguard import stats`` is the
module ``pytest_modelguard.core.stats``). An import is *module level* unless it sits in a
function or under ``if TYPE_CHECKING:``. The run-time check that importing the plugin
loads no numpy or ML library is ``tests/test_plugin.py::test_importing_the_plugin_stays_light``;
the rules here say which module may name which, so a violation points at a line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "pytest_modelguard"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# The rooms of docs/architecture.md. A module names its room by its dotted path; the
# first prefix that matches wins (so ``reporting.session`` is pytest side, not reporting).
PYTEST_SIDE = (
    "plugin",
    "markers",
    "fixtures",
    "options",
    "hookspecs",
    "policy",
    "exchange",
    "gating",  # the package itself: loads baseline and waivers from pytest's config
    "reporting.session",
    "reporting.terminal",
    "reporting.junit",
)
ROOMS: dict[str, tuple[str, ...]] = {
    "root": ("",),
    "pytest side": PYTEST_SIDE,
    "core": ("verdict", "dataset", "stats", "groups", "seeding", "profiles"),
    "adapters": ("adapters",),
    "checks": ("checks",),
    "engines": (
        "attacks",
        "attribution",
        "pii",
        "pickles",
        "scanning",
        "modelcard",
        "strategies",
        "logs",
        "engines",
        "text",
        "generative",
    ),
    "gating": ("gating.baseline", "gating.waivers"),
    "reporting": ("reporting",),
}
# What the plugin loads before any test runs, and the report it writes after.
PLUGIN_SIDE = ("root", "pytest side", "gating", "reporting")
HEAVY = (
    "fairlearn",
    "tensorflow",
    "keras",
    "foolbox",
    "sklearn",
    "duckdb",
    "pyspark",
    "torch",
    "transformers",
    "h5py",
    "numpy",
    "pandas",
    "scipy",
    "hypothesis",
)
# Imported at module level only by the adapter of that framework, everywhere else on use.
FRAMEWORKS = tuple(h for h in HEAVY if h not in ("numpy", "pandas", "scipy", "hypothesis"))
FRAMEWORK_ADAPTERS = {"adapters.sklearn": "sklearn"}


@dataclass(frozen=True)
class Import:
    target: str  # a dotted module name, e.g. "numpy" or "pytest_modelguard.core.stats"
    line: int
    module_level: bool


def short(name: str) -> str:
    """``pytest_modelguard.checks.fairness`` -> ``checks.fairness``; the package -> ``""``."""
    return name[len(PACKAGE) + 1 :] if name != PACKAGE else ""


def imports(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import statement of one module, resolved against the package on disk."""
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            level = module_level
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                level = False
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                # typing-only imports never run: not a dependency; the else branch does run
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), module_level)
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, child.lineno, level) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = absolute(child)
                for alias in child.names:
                    submodule = f"{base}.{alias.name}"
                    target = submodule if is_module(submodule) else base
                    found.append(Import(target, child.lineno, level))
            visit(child, level)

    def absolute(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    visit(ast.parse(source), True)
    return found


def is_module(name: str) -> bool:
    if not name.startswith(PACKAGE + ".") and name != PACKAGE:
        return False
    path = ROOT.joinpath(*short(name).split(".")) if short(name) else ROOT
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def modules() -> dict[str, list[Import]]:
    """Every module of the package by dotted name, with its imports."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = imports(path.read_text(), name, is_package=is_package)
    return found


def room(name: str) -> str | None:
    rest = short(name)
    for room_name, prefixes in sorted(
        ((r, p) for r, ps in ROOMS.items() for p in ps), key=lambda rp: -len(rp[1])
    ):
        if prefixes == "" and rest == "":
            return room_name
        if prefixes and (rest == prefixes or rest.startswith(prefixes + ".")):
            return room_name
    return None


def top(name: str) -> str:
    return name.split(".")[0]


def internal(target: str) -> bool:
    return top(target) == PACKAGE


MODULES = modules()


def report(found: list[str]) -> str:
    return "\n".join(found) + "\n(see docs/architecture.md, 'Directions of import')"


def test_every_module_has_a_room():
    homeless = [name for name in MODULES if room(name) is None]
    assert not homeless, (
        f"{homeless}: place each new module in a room of docs/architecture.md and of ROOMS here"
    )


def test_only_the_pytest_side_imports_pytest():
    found = [
        f"{name}:{i.line} imports {i.target} ({room(name)})"
        for name, found_imports in MODULES.items()
        for i in found_imports
        if top(i.target) in ("pytest", "_pytest", "pluggy")
        and room(name) != "pytest side"
        and short(name) != ""  # the root re-exports the markers, which are pytest side
    ]
    assert not found, report(found)


def test_nothing_below_the_pytest_side_imports_it():
    below = ("core", "adapters", "checks", "engines", "gating")
    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if room(name) in below
        for i in found_imports
        if internal(i.target) and room(i.target) in ("root", "pytest side")
    ]
    assert not found, report(found)


def test_reporting_never_imports_checks_adapters_or_their_engines():
    # modelcard is the one engine reporting reads: the report writes a model card back.
    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if short(name).startswith("reporting")
        for i in found_imports
        if internal(i.target)
        and room(i.target) in ("checks", "adapters", "engines")
        and short(i.target) != "modelcard"
    ]
    assert not found, report(found)


def test_checks_and_engines_never_import_gating_or_reporting():
    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if room(name) in ("checks", "engines")
        for i in found_imports
        if internal(i.target) and room(i.target) in ("gating", "reporting")
    ]
    assert not found, report(found)


@pytest.mark.parametrize(
    ("lower", "allowed"),
    [
        ("core", ("core",)),
        ("adapters", ("core", "adapters")),
        ("gating", ("core", "gating", "reporting.record")),
    ],
)
def test_the_lower_rooms_import_only_what_is_below_them(lower, allowed):
    # gating reads a baseline, which is a saved report record: reporting.record is its format.
    def permitted(target: str) -> bool:
        return room(target) in allowed or short(target) in allowed

    found = [
        f"{name}:{i.line} imports {i.target} ({room(i.target)})"
        for name, found_imports in MODULES.items()
        if room(name) == lower
        for i in found_imports
        if internal(i.target) and not permitted(i.target)
    ]
    assert not found, report(found)


@pytest.mark.parametrize("prefix", ["scanning", "engines"])
def test_the_scanner_and_the_query_engines_import_only_the_core_and_themselves(prefix):
    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if short(name) == prefix or short(name).startswith(prefix + ".")
        for i in found_imports
        if internal(i.target)
        and room(i.target) != "core"
        and not (short(i.target) == prefix or short(i.target).startswith(prefix + "."))
    ]
    assert not found, report(found)


def test_the_plugin_side_imports_no_heavy_library_at_module_level():
    found = [
        f"{name}:{i.line} imports {i.target} at module level"
        for name, found_imports in MODULES.items()
        if room(name) in PLUGIN_SIDE
        for i in found_imports
        if i.module_level and top(i.target) in HEAVY
    ]
    assert not found, report(found)


def test_the_package_root_loads_only_the_markers_and_the_verdict():
    # Everything else is lazy (__getattr__), so `import pytest_modelguard` stays cheap.
    loaded = {short(i.target) for i in MODULES[PACKAGE] if i.module_level and internal(i.target)}
    assert loaded <= {"markers", "verdict"}, loaded


def test_frameworks_load_on_use_except_in_their_own_adapter():
    found = [
        f"{name}:{i.line} imports {i.target} at module level"
        for name, found_imports in MODULES.items()
        for i in found_imports
        if i.module_level
        and top(i.target) in FRAMEWORKS
        and FRAMEWORK_ADAPTERS.get(short(name)) != top(i.target)
    ]
    assert not found, report(found)


def test_the_reader_tells_module_level_from_lazy_and_typing_only_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "from . import stats\n"
        "from .verdict import Verdict\n"
        "if TYPE_CHECKING:\n"
        "    import pandas\n"
        "try:\n"
        "    import keras\n"
        "except ImportError:\n"
        "    pass\n"
        "def f():\n"
        "    import tensorflow\n"
        "class C:\n"
        "    def m(self):\n"
        "        from pytest_modelguard.checks import fairness\n"
    )
    found = {(i.target, i.module_level) for i in imports(source, f"{PACKAGE}.x")}
    assert found == {
        ("typing", True),
        ("numpy", True),
        (f"{PACKAGE}.stats", True),  # a submodule named in `from . import` is the target
        (f"{PACKAGE}.verdict", True),  # a class is not: its module is
        ("keras", True),
        ("tensorflow", False),
        (f"{PACKAGE}.checks.fairness", False),
    }
    assert room(f"{PACKAGE}.reporting.session") == "pytest side"
    assert room(f"{PACKAGE}.reporting.html") == "reporting"
    assert room(f"{PACKAGE}.gating") == "pytest side"
    assert room(f"{PACKAGE}.gating.waivers") == "gating"
    assert room(PACKAGE) == "root"
