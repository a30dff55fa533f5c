"""An install without the check sources (``.pyc`` only) must still know every gate.

The declarations are read from the sources with ``ast``; a sourceless install used to find
none, so ``GATES`` was empty and a raw ``pytest.mark.modelguard_performance(...)`` test passed.
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_modelguard
from pytest_modelguard.core import spec

PRINT_DECLARATIONS = "from pytest_modelguard.core import spec; print(repr(spec.requirements()))"


@pytest.fixture(scope="module")
def sourceless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package compiled in place (``compileall -b``) with every .py removed."""
    root = tmp_path_factory.mktemp("sourceless")
    copy = root / "pytest_modelguard"
    shutil.copytree(
        Path(pytest_modelguard.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert compileall.compile_dir(copy, quiet=1, legacy=True)
    for source in copy.rglob("*.py"):
        source.unlink()
    return root


def _run(code: str, path: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter that imports the package from ``path`` (the
    working directory, first on ``sys.path``, is ``path`` too unless given)."""
    env = {"PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd or path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_sourceless_install_declares_the_same_requirements(sourceless: Path) -> None:
    with_sources = _run(PRINT_DECLARATIONS, Path(pytest_modelguard.__file__).parent.parent)
    without = _run(PRINT_DECLARATIONS, sourceless)
    assert without.returncode == 0, without.stderr
    assert "Requirement(" in with_sources.stdout, with_sources.stderr
    assert "Requirement(name='performance'" in without.stdout
    assert without.stdout == with_sources.stdout


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy with sources, except the privacy and robustness checks, compiled in place
    with their .py removed (an install that kept some modules as .pyc only)."""
    root = tmp_path_factory.mktemp("mixed")
    copy = root / "pytest_modelguard"
    shutil.copytree(
        Path(pytest_modelguard.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    for package in ("privacy", "robustness"):
        assert compileall.compile_dir(copy / "checks" / package, quiet=1, legacy=True)
        for source in (copy / "checks" / package).rglob("*.py"):
            source.unlink()
    assert (copy / "checks" / "performance.py").exists()
    return root


def test_a_mixed_install_declares_the_same_requirements(mixed: Path) -> None:
    """Sources for most checks, .pyc only for some: the sources alone used to be read, and
    the .pyc-only checks' gates were missing (their raw marks passed)."""
    with_sources = _run(PRINT_DECLARATIONS, Path(pytest_modelguard.__file__).parent.parent)
    run = _run(PRINT_DECLARATIONS, mixed)
    assert run.returncode == 0, run.stderr
    assert "Requirement(name='privacy'" in run.stdout
    assert "Requirement(name='robust'" in run.stdout
    assert run.stdout == with_sources.stdout


def test_a_stale_pyc_beside_the_sources_is_skipped_or_loses_to_them(tmp_path: Path) -> None:
    """A leftover bare .pyc that fails to import stopped every pytest run (the plugin loads
    through its entry point); one that declares a requirement again replaced the source's."""
    copy = tmp_path / "pytest_modelguard"
    shutil.copytree(
        Path(pytest_modelguard.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    checks = copy / "checks"
    (checks / "gone.py").write_text("import a_module_that_is_gone\n")
    shutil.copy(checks / "performance.py", checks / "old_performance.py")  # an old copy
    for stale in ("gone.py", "old_performance.py"):
        assert compileall.compile_file(checks / stale, quiet=1, legacy=True)
        (checks / stale).unlink()
    run = _run(
        "import warnings; warnings.simplefilter('always')\n"
        "from pytest_modelguard.core import spec\n"
        "print(spec.requirements()['performance'].module)",
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "pytest_modelguard.checks.performance"
    assert "skipped pytest_modelguard.checks.gone" in run.stderr
    assert "the source's is used" in run.stderr


def test_a_raw_gate_mark_fails_in_a_sourceless_install(sourceless: Path, tmp_path: Path) -> None:
    (tmp_path / "test_raw.py").write_text(
        "import pytest\n"
        "from sklearn.dummy import DummyClassifier\n"
        "from pytest_modelguard import Dataset\n"
        "X = [[0.0], [1.0]] * 20\n"
        "y = [0, 1] * 20\n"
        "@pytest.fixture\n"
        "def model():\n"
        "    return DummyClassifier(strategy='constant', constant=0).fit(X, y)\n"
        "@pytest.fixture\n"
        "def dataset():\n"
        "    import pandas as pd\n"
        "    frame = pd.DataFrame({'x': [r[0] for r in X], 'y': y})\n"
        "    return Dataset.from_pandas(frame, target='y')\n"
        "@pytest.mark.modelguard_performance(metric='accuracy', min=0.99)\n"
        "def test_raw():\n"
        "    pass\n"
    )
    run = _run(
        "import sys, pytest, pytest_modelguard as p; print(p.__file__); "
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider']))",
        sourceless,
        cwd=tmp_path,
    )
    assert run.stdout.startswith(str(sourceless)), run.stdout  # the sourceless copy
    assert "1 failed" in run.stdout and "FAIL performance" in run.stdout, run.stdout + run.stderr


def test_no_requirement_found_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither sources nor modules with a declaration: an error, never an empty table."""
    monkeypatch.setattr(spec, "_CHECKS_DIR", tmp_path)
    monkeypatch.setattr(spec, "_CHECKS_PACKAGE", "json")  # a real package, no requirement
    with pytest.raises(RuntimeError, match="found no requirement"):
        spec.requirements.__wrapped__()
