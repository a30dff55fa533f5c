"""Embedding association tests: WEAT (Caliskan et al. 2017) and SEAT (May et al. 2019).

For target sets X, Y and attribute sets A, B, each target word w gets
``s(w) = mean_a cos(w, a) - mean_b cos(w, b)``; the effect size is
``(mean_X s - mean_Y s) / std_{X u Y} s`` (population std, as WEFE computes it) and the
test statistic ``sum_X s - sum_Y s``. The p-value is the share of random re-partitions of
X u Y whose statistic reaches the observed one, ``(count + 1) / (R + 1)``; all ``R``
permutations are one matrix product, and with few enough words every partition is
enumerated exactly. SEAT embeds each word in semantically bleached sentences.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from pytest_modelguard.checks._gate import decide, one_threshold
from pytest_modelguard.core import stats
from pytest_modelguard.core.verdict import GateError, Verdict, require_count
from pytest_modelguard.text.encoders import Encoder, as_encoder

METHODS = ("weat", "seat")
MIN_WORDS = 8
#: semantically bleached templates for SEAT (May et al. 2019, section 3)
SEAT_TEMPLATES = (
    "This is {}.",
    "That is {}.",
    "There is {}.",
    "Here is {}.",
    "{} is here.",
    "{} is there.",
    "{} is a word.",
    "It is {}.",
)
_PERMUTATION_CHUNK = 2_000


@cache
def _shipped() -> dict[str, Any]:
    raw = resources.files("pytest_modelguard.text").joinpath("data/word_sets.json").read_text()
    return json.loads(raw)


#: short names for the shipped sets most gates use
ALIASES = {
    "male": "male_terms",
    "female": "female_terms",
    "pleasant": "pleasant_5",
    "unpleasant": "unpleasant_5a",
    "european_american_names": "european_american_names_5",
    "african_american_names": "african_american_names_5",
}


def word_set(name_or_terms: Any, role: str) -> tuple[str, list[str]]:
    """A named shipped set (or alias) or a custom list of words: ``(label, words)``."""
    sets = _shipped()["sets"]
    if isinstance(name_or_terms, str):
        key = ALIASES.get(name_or_terms, name_or_terms)
        if key not in sets:
            raise GateError(
                f"{role} {name_or_terms!r} is not a shipped word set; use one of "
                f"{', '.join(sorted([*sets, *ALIASES]))} or a list of words"
            )
        return name_or_terms, list(sets[key]["terms"])
    words = list(name_or_terms) if name_or_terms is not None else []
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise GateError(f"{role}: give a shipped set name or a list of non-empty words")
    return f"custom ({len(words)} words)", [w.strip() for w in words]


def _pair(value: Any, role: str) -> list[tuple[str, list[str]]]:
    if isinstance(value, str) or not isinstance(value, tuple | list) or len(value) != 2:
        raise GateError(f"{role}= takes two word sets, e.g. {role}=('career', 'family')")
    return [word_set(v, role) for v in value]


def association(
    encoder: Any,
    dataset: Any = None,
    *,
    association: str,
    targets: Any,
    attributes: Any,
    max_effect_size: float | None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Verdict:
    """Gate ``|effect size|`` of an encoder's association between targets and attributes.

    ``targets=(X, Y)`` and ``attributes=(A, B)`` are shipped set names (``career``,
    ``family``, ``male``, ``female``, ...) or lists of words; each set needs at least
    eight words the encoder knows. ``n_resamples`` permutations give the p-value.
    """
    started = time.perf_counter()
    threshold = _check_options(association, max_effect_size, n_resamples, dataset)
    enc = as_encoder(encoder)
    sets = [*_pair(targets, "targets"), *_pair(attributes, "attributes")]
    kept, dropped = _known_words(enc, sets)
    items = [_items(words, association) for words in kept]
    vectors = enc.encode([text for group in items for text in group])
    sizes = [len(group) for group in items]
    x, y, a, b = np.split(vectors, np.cumsum(sizes)[:-1])
    if association == "seat":  # one vector per word: the mean of its template sentences
        x, y, a, b = (_per_word(v, len(SEAT_TEMPLATES)) for v in (x, y, a, b))
    effect, statistic, s = effect_size(x, y, a, b)
    p_value, exact = permutation_p_value(s, len(x), statistic, n_resamples=n_resamples, seed=seed)
    names = [label for label, _ in sets]
    evidence: dict[str, Any] = {
        "encoder": enc.name,
        "method": association,
        "targets": names[:2],
        "attributes": names[2:],
        "words": {"X": len(x), "Y": len(y), "A": len(a), "B": len(b)},
        "effect_size": float(effect),
        "test_statistic": float(statistic),
        "p_value": float(p_value),
        "permutations": "exact (every partition)" if exact else n_resamples,
        "direction": (
            f"{names[0]} closer to {names[2]} (and {names[1]} to {names[3]})"
            if effect > 0
            else f"{names[0]} closer to {names[3]} (and {names[1]} to {names[2]})"
        ),
    }
    if dropped:
        evidence["unknown_words"] = dropped
    verdict = decide(
        requirement="fairness",
        metric=f"{association}_effect_size",
        values=np.array([abs(effect)]),
        operator="<=",
        threshold=threshold,
        n=int(len(x) + len(y)),
        formula="|mean_X s(w) - mean_Y s(w)| / std_{X u Y} s(w), s(w) = mean_A cos - mean_B cos",
        evidence=evidence,
    )
    verdict.duration = time.perf_counter() - started
    return verdict


def _check_options(
    association: str, max_effect_size: float | None, n_resamples: int, dataset: Any
) -> float:
    if association not in METHODS:
        raise GateError(f"association={association!r}: use one of {', '.join(METHODS)}")
    _, threshold = one_threshold("fairness", {"max_effect_size": max_effect_size})
    if not 0.0 <= threshold < 2.0:
        raise GateError(
            f"max_effect_size={max_effect_size!r}: a WEAT effect size lies in [-2, 2]; "
            "use 0 <= max_effect_size < 2"
        )
    require_count("n_resamples", n_resamples, at_least=100, what="(permutations)")
    if dataset is not None:
        raise GateError(
            "an association test measures the encoder on word sets, not on a dataset: drop "
            "data= (the gate takes its words from targets= and attributes=)"
        )
    return threshold


def _known_words(
    enc: Encoder, sets: list[tuple[str, list[str]]]
) -> tuple[list[list[str]], dict[str, list[str]]]:
    """Each set's words the encoder knows (at least MIN_WORDS), and those it dropped; the
    two target sets and the two attribute sets must be disjoint."""
    kept, dropped = [], {}
    for (label, words), role in zip(sets, ("X", "Y", "A", "B"), strict=True):
        known = list(dict.fromkeys(w for w in words if enc.knows(w)))
        if len(known) < MIN_WORDS:
            raise GateError(
                f"word set {label!r} ({role}) has {len(known)} word(s) the encoder knows, "
                f"fewer than {MIN_WORDS}: an effect size on so few words is noise; add words "
                f"(unknown: {sorted(set(words) - set(known))[:10]})"
            )
        kept.append(known)
        if len(known) != len(words):
            dropped[label] = sorted(set(words) - set(known))
    for first, second, role in ((0, 1, "targets"), (2, 3, "attributes")):
        shared = sorted({w.lower() for w in kept[first]} & {w.lower() for w in kept[second]})
        if shared:  # a word on both sides cancels itself: the test measures less than asked
            raise GateError(
                f"{role}= word sets {sets[first][0]!r} and {sets[second][0]!r} share "
                f"{len(shared)} word(s) ({', '.join(shared[:8])}): the two sets of a WEAT "
                "must be disjoint"
            )
    return kept, dropped


def _items(words: list[str], method: str) -> list[str]:
    if method == "weat":
        return words
    return [template.format(w) for w in words for template in SEAT_TEMPLATES]


def _per_word(vectors: np.ndarray, per: int) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit.reshape(-1, per, vectors.shape[1]).mean(axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def effect_size(
    x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """``(effect size, test statistic, s(w) for w in X then Y)``."""
    targets = _unit(np.concatenate([x, y]))
    s = (targets @ _unit(a).T).mean(axis=1) - (targets @ _unit(b).T).mean(axis=1)
    sx, sy = s[: len(x)], s[len(x) :]
    std = s.std()
    if not std > 0:
        raise GateError("every target word has the same association: the effect size is 0/0")
    return float((sx.mean() - sy.mean()) / std), float(sx.sum() - sy.sum()), s


def permutation_p_value(
    s: np.ndarray, n_x: int, observed: float, *, n_resamples: int, seed: int
) -> tuple[float, bool]:
    """One-sided p-value of ``observed`` among re-partitions of ``s`` into X and Y.

    ``sum_X s - sum_Y s = 2 sum_X s - sum s``, so a permutation costs one row of a 0/1
    matrix product. With at most ``n_resamples`` distinct partitions, all are counted.
    """
    n = len(s)
    total = float(s.sum())
    tolerance = 1e-12 * max(1.0, abs(observed))
    if math.comb(n, n_x) <= n_resamples:
        chosen = np.array(list(itertools.combinations(range(n), n_x)))
        values = 2 * s[chosen].sum(axis=1) - total
        return float(np.mean(values >= observed - tolerance)), True
    rng = stats.rng_from(seed)
    hits = 0
    order = np.arange(n)
    for start in range(0, n_resamples, _PERMUTATION_CHUNK):
        size = min(_PERMUTATION_CHUNK, n_resamples - start)
        shuffled = rng.permuted(np.broadcast_to(order, (size, n)), axis=1)
        values = 2 * s[shuffled[:, :n_x]].sum(axis=1) - total
        hits += int((values >= observed - tolerance).sum())
    return (hits + 1) / (n_resamples + 1), False


__all__ = ["Encoder", "association", "effect_size", "permutation_p_value", "word_set"]
