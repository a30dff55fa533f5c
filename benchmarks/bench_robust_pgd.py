"""The PGD gate costs what a direct foolbox call costs: the plugin adds no passes.

A dense Keras net (64 -> 128 -> 128 -> 10 logits, trained 10 epochs with a fixed seed)
on scikit-learn's 8x8 digits, pixels in [0, 1]. Each round times, in process:

- **gate**: ``checks.robust(model, dataset, eps=0.03, attack="pgd", steps=40)`` on 500
  held-out rows (every row is attacked, so no sampling);
- **direct**: what a user would write with foolbox: ``tf.random.set_seed``,
  ``fb.TensorFlowModel(model, bounds=(0, 1), device="/cpu:0")``, ``fb.attacks.LinfPGD(steps=40)``
  on the same rows and labels, and the robust accuracy from the success array.

The gate's clean accuracy comes from the adapter's cached predictions; the first round
(untimed, a warm-up for both) fills that cache, as any earlier gate of a session would.
The two alternate (the order flips every round) and are compared by their medians.
Both must also give the same robust accuracy.

**Target:** median(gate) <= 1.1 x median(direct).

Run from the repository root: ``python benchmarks/bench_robust_pgd.py [--rounds N]``.
Exits 1 when the target is missed.
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
import tensorflow as tf
from sklearn.datasets import load_digits

from pytest_modelguard import Dataset
from pytest_modelguard.checks import robust
from pytest_modelguard.checks.robustness.attacks import load_foolbox

TARGET = 1.1
ROWS, EPS, STEPS, SEED = 500, 0.03, 40, 0


def build() -> tuple[keras.Model, Dataset]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x[:-ROWS], y[:-ROWS], epochs=10, batch_size=64, verbose=0)
    return model, Dataset.from_arrays(x[-ROWS:], y[-ROWS:], kind="image", bounds=(0, 1))


def gate(model: keras.Model, dataset: Dataset) -> float:
    verdict = robust(
        model, dataset, eps=EPS, attack="pgd", steps=STEPS, samples=ROWS, min_accuracy=0.01,
        seed=SEED,
    )  # fmt: skip
    return verdict.value


def direct(fb: object, model: keras.Model, dataset: Dataset) -> float:
    tf.random.set_seed(SEED)
    fmodel = fb.TensorFlowModel(model, bounds=(0, 1), device="/cpu:0")  # type: ignore[attr-defined]
    images = tf.constant(dataset.features, tf.float32)
    labels = tf.constant(dataset.target, tf.int64)
    attack = fb.attacks.LinfPGD(steps=STEPS)  # type: ignore[attr-defined]
    _, _, success = attack(fmodel, images, labels, epsilons=[EPS])
    clean = model(images).numpy().argmax(axis=1) == dataset.target
    return float(np.mean(clean & ~success.numpy()[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    fb = load_foolbox()
    model, dataset = build()
    runs = {"gate": lambda: gate(model, dataset), "direct": lambda: direct(fb, model, dataset)}
    values = {name: run() for name, run in runs.items()}  # warm-up: tracing, the clean cache
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            start = time.perf_counter()
            values[name] = runs[name]()
            times[name].append(time.perf_counter() - start)
    gate_s, direct_s = (statistics.median(times[name]) for name in ("gate", "direct"))
    ratio = gate_s / direct_s
    print(f"PGD linf eps={EPS} steps={STEPS} on {ROWS} digits, {rounds} rounds (medians)")
    print(f"  robust accuracy  gate {values['gate']:.4f}  direct foolbox {values['direct']:.4f}")
    print(f"  time             gate {gate_s * 1e3:.1f} ms  direct foolbox {direct_s * 1e3:.1f} ms")
    print(f"  ratio gate/direct = {ratio:.3f} (target <= {TARGET})")
    ok = ratio <= TARGET and values["gate"] == values["direct"]
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
