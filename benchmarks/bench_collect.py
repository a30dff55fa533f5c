"""Collection overhead of having the plugin installed, on a project that uses no gates.

Generates a 500-test project in a temporary directory (25 modules: plain functions,
test classes and parametrized tests, a conftest with a fixture, no gate markers) and
times ``python -m pytest --collect-only -q`` as a subprocess, with the plugin (as
installed) and with ``-p no:modelguard``. The two variants alternate (the order flips
every round so neither always runs first), after one untimed warm-up run of each.

Reported: the median wall time of each variant and their ratio (with / without).
**Target: ratio <= 1.05** (the plugin adds at most 5% to collecting a project that does
not use it).

Run from the repository root: ``python benchmarks/bench_collect.py [--rounds N]``.
Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.05
MODULES = 25
TESTS_PER_MODULE = 20  # 8 functions + a class of 6 + one test parametrized 6 ways

CONFTEST = """
import pytest

@pytest.fixture
def numbers():
    return [1, 2, 3]
"""


def module_source(index: int) -> str:
    lines = ["import pytest", ""]
    for i in range(8):
        lines += [f"def test_function_{index}_{i}(numbers):", "    assert sum(numbers) == 6", ""]
    lines += [f"class TestGroup{index}:"]
    for i in range(6):
        lines += [f"    def test_method_{i}(self):", f"        assert {i} + 1 > {i}", ""]
    lines += [
        '@pytest.mark.parametrize("value", range(6))',
        f"def test_parametrized_{index}(value):",
        "    assert value >= 0",
        "",
    ]
    return "\n".join(lines)


def generate_project(root: Path) -> None:
    (root / "conftest.py").write_text(CONFTEST)
    (root / "pytest.ini").write_text("[pytest]\n")
    for index in range(MODULES):
        (root / f"test_module_{index:02d}.py").write_text(module_source(index))


def collect(root: Path, extra_args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *extra_args],
        cwd=root,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"pytest failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout.strip().splitlines()[-1].split(" in ")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="runs of each variant (default 21)")
    args = parser.parse_args()

    variants = {"with plugin": [], "-p no:modelguard": ["-p", "no:modelguard"]}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_project(root)
        for extra in variants.values():  # warm-up: bytecode caches, .pytest_cache
            _, summary = collect(root, extra)
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                elapsed, _ = collect(root, variants[name])
                times[name].append(elapsed)

    with_plugin = statistics.median(times["with plugin"])
    without = statistics.median(times["-p no:modelguard"])
    ratio = with_plugin / without
    paired = statistics.median(
        a / b for a, b in zip(times["with plugin"], times["-p no:modelguard"], strict=True)
    )
    print(f"pytest --collect-only of a generated project ({summary}), {args.rounds} rounds")
    print(f"  median with plugin         {with_plugin * 1e3:7.1f} ms")
    print(f"  median -p no:modelguard    {without * 1e3:7.1f} ms")
    print(f"  ratio of medians           {ratio:7.3f}  (median of per-round ratios {paired:.3f})")
    ok = ratio <= TARGET
    print(f"  target: ratio <= {TARGET} -> {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
