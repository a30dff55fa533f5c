"""Token attributions for text models, and the gate that keeps identity terms out of the top.

Two methods: integrated gradients over the embedding layer (a Keras model whose string
input goes through ``TextVectorization`` into an ``Embedding``: the path runs from a zero
embedding to the tokens' embeddings) and occlusion for any model (each word left out in
turn; every variant of every sampled text scored in one batched pass). A token type's
importance is its mean |attribution| over its occurrences; the gate fails when a
protected token (an identity term) ranks among the ``k`` most important types.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, adapt
from pytest_modelguard.checks._gate import decide, one_threshold
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.verdict import GateError, Verdict

METHODS = ("integrated_gradients", "occlusion")
WORD = re.compile(r"[\w'’]+")
#: a clitic on a word ("Lakisha's", "he's", "they’re") leaves the word it is attached to
CLITIC = re.compile(r"['’](s|re|ve|ll|d|m)$")


def base_word(token: str) -> str:
    """The token without a trailing clitic, lower case: what a lexicon term is matched to."""
    return CLITIC.sub("", token.lower())


SHOWN_TEXTS = 8


def token_gate(
    model: Any,
    dataset: Dataset,
    *,
    protected_tokens: Any,
    protected_not_in_top_k: int | None,
    max_protected_share: float | None,
    min_stability: float | None,
    method: str | None,
    steps: int,
    samples: int,
    seed: int,
) -> Verdict:
    """Gate where identity terms rank among a text model's most important tokens."""
    started = time.perf_counter()
    if min_stability is not None:
        raise GateError(
            "min_stability= is not defined for text yet; gate a text model with "
            "@robust(perturbation='typo', ...) for stability of its decisions"
        )
    name, threshold = one_threshold(
        "explainability",
        {
            "protected_not_in_top_k": protected_not_in_top_k,
            "max_protected_share": max_protected_share,
        },
    )
    if name == "protected_not_in_top_k" and (threshold != int(threshold) or threshold < 1):
        raise GateError(f"protected_not_in_top_k={threshold!r}: give a positive integer k")
    if name == "max_protected_share" and not 0 <= threshold < 1:
        raise GateError(f"max_protected_share={threshold!r}: a share lies in [0, 1)")
    if method is not None and method not in METHODS:
        raise GateError(f"method={method!r} for text: use one of {', '.join(METHODS)}")
    protected = protected_terms(protected_tokens)
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError("token attributions re-run the model on edited texts: give the model")
    texts = list(dataset.features)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(texts), size=min(samples, len(texts)), replace=False)
    sample = [texts[i] for i in sorted(rows)]
    embedding = embedding_path(adapter) if method != "occlusion" else None
    if method == "integrated_gradients" and embedding is None:
        raise GateError(
            f"method='integrated_gradients' needs a Keras model whose strings go through a "
            f"TextVectorization layer into an Embedding layer; {adapter.name} has none: use "
            "method='occlusion'"
        )
    if embedding is not None:
        tokens, values = integrated_gradients(embedding, sample, steps=steps)
        used = "integrated_gradients"
    else:
        tokens, values = occlusion(adapter, sample)
        used = "occlusion"
    types: dict[str, list[float]] = {}
    for words, attributions in zip(tokens, values, strict=True):
        for word, value in zip(words, attributions, strict=True):
            types.setdefault(word.lower(), []).append(abs(float(value)))
    if not types:
        raise GateError(f"the {len(sample)} sampled texts have no tokens to attribute")
    vocabulary = list(types)
    importance = np.array([np.mean(types[w]) for w in vocabulary])
    if not np.any(importance > 0):
        raise GateError(
            f"no token changes the model's output on the {len(sample)} sampled texts: a "
            "constant model cannot be explained"
        )
    ranks = 1 + (importance[None, :] > importance[:, None]).sum(axis=1)
    order = np.argsort(-importance, kind="stable")
    found = [j for j, w in enumerate(vocabulary) if base_word(w) in protected]
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "method": used,
        "samples": len(sample),
        "token_types": len(vocabulary),
        "protected_tokens_found": sorted(vocabulary[j] for j in found),
        "ranking": [
            {
                "feature": vocabulary[j],  # the report's attribution chart reads "feature"
                "token": vocabulary[j],
                "importance": float(importance[j]),
                "rank": int(ranks[j]),
                "count": len(types[vocabulary[j]]),
                "protected": base_word(vocabulary[j]) in protected,
            }
            for j in order[:20]
        ],
        "token_attributions": [
            {"tokens": list(words), "attributions": [float(v) for v in attributions]}
            for words, attributions in list(zip(tokens, values, strict=True))[:SHOWN_TEXTS]
        ],
    }
    if not found:
        raise GateError(
            f"none of the {len(sample)} sampled texts contains a protected token, so the gate "
            "would pass without measuring anything: sample texts that mention identity "
            "terms (or raise samples=)"
        )
    if name == "protected_not_in_top_k":
        k = int(threshold)
        inside = [j for j in found if ranks[j] <= k]
        evidence["k"] = k
        if inside:
            best = min(inside, key=lambda j: ranks[j])
            evidence["worst"] = f"{vocabulary[best]!r} at rank {int(ranks[best])}"
        verdict = decide(
            requirement="explainability",
            metric="protected_in_top_k",
            values=np.array([len(inside)]),
            operator="<=",
            threshold=0.0,
            n=len(sample),
            formula=f"protected tokens among the {k} token types with most mean |{used}|",
            evidence=evidence,
        )
    else:
        share = float(importance[found].sum() / importance.sum())
        verdict = decide(
            requirement="explainability",
            metric="protected_share",
            values=np.array([share]),
            operator="<=",
            threshold=threshold,
            n=len(sample),
            formula=f"sum of protected token types' mean |{used}| / sum over all types",
            evidence=evidence,
        )
    verdict.duration = time.perf_counter() - started
    return verdict


def protected_terms(protected_tokens: Any) -> set[str]:
    """``"identity"`` (every shipped identity term), a category or group name, or words."""
    from pytest_modelguard.text.lexicons import all_identity_terms, categories, resolve_groups

    if protected_tokens == "identity":
        return all_identity_terms()
    if isinstance(protected_tokens, str):
        if protected_tokens in categories():
            groups, _ = resolve_groups(protected_tokens)
            return {t for g in groups for t in g.terms}
        raise GateError(
            f"protected_tokens={protected_tokens!r}: use 'identity', a category "
            f"({', '.join(categories())}) or a list of words"
        )
    words = {str(w).lower() for w in protected_tokens or []}
    if not words:
        raise GateError("protected_tokens= names no word")
    return words


def words_of(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def occlusion(adapter: Adapter, texts: list[str]) -> tuple[list[list[str]], list[np.ndarray]]:
    """Each word's attribution: the predicted class's score minus it without that word."""
    spans = [words_of(t) for t in texts]
    variants = list(texts)
    for text, found in zip(texts, spans, strict=True):
        for start, end in found:
            variants.append(" ".join((text[:start] + text[end:]).split()))
    probabilities = _probabilities(adapter, variants)
    base = probabilities[: len(texts)]
    predicted = base.argmax(axis=1)
    tokens, values, at = [], [], len(texts)
    for i, (text, found) in enumerate(zip(texts, spans, strict=True)):
        without = probabilities[at : at + len(found), predicted[i]]
        at += len(found)
        tokens.append([text[s:e] for s, e in found])
        values.append(base[i, predicted[i]] - without)
    return tokens, values


def _probabilities(adapter: Adapter, texts: list[str]) -> np.ndarray:
    output = adapter.predict(Dataset.from_texts(texts, np.zeros(len(texts), dtype=int)))
    array = output.array.astype(float)
    if output.kind in ("labels", "values"):
        raise GateError(
            f"token attributions compare class scores; the model {adapter.name} returns "
            f"{output.kind}"
        )
    if array.ndim == 1:
        p = 1 / (1 + np.exp(-array)) if output.kind == "logits" else array
        return np.column_stack([1 - p, p])
    if output.kind == "logits":
        array = np.exp(array - array.max(axis=1, keepdims=True))
        array /= array.sum(axis=1, keepdims=True)
    return array


class EmbeddingPath:
    """A Keras text model cut at its embedding layer: strings -> ids, embeddings -> output."""

    def __init__(self, model: Any, vectorize: Any, embedding: Any) -> None:
        import keras

        self.model, self.vectorize, self.embedding = model, vectorize, embedding
        self.vocabulary = list(vectorize.get_vocabulary())
        self.rest = keras.Model(embedding.output, model.output)


def embedding_path(adapter: Adapter) -> EmbeddingPath | None:
    """The cut for integrated gradients, or None when the model has no such structure."""
    from pytest_modelguard.adapters.text import KerasTextAdapter

    if not isinstance(adapter, KerasTextAdapter):
        return None
    layers = getattr(adapter.model, "layers", [])
    vectorize = [layer for layer in layers if type(layer).__name__ == "TextVectorization"]
    embedding = [layer for layer in layers if type(layer).__name__ == "Embedding"]
    if len(vectorize) != 1 or len(embedding) != 1:
        return None
    try:
        return EmbeddingPath(adapter.model, vectorize[0], embedding[0])
    except Exception:  # not a functional graph that can be cut: occlusion instead
        return None


def integrated_gradients(
    path: EmbeddingPath, texts: list[str], *, steps: int
) -> tuple[list[list[str]], list[np.ndarray]]:
    """Per-token integrated gradients (midpoint rule, batched) from the baseline that has
    every real token's embedding at zero and the padding as it is, so the tokens'
    attributions add up to f(text) - f(baseline) for the predicted class."""
    import tensorflow as tf

    ids = np.asarray(path.vectorize(tf.constant(texts)))
    embedded = tf.convert_to_tensor(path.embedding(ids))
    real = tf.cast(ids > 0, embedded.dtype)[..., None]  # padding (id 0) carries nothing
    padding, tokens_part = embedded * (1 - real), embedded * real
    probabilities = np.asarray(path.rest(embedded))
    binary = probabilities.ndim == 1 or probabilities.shape[-1] == 1
    if binary:
        predicted = (probabilities.reshape(-1) >= 0.5).astype(int)
    else:
        predicted = probabilities.argmax(axis=1)
    total = tf.zeros_like(embedded)
    for alpha in (np.arange(steps, dtype=np.float32) + 0.5) / steps:
        point = padding + tokens_part * float(alpha)
        with tf.GradientTape() as tape:
            tape.watch(point)
            out = path.rest(point)
            if binary:
                score = tf.where(predicted[:, None] == 1, out, 1 - out)[:, 0]
            else:
                score = tf.gather(out, predicted, batch_dims=1)
        total += tape.gradient(score, point)
    attributions = np.asarray(tf.reduce_sum(tokens_part * total / steps, axis=-1))
    tokens, values = [], []
    for row, attribution in zip(ids, attributions, strict=True):
        keep = row > 0
        tokens.append([path.vocabulary[i] for i in row[keep]])
        values.append(attribution[keep])
    return tokens, values
