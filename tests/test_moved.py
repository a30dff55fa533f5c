"""pytest_modelguard/_moved.py: every old module path still imports, as the same module."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelguard import _moved

ROOT = Path(__file__).resolve().parents[1]


def test_every_old_path_imports_the_module_at_its_new_place():
    # a fresh interpreter: the old names are imported first, before anything loaded them
    code = (
        "import importlib, json\n"
        "from pytest_modelguard._moved import MOVED\n"
        "found = {}\n"
        "for old, new in MOVED.items():\n"
        "    o = importlib.import_module('pytest_modelguard.' + old)\n"
        "    n = importlib.import_module('pytest_modelguard.' + new)\n"
        "    found[old] = [o is n, o.__spec__.name, o.__name__]\n"
        "print(json.dumps(found))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert set(found) == set(_moved.MOVED)
    for old, (same, spec_name, name) in found.items():
        new = f"pytest_modelguard.{_moved.MOVED[old]}"
        assert same, old
        assert spec_name == name == new, (old, spec_name, name)  # its own spec, not the alias


def test_a_submodule_of_a_moved_package_follows_it():
    # a fresh interpreter: pytester's in-process runs restore sys.modules afterwards, which
    # leaves a package's attribute pointing at an older copy of its submodule
    code = (
        "import importlib\n"
        "from pytest_modelguard.checks.security.scanning import opcodes\n"
        "from pytest_modelguard.logs import duckdb\n"
        "assert importlib.import_module('pytest_modelguard.scanning.opcodes') is opcodes\n"
        "assert importlib.import_module('pytest_modelguard.engines.duckdb') is duckdb\n"
        "from pytest_modelguard import pickles\n"
        "assert pickles.scan_pickle is opcodes.scan_pickle\n"
        "from pytest_modelguard.engines import Engine\n"
        "from pytest_modelguard.logs.engine import Engine as Same\n"
        "assert Engine is Same\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "ok", result.stderr


def test_names_that_did_not_move_are_not_answered():
    assert _moved.new_name("pytest_modelguard.checks.fairness") is None
    assert _moved.new_name("pytest_modelguard.attacksX") is None
    assert _moved.new_name("numpy.attacks") is None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("pytest_modelguard.no_such_module")


def resolve(dotted: str) -> object:
    """Import the longest module prefix of a dotted name, then read the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(dotted)


def documented_paths() -> set[str]:
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]  # not the changelog: history
    texts += list((ROOT / "example_project").rglob("*.py"))
    found = set()
    for path in texts:
        found |= set(re.findall(r"pytest_modelguard(?:\.\w+)+", path.read_text()))
    return found


@pytest.mark.parametrize("dotted", sorted(documented_paths()))
def test_every_path_the_docs_name_resolves(dotted):
    resolve(dotted)


def test_the_changelog_lists_every_old_path():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    missing = [old for old in _moved.MOVED if f"pytest_modelguard.{old}`" not in changelog]
    assert not missing, missing
