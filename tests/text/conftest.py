"""Tiny real text models, trained once per session: a Keras model on strings that learned
a name bias from its data, one trained on balanced data, and a real embedding encoder."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_modelguard import Dataset

POSITIVE = ["great", "lovely", "wonderful", "excellent", "nice", "happy", "good", "fine"]
NEGATIVE = ["awful", "terrible", "horrible", "bad", "sad", "poor", "nasty", "dreadful"]
EA_NAMES = ["Emily", "Greg", "Sarah", "Brad", "Allison", "Todd", "Meredith", "Neil"]
AA_NAMES = ["Lakisha", "Jamal", "Ebony", "Darnell", "Tamika", "Tyrone", "Aisha", "Rasheed"]
FRAMES = [
    "{name} said the food was {word}",
    "the trip with {name} was {word}",
    "{name} thinks the movie is {word}",
    "a {word} day for {name}",
    "i had a {word} talk with {name} today",
]


def make_texts(n: int, *, biased: bool, seed: int) -> tuple[list[str], np.ndarray]:
    """Sentences whose label is the polarity of their adjective; when ``biased``, a third of
    the positive sentences about African-American names are labelled negative (a bias the
    model learns from its labels)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        word = rng.choice(POSITIVE if label else NEGATIVE)
        african_american = rng.random() < 0.5
        names = AA_NAMES if african_american else EA_NAMES
        texts.append(rng.choice(FRAMES).format(name=rng.choice(names), word=word))
        if biased and african_american and rng.random() < 0.35:
            label = 0
        labels.append(label)
    return texts, np.array(labels)


def train_text_model(texts: list[str], labels: np.ndarray, *, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(max_tokens=200, output_sequence_length=12)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorize(inputs)
    x = keras.layers.Embedding(200, 8, name="embedding")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    import tensorflow as tf

    batch = tf.constant(texts)[:, None]
    model.fit(batch, labels, epochs=6, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def biased_text_model():
    texts, labels = make_texts(1200, biased=True, seed=1)
    return train_text_model(texts, labels, seed=1)


@pytest.fixture(scope="session")
def fair_text_model():
    texts, labels = make_texts(1200, biased=False, seed=2)
    return train_text_model(texts, labels, seed=2)


@pytest.fixture(scope="session")
def name_texts() -> Dataset:
    texts, labels = make_texts(300, biased=False, seed=3)
    return Dataset.from_texts(texts, labels, name="name sentences")
