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
from pytest_modelguard.checks._gate import decide, one_threshold, share_verdict
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.verdict import GateError, Verdict

METHODS = ("integrated_gradients", "occlusion")
WORD = re.compile(r"[\w'’]+")
#: a clitic on a word ("Lakisha's", "he's", "they’re") leaves the word it is attached to
CLITIC = re.compile(r"['’](s|re|ve|ll|d|m)$")


def base_word(token: str) -> str:
    """The token without a trailing clitic, lower case: what a lexicon term is matched to."""
    return CLITIC.sub("", token.lower())


#: the pseudo-token standing for all protected words of a text left out together: two
#: names that each alone decide nothing (the other one still names the group) move the
#: score together, and leaving one out at a time would rank each at importance 0
TOGETHER = "<protected terms together>"


def is_protected(token: str, protected: set[str]) -> bool:
    return token == TOGETHER or base_word(token) in protected


SHOWN_TEXTS = 8
#: Poisson-bootstrap resamples of the sampled texts behind rank and share intervals
RESAMPLES = 1000
RANKING_CONFIDENCE = 0.95


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
    """Gate where identity terms rank among a text model's most important tokens, or how
    stable the token ranking is over resamples of the sampled texts (``min_stability``).

    Importances are point estimates over ``samples`` texts; a Poisson bootstrap of those
    texts gives each protected token's rank interval and the protected share's interval.
    When the interval straddles the threshold the gate is an ERROR ("ranking unstable at
    this n") rather than a verdict that a reseed could flip.
    """
    started = time.perf_counter()
    name, threshold = _threshold(protected_not_in_top_k, max_protected_share, min_stability)
    if method is not None and method not in METHODS:
        raise GateError(f"method={method!r} for text: use one of {', '.join(METHODS)}")
    protected = protected_terms(protected_tokens)
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError("token attributions re-run the model on edited texts: give the model")
    texts = list(dataset.features)
    rows = np.random.default_rng(seed).choice(
        len(texts), size=min(samples, len(texts)), replace=False
    )
    sample = [texts[i] for i in sorted(rows)]
    together = protected if name == "protected_not_in_top_k" else None
    tokens, values, used = _attribute(adapter, sample, method, steps, together)
    table = TokenTable(tokens, values)
    found = [j for j, w in enumerate(table.vocabulary) if is_protected(w, protected)]
    evidence = _evidence(adapter, dataset, used, table, protected, found, tokens, values)
    replicates = table.resample(seed)
    if name == "min_stability":
        verdict = _stability_gate(table, replicates, found, threshold, evidence)
    else:
        if not found:
            raise GateError(
                f"none of the {len(sample)} sampled texts contains a protected token, so the "
                "gate would pass without measuring anything: sample texts that mention "
                "identity terms (or raise samples=)"
            )
        gate = _top_k_gate if name == "protected_not_in_top_k" else _share_gate
        verdict = gate(table, replicates, found, threshold, used, evidence)
    verdict.duration = time.perf_counter() - started
    return verdict


def _threshold(
    protected_not_in_top_k: int | None,
    max_protected_share: float | None,
    min_stability: float | None,
) -> tuple[str, float]:
    name, threshold = one_threshold(
        "explainability",
        {
            "protected_not_in_top_k": protected_not_in_top_k,
            "max_protected_share": max_protected_share,
            "min_stability": min_stability,
        },
    )
    if name == "protected_not_in_top_k" and (threshold != int(threshold) or threshold < 1):
        raise GateError(f"protected_not_in_top_k={threshold!r}: give a positive integer k")
    if name == "max_protected_share" and not 0 <= threshold < 1:
        raise GateError(f"max_protected_share={threshold!r}: a share lies in [0, 1)")
    if name == "min_stability" and not 0 < threshold < 1:
        raise GateError(
            f"min_stability={threshold!r}: a mean Spearman correlation; give 0 < "
            "min_stability < 1 (1 cannot be measured on resampled texts)"
        )
    return name, threshold


def _attribute(
    adapter: Adapter,
    sample: list[str],
    method: str | None,
    steps: int,
    together: set[str] | None = None,
) -> tuple[list[list[str]], list[np.ndarray], str]:
    """Per-token attributions of the sampled texts, and the method that gave them
    (occlusion adds the joint effect of the words in ``together``, see :data:`TOGETHER`)."""
    embedding = embedding_path(adapter) if method != "occlusion" else None
    if method == "integrated_gradients" and embedding is None:
        raise GateError(
            f"method='integrated_gradients' needs a Keras model whose strings go through a "
            f"TextVectorization layer into an Embedding layer; {adapter.name} has none: use "
            "method='occlusion'"
        )
    if embedding is not None:
        return (*integrated_gradients(embedding, sample, steps=steps), "integrated_gradients")
    return (*occlusion(adapter, sample, together=together), "occlusion")


class TokenTable:
    """Per text and token type, the sum and count of |attribution|: a type's importance is
    its mean |attribution| over its occurrences, over all texts or a reweighting of them."""

    def __init__(self, tokens: list[list[str]], values: list[np.ndarray]) -> None:
        index: dict[str, int] = {}
        cells: list[tuple[int, int, float]] = []
        for i, (words, attributions) in enumerate(zip(tokens, values, strict=True)):
            for word, value in zip(words, attributions, strict=True):
                j = index.setdefault(word.lower(), len(index))
                cells.append((i, j, abs(float(value))))
        if not index:
            raise GateError(f"the {len(tokens)} sampled texts have no tokens to attribute")
        self.vocabulary = list(index)
        self.sums = np.zeros((len(tokens), len(index)))
        self.counts = np.zeros((len(tokens), len(index)))
        text, column, magnitude = (np.array(c) for c in zip(*cells, strict=True))
        np.add.at(self.sums, (text.astype(int), column.astype(int)), magnitude)
        np.add.at(self.counts, (text.astype(int), column.astype(int)), 1.0)
        self.importance = self.sums.sum(axis=0) / self.counts.sum(axis=0)
        if not np.any(self.importance > 0):
            raise GateError(
                f"no token changes the model's output on the {len(tokens)} sampled texts: a "
                "constant model cannot be explained"
            )
        self.ranks = ranks_of(self.importance[None, :])[0]

    def resample(self, seed: int) -> np.ndarray:
        """``(RESAMPLES, types)`` importances under Poisson weights on the texts (a type
        that a resample leaves out has importance 0 there)."""
        rng = np.random.default_rng([seed, 14])
        weights = rng.poisson(1.0, size=(RESAMPLES, len(self.sums))).astype(np.float64)
        sums, counts = weights @ self.sums, weights @ self.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), 0.0)


def ranks_of(importance: np.ndarray) -> np.ndarray:
    """Rank 1 for the most important type of each row (ties share the better rank). A type
    with importance 0 moves nothing: it takes the last rank, not a share of a tie at 0 that
    would put it "among the top k" when fewer than k types matter at all."""
    ascending = np.sort(-importance, axis=1)
    ranks = 1 + np.stack(
        [np.searchsorted(ascending[r], -importance[r], side="left") for r in range(len(importance))]
    )
    return np.where(importance > 0, ranks, importance.shape[1])


def _evidence(
    adapter: Adapter,
    dataset: Dataset,
    used: str,
    table: TokenTable,
    protected: set[str],
    found: list[int],
    tokens: list[list[str]],
    values: list[np.ndarray],
) -> dict[str, Any]:
    vocabulary, importance = table.vocabulary, table.importance
    counts = table.counts.sum(axis=0)
    return {
        "model": adapter.name,
        "dataset": dataset.name,
        "method": used,
        "samples": len(tokens),
        "token_types": len(vocabulary),
        "protected_tokens_found": sorted(vocabulary[j] for j in found),
        "ranking": [
            {
                "feature": vocabulary[j],  # the report's attribution chart reads "feature"
                "token": vocabulary[j],
                "importance": float(importance[j]),
                "rank": int(table.ranks[j]),
                "count": int(counts[j]),
                "protected": is_protected(vocabulary[j], protected),
            }
            for j in np.argsort(-importance, kind="stable")[:20]
        ],
        "token_attributions": [
            {"tokens": list(words), "attributions": [float(v) for v in attributions]}
            for words, attributions in list(zip(tokens, values, strict=True))[:SHOWN_TEXTS]
        ],
    }


def _rank_intervals(replicates: np.ndarray, found: list[int]) -> dict[int, tuple[int, int]]:
    """Each protected type's 95% percentile interval of rank over the resamples."""
    ranks = ranks_of(replicates)[:, found]
    tail = (1 - RANKING_CONFIDENCE) / 2 * 100
    low, high = np.percentile(ranks, [tail, 100 - tail], axis=0, method="inverted_cdf")
    return {j: (int(lo), int(hi)) for j, lo, hi in zip(found, low, high, strict=True)}


def _top_k_gate(
    table: TokenTable,
    replicates: np.ndarray,
    found: list[int],
    threshold: float,
    used: str,
    evidence: dict[str, Any],
) -> Verdict:
    k, vocabulary, n = int(threshold), table.vocabulary, len(table.sums)
    bounds = _rank_intervals(replicates, found)
    evidence["k"] = k
    evidence["rank_interval"] = {vocabulary[j]: list(bounds[j]) for j in found}
    inside = [j for j in found if table.ranks[j] <= k]
    unsure = [j for j in found if bounds[j][0] <= k < bounds[j][1]]
    if unsure:
        shown = ", ".join(
            f"{vocabulary[j]!r} ranks {bounds[j][0]}-{bounds[j][1]}" for j in unsure[:3]
        )
        raise GateError(
            f"ranking unstable at this n: over {RESAMPLES} resamples of the {n} sampled texts "
            f"{shown} of {len(vocabulary)} token types ({RANKING_CONFIDENCE:.0%}), so whether "
            f"it is among the {k} most important is noise; raise samples= (now {n}) to decide"
        )
    if inside:
        best = min(inside, key=lambda j: table.ranks[j])
        evidence["worst"] = f"{vocabulary[best]!r} at rank {int(table.ranks[best])}"
    return decide(
        requirement="explainability",
        metric="protected_in_top_k",
        values=np.array([len(inside)]),
        operator="<=",
        threshold=0.0,
        n=n,
        formula=f"protected tokens among the {k} token types with most mean |{used}|",
        evidence=evidence,
    )


def _share_gate(
    table: TokenTable,
    replicates: np.ndarray,
    found: list[int],
    threshold: float,
    used: str,
    evidence: dict[str, Any],
) -> Verdict:
    n = len(table.sums)
    share = float(table.importance[found].sum() / table.importance.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = replicates[:, found].sum(axis=1) / replicates.sum(axis=1)
    tail = (1 - RANKING_CONFIDENCE) / 2 * 100
    low, high = (float(v) for v in np.nanpercentile(shares, [tail, 100 - tail]))
    return share_verdict(
        share, low, high, threshold=threshold, n=n, sampled="texts", resamples=RESAMPLES,
        confidence=RANKING_CONFIDENCE, evidence=evidence,
        formula=f"sum of protected token types' mean |{used}| / sum over all types",
    )  # fmt: skip


def _stability_gate(
    table: TokenTable,
    replicates: np.ndarray,
    found: list[int],
    threshold: float,
    evidence: dict[str, Any],
) -> Verdict:
    """The mean Spearman correlation of the token-type ranking over resamples of the texts
    with the ranking on all of them: how much the explanation depends on which texts."""
    from pytest_modelguard.checks.explainability.attribution import spearman_rows

    if len(table.vocabulary) < 3:
        raise GateError(
            f"the sampled texts hold {len(table.vocabulary)} token types: a ranking of fewer "
            "than 3 has no stability to measure"
        )
    rho = spearman_rows(np.broadcast_to(table.importance, replicates.shape), replicates)
    tail = (1 - RANKING_CONFIDENCE) / 2 * 100
    low, high = (float(v) for v in np.percentile(rho, [tail, 100 - tail]))
    evidence["stability_interval"] = [low, high]
    if found:
        bounds = _rank_intervals(replicates, found)
        evidence["rank_interval"] = {table.vocabulary[j]: list(bounds[j]) for j in found}
    return decide(
        requirement="explainability",
        metric="token_ranking_stability",
        values=np.array([float(rho.mean())]),
        operator=">=",
        threshold=threshold,
        n=len(table.sums),
        formula=(
            f"mean over {RESAMPLES} Poisson resamples of the sampled texts of Spearman's rho "
            "between the resample's token-type importances and the full sample's"
        ),
        evidence=evidence,
    )


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


def occlusion(
    adapter: Adapter, texts: list[str], *, together: set[str] | None = None
) -> tuple[list[list[str]], list[np.ndarray]]:
    """Each word's attribution: the predicted class's score minus it without that word; with
    ``together``, a text holding two or more of those words also gets the :data:`TOGETHER`
    pseudo-token, the score minus it without all of them."""
    spans = [words_of(t) for t in texts]
    variants = list(texts)
    for text, found in zip(texts, spans, strict=True):
        for start, end in found:
            variants.append(" ".join((text[:start] + text[end:]).split()))
    joint = [
        _without_all(t, f, together) if together else None
        for t, f in zip(texts, spans, strict=True)
    ]
    variants += [v for v in joint if v is not None]
    probabilities = _probabilities(adapter, variants)
    base = probabilities[: len(texts)]
    predicted = base.argmax(axis=1)
    tokens, values, at = [], [], len(texts)
    for i, (text, found) in enumerate(zip(texts, spans, strict=True)):
        without = probabilities[at : at + len(found), predicted[i]]
        at += len(found)
        tokens.append([text[s:e] for s, e in found])
        values.append(base[i, predicted[i]] - without)
    for i, variant in enumerate(joint):
        if variant is not None:
            tokens[i].append(TOGETHER)
            values[i] = np.append(
                values[i], base[i, predicted[i]] - probabilities[at, predicted[i]]
            )
            at += 1
    return tokens, values


def _without_all(text: str, spans: list[tuple[int, int]], words: set[str]) -> str | None:
    """``text`` without every word in ``words``, or None when it holds fewer than two."""
    drop = [(s, e) for s, e in spans if base_word(text[s:e]) in words]
    if len(drop) < 2:
        return None
    kept, last = [], 0
    for start, end in drop:
        kept.append(text[last:start])
        last = end
    kept.append(text[last:])
    return " ".join("".join(kept).split())


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
