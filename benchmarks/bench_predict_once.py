"""Predict once: ten performance gates on one Keras model and dataset cost one inference pass.

A small dense Keras net (20 features -> 64 -> 64 -> 1 sigmoid, trained one epoch with a
fixed seed) and a 20,000-row dataset. Each trial starts from a fresh model object
(``keras.models.clone_model`` + ``set_weights``, so its adapter's prediction cache is
empty) and a fresh ``Dataset`` over the same arrays, and times, in process, with
``pytest_modelguard.checks.performance``:

- **one gate**: accuracy;
- **ten gates**: accuracy, f1, precision, recall, balanced_accuracy, roc_auc, log_loss,
  ece, per-class accuracy, recall of class 0 — all on the same model object;
- for reference, **ten gates without sharing**: each of the ten on its own fresh model
  (what the ten would cost if every gate ran the model).

The three alternate, after one untimed warm-up round; medians are reported.

**Targets:** after the ten gates, ``adapt(model).rows_predicted == len(dataset)`` (one
inference pass), and median(ten gates) <= 1.5 x median(one gate).

With ``--e2e`` it also times real pytest runs (subprocesses) of a temporary project whose
session fixtures load the same model from a ``.keras`` file: 10 gate tests vs 1 gate
test, each minus a baseline run with one test that loads the fixtures but has no gate,
both as wall time and as the sum of pytest's own per-test times from ``--junitxml``
(fixture set-up, gates and body; it leaves out interpreter start-up, collection and the
TensorFlow import). Informational: TensorFlow's import
dominates each run's wall time and makes that figure noisy.

Run from the repository root: ``python benchmarks/bench_predict_once.py [--rounds N] [--e2e]``.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from pytest_modelguard import Dataset, adapt
from pytest_modelguard.checks import performance

TARGET = 1.5
ROWS, FEATURES, SEED = 20_000, 20, 0
ONE_GATE = [{"metric": "accuracy", "min": 0.5}]
TEN_GATES = [
    {"metric": "accuracy", "min": 0.5},
    {"metric": "f1", "min": 0.5},
    {"metric": "precision", "min": 0.5},
    {"metric": "recall", "min": 0.5},
    {"metric": "balanced_accuracy", "min": 0.5},
    {"metric": "roc_auc", "min": 0.5},
    {"metric": "log_loss", "max": 1.0},
    {"metric": "ece", "max": 0.2},
    {"metric": "accuracy", "min": 0.5, "per_class": True},
    {"metric": "recall", "min": 0.5, "pos_label": 0},
]


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    logit = x @ rng.normal(size=FEATURES) + 0.5 * rng.normal(size=ROWS)
    return x, (logit > 0).astype(np.int64)


def make_model(x: np.ndarray, y: np.ndarray) -> keras.Model:
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input(shape=(FEATURES,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)
    return model


def fresh_model(base: keras.Model) -> keras.Model:
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    return model


def run_gates(
    base: keras.Model, x: np.ndarray, y: np.ndarray, gates: list[dict], shared: bool
) -> tuple[float, int, int]:
    """Seconds for the gates on fresh model object(s); rows predicted and dataset size."""
    models = [fresh_model(base)] * len(gates) if shared else [fresh_model(base) for _ in gates]
    dataset = Dataset.from_arrays(x, y)
    gc.collect()
    start = time.perf_counter()
    for model, gate in zip(models, gates, strict=True):
        verdict = performance(model, dataset, **gate)
        assert verdict.status in ("pass", "fail"), verdict
    elapsed = time.perf_counter() - start
    rows = sum(adapt(m).rows_predicted for m in {id(m): m for m in models}.values())
    return elapsed, rows, len(dataset)


# -- optional end-to-end figure --------------------------------------------------------------

CONFTEST = """
import keras, numpy as np, pytest
from pytest_modelguard import Dataset

@pytest.fixture(scope="session")
def model():
    return keras.models.load_model("model.keras")

@pytest.fixture(scope="session")
def dataset():
    data = np.load("data.npz")
    return Dataset.from_arrays(data["x"], data["y"])
"""


def gate_tests(gates: list[dict]) -> str:
    lines = ["from pytest_modelguard import performance", ""]
    for index, gate in enumerate(gates):
        arguments = ", ".join(f"{key}={value!r}" for key, value in gate.items())
        lines += [f"@performance({arguments})", f"def test_gate_{index}(): ...", ""]
    return "\n".join(lines)


def test_seconds(junit_xml: Path) -> float:
    """Sum of pytest's per-test times (setup + call + teardown) from its JUnit XML."""
    return sum(float(case.get("time")) for case in ElementTree.parse(junit_xml).iter("testcase"))


def end_to_end(base: keras.Model, x: np.ndarray, y: np.ndarray, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base.save(root / "model.keras")
        np.savez(root / "data.npz", x=x, y=y)
        (root / "conftest.py").write_text(CONFTEST)
        (root / "test_none.py").write_text("def test_fixtures(model, dataset): ...\n")
        (root / "test_one.py").write_text(gate_tests(ONE_GATE))
        (root / "test_ten.py").write_text(gate_tests(TEN_GATES))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        variants = ["test_none.py", "test_one.py", "test_ten.py"]
        wall: dict[str, list[float]] = {name: [] for name in variants}
        tests: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(rounds + 1):  # round 0 is a warm-up
            for name in variants if round_ % 2 else reversed(variants):
                start = time.perf_counter()
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-q",
                        "-p",
                        "no:cacheprovider",
                        f"--junitxml={root / 'junit.xml'}",
                        name,
                    ],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if result.returncode != 0:
                    sys.exit(f"pytest {name} failed:\n{result.stdout}\n{result.stderr}")
                if round_:
                    wall[name].append(time.perf_counter() - start)
                    tests[name].append(test_seconds(root / "junit.xml"))
    print(f"  end to end, pytest subprocesses, median of {rounds} rounds (informational):")
    for label, times in [("wall time", wall), ("pytest's test times", tests)]:
        none, one, ten = (statistics.median(times[name]) for name in variants)
        print(
            f"    {label}: no gate (fixtures only) {none:.2f} s, "
            f"1 gate test +{one - none:.2f} s, 10 gate tests +{ten - none:.2f} s, "
            f"ratio (10 - none) / (1 - none) = {(ten - none) / (one - none):.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--e2e", action="store_true", help="also time real pytest runs")
    parser.add_argument("--e2e-rounds", type=int, default=5, help="rounds of --e2e (default 5)")
    args = parser.parse_args()

    x, y = make_data()
    base = make_model(x, y)
    variants = {
        "one gate": (ONE_GATE, True),
        "ten gates": (TEN_GATES, True),
        "ten gates, no sharing": (TEN_GATES, False),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    rows_after_ten = []
    for round_ in range(args.rounds + 1):  # round 0 is a warm-up
        for name in variants if round_ % 2 else reversed(variants):
            gates, shared = variants[name]
            elapsed, rows, n = run_gates(base, x, y, gates, shared)
            if round_:
                times[name].append(elapsed)
            if name == "ten gates":
                rows_after_ten.append(rows)

    one, ten, unshared = (statistics.median(times[name]) for name in variants)
    ratio = ten / one
    passes_ok = all(rows == n for rows in rows_after_ten)
    time_ok = ratio <= TARGET
    print(
        f"predict once: Keras dense net, {ROWS} rows x {FEATURES} features, "
        f"median of {args.rounds} rounds"
    )
    print(f"  one gate on a fresh model        {one * 1e3:8.1f} ms")
    print(f"  ten gates on a fresh model       {ten * 1e3:8.1f} ms")
    print(f"  ten gates, each on its own model {unshared * 1e3:8.1f} ms  (reference: no sharing)")
    print(f"  rows predicted by the ten gates: {sorted(set(rows_after_ten))} (dataset: {n} rows)")
    print(f"  target: rows predicted == {n} -> {'MET' if passes_ok else 'MISSED'}")
    print(f"  target: ten / one = {ratio:.3f} <= {TARGET} -> {'MET' if time_ok else 'MISSED'}")
    if args.e2e:
        end_to_end(base, x, y, args.e2e_rounds)
    return 0 if passes_ok and time_ok else 1


if __name__ == "__main__":
    sys.exit(main())
