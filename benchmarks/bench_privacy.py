"""Privacy gate benchmarks: the membership-inference gate's cost, and PII scanning speed.

Run: ``python benchmarks/bench_privacy.py`` (about a minute on 2 cores). Times are CPU
seconds of this process, medians of interleaved rounds after a warm-up. Prints each
measurement and the ratio it is about, and exits 1 when a target is missed:

1. MIA: ``checks.privacy(model, holdout, members=train, max_mia_auc=0.6)`` (both
   attacks, no interval) on a fresh adapter (empty prediction cache) vs two inference
   passes of the same model (members and non-members, ``Adapter.predict``): a dense
   Keras net 20 -> 64 -> 64 -> 1 on 20,000 + 20,000 rows (target: at most 1.2x).
   ``confidence=0.95`` (1,000 bootstrap resamples of 40,000 rows) is printed too,
   for information.
2. PII: ``pii.scan`` over 1,000,000 short text rows (1 in 100 with an e-mail address
   and a phone number, the rest with dates, amounts and references that look like
   numbers) vs one ``findall`` pass of the same compiled pattern over the same text,
   already joined (target: at most 2x). A pass of a plain e-mail regex is printed
   too, for information.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

MIA_TARGET = 1.2
PII_TARGET = 2.0


def interleaved(alternatives: dict[str, object], rounds: int) -> dict[str, float]:
    """Median CPU seconds of each alternative, the order flipped every round."""
    for function in alternatives.values():
        function()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in alternatives}
    names = list(alternatives)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.process_time()
            alternatives[name]()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_mia(rounds: int) -> bool:
    import keras

    from pytest_modelguard import Dataset, checks
    from pytest_modelguard.adapters.keras import KerasAdapter

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40_000, 20)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) + rng.normal(size=len(x)) > 0).astype(np.int64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x[:20_000], y[:20_000], epochs=1, batch_size=256, verbose=0)
    members = Dataset.from_arrays(x[:20_000], y[:20_000], name="train")
    holdout = Dataset.from_arrays(x[20_000:], y[20_000:], name="holdout")

    def two_passes() -> None:
        adapter = KerasAdapter(model)
        adapter.predict(members)
        adapter.predict(holdout)

    def gate(**spec: object) -> None:
        adapter = KerasAdapter(model)  # fresh cache: the gate pays for both passes
        checks.privacy(adapter, holdout, members=members, max_mia_auc=0.6, **spec)
        assert adapter.rows_predicted == len(members) + len(holdout)

    medians = interleaved(
        {
            "two passes": two_passes,
            "gate": gate,
            "gate, confidence=0.95": lambda: gate(confidence=0.95),
        },
        rounds,
    )
    ratio = medians["gate"] / medians["two passes"]
    print("MIA gate, 20,000 members + 20,000 non-members, Keras 20-64-64-1:")
    for name, seconds in medians.items():
        print(f"  {name:<24} {1e3 * seconds:8.1f} ms")
    print(f"  ratio gate / two passes: {ratio:.3f} (target <= {MIA_TARGET})")
    informational = medians["gate, confidence=0.95"] / medians["two passes"]
    print(f"  (informational) with confidence=0.95: {informational:.2f}x two passes")
    return ratio <= MIA_TARGET


def bench_pii(rounds: int, rows: int) -> bool:
    from pytest_modelguard.checks.privacy import pii

    rng = np.random.default_rng(0)
    words = np.array(
        [
            *("order", "shipped", "to", "customer", "on", "2024-01-15", "total", "12.50"),
            *("EUR", "thanks", "ref", "A-1234", "please", "call", "back", "v1.2.3", "at", "10:30"),
        ]
    )
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(rows)]
    for i in range(0, rows, 100):
        texts[i] += " contact jane.roe@example.org or +44 20 7946 0958"
    joined = "\n".join(texts)
    email = re.compile(r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
    found = pii.scan(texts)
    assert len(found) == 2 * len(range(0, rows, 100)), len(found)
    medians = interleaved(
        {
            "scan": lambda: pii.scan(texts),
            "one pass of the pattern": lambda: pii.PATTERN.findall(joined),
            "one pass of an e-mail regex": lambda: email.findall(joined),
        },
        rounds,
    )
    ratio = medians["scan"] / medians["one pass of the pattern"]
    print(f"PII scan, {rows:,} rows, {len(joined) / 1e6:.1f} MB of text, {len(found)} findings:")
    for name, seconds in medians.items():
        print(f"  {name:<28} {seconds:7.3f} s")
    print(f"  ratio scan / one pass of the pattern: {ratio:.3f} (target <= {PII_TARGET})")
    plain = medians["scan"] / medians["one pass of an e-mail regex"]
    print(f"  (informational) scan / one pass of an e-mail regex: {plain:.3f}")
    return ratio <= PII_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ok = bench_mia(args.rounds)
    ok = bench_pii(max(3, args.rounds // 2), args.rows) and ok
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
