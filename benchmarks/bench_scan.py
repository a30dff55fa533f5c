"""The safe_load scan vs loading the same artifact, on realistic model files.

Artifacts (written once to a temporary directory):

- **forest**: a scikit-learn ``RandomForestClassifier`` (200 trees, 5,000 x 20 rows) saved
  with ``joblib.dump`` (one pickle with a few hundred arrays between its opcodes);
- **forest.gz**: the same, ``compress=3`` (zlib);
- **knn**: a ``KNeighborsClassifier`` on 50,000 x 20 rows (large raw arrays, a KDTree);
- **frame**: a pandas DataFrame of 200,000 rows with numeric, string and categorical
  columns, ``to_pickle``.

Each round times ``pickles.scan_path(artifact)`` and the loader that reads it
(``joblib.load`` / ``pandas.read_pickle``), alternating their order, after one untimed
warm-up; medians are reported.

**Target:** median(scan) <= 2 x median(load) for the three model files: checking a model
before loading it costs at most about as much again as loading it. The DataFrame is
informational: its pickle is a few hundred opcodes around large buffers, which the C
unpickler copies in about a millisecond while the scan (Python) walks the opcodes; the
absolute time (a few ms) is what matters there.

Run from the repository root: ``python benchmarks/bench_scan.py [--rounds N]``. Exits 1 when
a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from pytest_modelguard.checks.security import scanning as pickles

TARGET = 2.0
TARGETED = ("forest", "forest.gz", "knn")


def artifacts(root: Path) -> dict[str, tuple[Path, Callable[[Path], object]]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5_000, 20))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=200, random_state=0).fit(x, y)
    joblib.dump(forest, root / "forest.joblib")
    joblib.dump(forest, root / "forest.joblib.gz", compress=3)
    big = rng.normal(size=(50_000, 20))
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(big, big[:, 0] > 0)
    joblib.dump(knn, root / "knn.joblib")
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200_000),
            "k": rng.integers(0, 100, 200_000),
            "s": pd.Series(rng.choice(["a", "b", "c"], 200_000)),
            "c": pd.Categorical(rng.choice(["u", "v"], 200_000)),
        }
    )
    frame.to_pickle(root / "frame.pkl")
    return {
        "forest": (root / "forest.joblib", joblib.load),
        "forest.gz": (root / "forest.joblib.gz", joblib.load),
        "knn": (root / "knn.joblib", joblib.load),
        "frame": (root / "frame.pkl", pd.read_pickle),
    }


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    missed = False
    with tempfile.TemporaryDirectory() as folder:
        for name, (path, load) in artifacts(Path(folder)).items():
            scan = pickles.scan_path(path)  # warm-up (and the premise: it is clean)
            assert scan.unsafe == [], scan.unsafe
            load(path)
            scans, loads = [], []
            for round_ in range(rounds):
                pair = [
                    (scans, lambda path=path: pickles.scan_path(path)),
                    (loads, lambda path=path, load=load: load(path)),
                ]
                for times, action in pair if round_ % 2 == 0 else pair[::-1]:
                    times.append(timed(action))
            scan_s, load_s = statistics.median(scans), statistics.median(loads)
            ratio = scan_s / load_s
            targeted = name in TARGETED
            missed |= targeted and ratio > TARGET
            size = path.stat().st_size / 1e6
            goal = f"target <= {TARGET}" if targeted else "informational"
            print(
                f"{name:10s} {size:7.1f} MB  scan {scan_s * 1e3:8.1f} ms  "
                f"load {load_s * 1e3:8.1f} ms  ratio {ratio:5.2f} ({goal})"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
