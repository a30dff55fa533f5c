"""LiRA membership inference (max_tpr_at_fpr=) on real scikit-learn models trained on digits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset
from pytest_modelguard.checks import privacy
from pytest_modelguard.checks.privacy.membership import clopper_pearson, roc_at
from pytest_modelguard.core.verdict import GateError

ROWS = 200  # members and as many non-members


class CountingModel(LogisticRegression):
    """Logistic regression without regularisation worth the name: it memorises 200 digits.
    Counts its inference calls (one per pass: the pool fits in one adapter batch)."""

    predictions = 0

    def predict_proba(self, x):
        CountingModel.predictions += 1
        return super().predict_proba(x)


def train(subset: Dataset) -> CountingModel:
    with warnings.catch_warnings():  # fitting to the last digit is not the point here
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CountingModel(C=1e4, max_iter=300).fit(np.asarray(subset.features), subset.target)


@pytest.fixture(scope="module")
def split(digits):
    members = Dataset.from_arrays(digits["x_train"][:ROWS], digits["y_train"][:ROWS], name="train")
    holdout = Dataset.from_arrays(digits["x"][:ROWS], digits["y"][:ROWS], name="holdout")
    unseen = Dataset.from_arrays(digits["x_train"][600:800], digits["y_train"][600:800])
    return members, holdout, unseen


@pytest.fixture(scope="module")
def overfit_verdict(split):
    members, holdout, _ = split
    target = train(members)
    return privacy(
        target, holdout, members=members, max_tpr_at_fpr={0.001: 0.01}, trainer=train,
        shadow_models=8, seed=5,
    )  # fmt: skip


def test_lira_finds_at_least_what_the_loss_attack_finds(overfit_verdict):
    attacks = overfit_verdict.evidence["attacks"]
    lira = max(attacks[name]["tpr_at_fpr_0.001"] for name in ("lira_online", "lira_offline"))
    assert lira >= attacks["loss"]["tpr_at_fpr_0.001"]
    assert overfit_verdict.value == max(a["tpr_at_fpr_0.001"] for a in attacks.values())
    assert overfit_verdict.status == "fail" and overfit_verdict.metric == "tpr_at_fpr"
    # the report draws the ROC on a log scale, from these points
    assert overfit_verdict.evidence["roc_scale"] == "log"
    assert min(f for f in attacks["lira_offline"]["roc"]["fpr"] if f > 0) <= 1e-4
    assert "TPR@0.001" in overfit_verdict.message and "TPR@0.01" in overfit_verdict.message


def test_a_model_that_never_saw_the_data_is_within_chance(split):
    members, holdout, unseen = split
    blind = train(unseen)  # trained on other rows: the "members" are not its members
    verdict = privacy(
        blind, holdout, members=members, max_tpr_at_fpr={0.001: 0.05, 0.01: 0.1},
        trainer=train, shadow_models=8, seed=5,
    )  # fmt: skip
    for fpr in (0.001, 0.01):
        chance_high = clopper_pearson(math.ceil(fpr * ROWS), ROWS, 0.99)[1]
        for name, attack in verdict.evidence["attacks"].items():
            assert attack[f"tpr_at_fpr_{fpr:g}"] <= chance_high, (name, fpr)


def test_lira_costs_k_trainings_and_k_plus_one_inference_passes(split):
    members, holdout, _ = split
    target = train(members)
    trained = []

    def counting_trainer(subset: Dataset) -> CountingModel:
        trained.append(len(subset))
        return train(subset)

    CountingModel.predictions = 0
    verdict = privacy(
        target, holdout, members=members, max_tpr_at_fpr={0.01: 0.5},
        trainer=counting_trainer, shadow_models=4, seed=1,
    )  # fmt: skip
    # every row of the pool (ROWS members, ROWS non-members) is in exactly half the shadows
    assert len(trained) == 4 and sum(trained) == 4 // 2 * 2 * ROWS
    assert CountingModel.predictions == 4 + 1
    assert verdict.evidence["trainings"] == 4 and verdict.evidence["inference_passes"] == 5


def test_a_trainer_that_ignores_its_subset_is_an_error(split):
    members, holdout, _ = split
    target = train(members)
    with pytest.raises(GateError, match="the trainer ignores the subset"):
        privacy(
            target, holdout, members=members, max_tpr_at_fpr={0.001: 0.01},
            trainer=lambda subset: target, shadow_models=4,
        )  # fmt: skip
    with pytest.raises(GateError, match="the trainer ignores the subset"):
        privacy(  # a fresh model each time, but always on the same rows
            target, holdout, members=members, max_tpr_at_fpr={0.001: 0.01},
            trainer=lambda subset: train(members), shadow_models=4,
        )  # fmt: skip


@pytest.fixture(scope="module")
def linear_split(tabular):
    """A linear task a logistic regression learns without memorising (train ~ test)."""
    members = Dataset.from_arrays(tabular["x_train"][:ROWS], tabular["y_train"][:ROWS], name="m")
    holdout = Dataset.from_arrays(tabular["x"][:ROWS], tabular["y"][:ROWS], name="holdout")
    return members, holdout


def converged_sgd(features, target, seed):
    """A seeded stochastic learner, run to convergence: seeds change it a little."""
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", alpha=1e-3, max_iter=2000, tol=None, random_state=seed)
    return model.fit(np.asarray(features), target)


def test_a_trainer_that_jitters_the_model_under_test_is_an_error(linear_split):
    members, holdout = linear_split
    target = LogisticRegression().fit(np.asarray(members.features), members.target)

    def jitter(subset: Dataset, seed: int):
        noise = np.random.default_rng(seed)

        def model(rows):  # the model under test, 1e-3 of noise on each probability
            p = target.predict_proba(rows) + noise.uniform(0, 1e-3, (len(rows), 2))
            return p / p.sum(axis=1, keepdims=True)

        return model

    for seed in range(3):
        with pytest.raises(GateError, match="the shadow models do not depend on the rows"):
            privacy(
                target, holdout, members=members, max_tpr_at_fpr={0.001: 0.5}, trainer=jitter,
                shadow_models=4, seed=seed,
            )  # fmt: skip


def test_a_closure_that_trains_on_the_full_data_is_an_error(linear_split):
    members, holdout = linear_split
    target = converged_sgd(members.features, members.target, 0)

    def full_data(subset: Dataset, seed: int):  # the bug: members, not subset
        return converged_sgd(members.features, members.target, seed)

    for seed in range(3):
        with pytest.raises(GateError, match="the shadow models do not depend on the rows"):
            privacy(
                target, holdout, members=members, max_tpr_at_fpr={0.001: 0.5},
                trainer=full_data, shadow_models=4, seed=seed,
            )  # fmt: skip


def test_an_honest_trainer_on_a_model_that_generalises_is_not_an_error(linear_split):
    members, holdout = linear_split

    def logistic(subset: Dataset):
        return LogisticRegression().fit(np.asarray(subset.features), subset.target)

    def sgd(subset: Dataset, seed: int):
        return converged_sgd(subset.features, subset.target, seed)

    for trainer in (logistic, sgd):
        target = trainer(members) if trainer is logistic else sgd(members, 0)
        for seed in range(3):
            verdict = privacy(
                target, holdout, members=members, max_tpr_at_fpr={0.001: 0.5},
                trainer=trainer, shadow_models=4, seed=seed,
            )  # fmt: skip
            assert verdict.status == "pass", verdict.message
            effect = verdict.evidence["inclusion_effect"]
            # membership leaves little trace here; when it is too little to decide, the
            # probe (one more training) shows that the shadows follow their data
            assert effect["z"] >= 3 or effect["probe_ratio"] >= 1.25


def test_without_a_trainer_the_gate_says_it_is_a_lower_bound(split):
    members, holdout, _ = split
    verdict = privacy(train(members), holdout, members=members, max_tpr_at_fpr={0.001: 0.5}, seed=2)
    assert "lower bound" in verdict.evidence["bound"] and "lower bound" in verdict.message
    assert set(verdict.evidence["attacks"]) == {"loss", "confidence"}


@pytest.mark.parametrize(
    ("limits", "match"),
    [
        ({}, "give a dict"),
        (0.01, "give a dict"),
        ({0.0: 0.1}, "false-positive rate in"),
        ({0.001: 1.5}, "true-positive rate in"),
        ({0.01: 1.0}, "cannot fail"),
    ],
)
def test_bad_limits_are_errors(split, limits, match):
    members, holdout, _ = split
    with pytest.raises(GateError, match=match):
        privacy(train(members), holdout, members=members, max_tpr_at_fpr=limits)


def test_odd_shadow_counts_are_errors(split):
    members, holdout, _ = split
    with pytest.raises(GateError, match="even number"):
        privacy(
            train(members), holdout, members=members, max_tpr_at_fpr={0.01: 0.1},
            trainer=train, shadow_models=3,
        )  # fmt: skip


def test_tpr_at_fpr_reads_the_roc_conservatively():
    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0])
    members = np.array([True, False, True, True, False, False])
    curve = roc_at(scores, members)
    assert curve.tpr_at(0.0) == pytest.approx(1 / 3)  # above the first non-member
    assert curve.tpr_at(1 / 3) == 1.0
    assert curve.auc == pytest.approx(7 / 9)


def test_the_report_draws_the_roc_on_a_log_fpr_scale(overfit_verdict):
    import json

    from pytest_modelguard.reporting import html

    data = json.loads(json.dumps(overfit_verdict.to_json()))
    (figure,) = html._plots({**data, "index": 0, "nodeid": "t"})
    assert "log10 false positive rate" in figure and "chance (TPR = FPR)" in figure
    assert all(f"{name} (TPR at 0.1% FPR" in figure for name in ("lira_online", "loss"))


def test_a_trainer_that_adds_the_members_to_every_subset_is_an_error(split):
    """Shadows trained on subset + all members gain on non-member rows only: the pooled
    inclusion effect passes, but LiRA's in and out shadows agree on every member (review)."""
    members, holdout, _ = split
    features, target = np.asarray(members.features), members.target

    def padded(subset: Dataset) -> CountingModel:
        both = Dataset.from_arrays(
            np.r_[np.asarray(subset.features), features], np.r_[subset.target, target]
        )
        return train(both)

    with pytest.raises(GateError, match="adds rows to the subset"):
        privacy(
            train(members), holdout, members=members, max_tpr_at_fpr={0.01: 0.05},
            trainer=padded, shadow_models=4, seed=1,
        )  # fmt: skip


def test_an_fpr_below_one_non_member_is_decided_against_chance(split):
    """With 60 non-members, FPR 0.001 is read at zero false positives, where a model that never
    saw the rows ranks a member first about half the time: not a failure (review: 10 of 10)."""
    members, holdout, unseen = split
    outsider = train(unseen)
    outcomes = []
    for seed in range(4):
        try:
            verdict = privacy(
                outsider, holdout, members=members, max_tpr_at_fpr={0.001: 0.01}, samples=60,
                trainer=train, shadow_models=2, seed=seed,
            )  # fmt: skip
            outcomes.append(verdict.status)
        except GateError as exc:
            assert "give at least 1000 non-members" in str(exc)
            outcomes.append("error")
    assert "fail" not in outcomes and "error" in outcomes


def test_an_attack_whose_top_tie_exceeds_the_fpr_is_an_error():
    """Saturated scores: the top tie holds 4% of the non-members, so TPR at FPR 0.01 reads 0
    whatever the model leaks; that is no pass (review)."""
    from pytest_modelguard.checks.privacy.membership import _check_resolution

    member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    scores = np.where(member, 1.0, 0.0)
    scores[500:520] = 1.0  # 20 of 500 non-members tie with every member
    curve = roc_at(scores, member)
    assert curve.tpr_at(0.01) == 0.0
    with pytest.raises(GateError, match=r"no attack can resolve FPR 0\.01"):
        _check_resolution({"lira_online": curve}, {0.01: 0.05}, {0.01: 0.0}, 500)
    _check_resolution({"lira_online": curve}, {0.05: 0.5}, {0.05: 1.0}, 500)  # resolved
    fine = roc_at(np.where(member, 2.0, np.linspace(0, 1, 1000)), member)
    _check_resolution({"lira_online": curve, "lira_offline": fine}, {0.01: 0.05}, {0.01: 0}, 500)


def train_the_head(subset: Dataset) -> CountingModel:
    """Trains on the first half of the rows it is given and ignores the tail (a validation
    split taken from the end of the data, as Keras' validation_split= does)."""
    head = len(subset) // 2
    rows = Dataset.from_arrays(np.asarray(subset.features)[:head], subset.target[:head])
    return train(rows)


def test_a_trainer_that_ignores_the_tail_of_its_subset_sees_members_and_non_members(split):
    """Each shadow's subset listed the pool's members first and its non-members last, so a
    trainer that ignores the tail never trained on a non-member: the shadows looked like
    ones that add rows to their subset (review). In an order drawn from the seed both sides
    reach training alike, and the attack finds the memorising model."""
    members, holdout, _ = split
    target = train(members)
    for seed in range(2):
        verdict = privacy(
            target, holdout, members=members, max_tpr_at_fpr={0.01: 0.05},
            trainer=train_the_head, shadow_models=4, seed=seed,
        )  # fmt: skip
        assert verdict.status == "fail", verdict.message
        effect = verdict.evidence["inclusion_effect"]
        assert abs(effect["side_gap_z"]) < 3 and effect["effect_non_members"] > 0


def test_each_shadow_gets_its_rows_in_an_order_fixed_by_the_seed(split):
    """Members and non-members interleaved in every subset, the same order for the same seed."""
    members, holdout, _ = split
    target = train(members)
    member_rows = {row.tobytes() for row in np.asarray(members.features)}

    def orders(seed: int) -> list[np.ndarray]:
        seen: list[np.ndarray] = []

        def recording(subset: Dataset) -> CountingModel:
            rows = np.asarray(subset.features)
            seen.append(np.array([row.tobytes() in member_rows for row in rows]))
            return train(subset)

        privacy(
            target, holdout, members=members, max_tpr_at_fpr={0.01: 0.5}, trainer=recording,
            shadow_models=4, seed=seed,
        )  # fmt: skip
        return seen

    first, again = orders(3), orders(3)
    for is_member in first:
        half = len(is_member) // 2
        assert 0.35 < is_member[:half].mean() < 0.65 and 0.35 < is_member[half:].mean() < 0.65
    assert len(first) == 4
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
