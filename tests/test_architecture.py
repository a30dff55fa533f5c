"""The directions of import that docs/architecture.md states, read from the source with ast.

Nothing is imported: each module of ``pytest_modelguard`` is parsed and its import
statements are resolved to module names (``from pytest_modelguard.core import stats`` is
the module ``pytest_modelguard.core.stats``). An import is *module level* unless it sits in a
function or under ``if TYPE_CHECKING:``. The run-time check that importing the plugin
loads no numpy or ML library is ``tests/plugin/test_plugin.py::test_importing_the_plugin_stays_light``;
the rules here say which module may name which, so a violation points at a line.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "pytest_modelguard"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# The rooms of docs/architecture.md. A module names its room by its dotted path; the
# longest prefix that matches wins.
ROOMS: dict[str, tuple[str, ...]] = {
    "root": ("", "_moved"),
    "plugin": ("plugin",),
    "core": ("core",),
    "adapters": ("adapters",),
    "checks": ("checks",),
    "families": ("logs", "text", "generative"),  # subjects that several requirements gate
    "gating": ("gating",),
    "reporting": ("reporting",),
}
# The direction of imports: a module imports its own level or lower ones, never higher.
LEVEL = {
    "core": 0,
    "adapters": 1,
    "checks": 2,
    "families": 2,
    "gating": 3,
    "reporting": 4,
    "plugin": 5,
    "root": 6,
}
# The few imports that go against a rule, each with its reason (docs/architecture.md).
EXCEPTIONS = {
    ("gating.baseline", "reporting.record"): "a baseline is a saved session record",
    ("reporting.modelcard_out", "checks.transparency.modelcard"): (
        "the report writes back a model card in the format the transparency gate parses"
    ),
    ("logs", "checks.performance"): (
        "a log's metrics are performance's statistics, computed from the counts a query "
        "pulled back (issue 11: move _statistic/confusion_statistic to the core)"
    ),
}
# What the plugin loads before any test runs, and the report it writes after.
PLUGIN_SIDE = ("root", "plugin", "gating", "reporting")
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


def excepted(name: str, target: str) -> bool:
    return (short(name), short(target)) in EXCEPTIONS


def requirement(name: str) -> str | None:
    """``checks.security.scanning.opcodes`` -> ``security``; shared modules -> None."""
    parts = short(name).split(".")
    if parts[0] != "checks" or len(parts) < 2 or parts[1].startswith("_"):
        return None
    return parts[1]


def is_engine(name: str) -> bool:
    """A module beside a check, inside its requirement's package (not the check itself)."""
    return requirement(name) is not None and len(short(name).split(".")) > 2


def is_check(name: str) -> bool:
    """The check of a requirement: ``checks/fairness/__init__.py`` or ``checks/drift.py``."""
    return requirement(name) is not None and len(short(name).split(".")) == 2


def test_only_the_plugin_imports_pytest():
    # lazy imports too: a check that imports pytest inside a function still ties it to pytest
    found = [
        f"{name}:{i.line} imports {i.target} ({room(name)})"
        for name, found_imports in MODULES.items()
        for i in found_imports
        if top(i.target) in ("pytest", "_pytest", "pluggy", "xdist") and room(name) != "plugin"
    ]
    assert not found, report(found)


def test_nothing_imports_upward():
    found = [
        f"{name}:{i.line} ({room(name)}) imports {i.target} ({room(i.target)})"
        for name, found_imports in MODULES.items()
        for i in found_imports
        if internal(i.target)
        and LEVEL[room(i.target)] > LEVEL[room(name)]
        and not excepted(name, i.target)
    ]
    assert not found, report(found)


def test_reporting_never_imports_checks_adapters_or_families():
    # It renders verdict dictionaries, whatever produced them.
    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if room(name) == "reporting"
        for i in found_imports
        if internal(i.target)
        and room(i.target) in ("checks", "adapters", "families")
        and not excepted(name, i.target)
    ]
    assert not found, report(found)


def test_an_engine_never_imports_another_requirement():
    # checks/privacy/pii.py may serve the privacy check; it never reaches into security's
    # scanner or the robustness check. (A check may call another requirement's engine.)
    found = [
        f"{name}:{i.line} ({requirement(name)}) imports {i.target} ({requirement(i.target)})"
        for name, found_imports in MODULES.items()
        if is_engine(name)
        for i in found_imports
        if requirement(i.target) not in (None, requirement(name))
    ]
    assert not found, report(found)


def test_the_families_never_import_a_check():
    # text/, generative/ and logs/ serve several requirements; they may use a requirement's
    # engine (generative reuses privacy's PII detectors) and the shared checks._gate.
    found = [
        f"{name}:{i.line} imports the check {i.target}"
        for name, found_imports in MODULES.items()
        if room(name) == "families"
        for i in found_imports
        if is_check(i.target) and not excepted(name, i.target)
    ]
    assert not found, report(found)


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("checks.security.scanning", ()),
        ("logs.engine", ()),
        ("logs.duckdb", ("logs.engine",)),
        ("logs.spark", ("logs.engine",)),
    ],
)
def test_the_scanner_and_the_query_engines_import_only_the_core_and_themselves(prefix, allowed):
    def own(target: str) -> bool:
        rest = short(target)
        return rest == prefix or rest.startswith(prefix + ".") or rest in allowed

    found = [
        f"{name}:{i.line} imports {i.target}"
        for name, found_imports in MODULES.items()
        if short(name) == prefix or short(name).startswith(prefix + ".")
        for i in found_imports
        if internal(i.target) and room(i.target) != "core" and not own(i.target)
    ]
    assert not found, report(found)


def test_every_exception_is_still_needed():
    used = {
        (short(name), short(i.target))
        for name, found_imports in MODULES.items()
        for i in found_imports
        if internal(i.target)
    }
    assert set(EXCEPTIONS) <= used, set(EXCEPTIONS) - used


def test_the_plugin_side_imports_no_heavy_library_at_module_level():
    found = [
        f"{name}:{i.line} imports {i.target} at module level"
        for name, found_imports in MODULES.items()
        if room(name) in PLUGIN_SIDE
        for i in found_imports
        if i.module_level and top(i.target) in HEAVY
    ]
    assert not found, report(found)


def test_the_package_root_loads_only_the_verdict_and_the_alias_table():
    # Everything else is lazy (__getattr__), so `import pytest_modelguard` stays cheap and
    # loads no pytest: the marker factories load on first use.
    loaded = {short(i.target) for i in MODULES[PACKAGE] if i.module_level and internal(i.target)}
    assert loaded <= {"core.verdict", "_moved"}, loaded


def test_importing_a_check_loads_neither_pytest_nor_the_plugin():
    # A notebook that imports a check (and every check) runs without pytest.
    code = (
        "import sys\n"
        "import pytest_modelguard.checks.performance\n"
        "from pytest_modelguard import checks, Dataset\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytest', '_pytest', 'pluggy') or m.startswith('pytest_modelguard.plugin'))\n"
        "print(loaded)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


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
        "from .core import stats\n"
        "from .core.verdict import Verdict\n"
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
        (f"{PACKAGE}.core.stats", True),  # a submodule named in `from . import` is the target
        (f"{PACKAGE}.core.verdict", True),  # a class is not: its module is
        ("keras", True),
        ("tensorflow", False),
        (f"{PACKAGE}.checks.fairness", False),
    }
    assert room(f"{PACKAGE}.plugin.session") == "plugin"
    assert room(f"{PACKAGE}.reporting.html") == "reporting"
    assert room(f"{PACKAGE}.gating") == "gating"
    assert room(f"{PACKAGE}.checks.security.scanning.opcodes") == "checks"
    assert room(PACKAGE) == "root"
    assert requirement(f"{PACKAGE}.checks.security.scanning.opcodes") == "security"
    assert requirement(f"{PACKAGE}.checks._gate") is None
    assert is_engine(f"{PACKAGE}.checks.privacy.pii")
    assert not is_engine(f"{PACKAGE}.checks.privacy")
    assert is_check(f"{PACKAGE}.checks.drift") and is_check(f"{PACKAGE}.checks.privacy")


#: a function longer than this must say why, in a comment just above its ``def`` (or its
#: decorators) that starts with "Long"; the rule is issue 11's "about 80 lines"
MAX_FUNCTION_LINES = 80


def _long_functions() -> list[str]:
    long = []
    for path in sorted(ROOT.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.end_lineno - node.lineno + 1 <= MAX_FUNCTION_LINES:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = [line.strip() for line in lines[max(0, first - 4) : first - 1]]
            if not any(line.startswith("# Long") for line in above):
                where = path.relative_to(ROOT.parent)
                long.append(
                    f"{where}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
                )
    return long


def test_no_function_is_longer_than_80_lines_without_saying_why():
    assert _long_functions() == []


def test_the_length_rule_sees_a_long_function(tmp_path, monkeypatch):
    module = tmp_path / PACKAGE / "bloated.py"
    module.parent.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    module.write_text(
        f"def bloated():\n{body}\n\n\n# Long because it must be\ndef kept():\n{body}\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / PACKAGE)
    assert _long_functions() == [f"{PACKAGE}/bloated.py:1 bloated ({MAX_FUNCTION_LINES + 1})"]
