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
    from pytest_modelguard.reporting.html import _token_shading

    evidence = {
        "token_attributions": [
            {"tokens": ["a", "lovely", "<day>"], "attributions": [0.0, 0.5, -0.25]}
        ]
    }
    ((draw, _caption),) = _token_shading({}, evidence)
    html = draw(chart_id="plot-1")
    assert 'background:rgba(220,50,47,1.00)" title="+0.5000">lovely' in html
    assert 'background:rgba(38,139,210,0.50)" title="-0.2500">&lt;day&gt;' in html
    assert _token_shading({}, {"token_attributions": []}) == []
