"""Batched perturbation gates: one model call per Hypothesis example vs one per row.

A Keras image classifier (16 x 16 -> Flatten -> 64 relu -> 10 softmax, seeded weights) on
2,048 uniform images in [0, 1]. Two alternatives perturb the same number of rows
(``--examples`` x 256) with Gaussian noise:

- **gate**: ``perturbation_gate(perturbation="gaussian_noise", eps=0.05, examples=E)``
  with a threshold it passes (so Hypothesis generates exactly E examples and does not
  shrink); each example is one model call on 256 rows. Includes Hypothesis, the
  perturbation and the comparison with the cached clean predictions.
- **row by row**: the same E perturbations of the same batches, then the adapter's
  ``predict`` on each perturbed row alone (one model call per row).

They alternate after one untimed warm-up round; medians are compared.

**Target:** median(row by row) / median(gate) >= 10.

Run from the repository root: ``python benchmarks/bench_perturbation.py [--rounds N]
[--examples E]``. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from pytest_modelguard.strategies import Perturbation

from pytest_modelguard import Dataset, adapt
from pytest_modelguard.checks.robustness.perturbation import ROWS_PER_EXAMPLE, perturbation_gate
from pytest_modelguard.core.profiles import PROFILES

TARGET = 10.0
ROWS, SIDE, SEED, EPS = 2048, 16, 0, 0.05


def build() -> tuple[keras.Model, Dataset]:
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    x = np.random.default_rng(SEED).uniform(0, 1, (ROWS, SIDE, SIDE)).astype(np.float32)
    labels = model.predict_on_batch(x).argmax(axis=1)
    return model, Dataset.from_arrays(x, labels, kind="image", bounds=(0.0, 1.0))


def gate(model: keras.Model, dataset: Dataset, examples: int) -> int:
    verdict = perturbation_gate(
        model,
        dataset,
        perturbation="gaussian_noise",
        eps=EPS,
        max_flip_rate=0.99,
        examples=examples,
        immutable=None,
        bounds=None,
        seed=SEED,
        profile=PROFILES["ci"],
    )
    search = verdict.evidence["search"]
    assert verdict.status == "pass" and search["examples_evaluated"] == examples, search
    return examples * verdict.evidence["rows_per_example"]


def row_by_row(model: keras.Model, dataset: Dataset, examples: int) -> int:
    adapter = adapt(model)
    x, y = dataset.features, dataset.target
    order = np.random.default_rng(SEED).permutation(len(dataset))
    rows_done = 0
    for i in range(examples):
        window = (i % (len(dataset) // ROWS_PER_EXAMPLE)) * ROWS_PER_EXAMPLE
        rows = order[window : window + ROWS_PER_EXAMPLE]
        noisy = Perturbation("gaussian_noise", EPS, {"seed": i}).apply(x[rows], bounds=(0.0, 1.0))
        for r in range(len(rows)):
            one = Dataset(noisy[r : r + 1], y[rows[r : r + 1]], kind="image")
            adapter.predict(one)
            rows_done += 1
    return rows_done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()

    model, dataset = build()
    alternatives = {"gate": gate, "row by row": row_by_row}
    times: dict[str, list[float]] = {name: [] for name in alternatives}
    rows: dict[str, int] = {}
    for run in alternatives.values():  # warm-up: tracing, the cached clean pass
        run(model, dataset, 2)
    for r in range(args.rounds):
        names = list(alternatives) if r % 2 == 0 else list(reversed(alternatives))
        for name in names:
            start = time.perf_counter()
            rows[name] = alternatives[name](model, dataset, args.examples)
            times[name].append(time.perf_counter() - start)

    assert rows["gate"] == rows["row by row"], rows
    gate_s = statistics.median(times["gate"])
    rows_s = statistics.median(times["row by row"])
    ratio = rows_s / gate_s
    print(f"perturbed rows per alternative: {rows['gate']} ({args.examples} examples x 256)")
    print(f"gate (one call per example):  median {gate_s * 1000:8.1f} ms")
    print(f"row by row (one call per row): median {rows_s * 1000:8.1f} ms")
    print(f"ratio row-by-row / gate: {ratio:.1f}x  (target >= {TARGET:g}x)")
    ok = ratio >= TARGET
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
