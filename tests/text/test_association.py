"""WEAT/SEAT: values equal WEFE's given the same embeddings; bad encoders and word sets
are errors; the permutation p-value is exact when it can be and seeded otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_modelguard import Encoder, checks
from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.text.association import effect_size, permutation_p_value, word_set

CAREER, FAMILY = word_set("career", "t")[1], word_set("family", "t")[1]
MALE, FEMALE = word_set("male", "a")[1], word_set("female", "a")[1]


def table_encoder(vectors: dict[str, np.ndarray], **kwargs) -> Encoder:
    return Encoder(lambda texts: np.stack([vectors[t] for t in texts]), name="table", **kwargs)


@pytest.fixture(scope="module")
def biased_vectors() -> dict[str, np.ndarray]:
    """Random word vectors with career words pulled towards male terms."""
    rng = np.random.default_rng(7)
    words = [*CAREER, *FAMILY, *MALE, *FEMALE]
    vectors = {w: rng.normal(size=16) for w in words}  # float32 below: what gensim stores
    direction = rng.normal(size=16)
    for w in [*CAREER, *MALE]:
        vectors[w] = vectors[w] + 1.5 * direction
    for w in [*FAMILY, *FEMALE]:
        vectors[w] = vectors[w] - 1.5 * direction
    return {w: v.astype(np.float32) for w, v in vectors.items()}


def test_effect_size_and_statistic_equal_wefe(biased_vectors):
    gensim = pytest.importorskip("gensim")
    pytest.importorskip("wefe")
    from wefe.metrics import WEAT
    from wefe.query import Query
    from wefe.word_embedding_model import WordEmbeddingModel

    x, y, a, b = (
        np.stack([biased_vectors[w] for w in s]).astype(np.float64)
        for s in (CAREER, FAMILY, MALE, FEMALE)
    )
    effect, statistic, _ = effect_size(x, y, a, b)
    # WEFE's own formulas on the same float64 embeddings: equal to 1e-9
    wefe_effect = WEAT()._calc_effect_size(x, y, a, b)
    assert wefe_effect > 1.0  # the planted bias is real, so the comparison is not of zeros
    assert effect == pytest.approx(wefe_effect, abs=1e-9)
    assert statistic == pytest.approx(WEAT()._calc_weat(x, y, a, b), abs=1e-9)

    # and through WEFE's public query API (gensim keeps float32, so agreement is to 1e-6)
    keyed = gensim.models.KeyedVectors(16)
    keyed.add_vectors(list(biased_vectors), np.stack(list(biased_vectors.values())))
    query = Query([CAREER, FAMILY], [MALE, FEMALE], ["career", "family"], ["male", "female"])
    result = WEAT().run_query(query, WordEmbeddingModel(keyed, "random"), return_effect_size=True)
    assert effect == pytest.approx(result["effect_size"], abs=1e-6)

    verdict = checks.fairness(
        table_encoder(biased_vectors),
        None,
        association="weat",
        targets=("career", "family"),
        attributes=("male", "female"),
        max_effect_size=0.3,
        n_resamples=1000,
    )
    assert verdict.status == "fail"
    assert verdict.value == pytest.approx(abs(wefe_effect), abs=1e-9)
    assert verdict.evidence["p_value"] < 0.01


def test_unbiased_vectors_pass_and_seat_uses_sentences():
    rng = np.random.default_rng(3)
    seen: list[str] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return rng.normal(size=(len(texts), 32))

    verdict = checks.fairness(
        Encoder(encode),
        None,
        association="seat",
        targets=("career", "family"),
        attributes=("male", "female"),
        max_effect_size=1.5,
        n_resamples=500,
        seed=1,
    )
    assert verdict.status == "pass"
    assert "This is executive." in seen and len(seen) == 32 * 8
    assert 0.0 < verdict.evidence["p_value"] <= 1.0


def test_permutation_p_value_exact_and_random_agree():
    rng = np.random.default_rng(1)
    s = rng.normal(size=16) + np.r_[np.full(8, 0.2), np.zeros(8)]
    observed = 2 * s[:8].sum() - s.sum()
    exact, is_exact = permutation_p_value(s, 8, observed, n_resamples=20_000, seed=0)
    assert is_exact and math.comb(16, 8) == 12_870
    assert 0.01 < exact < 0.5  # neither end, so the comparison means something
    approximate, is_exact = permutation_p_value(s, 8, observed, n_resamples=10_000, seed=0)
    assert not is_exact
    assert approximate == pytest.approx(exact, abs=0.015)
    again, _ = permutation_p_value(s, 8, observed, n_resamples=10_000, seed=0)
    assert again == approximate  # seeded


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda texts: np.ones((len(texts), 8)), "same vector"),
        (lambda texts: np.full((len(texts), 8), np.nan), "NaN"),
        (lambda texts: np.zeros((len(texts) + 1, 8)), "shape"),
        (lambda texts: np.zeros(len(texts)), "shape"),
    ],
)
def test_broken_encoders_are_errors(encode, message):
    with pytest.raises(GateError, match=message):
        checks.fairness(
            Encoder(encode),
            None,
            association="weat",
            targets=("career", "family"),
            attributes=("male", "female"),
            max_effect_size=0.3,
        )


def test_word_sets_with_fewer_than_eight_known_words_are_errors(biased_vectors):
    vocabulary = set(biased_vectors) - {"executive", "salary"}
    with pytest.raises(GateError, match=r"'career'.* 6 word"):
        checks.fairness(
            table_encoder(biased_vectors, vocabulary=vocabulary),
            None,
            association="weat",
            targets=("career", "family"),
            attributes=("male", "female"),
            max_effect_size=0.3,
        )
    with pytest.raises(GateError, match="fewer than 8"):
        checks.fairness(
            table_encoder(biased_vectors),
            None,
            association="weat",
            targets=(["executive", "salary"], "family"),
            attributes=("male", "female"),
            max_effect_size=0.3,
        )


@pytest.mark.parametrize(
    "targets",
    [(CAREER, CAREER), (CAREER + FAMILY, FAMILY + CAREER)],
    ids=["the same set twice", "the same words in both"],
)
def test_overlapping_word_sets_are_errors_not_an_effect_of_zero(biased_vectors, targets):
    """X = Y gives effect 0 and used to pass whatever the encoder (found in review)."""
    with pytest.raises(GateError, match=r"targets= word sets .* share .* must be disjoint"):
        checks.fairness(
            table_encoder(biased_vectors),
            None,
            association="weat",
            targets=targets,
            attributes=("male", "female"),
            max_effect_size=0.3,
        )


def test_association_options_that_do_not_apply_are_errors(biased_vectors):
    with pytest.raises(GateError, match="max_gap= does not apply"):
        checks.fairness(
            table_encoder(biased_vectors),
            None,
            association="weat",
            targets=("career", "family"),
            attributes=("male", "female"),
            max_effect_size=0.3,
            max_gap=0.1,
        )
    with pytest.raises(GateError, match=r"unknown|not a shipped"):
        checks.fairness(
            table_encoder(biased_vectors),
            None,
            association="weat",
            targets=("careers", "family"),
            attributes=("male", "female"),
            max_effect_size=0.3,
        )
