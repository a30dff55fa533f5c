"""The example project's wall time with ``-n 2`` versus a serial run.

Target (issue: release sign-off): under pytest-xdist the main job is not slower than the
serial run by more than 10 %. Both variants run as subprocesses, alternating (the order
flips every round) after one untimed warm-up of each; medians are compared.

    python benchmarks/bench_example_xdist.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.10


def run(*extra: str) -> float:
    command = [sys.executable, "-m", "pytest", "example_project", "-q", "-p", "no:cacheprovider"]
    started = time.perf_counter()
    subprocess.run([*command, *extra], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    variants = {"serial": (), "-n 2": ("-n", "2")}
    for extra in variants.values():
        run(*extra)  # warm-up: file caches, compiled bytecode
    times: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(rounds):
        order = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in order:
            times[name].append(run(*variants[name]))
    serial, parallel = (statistics.median(times[name]) for name in variants)
    ratio = parallel / serial
    print(f"example project, medians of {rounds} rounds")
    print(f"  serial {serial:6.1f} s   -n 2 {parallel:6.1f} s")
    print(f"  ratio {ratio:.3f} (target <= {TARGET})")
    ok = ratio <= TARGET
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
