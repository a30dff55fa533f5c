"""Import cost of the plugin: what ``import pytest_modelguard.plugin`` loads and how long it takes.

pytest imports the plugin in every run of every project that has it installed, so the
import must stay cheap. Measured, each in fresh interpreters:

1. Heavy modules: which of TensorFlow, Keras, fairlearn, foolbox, pandas, scikit-learn
   and Hypothesis are in ``sys.modules`` after ``import pytest_modelguard.plugin``, and
   which of them a real ``pytest --collect-only`` session loads with the plugin that it
   does not load with ``-p no:modelguard``.  **Target: none (both lists empty).**
2. Time, ``python -X importtime`` style: the cumulative import time of ``pytest`` and the
   extra time of ``pytest_modelguard.plugin`` imported after it (so pytest's own modules
   are not counted twice), interleaved over ``--repeats`` interpreters, medians reported.
   Informational: the plugin's share of pytest's import time is printed, not gated.

numpy is reported too (the package promises not to need it at import) but is not part of
the target.

Run from the repository root: ``python benchmarks/bench_import.py [--repeats N]``.
Exits 1 when a heavy module is loaded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ["tensorflow", "keras", "fairlearn", "foolbox", "pandas", "sklearn", "hypothesis"]
ALSO_REPORTED = ["numpy"]

LOADED_AFTER_IMPORT = """
import json, sys
import pytest_modelguard.plugin
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

CONFTEST_DUMPING_MODULES = """
import json, sys

def pytest_sessionfinish(session):
    with open("modules.json", "w") as f:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), f)
"""


def loaded_by_import() -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_IMPORT], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def loaded_by_pytest_session(*extra_args: str) -> set[str]:
    """Top-level modules loaded by ``pytest --collect-only`` on a one-test project."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conftest.py").write_text(CONFTEST_DUMPING_MODULES)
        (root / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", *extra_args],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        )
        return set(json.loads((root / "modules.json").read_text()))


def importtime_us(statement: str) -> dict[str, int]:
    """Cumulative microseconds per top-level import line of ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        check=True,
        capture_output=True,
        text=True,
    )
    cumulative = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.split("|")
        if not name.startswith("  ") and cum.strip().isdigit():  # top level: one space indent
            cumulative[name.strip()] = int(cum)
    return cumulative


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="interpreters to time (default 21)")
    args = parser.parse_args()

    watched = HEAVY + ALSO_REPORTED
    after_import = sorted(m for m in watched if m in loaded_by_import())
    with_plugin = loaded_by_pytest_session()
    without_plugin = loaded_by_pytest_session("-p", "no:modelguard")
    added_by_plugin = sorted(m for m in watched if m in with_plugin - without_plugin)

    pytest_us, plugin_us = [], []
    for _ in range(args.repeats):
        times = importtime_us("import pytest; import pytest_modelguard.plugin")
        pytest_us.append(times["pytest"])
        plugin_us.append(times["pytest_modelguard.plugin"])
    pytest_ms = statistics.median(pytest_us) / 1e3
    plugin_ms = statistics.median(plugin_us) / 1e3

    heavy_after_import = [m for m in after_import if m in HEAVY]
    heavy_in_session = [m for m in added_by_plugin if m in HEAVY]
    print("import cost of pytest_modelguard.plugin")
    print(f"  heavy modules after `import pytest_modelguard.plugin`: {heavy_after_import}")
    print(f"  heavy modules a pytest session loads because of the plugin: {heavy_in_session}")
    print(f"  numpy loaded by the import: {'numpy' in after_import} (reported, not a target)")
    print(f"  -X importtime, median of {args.repeats} interpreters:")
    print(f"    import pytest                                     {pytest_ms:7.1f} ms")
    print(
        f"    import pytest_modelguard.plugin (after pytest)    {plugin_ms:7.1f} ms"
        f"  = {plugin_ms / pytest_ms:.1%} of pytest's import"
    )
    ok = not heavy_after_import and not heavy_in_session
    print(f"  target: no heavy module loaded ({', '.join(HEAVY)}) -> {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
