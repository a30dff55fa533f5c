"""Embedding models as subjects: ``Encoder.encode(list[str]) -> (n, d)`` array.

:func:`as_encoder` accepts an :class:`Encoder`, any object with an ``encode`` method, a
Keras model taking strings, an ONNX Runtime session (:meth:`Encoder.from_onnx`), or a plain
callable on ``list[str]``. Every call is checked:
the right shape, finite values, and not one constant vector for every input (an encoder
that ignores its input would make any association test meaningless).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from pytest_modelguard.core.verdict import GateError


class Encoder:
    """A text encoder: ``encode(texts)`` returns one ``d``-dimensional vector per text.

    ``vocabulary`` (a set of known words) or ``tokenizer`` (a ``tokenizers.Tokenizer`` or a
    callable returning token ids, with ``unknown_id``) let association tests drop words the
    encoder does not know rather than measure its unknown-token vector.
    """

    def __init__(
        self,
        encode: Callable[[list[str]], Any],
        *,
        name: str | None = None,
        vocabulary: Iterable[str] | None = None,
        tokenizer: Any = None,
        unknown_id: int | None = None,
        batch_size: int = 256,
    ) -> None:
        if not callable(encode):
            raise TypeError(f"encode must be callable, got {type(encode).__name__}")
        self._encode = encode
        self.name = name or getattr(encode, "__name__", type(encode).__name__)
        self.vocabulary = None if vocabulary is None else {w.lower() for w in vocabulary}
        self.tokenizer = tokenizer
        self.unknown_id = unknown_id
        self.batch_size = batch_size
        self.calls = 0

    def __repr__(self) -> str:
        return f"Encoder(name={self.name!r})"

    @classmethod
    def from_onnx(
        cls,
        session: Any,
        *,
        tokenize: Callable[[list[str]], Any] | None = None,
        output_name: str | None = None,
        name: str | None = None,
        vocabulary: Iterable[str] | None = None,
        tokenizer: Any = None,
        unknown_id: int | None = None,
        batch_size: int = 256,
    ) -> Encoder:
        """An encoder from an ``onnxruntime.InferenceSession`` returning ``(n, d)`` vectors.

        A graph with a string input takes the texts as they are; any other needs
        ``tokenize(list[str])`` returning its input array (or a dict by input name).
        ``output_name`` picks the embedding output (default: the first float output).
        """
        from pytest_modelguard.adapters.onnx import onnx_encoder_function

        encode = onnx_encoder_function(session, tokenize=tokenize, output_name=output_name)
        return cls(
            encode,
            name=name or encode.__name__,
            vocabulary=vocabulary,
            tokenizer=tokenizer,
            unknown_id=unknown_id,
            batch_size=batch_size,
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts`` in batches, validated."""
        texts = [str(t) for t in texts]
        if not texts:
            raise GateError(f"encoder {self.name}: nothing to encode")
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                raw = self._encode(batch)
            except GateError:
                raise
            except Exception as exc:
                raise GateError(
                    f"the encoder {self.name} raised {type(exc).__name__}: {exc}"
                ) from exc
            self.calls += 1
            parts.append(_vectors(raw, len(batch), self.name))
        vectors = np.concatenate(parts)
        if len(texts) > 1 and np.ptp(vectors, axis=0).max() <= 1e-9 * max(
            1.0, float(np.abs(vectors).max())
        ):
            raise GateError(
                f"the encoder {self.name} returned the same vector for all {len(texts)} "
                "inputs: it ignores its input (a broken preprocessing layer? every token "
                "unknown?), so no association can be measured"
            )
        return vectors

    def knows(self, word: str) -> bool:
        """Whether the encoder has the word (not only its unknown-token vector)."""
        if self.vocabulary is not None:
            return word.lower() in self.vocabulary
        if self.tokenizer is None:
            return True
        ids = _token_ids(self.tokenizer, word)
        unknown = self.unknown_id
        if unknown is None and hasattr(self.tokenizer, "token_to_id"):
            unknown = self.tokenizer.token_to_id("[UNK]")
        return bool(ids) and (unknown is None or any(i != unknown for i in ids))


def _token_ids(tokenizer: Any, word: str) -> list[int]:
    if hasattr(tokenizer, "encode") and hasattr(tokenizer, "token_to_id"):  # tokenizers.Tokenizer
        encoding = tokenizer.encode(word, add_special_tokens=False)
        return list(encoding.ids)
    ids = tokenizer(word)
    if hasattr(ids, "numpy"):
        ids = ids.numpy()
    return [int(i) for i in np.ravel(ids)]


def _vectors(raw: Any, n: int, name: str) -> np.ndarray:
    if isinstance(raw, dict) and len(raw) == 1:
        raw = next(iter(raw.values()))
    if hasattr(raw, "numpy"):
        raw = raw.numpy()
    try:
        vectors = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GateError(f"the encoder {name} returned {type(raw).__name__}, not numbers") from exc
    if vectors.ndim != 2 or vectors.shape[0] != n or vectors.shape[1] < 2:
        raise GateError(
            f"the encoder {name} returned shape {vectors.shape} for {n} texts: it must return "
            "one vector per text, shape (n, d) with d >= 2"
        )
    if not np.all(np.isfinite(vectors)):
        bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise GateError(f"the encoder {name} returned NaN or infinite values for text {bad}")
    zero = np.flatnonzero(np.linalg.norm(vectors, axis=1) == 0)
    if len(zero):
        raise GateError(
            f"the encoder {name} returned a zero vector for text {int(zero[0])}: cosine "
            "similarity is undefined for it"
        )
    return vectors


def as_encoder(subject: Any) -> Encoder:
    """An :class:`Encoder` for an encoder-like subject, or an error saying what is accepted."""
    if isinstance(subject, Encoder):
        return subject
    if subject is None:
        raise GateError("an association test needs an encoder: give it with model='<fixture>'")
    modules = {cls.__module__.split(".")[0] for cls in type(subject).__mro__}
    if "onnxruntime" in modules:
        return Encoder.from_onnx(subject)
    if "keras" in modules:
        from pytest_modelguard.adapters.text import takes_strings

        if not takes_strings(subject):
            raise GateError(
                f"the Keras model {subject.name!r} does not take strings: wrap tokenisation "
                "and pooling in Encoder(lambda texts: ...)"
            )

        def keras_encode(texts: list[str]) -> Any:
            import tensorflow as tf

            batch = tf.constant(texts, dtype=tf.string)
            if len(subject.inputs[0].shape) == 2:
                batch = batch[:, None]
            return subject.predict_on_batch(batch)

        return Encoder(keras_encode, name=subject.name)
    if hasattr(subject, "encode") and callable(subject.encode):
        return Encoder(subject.encode, name=type(subject).__name__)
    if callable(subject):
        return Encoder(subject)
    raise GateError(
        f"a {type(subject).__name__} is not an encoder: give an Encoder, an object with "
        "encode(list[str]) -> (n, d), a Keras model taking strings, or an ONNX session"
    )
