"""Explainability gates cost a fixed number of batched passes, whatever the row count.

A Keras classifier (F=20 features -> 32 relu -> 1 sigmoid, seeded weights) on 4,000 rows,
with a counting layer in front: a non-trainable variable the graph increments on every
model call, so the count includes calls inside ``tf.function`` and ``predict_on_batch``.
Gates use ``samples=200`` rows (one batch). Counted:

- **permutation**: ``explainability(method="permutation")`` on a fresh model (the clean
  pass is computed once and cached) and again (the clean pass comes from the cache).
  Each feature's 5 repeats are one batched pass of 5 x 200 = 1,000 rows (one model call).
  Target: F + 1 passes, the clean one over the whole dataset (ceil(4000 / 1024) = 4 model
  calls of at most ``batch_size`` rows), then exactly F calls.
- **integrated gradients** with m = 16, 32, 64 steps, after the clean pass is cached.
  Target: m gradient passes (+ 1 one-row forward pass for f(baseline), needed for the
  completeness check).
- **scikit-learn**: the same permutation count from the adapter's ``rows_predicted`` on a
  ``LogisticRegression`` (F passes of 5 repeats x 200 rows beyond the cached clean pass).

Run from the repository root: ``python benchmarks/bench_explainability.py``. Exits 1 when a
count is off.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, adapt, checks

F, ROWS, SAMPLES, REPEATS, SEED = 20, 4000, 200, 5, 0


class Counter(keras.layers.Layer):
    """Identity that counts its calls in a variable (graph-safe, unlike a Python counter)."""

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x):  # type: ignore[override]
        self.calls.assign_add(1.0)
        return x


def build() -> tuple[keras.Model, Counter, Dataset]:
    keras.utils.set_random_seed(SEED)
    counter = Counter()
    model = keras.Sequential(
        [
            keras.Input((F,)),
            counter,
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    x = np.random.default_rng(SEED).normal(size=(ROWS, F)).astype(np.float32)
    y = (model.predict_on_batch(x)[:, 0] > 0.5).astype(np.int64)
    return model, counter, Dataset.from_arrays(x, y, name="bench")


def calls(counter: Counter) -> int:
    return int(counter.calls.numpy())


def counted(counter: Counter, run) -> tuple[int, float]:
    before = calls(counter)
    started = time.perf_counter()
    run()
    return calls(counter) - before, time.perf_counter() - started


def main() -> int:
    ok = True

    model, counter, dataset = build()
    spec = {
        "max_protected_share": 0.99,
        "proxies": ["x0"],  # a protected gate needs a protected feature to measure
        "samples": SAMPLES,
        "repeats": REPEATS,
        "seed": SEED,
    }

    def permutation():
        return checks.explainability(model, dataset, method="permutation", **spec)

    clean_calls = -(-ROWS // adapt(model).batch_size)
    first, seconds = counted(counter, permutation)
    again, seconds_again = counted(counter, permutation)
    print(f"permutation importance, F = {F} features, {SAMPLES} rows")
    print(
        f"  fresh model : {first:3d} model calls = F passes + the clean pass over {ROWS} rows "
        f"in {clean_calls} batches (target {F + clean_calls})  {seconds:.2f} s"
    )
    print(f"  cached clean: {again:3d} model calls (target F = {F})  {seconds_again:.2f} s")
    ok &= first == F + clean_calls and again == F

    print("integrated gradients (clean pass cached)")
    for steps in (16, 32, 64):
        verdict = None

        def gradients(steps: int = steps) -> None:
            nonlocal verdict
            verdict = checks.explainability(model, dataset, steps=steps, **spec)

        used, seconds = counted(counter, gradients)
        assert verdict is not None
        passes = verdict.evidence["passes"]
        print(
            f"  m = {steps:2d}: {used:3d} model calls = {passes['gradient']} gradient passes + "
            f"{passes['forward']} baseline forward (target m + 1 = {steps + 1}); completeness "
            f"{verdict.evidence['completeness']:.2e}  {seconds:.2f} s"
        )
        ok &= used == steps + 1 and passes["gradient"] == steps

    estimator = LogisticRegression().fit(dataset.features, dataset.target)
    adapter = adapt(estimator)
    adapter.outputs(dataset)
    before = adapter.rows_predicted
    checks.explainability(estimator, dataset, **spec)
    rows = adapter.rows_predicted - before
    print(
        f"scikit-learn permutation: {rows} rows predicted = {rows // (REPEATS * SAMPLES)} "
        f"passes of {REPEATS} x {SAMPLES} rows beyond the cached clean pass (target F = {F})"
    )
    ok &= rows == F * REPEATS * SAMPLES

    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
