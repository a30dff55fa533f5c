"""Token attributions: identity terms that drive a decision rank at the top and fail the
gate; a model that ignores them passes; integrated gradients agree with occlusion on
what matters; nothing protected in the sample is an error, not a pass."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_modelguard import Dataset, checks
from pytest_modelguard.adapters import adapt
from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.text.attribution import embedding_path, integrated_gradients, occlusion


def name_driven(texts: list[str]) -> np.ndarray:
    """A black box whose score rests on one name."""
    return np.array([0.2 if "Jamal" in t else 0.7 + 0.1 * ("good" in t) for t in texts])


def test_occlusion_ranks_the_deciding_name_first(name_texts):
    verdict = checks.explainability(
        name_driven, name_texts, protected_tokens="identity", protected_not_in_top_k=3
    )
    assert verdict.status == "fail"
    assert verdict.evidence["method"] == "occlusion"
    assert verdict.evidence["ranking"][0]["token"] == "jamal"
    assert "rank 1" in verdict.evidence["worst"]
    shown = verdict.evidence["token_attributions"][0]
    assert len(shown["tokens"]) == len(shown["attributions"]) > 0


@pytest.mark.parametrize("clitic", ["'s", "’s"])
def test_a_name_with_a_clitic_is_still_protected(clitic):
    """ "Lakisha's" is the name Lakisha: it used to escape the protected tokens (review)."""
    texts = [f"{name}{clitic} application was reviewed today." for name in ("Lakisha", "Emily")]
    data = Dataset.from_texts(texts * 10, [0, 1] * 10)

    def model(batch: list[str]) -> np.ndarray:
        return np.array([0.1 if "Lakisha" in t else 0.9 for t in batch])

    verdict = checks.explainability(
        model, data, protected_tokens="identity", protected_not_in_top_k=1
    )
    assert verdict.status == "fail"
    assert verdict.evidence["ranking"][0]["protected"]


def test_integrated_gradients_on_the_embedding_layer(
    biased_text_model, fair_text_model, name_texts
):
    path = embedding_path(adapt(biased_text_model))
    assert path is not None
    texts = ["a lovely day for Jamal", "Greg said the food was awful"]
    tokens, values = integrated_gradients(path, texts, steps=32)
    assert tokens[0] == ["a", "lovely", "day", "for", "jamal"]
    # completeness: attributions add up to f(x) - f(0 embedding) for the predicted class
    import tensorflow as tf

    ids = path.vectorize(tf.constant(texts))
    embedded = path.embedding(ids)
    padding = embedded * tf.cast(ids == 0, embedded.dtype)[..., None]
    full = np.asarray(path.rest(embedded))[:, 0]
    baseline = np.asarray(path.rest(padding))[:, 0]
    predicted_gain = np.where(full >= 0.5, full - baseline, baseline - full)
    sums = [float(v.sum()) for v in values]
    assert sums == pytest.approx(predicted_gain.tolist(), abs=0.01)
    # the adjective is what decides, for both methods
    occluded, occ_values = occlusion(adapt(fair_text_model), texts)
    assert occluded[0][int(np.argmax(np.abs(occ_values[0])))] == "lovely"
    assert tokens[0][int(np.argmax(np.abs(values[0])))] == "lovely"

    verdict = checks.explainability(
        fair_text_model, name_texts, protected_tokens="identity", protected_not_in_top_k=3
    )
    assert verdict.evidence["method"] == "integrated_gradients"
    assert verdict.status == "pass", verdict.evidence["ranking"][:5]


def test_nothing_protected_in_the_sample_is_an_error():
    data = Dataset.from_texts(["the food was good", "an awful trip"] * 5, [1, 0] * 5)
    with pytest.raises(GateError, match="none of the 10 sampled texts"):
        checks.explainability(
            name_driven, data, protected_tokens="identity", protected_not_in_top_k=3
        )
    with pytest.raises(GateError, match="protected_tokens="):
        checks.explainability(name_driven, data, protected_not_in_top_k=3)


def test_swap_identity_perturbation_flips_a_name_driven_model(name_texts):
    verdict = checks.robust(
        name_driven, name_texts, perturbation="swap_identity", eps=1.0, max_flip_rate=0.01
    )
    assert verdict.status == "fail"
    plain = Dataset.from_texts(["the food was good"] * 10, [1] * 10)
    with pytest.raises(GateError, match="swap_identity would change nothing"):
        checks.robust(name_driven, plain, perturbation="swap_identity", eps=1.0, max_flip_rate=0.01)


def test_report_shades_tokens_by_attribution():
    from pytest_modelguard.reporting.html import Unplottable, _token_shading

    evidence = {
        "token_attributions": [
            {"tokens": ["a", "lovely", "<day>"], "attributions": [0.0, 0.5, -0.25]}
        ]
    }
    ((draw, _caption),) = _token_shading({}, evidence)
    html = draw(chart_id="plot-1")
    assert 'background:rgba(220,50,47,1.00)" title="+0.5000">lovely' in html
    assert 'background:rgba(38,139,210,0.50)" title="-0.2500">&lt;day&gt;' in html
    with pytest.raises(Unplottable, match="no attribution other than 0"):
        _token_shading({}, {"token_attributions": []})  # the page says why, not a blank


WEIGHTS = {"great": 2.0, "lovely": 1.8, "wonderful": 1.6, "excellent": 1.4}
WEIGHTS.update({"awful": -2.0, "terrible": -1.8, "horrible": -1.6, "bad": -1.4})


def sometimes_jamal(texts: list[str]) -> np.ndarray:
    """Adjectives decide; the name Jamal pulls the score down in two of the five frames
    only, so how much it matters depends on which texts were sampled."""
    scores = []
    for text in texts:
        z = sum(WEIGHTS.get(w, 0.0) for w in text.lower().split())
        if "Jamal" in text and ("food" in text or "movie" in text):
            z -= 8.0
        scores.append(1 / (1 + np.exp(-z)))
    return np.array(scores)


@pytest.fixture(scope="module")
def many_texts() -> Dataset:
    from tests.text.conftest import make_texts

    texts, labels = make_texts(600, biased=False, seed=4)
    return Dataset.from_texts(texts, labels, name="600 name sentences")


def test_a_rank_the_sample_cannot_decide_is_an_error_not_a_verdict(many_texts):
    """On 40 texts Jamal's rank ranges over the whole vocabulary across resamples: a point
    estimate would pass or fail by which texts the seed drew."""
    spec = {"protected_tokens": "identity", "protected_not_in_top_k": 3, "seed": 1}
    with pytest.raises(GateError, match=r"ranking unstable at this n: .*'jamal' ranks 1-"):
        checks.explainability(sometimes_jamal, many_texts, samples=40, **spec)
    verdict = checks.explainability(sometimes_jamal, many_texts, samples=600, **spec)
    assert verdict.status == "pass"
    low, high = verdict.evidence["rank_interval"]["jamal"]
    assert 3 < low <= high  # surely below the top 3 (8 adjectives outrank it)


def test_a_protected_token_that_moves_nothing_is_not_in_the_top_k():
    """Only two words matter; every other type has importance 0. A tie at 0 used to give
    them all rank 3, so an inert name counted as "among the top 3" and failed the gate."""
    texts = [
        f"{name} found it {word}" for name in ("Emily", "Jamal") for word in ("great", "awful")
    ]
    data = Dataset.from_texts(texts * 5, [1, 0] * 10)

    def adjectives_only(batch: list[str]) -> np.ndarray:
        return np.array([0.9 if "great" in t else 0.1 if "awful" in t else 0.5 for t in batch])

    verdict = checks.explainability(
        adjectives_only, data, protected_tokens="identity", protected_not_in_top_k=3
    )
    assert verdict.status == "pass"
    assert verdict.evidence["rank_interval"]["jamal"] == [6, 6]  # the last of 6 types


def test_min_stability_of_the_token_ranking_over_resamples(many_texts):
    spec = {"protected_tokens": "identity", "min_stability": 0.9, "seed": 1}
    few = checks.explainability(sometimes_jamal, many_texts, samples=10, **spec)
    many = checks.explainability(sometimes_jamal, many_texts, samples=300, **spec)
    assert few.status == "fail" and many.status == "pass"
    assert few.value < 0.9 < many.value
    assert many.evidence["stability_interval"][0] <= many.value
    assert "jamal" in many.evidence["rank_interval"]
    with pytest.raises(GateError, match="min_stability=1"):
        checks.explainability(
            sometimes_jamal, many_texts, protected_tokens="identity", min_stability=1.0
        )


def test_min_stability_alone_on_texts_is_the_token_gate(many_texts):
    """Without protected_tokens= a text dataset's stability gate must still measure token
    rankings (it used to reach the tabular gate and stop with 'needs numeric features')."""
    alone = checks.explainability(sometimes_jamal, many_texts, samples=300, min_stability=0.9)
    named = checks.explainability(
        sometimes_jamal, many_texts, samples=300, min_stability=0.9, protected_tokens="identity"
    )
    assert alone.metric == named.metric and alone.value == named.value
    assert alone.status == "pass"


def test_redundant_names_are_left_out_together():
    """Each text names two people of one group: leaving one name out changes nothing (the
    other still names the group), so one-at-a-time occlusion ranks every name at 0. The
    joint occlusion of a text's protected words catches the model deciding on names."""
    rng = np.random.default_rng(0)
    filler = [
        "the",
        "movie",
        "was",
        "fine",
        "and",
        "the",
        "food",
        "was",
        "okay",
        "but",
        "service",
        "slow",
        "today",
        "great",
        "bad",
    ]
    names = ["Jamal", "Lakisha", "Tyrone", "Ebony", "Emily", "Greg", "Brad", "Sarah"]
    texts = []
    for i in range(120):
        words = list(rng.choice(filler, 8))
        pool = names[:4] if i % 2 else names[4:]
        first, second = rng.choice(pool, 2, replace=False)
        words.insert(2, str(first))
        words.insert(6, str(second))
        texts.append(" ".join(words))
    african_american = {n.lower() for n in names[:4]}

    def name_group_decides(batch):
        words = [{w.lower() for w in t.split()} for t in batch]
        return np.array(
            [0.5 + (0.4 if w & african_american else -0.4) + 0.05 * ("great" in w) for w in words]
        )

    dataset = Dataset.from_texts(texts, np.arange(120) % 2, name="two names")
    verdict = checks.explainability(
        name_group_decides,
        dataset,
        protected_tokens="identity",
        protected_not_in_top_k=3,
        samples=100,
    )
    assert verdict.status == "fail"
    top = verdict.evidence["ranking"][0]
    assert top["token"] == "<protected terms together>" and top["protected"]
    singles = [r for r in verdict.evidence["ranking"] if r["token"] in african_american]
    assert singles and all(r["importance"] == 0 for r in singles)  # each alone: nothing
    # a model that ignores names still passes: the joint effect is 0 there
    fair = checks.explainability(
        lambda batch: np.array([0.3 + 0.4 * ("great" in t) for t in batch]),
        dataset,
        protected_tokens="identity",
        protected_not_in_top_k=3,
        samples=100,
    )
    assert fair.status == "pass"
