"""Explanations that decide a gate are stable: permutation importance repeats its
shuffles, scores a proper scoring rule, and decides top-k membership and the protected
share only when the ranking is sure; otherwise the gate is an error, never a coin flip.
Verdicts are compared across seeds, the way a renamed test changes its seed."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, GateError, checks

EXAMPLE = Path(__file__).resolve().parents[3] / "example_project"
SEEDS = range(20)


def verdicts(model, dataset, seeds=SEEDS, **spec) -> Counter:
    """How often each outcome (pass, fail, or the error's first words) comes up."""
    outcomes: Counter = Counter()
    for seed in seeds:
        try:
            outcomes[checks.explainability(model, dataset, seed=seed, **spec).status] += 1
        except GateError as error:
            outcomes["error: " + str(error).split(":")[0]] += 1
    return outcomes


def agreement(outcomes: Counter) -> float:
    return max(outcomes.values()) / sum(outcomes.values())


@pytest.fixture(scope="module")
def example_credit():
    """The example project's credit model and holdout, as its explainability gates see them."""
    keras = pytest.importorskip("keras")
    spec = importlib.util.spec_from_file_location("credit_data", EXAMPLE / "credit_data.py")
    credit_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(credit_data)
    frame = pd.read_csv(EXAMPLE / "data" / "credit_holdout.csv")
    dataset = Dataset.from_pandas(
        frame,
        target=credit_data.TARGET,
        sensitive=credit_data.SENSITIVE,
        features=credit_data.FEATURES,
        name="credit-holdout",
    )
    return keras.models.load_model(EXAMPLE / "models" / "credit.keras"), dataset


@pytest.mark.parametrize(
    "spec", [{"protected_not_in_top_k": 3}, {"max_protected_share": 0.05}], ids=["top3", "share"]
)
def test_the_example_gates_agree_across_20_seeds(example_credit, spec):
    model, dataset = example_credit
    outcomes = verdicts(model, dataset, method="permutation", samples=1000, proxies=["age"], **spec)
    assert agreement(outcomes) >= 0.95, outcomes
    assert outcomes["pass"] >= 19, outcomes  # and the agreed verdict is the example's


@pytest.fixture(scope="module")
def near_tie():
    """Two features of almost equal weight (income 1.0, the protected tenure 0.9) and a
    weak third: whether tenure is 'in the top 1' is a question of noise at n=200."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 3))
    y = (x @ np.array([1.0, 0.9, 0.3]) + rng.logistic(size=4000) * 0.5 > 0).astype(int)
    model = LogisticRegression().fit(x[:2000], y[:2000])
    names = ["income", "tenure", "debt"]
    return model, Dataset.from_arrays(x[2000:], y[2000:], feature_names=names)


def test_a_near_tie_at_the_boundary_never_passes_on_one_seed_and_fails_on_another(near_tie):
    # One accuracy-scored shuffle on 200 rows ranked tenure first on some seeds and second
    # on others: the same gate passed or failed with the test's name. Now a seed either
    # decides what the data shows (tenure is second: pass) or says the ranking is noise.
    model, dataset = near_tie
    outcomes = verdicts(model, dataset, protected_not_in_top_k=1, proxies=["tenure"])
    assert set(outcomes) <= {"pass", "error: ranking unstable at this n"}, outcomes
    assert outcomes["error: ranking unstable at this n"] >= 10, outcomes
    unsure = next(
        seed
        for seed in SEEDS
        if "ranking unstable"
        in _error(model, dataset, protected_not_in_top_k=1, proxies=["tenure"], seed=seed)
    )
    message = _error(model, dataset, protected_not_in_top_k=1, proxies=["tenure"], seed=unsure)
    assert "tenure ranks 1-2 of 3 at 95% confidence" in message
    assert "raise samples= (now 200)" in message
    # with every row the data decides: tenure is second
    everything = checks.explainability(
        model, dataset, protected_not_in_top_k=1, proxies=["tenure"], samples=2000
    )
    assert everything.passed and everything.evidence["rank_interval"] == {"tenure": [2, 2]}


def _error(model, dataset, **spec) -> str:
    try:
        checks.explainability(model, dataset, **spec)
    except GateError as error:
        return str(error)
    return ""


def test_a_clear_ranking_decides_and_says_how_sure(near_tie):
    model, dataset = near_tie
    debt = checks.explainability(model, dataset, protected_not_in_top_k=2, proxies=["debt"])
    assert debt.status == "pass" and debt.evidence["rank_interval"] == {"debt": [3, 3]}
    both = checks.explainability(
        model, dataset, protected_not_in_top_k=2, proxies=["income", "tenure"]
    )
    assert both.status == "fail" and both.value == 2.0
    assert "surely among the 2 most important" in both.formula


def test_a_share_within_noise_of_the_threshold_is_an_error(near_tie):
    model, dataset = near_tie
    clear = checks.explainability(model, dataset, max_protected_share=0.9, proxies=["debt"])
    low, high = clear.ci
    assert clear.passed and low <= clear.value <= high < 0.9
    assert clear.evidence["share_interval"].startswith("95% percentile interval")
    with pytest.raises(GateError, match=r"ranking unstable at this n: the protected share is"):
        checks.explainability(
            model, dataset, max_protected_share=round(clear.value, 3), proxies=["debt"]
        )
    failing = checks.explainability(
        model, dataset, max_protected_share=max(low / 2, 0.001), proxies=["debt"]
    )
    assert failing.status == "fail"
