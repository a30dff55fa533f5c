"""The one-run differential-privacy audit (claimed_epsilon=) on real scikit-learn models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from pytest_modelguard import Dataset
from pytest_modelguard.checks import privacy
from pytest_modelguard.checks.privacy.dp_audit import canaries_needed, epsilon_lower_bound, p_value
from pytest_modelguard.core.verdict import GateError


@pytest.fixture(scope="module")
def split(digits):
    members = Dataset.from_arrays(digits["x_train"][:400], digits["y_train"][:400], name="train")
    holdout = Dataset.from_arrays(digits["x"], digits["y"], name="holdout")  # 597 rows
    return members, holdout


def memorise(subset: Dataset) -> KNeighborsClassifier:
    """One nearest neighbour: every training row, canaries included, is remembered."""
    return KNeighborsClassifier(n_neighbors=1).fit(np.asarray(subset.features), subset.target)


def test_a_memorising_model_refutes_eps_one_half(split):
    members, holdout = split
    verdict = privacy(
        None, holdout, members=members, claimed_epsilon=0.5, delta=1e-5, trainer=memorise,
        canaries=400, seed=0,
    )  # fmt: skip
    assert verdict.status == "fail" and verdict.metric == "epsilon_lower_bound"
    assert verdict.value > 0.5 and verdict.evidence["correct"] >= 0.9 * verdict.evidence["guesses"]
    assert "not a proof" in verdict.message


@pytest.fixture(scope="module")
def fixed(digits) -> LogisticRegression:
    """Trained once on rows that are neither members nor canaries."""
    return LogisticRegression(max_iter=500).fit(digits["x_train"][800:], digits["y_train"][800:])


def smooth(subset: Dataset) -> LogisticRegression:
    """Heavily regularised: it trains on its rows, canaries included, but cannot fit one."""
    return LogisticRegression(C=1e-4, max_iter=500).fit(np.asarray(subset.features), subset.target)


@pytest.mark.parametrize("seed", range(3))
def test_a_model_that_cannot_remember_a_row_never_refutes_a_claim(split, seed):
    members, holdout = split
    verdict = privacy(
        None, holdout, members=members, claimed_epsilon=1.0, delta=1e-5,
        trainer=smooth, canaries=400, seed=seed,
    )  # fmt: skip
    assert verdict.status == "pass", verdict.message
    assert verdict.evidence["trainings"] == 2


def test_a_trainer_that_ignores_its_rows_is_an_error_without_a_model(split, fixed):
    """The marker hands no model to the audit: a trainer that returns a fitted model, or
    retrains on the original data, never sees the canaries and would pass any claim (review)."""
    members, holdout = split
    spec = dict(members=members, claimed_epsilon=0.1, delta=1e-5, canaries=400)
    with pytest.raises(GateError, match="ignores the subset it is given"):
        privacy(None, holdout, trainer=lambda subset: fixed, **spec)
    original = lambda subset: memorise(members)  # noqa: E731
    with pytest.raises(GateError, match="ignores the subset it is given"):
        privacy(None, holdout, trainer=original, **spec)


def test_a_claim_no_canary_count_can_refute_says_so(split):
    """With delta > 0 each canary adds to what (eps, delta)-DP explains: eps=8 at delta=1e-5
    is beyond the audit, and the error must not recommend the search's cap (review)."""
    members, holdout = split
    assert canaries_needed(8.0, 1e-5, 0.05) is None
    with pytest.raises(GateError, match="cannot refute eps=8 at delta=1e-05 with any number"):
        privacy(
            None, holdout, members=members, claimed_epsilon=8.0, delta=1e-5, trainer=memorise,
        )  # fmt: skip


def test_a_trainer_that_returns_the_model_under_test_is_an_error(split, fixed):
    """The deployed model handed back by the trainer never saw the canaries: the audit would
    pass any claim (found in review)."""
    members, holdout = split
    spec = dict(members=members, claimed_epsilon=0.5, delta=1e-5, canaries=400)
    with pytest.raises(GateError, match="ignores the subset it is given"):
        privacy(fixed, holdout, trainer=lambda subset: fixed, **spec)
    refit = privacy(fixed, holdout, trainer=memorise, **spec)  # a real training run
    assert refit.status == "fail"


def test_too_few_canaries_say_how_many_are_needed(split):
    members, holdout = split
    needed = canaries_needed(3.0, 1e-5, 0.05)
    with pytest.raises(GateError, match=f"Use canaries={needed} or more"):
        privacy(
            None, holdout, members=members, claimed_epsilon=3.0, delta=1e-5, trainer=memorise,
            canaries=100,
        )  # fmt: skip
    r = 2 * int(needed * 0.1 / 2)
    assert epsilon_lower_bound(needed, r, r, 1e-5, 0.05) > 3.0


def test_the_audit_needs_a_trainer(split):
    members, holdout = split
    with pytest.raises(GateError, match="trainer="):
        privacy(None, holdout, members=members, claimed_epsilon=1.0)


@pytest.mark.parametrize("delta", [-0.1, 1.0, "1e-5"])
def test_bad_delta_is_an_error(split, delta):
    members, holdout = split
    with pytest.raises(GateError, match="delta="):
        privacy(None, holdout, members=members, claimed_epsilon=1.0, delta=delta, trainer=memorise)


def test_without_delta_the_bound_is_clopper_pearson():
    """delta=0: eps_lower = logit of the one-sided Clopper-Pearson lower bound of accuracy."""
    for r, v in [(40, 36), (100, 70), (20, 20)]:
        accuracy_low = beta.ppf(0.05, v, r - v + 1)
        expected = math.log(accuracy_low / (1 - accuracy_low))
        assert epsilon_lower_bound(1000, r, v, 0.0, 0.05) == pytest.approx(expected, abs=1e-6)


def test_delta_only_weakens_the_bound():
    assert epsilon_lower_bound(1000, 100, 90, 1e-3, 0.05) < epsilon_lower_bound(
        1000, 100, 90, 0.0, 0.05
    )
    assert p_value(1000, 100, 50, 0.0, 0.0) > 0.5  # chance accuracy rejects nothing
    assert epsilon_lower_bound(1000, 100, 50, 1e-5, 0.05) == 0.0


CARD = """---
name: memoriser
version: "1"
owners: [someone]
intended_use: a test
out_of_scope_uses: anything else
training_data: 400 digits
evaluation_data: the holdout
metrics:
  accuracy: 0.5
privacy: {epsilon: 0.5, delta: 1.0e-5}
limitations: none known
ethical_considerations: none
license: MIT
---
"""


def test_a_model_card_privacy_claim_is_verified_through_the_audit(split, tmp_path):
    from pytest_modelguard.checks import transparency

    members, holdout = split
    card = tmp_path / "card.md"
    card.write_text(CARD)
    model = memorise(members)
    verdict = transparency(
        model, holdout, model_card=str(card), verify_claims=True, members=members,
        trainer=memorise,
    )  # fmt: skip
    assert verdict.status == "fail"
    (claim,) = [c for c in verdict.evidence["claims"] if c["claim"] == "privacy.epsilon"]
    assert claim["measured"] > 0.5 and not claim["ok"]
    with pytest.raises(GateError, match="the card claims differential privacy"):
        transparency(model, holdout, model_card=str(card), verify_claims=True, members=members)


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.5, 1.8])
def test_the_canaries_needed_are_never_fewer_than_the_audit_accepts(split, epsilon):
    """The fewest canaries the search names must be a count the gate runs with: below its
    minimum of 20 it answered 11 for eps=0.5, a count the gate rejects (review)."""
    members, holdout = split
    needed = canaries_needed(epsilon, 1e-5, 0.05)
    assert needed is not None and needed >= 20
    r = 2 * max(10, int(needed * 0.1 / 2))
    assert epsilon_lower_bound(needed, r, r, 1e-5, 0.05) > epsilon
    verdict = privacy(
        None, holdout, members=members, claimed_epsilon=epsilon, delta=1e-5,
        trainer=memorise, canaries=needed, seed=0,
    )  # fmt: skip
    assert verdict.status in ("pass", "fail") and verdict.evidence["canaries"] == needed


def test_when_fewer_canaries_prove_more_the_error_does_not_say_or_more(split):
    """From 20 to 219 canaries the auditor makes 20 guesses, so each extra canary only adds
    delta's share: 200 canaries cannot refute eps=1.817 at delta=1e-5 but 20 can. The error
    must not tell the user to use 20 "or more" when they gave 200 (review)."""
    members, holdout = split
    with pytest.raises(GateError) as raised:
        privacy(
            None, holdout, members=members, claimed_epsilon=1.817, delta=1e-5,
            trainer=memorise, canaries=200,
        )  # fmt: skip
    message = str(raised.value)
    assert "200 canaries cannot refute eps=1.817" in message
    assert "Use canaries=20:" in message and "or more" not in message
    assert "fewer canaries" in message


def memorise_the_head(subset: Dataset) -> KNeighborsClassifier:
    """Trains on the first 80% of the rows it is given, as Keras' validation_split=0.2
    with restore_best_weights does: the last fifth is only ever validated on."""
    head = int(0.8 * len(subset))
    features = np.asarray(subset.features)[:head]
    return KNeighborsClassifier(n_neighbors=1).fit(features, subset.target[:head])


def test_a_trainer_that_skips_the_tail_of_its_rows_still_trains_on_the_canaries(digits):
    """The canaries were appended after every member, so a trainer that holds out the last
    20% for validation never trained on one: lower bound 0 and a memorising model passed a
    false eps=0.5 (review). With 780 members and about 200 of 400 canaries inserted, the
    head holds every member and a few canaries: both runs differ, so the probe is satisfied,
    and the audit measured nothing. The rows now reach the trainer in an order drawn from
    the seed, and about 80% of the inserted canaries are trained on."""
    members = Dataset.from_arrays(digits["x_train"][:780], digits["y_train"][:780], name="m")
    holdout = Dataset.from_arrays(digits["x"], digits["y"], name="holdout")
    for seed in range(2):
        verdict = privacy(
            None, holdout, members=members, claimed_epsilon=0.5, delta=1e-5,
            trainer=memorise_the_head, canaries=400, seed=seed,
        )  # fmt: skip
        assert verdict.status == "fail", verdict.message
        assert verdict.value > 0.5


def test_the_canaries_are_interleaved_with_the_members_in_an_order_fixed_by_the_seed(split):
    """Where the inserted canaries sit in the rows the trainer gets: spread over them (not a
    block at either end), the same for the same seed and different for another."""
    members, holdout = split
    holdout_rows = {row.tobytes() for row in np.asarray(holdout.features)}

    def positions(seed: int) -> list[np.ndarray]:
        seen: list[np.ndarray] = []

        def recording(subset: Dataset) -> KNeighborsClassifier:
            rows = np.asarray(subset.features)
            seen.append(np.flatnonzero([row.tobytes() in holdout_rows for row in rows]))
            assert len(subset) == len(members) + len(seen[-1])
            return memorise(subset)

        privacy(
            None, holdout, members=members, claimed_epsilon=0.5, delta=1e-5,
            trainer=recording, canaries=400, seed=seed,
        )  # fmt: skip
        return seen

    first, again, other = positions(0), positions(0), positions(1)
    assert len(first) == 2  # the audited run and the probe
    for canaries in first:
        total = len(members) + len(canaries)
        assert canaries.min() < 0.1 * total and canaries.max() > 0.9 * total
        assert 0.35 < np.mean(canaries < total / 2) < 0.65  # as many in each half
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def _card_verdict(split, tmp_path, trainer, **spec):
    from pytest_modelguard.checks import transparency

    members, holdout = split
    card = tmp_path / "card.md"
    card.write_text(CARD)
    return transparency(
        memorise(members), holdout, model_card=str(card), verify_claims=True, members=members,
        trainer=trainer, **spec,
    )  # fmt: skip


def _privacy_line(verdict) -> str:
    (line,) = [ln for ln in verdict.message.splitlines() if "claim     privacy.epsilon" in ln]
    return line


def test_a_refuted_privacy_claim_fails_whatever_the_tolerance(split, tmp_path):
    """The audit's bound already holds at its confidence: a claim it exceeds is false, as
    @privacy(claimed_epsilon=) decides. A tolerance (meant for measured metrics) let a
    refuted claim pass the model-card gate, first with the line saying OVERSTATES (review
    1), then with "within tolerance" (review 2). One decision serves the line and verdict."""
    strict = _card_verdict(split, tmp_path, memorise)
    (claim,) = [c for c in strict.evidence["claims"] if c["claim"] == "privacy.epsilon"]
    assert strict.status == "fail" and claim["ok"] is False
    assert "OVERSTATES by" in _privacy_line(strict)
    loose = _card_verdict(split, tmp_path, memorise, tolerance=claim["overstatement"] + 0.1)
    (claim,) = [c for c in loose.evidence["claims"] if c["claim"] == "privacy.epsilon"]
    assert loose.status == "fail" and claim["ok"] is False
    assert loose.value == pytest.approx(claim["overstatement"]) and loose.threshold == 0.0
    assert "OVERSTATES by" in _privacy_line(loose)


@pytest.mark.parametrize(("seed", "refutes"), [(1, "found no leak"), (0, "at or below the claim")])
def test_a_privacy_claim_the_audit_cannot_refute_is_not_called_understated(
    split, tmp_path, seed, refutes
):
    """A lower bound below the claim (0 here at seed 1, 0.375 at seed 0) refutes nothing;
    "understates: ok" read as if the claim were shown conservative (review). A pass of
    the audit is no proof of differential privacy."""
    verdict = _card_verdict(split, tmp_path, smooth, seed=seed)
    (claim,) = [c for c in verdict.evidence["claims"] if c["claim"] == "privacy.epsilon"]
    assert verdict.status == "pass" and claim["measured"] < 0.5 and claim["ok"] is True
    assert (claim["measured"] == 0) == (refutes == "found no leak")
    line = _privacy_line(verdict)
    assert "understates" not in line and refutes in line
    assert "could not refute the claim" in line and "not a proof" in line
