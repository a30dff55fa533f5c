"""Auditing a differential-privacy claim in one training run (Steinke, Nasr & Jagielski
2023, "Privacy Auditing with One (1) Training Run").

``m`` canaries (held-out rows given a wrong label, the rows a model can only learn by
remembering them) are each put into the training data with probability 1/2, the model
is trained once by the user's trainer, and the loss attack guesses: the ``k`` canaries
it fits best were in, the ``k`` it fits worst were out. An (eps, delta)-DP training run
lets such guesses be right no more often than randomised response with eps allows; the
number right gives, at the chosen confidence, a lower bound on the eps the run really
has. When that lower bound exceeds the claimed eps, the claim is false (with that
confidence) and the gate fails.

A pass is not a proof of privacy: it says this attack, on these canaries, found no
leak larger than the claim. Only the mechanism's proof (and an accountant) gives an
upper bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_modelguard.checks._gate import decide
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.profiles import Profile
from pytest_modelguard.core.verdict import GateError, Verdict, require_count

DEFAULT_CANARIES = 1000
GUESS_FRACTION = 0.1  # the auditor guesses "in" on this share of canaries and "out" on as many
MIN_GUESSES = 10
MIN_CANARIES = 2 * MIN_GUESSES  # every canary guessed at this size; fewer is an error
LEVELS = (0.9, 0.95, 0.99)
EPS_CEILING = 30.0  # the search for the lower bound stops here
MAX_CANARIES = 2**24  # the search for a canary count that can refute a claim stops here


def dp_audit_gate(
    model: Any,
    dataset: Dataset,
    members: Dataset | None,
    *,
    claimed_epsilon: float,
    delta: float | None = None,
    trainer: Callable[..., Any] | None = None,
    canaries: int | None = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Fail when the training run provably leaks more than ``claimed_epsilon`` (at
    ``delta``, default 0) allows, at ``confidence`` (default 0.95).

    ``trainer(subset: Dataset) -> model`` trains the model the way the claim is made for;
    ``members`` is the training data, ``dataset`` supplies the ``canaries`` held-out rows
    (default 1000, or all its rows if fewer). The model fixture itself is not used: the
    audit trains its own run.
    """
    started = time.perf_counter()
    epsilon, delta, level = _claim(claimed_epsilon, delta, confidence)
    if trainer is None or not callable(trainer):
        raise GateError(
            "a differential-privacy audit trains the model once with canaries: give a "
            "trainer= fixture, a function trainer(subset: Dataset) -> model that trains the "
            "model the way the claim is made for (define a fixture named train_model)"
        )
    from pytest_modelguard.checks.privacy import _members

    members = _members(members, dataset)
    m, guesses = _canary_count(canaries, dataset, epsilon, delta, level)
    inside, right = _one_run(model, dataset, members, trainer, m, guesses, seed)
    lower = epsilon_lower_bound(m, guesses, right, delta, 1 - level)
    evidence: dict[str, Any] = {
        "dataset": dataset.name,
        "members": members.name,
        "canaries": m,
        "inserted": int(inside.sum()),
        "guesses": guesses,
        "correct": right,
        "guess_accuracy": right / guesses,
        "claimed_epsilon": epsilon,
        "delta": delta,
        "confidence": level,
        "attack": "loss of the canary's wrong label: lowest loss guessed in, highest out",
        "method": (
            "one-run audit of Steinke, Nasr & Jagielski (2023): p-value of the correct "
            "guesses under (eps, delta)-DP, the largest eps it rejects; with delta=0 this is "
            "the Clopper-Pearson lower bound of the guess accuracy, as eps = logit(bound)"
        ),
        "trainings": 2,
        "probe": "a second training with the other canaries, checked to differ",
        "note": "a pass does not prove differential privacy: it is a lower bound on eps",
    }
    verdict = decide(
        requirement="privacy",
        metric="epsilon_lower_bound",
        values=np.array([lower]),
        operator="<=",
        threshold=epsilon,
        n=m,
        formula=(
            f"largest eps whose (eps, delta={delta:g})-DP makes {right} of {guesses} correct "
            f"membership guesses on {m} canaries less likely than {1 - level:.2g}"
        ),
        evidence=evidence,
    )
    verdict.duration = time.perf_counter() - started
    verdict.message += (
        f"\n  audit     {right} of {guesses} guesses right on {m} canaries "
        f"({int(inside.sum())} inserted): eps >= {lower:.3g} with {level:.0%} confidence"
        f"\n  note      a pass is not a proof of DP; only a failure is conclusive"
    )
    return verdict


def _claim(claimed_epsilon: Any, delta: Any, confidence: Any) -> tuple[float, float, float]:
    """The claim's eps and delta, and the audit's confidence, validated."""
    epsilon = _positive("claimed_epsilon", claimed_epsilon)
    delta = 0.0 if delta is None else delta
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 <= delta < 1:
        raise GateError(f"delta={delta!r}: give the claim's delta, 0 <= delta < 1 (e.g. 1e-5)")
    level = 0.95 if confidence is None else confidence
    if level not in LEVELS:
        raise GateError(f"confidence={confidence!r}: use one of {', '.join(map(str, LEVELS))}")
    return epsilon, float(delta), float(level)


def _canary_count(
    canaries: Any, dataset: Dataset, epsilon: float, delta: float, level: float
) -> tuple[int, int]:
    """Canaries and guesses; too few to refute the claim even when all guesses are right
    is an error that says how many are needed."""
    m = min(DEFAULT_CANARIES, len(dataset)) if canaries is None else canaries
    require_count("canaries", m, at_least=MIN_CANARIES)
    if m > len(dataset):
        raise GateError(
            f"canaries={m} but dataset {dataset.name!r} has {len(dataset)} rows to make them "
            "from: lower canaries= or give more held-out rows"
        )
    guesses = guesses_for(m)
    best = epsilon_lower_bound(m, guesses, guesses, delta, 1 - level)
    if best <= epsilon:
        needed = canaries_needed(epsilon, delta, 1 - level)
        if needed is None:
            raise GateError(
                f"this audit cannot refute eps={epsilon:g} at delta={delta:g} with any number "
                "of canaries: each one adds 2*delta to the chance that (eps, delta)-DP "
                "explains the guesses, so the eps that every guess right proves peaks below "
                "the claim and then falls. The claim is beyond what one training run can "
                "audit: gate a smaller eps, or a smaller delta"
            )
        proves = (
            f"{m} canaries cannot refute eps={epsilon:g}: even with every one of its "
            f"{guesses} guesses right the audit proves at most eps={best:.4g} at "
            f"{level:.0%} confidence."
        )
        if needed < m:
            raise GateError(
                f"{proves} Use canaries={needed}: with delta > 0 each canary adds 2*delta "
                "to what (eps, delta)-DP explains, so here fewer canaries prove more (or "
                "gate a smaller delta)"
            )
        raise GateError(
            f"{proves} Use canaries={needed} or more (the dataset must have "
            "that many held-out rows), or a lower confidence="
        )
    return m, guesses


def _one_run(
    model: Any,
    dataset: Dataset,
    members: Dataset,
    trainer: Callable[..., Any],
    m: int,
    guesses: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Train once with a random half of ``m`` wrong-label canaries inserted (interleaved
    with the members, in an order drawn from the seed); guess the lowest-loss canaries in
    and the highest-loss out: which were inserted, and how many guesses were right."""
    from pytest_modelguard.adapters import adapt
    from pytest_modelguard.checks.privacy.membership import (
        _train,
        concat,
        confidence_score,
        shuffled,
        take,
        trainer_seed,
    )

    rng = np.random.default_rng([seed, 13])
    chosen = np.sort(rng.choice(len(dataset), m, replace=False))
    canary_set = take(dataset, chosen, name="canaries")
    classes = np.unique(np.r_[members.target, dataset.target])
    if len(classes) < 2:
        raise GateError("canaries get a wrong label: the target needs at least two classes")
    canary_set.target = _wrong_labels(canary_set.target, classes, rng)
    inside = rng.random(m) < 0.5
    orders = np.random.default_rng([seed, 17])  # canaries interleaved with the members
    inserted = concat(members, take(canary_set, np.flatnonzero(inside)), name="train+canaries")
    training = shuffled(inserted, orders, name=inserted.name)
    audited = _train(trainer, training, trainer_seed(seed, 0))
    output = adapt(audited).outputs(canary_set)
    _require_a_new_training(model, audited, output, canary_set)
    swapped = concat(members, take(canary_set, np.flatnonzero(~inside)), name="train+others")
    swapped = shuffled(swapped, orders, name=swapped.name)
    probe = _train(trainer, swapped, trainer_seed(seed, 0))  # same seed, other canaries
    _require_the_canaries_to_matter(audited, probe, output, canary_set)
    scores = confidence_score(output, canary_set.target)
    order = np.argsort(-scores, kind="stable")
    top, bottom = order[: guesses // 2], order[m - guesses // 2 :]
    return inside, int(inside[top].sum() + (~inside[bottom]).sum())


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise GateError(f"{name}={value!r}: give a positive number")
    if not math.isfinite(value):
        raise GateError(f"{name}={value!r}: give a finite number")
    return float(value)


def guesses_for(m: int) -> int:
    """How many canaries the auditor guesses on (half in, half out), fixed before looking."""
    return max(2 * MIN_GUESSES, 2 * int(m * GUESS_FRACTION / 2))


def _require_a_new_training(model: Any, audited: Any, output: Any, canaries: Dataset) -> None:
    """A trainer that hands back the deployed model (or one scoring exactly like it) never
    saw the canaries: the audit would find nothing and pass, whatever the claim."""
    if model is None:
        return
    if _scores_like(model, audited, output, canaries):
        raise GateError(
            "the trainer returned a model that scores the canaries exactly like the model "
            "under test: it ignores the subset it is given (e.g. returns a fitted model "
            "from a closure), so the canaries never reached training; make trainer(subset) "
            "train a new model on subset"
        )


def _require_the_canaries_to_matter(
    audited: Any, probe: Any, output: Any, canaries: Dataset
) -> None:
    """A second training, with the same seed but the other half of the canaries, must give
    another model: a trainer that ignores its rows (returns a fitted model, or retrains on
    the original data) gives the same one, and the audit would pass any claim. This needs
    no model under test, and a DP trainer passes it: its noise hides single rows, not the
    swap of half the canaries, and the same seed makes the noise itself no difference."""
    if _scores_like(probe, audited, output, canaries):
        raise GateError(
            "the trainer ignores the subset it is given: trained with the same seed on the "
            "other half of the canaries it returned a model that scores every canary exactly "
            "as before (it returns a fitted model from a closure, or retrains on the "
            "original data), so the canaries never reached training and the audit would "
            "pass any claim; make trainer(subset) train a new model on subset"
        )


def _scores_like(model: Any, audited: Any, output: Any, canaries: Dataset) -> bool:
    """Whether ``model`` is the audited model, or scores every canary exactly as it did."""
    from pytest_modelguard.adapters import adapt

    if model is audited:
        return True
    return np.array_equal(
        np.asarray(adapt(model).outputs(canaries).array), np.asarray(output.array)
    )


def _wrong_labels(labels: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each canary's label replaced by another class, drawn at random."""
    position = np.searchsorted(classes, labels)
    shift = rng.integers(1, len(classes), size=len(labels))
    return classes[(position + shift) % len(classes)]


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """P[at least ``v`` of ``r`` guesses right] under (eps, delta)-DP with ``m`` canaries
    (Steinke et al. 2023, Theorem 5.2 as computed in their Appendix D)."""
    from scipy.stats import binom

    q = 1 / (1 + math.exp(-epsilon))  # accuracy of eps-DP randomised response
    beta = float(binom.sf(v - 1, r, q))
    if delta == 0:
        return min(beta, 1.0)
    pmf = binom.pmf(np.arange(v - 1, -1, -1), r, q)  # P[B = v-1], P[B = v-2], ...
    alpha = float(np.max(np.cumsum(pmf) / np.arange(1, v + 1), initial=0.0))
    return min(beta + alpha * delta * 2 * m, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, p: float) -> float:
    """The largest eps that ``v`` right of ``r`` guesses reject at level ``p`` (0 if none)."""
    if p_value(m, r, v, 0.0, delta) >= p:
        return 0.0
    low, high = 0.0, EPS_CEILING
    if p_value(m, r, v, high, delta) < p:
        return high
    for _ in range(60):
        mid = (low + high) / 2
        if p_value(m, r, v, mid, delta) < p:
            low = mid
        else:
            high = mid
    return low


def canaries_needed(epsilon: float, delta: float, p: float) -> int | None:
    """The fewest canaries with which perfect guesses refute ``epsilon``, never below
    MIN_CANARIES (the fewest the audit runs with). None: no count up to MAX_CANARIES does;
    with delta > 0 more canaries stop helping: each adds 2*delta to what DP explains, so
    the best provable eps rises, peaks and falls, and the search stops once it falls."""
    m, previous = MIN_CANARIES, -1.0
    while m <= MAX_CANARIES:
        r = guesses_for(m)
        best = epsilon_lower_bound(m, r, r, delta, p)
        if best < previous and guesses_for(m // 2) > 2 * MIN_GUESSES:
            return None  # past the peak (once guesses grow with m): more canaries prove less
        previous = best
        if best > epsilon:
            low, high = max(m // 2, MIN_CANARIES - 1), m  # never below the audit's minimum
            while high - low > 1:
                mid = (low + high) // 2
                r = guesses_for(mid)
                if epsilon_lower_bound(mid, r, r, delta, p) > epsilon:
                    high = mid
                else:
                    low = mid
            return high
        m *= 2
    return None


def verify_privacy_claim(
    claim: Any, dataset: Dataset | None, members: Dataset | None, trainer: Any, seed: int
) -> dict[str, Any]:
    """A model card's ``privacy: {epsilon: ..., delta: ...}`` claim, audited: the claim
    entry of a transparency verdict (overstatement: how far the proven eps exceeds it).
    Whether the claim holds (``ok``) is the transparency gate's decision, made with its
    tolerance for every claim alike."""
    if not isinstance(claim, dict) or "epsilon" not in claim:
        raise GateError(
            f"the card's privacy: {claim!r} is not a claim: write privacy: {{epsilon: 1.5, "
            "delta: 1e-5}} for a model trained with (eps, delta)-differential privacy"
        )
    if trainer is None:
        raise GateError(
            "the card claims differential privacy: verifying it audits a training run, so "
            "give a training function (a fixture named train_model, or trainer='...')"
        )
    verdict = dp_audit_gate(
        None, dataset, members, claimed_epsilon=claim["epsilon"], delta=claim.get("delta"),
        trainer=trainer, seed=seed,
    )  # fmt: skip
    lower, claimed = float(verdict.value), float(claim["epsilon"])  # type: ignore[arg-type]
    return {
        "claim": "privacy.epsilon",
        "metric": "epsilon_lower_bound",
        "sensitive": None,
        "claimed": claimed,
        "measured": lower,
        "difference": round(lower - claimed, 12),
        "overstatement": lower - claimed,  # unrounded: the privacy gate decides on raw floats
        "better": "lower",
        "n": verdict.n,
        "confidence": verdict.evidence["confidence"],
        "note": "the audit's lower bound on eps; a claim it does not refute is not proven",
    }
