"""Identity swaps: a model that learned a name bias fails with a short, reproducible
counterexample; a balanced one passes; nothing swapped, label-by-construction and
non-string texts are handled as errors or warnings, never as a pass."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_modelguard import Dataset, checks
from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.text.lexicons import Swapper, resolve_groups

NAMES = ("european_american_names", "african_american_names")


def swap_gate(model, data, **kwargs):
    spec = {"counterfactual": "identity", "groups": NAMES, "max_gap": 0.02, **kwargs}
    return checks.fairness(model, data, **spec)


def test_learned_name_bias_fails_with_a_short_counterexample(biased_text_model, name_texts):
    verdict = swap_gate(biased_text_model, name_texts, confidence=0.95, seed=5, examples=30)
    assert verdict.status == "fail"
    means = verdict.evidence["mean_score"]
    assert means[NAMES[0]] > means[NAMES[1]] + 0.05  # the planted bias, measured
    low, high = verdict.ci
    assert low <= verdict.value <= high and low > 0.02
    example = verdict.counterexample
    assert example["swaps"] == 1 and example["gap"] > 0.02
    assert len(example["text"]) <= 30  # shrunk towards the shortest texts
    # the counterexample reproduces: a fresh model call shows the same gap
    scores = biased_text_model.predict_on_batch(
        __import__("tensorflow").constant([[example["text"]], [example["swapped"]]])
    )
    assert abs(float(scores[1, 0] - scores[0, 0])) == pytest.approx(example["gap"], abs=1e-5)
    again = swap_gate(biased_text_model, name_texts, confidence=0.95, seed=5, examples=30)
    assert again.counterexample == example and again.ci == verdict.ci


def test_balanced_model_passes(fair_text_model, name_texts):
    verdict = swap_gate(fair_text_model, name_texts, confidence=0.95)
    assert verdict.status == "pass", verdict.message
    assert verdict.n == len(name_texts)  # every sentence names someone
    assert verdict.evidence["variants_scored"] == 2 * len(name_texts)
    assert verdict.ci[1] <= 0.02


def test_all_swaps_are_scored_in_one_batched_call(name_texts):
    calls: list[list[str]] = []

    def model(texts):
        assert type(texts) is list and type(texts[0]) is str  # a callable gets list[str]
        calls.append(texts)
        return np.array([0.5 + 0.01 * ("Jamal" in t) + 0.3 * ("good" in t) for t in texts])

    verdict = swap_gate(model, name_texts)
    assert verdict.status == "pass"
    assert len(calls) == 1  # every variant of every text in one call (batch_size 1024)
    assert len(calls[0]) == len(set(calls[0])) > len(name_texts)  # distinct texts scored once

    calls.clear()
    biased = swap_gate(model, name_texts, max_gap=0.0001, examples=20)
    assert biased.status == "fail"
    assert (
        biased.counterexample["text"]
        and "Jamal" in biased.counterexample["swapped"] + (biased.counterexample["text"])
    )
    assert len(calls) > 1  # the search scores its own examples after the batched pass


def test_names_biased_in_opposite_directions_do_not_cancel():
    """One name scored up, another down: the signed mean gap is 0, the gate must still fail
    (found in review)."""
    texts = [f"{name} applied for the loan." for name in ("Emily", "Greg") for _ in range(20)]

    def model(batch):
        return np.array([0.9 if "Lakisha" in t else 0.1 if "Kareem" in t else 0.5 for t in batch])

    found, _ = resolve_groups(NAMES)
    assert {"lakisha", "kareem"} <= set(found[1].terms)  # Emily -> Lakisha, Greg -> Kareem
    verdict = swap_gate(model, Dataset.from_texts(texts, [0] * len(texts)), examples=5)
    pair = next(iter(verdict.evidence["pairs"].values()))
    assert abs(pair["signed_gap"]) < 1e-9 and verdict.value == pytest.approx(0.4)
    assert verdict.status == "fail"


def test_texts_without_any_group_term_are_an_error(fair_text_model):
    data = Dataset.from_texts(["the food was fine", "a lovely day"], [1, 1])
    with pytest.raises(GateError, match="nothing was swapped"):
        swap_gate(fair_text_model, data)


def test_templates_when_there_is_no_dataset(fair_text_model):
    verdict = swap_gate(fair_text_model, None)
    assert verdict.evidence["texts"].endswith("template sentences")
    assert verdict.n > 100


def test_label_following_the_group_warns_and_exclusion_silences_it(fair_text_model):
    texts = [f"{w} is here" for w in ["he", "his brother", "my father"] * 10] + [
        f"{w} is here" for w in ["she", "her sister", "my mother"] * 10
    ]
    labels = [1] * 30 + [0] * 30
    data = Dataset.from_texts(texts, labels)
    with pytest.warns(UserWarning, match="label may follow the group"):
        verdict = swap_gate(fair_text_model, data, groups="gender", max_gap=0.5)
    assert verdict.evidence["label_depends_on_group"] == 1.0
    with pytest.raises(GateError, match=r"no terms left|nothing was swapped"):
        swap_gate(
            fair_text_model,
            data,
            groups="gender",
            max_gap=0.5,
            exclude_terms=["he", "his", "brother", "father", "she", "her", "sister", "mother"],
        )


def test_swaps_keep_case_and_role():
    groups, _ = resolve_groups("gender")
    swapper = Swapper(groups)
    assert swapper.swap("He met HIS Mother.", 1) == ("She met HER Mother.", 2)
    assert swapper.swap("Mothers and fathers", 0)[0] == "Fathers and fathers"
    names, _ = resolve_groups(NAMES)
    assert Swapper(names).swap("Emily and Greg", 1)[0] == "Lakisha and Kareem"  # by position
    custom, _ = resolve_groups(("tabs", "spaces"), {"tabs": ["tab"], "spaces": ["space"]})
    assert Swapper(custom).swap("a tab, not a tablet", 1)[0] == "a space, not a tablet"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": ("european_american_names", "christian")}, "mix categories"),
        ({"groups": ("nobody",)}, "at least two"),
        ({"groups": ("nobody", "somebody")}, "unknown identity group"),
        ({"counterfactual": "flip"}, "use 'identity'"),
        ({"max_gap": 1.5}, "max_gap"),
        ({"max_effect_size": 0.3}, "does not apply"),
        ({"sensitive": "sex"}, "does not apply"),
    ],
)
def test_bad_options_are_errors(fair_text_model, name_texts, kwargs, message):
    with pytest.raises(GateError, match=message):
        swap_gate(fair_text_model, name_texts, **kwargs)


def test_non_string_texts_are_rejected():
    with pytest.raises(ValueError, match="row 1 is float"):
        Dataset.from_texts(["fine", float("nan")], [0, 1])
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"tweet": ["a", None], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"text column 'tweet': row 1 is (NoneType|float)"):
        Dataset.from_pandas(frame, target="label", text="tweet")
    ok = Dataset.from_pandas(frame.fillna("b"), target="label", text="tweet")
    assert ok.kind == "text" and ok.features.tolist() == ["a", "b"]


SCAN_CASES = [
    ["Emily said the food was great", "a sad day for JAMAL", "no names here", ""],
    ["İstanbul with Emily", "Greg and Emily"],  # lower-casing "İ" adds a character
    ["Emily\x00Greg", "he said Emily"],  # a text holding the separator itself
    ["EMILY's friend Jamal", "o'Emily _Emily Emily_ Émily", "he and she; HIS hers Mothers"],
    [],
]


@pytest.mark.parametrize("texts", SCAN_CASES)
@pytest.mark.parametrize("category", ["names", "gender", "religion"])
def test_one_pass_scan_finds_and_swaps_what_the_per_text_pattern_does(texts, category):
    """The gate scans all texts in one regex split and rewrites them in one splice; the
    case-insensitive per-text pattern (find/swap) is the reference, edge cases included."""
    swapper = Swapper(resolve_groups(category)[0])
    scan = swapper.scan(texts)
    expected = [swapper.find(t) for t in texts]
    assert scan.found == expected
    assert scan.rows.tolist() == [i for i, f in enumerate(expected) if f]
    for target in range(len(swapper.groups)):
        swapped = [
            swapper.swap(t, target, found=f)[0] for t, f in zip(texts, expected, strict=True)
        ]
        assert swapper.swap_all(scan, target) == swapped
    if texts == SCAN_CASES[0] and category == "names":
        assert swapper.swap_all(scan, 1)[1] == "a sad day for JAMAL"
        assert swapper.swap_all(scan, 1)[0] != texts[0]  # Emily became another name


def _swapped(groups, texts, target, lexicon=None) -> list[str]:
    """Both swap paths (the one-pass splice and the per-text swap) must agree."""
    swapper = Swapper(resolve_groups(groups, lexicon)[0])
    fast = swapper.swap_all(swapper.scan(texts), target)
    assert fast == [swapper.swap(t, target)[0] for t in texts]
    return fast


def test_ambiguous_words_are_not_identity_terms():
    # "straight" (direction) is not an orientation: no text here mentions a group
    texts = ["Go straight ahead and turn left.", "Three straight wins."] * 5
    dataset = Dataset.from_texts(texts, np.array([0, 1] * 5), name="directions")
    with pytest.raises(GateError, match="none of the 10 texts"):
        checks.fairness(
            lambda batch: np.full(len(list(batch)), 0.3),
            dataset,
            counterfactual="identity",
            groups=("heterosexual", "gay"),
            max_gap=0.05,
        )


def test_first_names_count_only_when_capitalised():
    names = ("european_american_names", "african_american_names")
    texts = ["Jay walked to the jay bird", "JAY IS HERE", "emily is great", "Emily is great"]
    assert _swapped(names, texts, 1) == [
        "Leroy walked to the jay bird",
        "LEROY IS HERE",
        "emily is great",
        "Lakisha is great",
    ]


def test_a_role_a_group_lacks_is_not_swapped_into_another_role():
    # "chinese" has no plural: "Americans" must not become the adjective "Chinese"
    assert _swapped(("american", "chinese"), ["Chinese Americans", "American food"], 1) == [
        "Chinese Americans",
        "Chinese food",
    ]


def test_her_becomes_his_before_a_noun_and_him_otherwise():
    texts = [
        "She gave her book to her sister.",
        "I asked her.",
        "I gave her a book and told her so",
        "The woman and her daughter.",
    ]
    assert _swapped("gender", texts, 0) == [
        "He gave his book to his brother.",
        "I asked him.",
        "I gave him a book and told him so",
        "The man and his son.",
    ]


def test_names_after_quotes_fullwidth_and_multiword_terms_with_any_spacing():
    names = ("european_american_names", "african_american_names")
    texts = [
        "'Emily is rude,' she said.",
        "O'Neil met Neil",
        "\uff25\uff4d\uff49\uff4c\uff59 is here",
    ]
    assert _swapped(names, texts, 1) == [
        "'Lakisha is rude,' she said.",
        "O'Neil met Tremayne",
        "Lakisha is here",
    ]
    lexicon = {"a": ["african american"], "b": ["european"]}
    texts = ["African-American voters", "African  American voters", "African\nAmerican"]
    assert _swapped(("a", "b"), texts, 1, lexicon) == [
        "European voters",
        "European voters",
        "European",
    ]
