"""LiRA: membership inference with shadow models (Carlini et al. 2022, "Membership
Inference Attacks From First Principles"), gated on the true-positive rate at a low
false-positive rate.

A loss threshold and its AUC measure the average case; what matters to a member is
whether an attacker can pick them out with near certainty. LiRA trains ``k`` shadow
models, each on a random half of a pool of members and non-members (every row is in
exactly half of them), and compares the target model's confidence on a row with the
confidences of shadows that did (online) and did not (offline) train on it: a per-row
likelihood ratio. The cost is ``k`` trainings and ``k + 1`` inference passes over the
pool, nothing more.

Without a training function the gate runs the score attacks of
:mod:`pytest_modelguard.checks.privacy` (loss, confidence) on the same scale and says
that the figure is a lower bound.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pytest_modelguard.adapters import ModelOutput, adapt
from pytest_modelguard.checks._gate import decide
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.verdict import GateError, Verdict, require_count

FPRS = (0.001, 0.01)  # the false-positive rates every verdict reports
MIN_SHADOWS = 2
CI_LEVEL = 0.95
MIN_VARIANCE = 1e-4  # a floor on the fitted variance of the confidence of a row
ROC_POINTS = 61  # log-spaced points of the reported ROC
IDENTICAL = 1e-6  # outputs closer than this on every row are the same model
#: how many standard errors (of the no-effect null) a row's presence in a shadow's training
#: set must raise that shadow's confidence on it, on average: below it, the shadows do not
#: depend on their subsets and LiRA measures nothing
MIN_INCLUSION_Z = 3.0
PERMUTATIONS = 200  # inclusion shuffles that give the null distribution of the effect
#: when that is inconclusive, models trained on different subsets must differ this many
#: times as much as two trainings on one subset (a trainer that ignores it gives about 1)
MIN_PROBE_RATIO = 1.25


def lira_gate(
    model: Any,
    dataset: Dataset,
    members: Dataset | None,
    *,
    max_tpr_at_fpr: Mapping[float, float],
    trainer: Callable[..., Any] | None = None,
    shadow_models: int | None = None,
    samples: int | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate the TPR of membership inference at low FPRs: ``max_tpr_at_fpr={0.001: 0.01}``.

    ``members`` are the target model's training rows, ``dataset`` rows it never saw;
    ``trainer(subset: Dataset) -> model`` trains a model like the target on a subset (it
    may take ``seed=``). ``shadow_models`` (default: the profile's) shadows are trained
    on random halves of ``samples`` members plus as many non-members. The strongest of
    LiRA online, LiRA offline and the loss attack decides.
    """
    started = time.perf_counter()
    limits = _limits(max_tpr_at_fpr)
    from pytest_modelguard.checks.privacy import _members

    if model is None:
        raise GateError("membership inference attacks a model: pass the model")
    members = _members(members, dataset)
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError(
            "stored Predictions cannot be attacked with shadow models: gate the model itself"
        )
    k = shadow_models if shadow_models is not None else (profile or PROFILES["dev"]).shadow_models
    m = _check_request(k, trainer, samples, members, dataset)
    rng = np.random.default_rng([seed, 12])
    pool = concat(
        take(members, _sample(rng, len(members), m)),
        take(dataset, _sample(rng, len(dataset), m)),
        name=f"{members.name}+{dataset.name}",
    )
    is_member = np.r_[np.ones(m, bool), np.zeros(m, bool)]
    target_output = adapter.outputs(pool)
    target_score = confidence_score(target_output, pool.target)
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "members": members.name,
        "dataset": dataset.name,
        "n_members": m,
        "n_non_members": m,
        "fpr_resolution": 1.0 / m,
        "roc_scale": "log",
    }
    scores: dict[str, np.ndarray] = {"loss": target_score}
    if trainer is None:
        scores["confidence"] = _confidence_attack(target_output)
        evidence["bound"] = (
            "lower bound: no trainer= fixture, so no shadow models; LiRA (stronger) needs a "
            "function that trains the model on a given subset"
        )
    else:
        online, offline, shadow_evidence = _shadow_attack(
            trainer, pool, target_output, target_score, k, rng, seed, is_member
        )
        scores["lira_online"], scores["lira_offline"] = online, offline
        evidence.update(shadow_evidence)
        evidence["bound"] = "LiRA with shadow models: the strongest attack the gate knows"
    attacks = {name: roc_at(scores[name], is_member) for name in scores}
    verdict = _lira_verdict(attacks, limits, evidence, m)
    verdict.duration = time.perf_counter() - started
    return verdict


def _check_request(k: Any, trainer: Any, samples: Any, members: Dataset, dataset: Dataset) -> int:
    """Validate the shadow count, the trainer and the sample size: members per side."""
    from pytest_modelguard.checks.privacy import MIN_SAMPLES

    if isinstance(k, bool) or not isinstance(k, int) or k < MIN_SHADOWS or k % 2:
        raise GateError(
            f"shadow_models={k!r}: use an even number of at least {MIN_SHADOWS} (each row "
            "is in half of them)"
        )
    if trainer is not None and not callable(trainer):
        raise GateError(
            f"trainer= is a {type(trainer).__name__}, not a function: name a fixture that "
            "returns a function trainer(subset: Dataset) -> model"
        )
    m = min(len(members), len(dataset), samples or len(members))
    if samples is not None:
        require_count("samples", samples, at_least=MIN_SAMPLES)
    if m < MIN_SAMPLES:
        raise GateError(
            f"membership inference needs at least {MIN_SAMPLES} members and non-members; got "
            f"{len(members)} and {len(dataset)}: add rows"
        )
    return m


def _shadow_attack(
    trainer: Callable[..., Any],
    pool: Dataset,
    target_output: ModelOutput,
    target_score: np.ndarray,
    k: int,
    rng: np.random.Generator,
    seed: int,
    pool_members: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Train ``k`` shadows on balanced halves of the pool, check that they follow their
    subsets, and score every row with LiRA online and offline."""
    inclusion = balanced_inclusion(k, len(pool), rng)
    rows = training_orders(inclusion, seed)
    shadow = np.empty((k, len(pool)))
    outputs = []
    for i in range(k):
        subset = take(pool, rows[i], name=f"shadow-{i}")
        output = adapt(_train(trainer, subset, trainer_seed(seed, i))).outputs(pool)
        outputs.append(output.array)
        shadow[i] = confidence_score(output, pool.target)
    _check_shadows(outputs, target_output.array)
    effect = inclusion_effect(shadow, inclusion, np.random.default_rng([seed, 13]))
    effect.update(_effect_by_side(shadow, inclusion, pool_members, seed))
    if effect["z"] < MIN_INCLUSION_Z:  # inconclusive: one more training decides
        subset = take(pool, rows[0], name="probe")  # shadow 0's rows, in its order
        probe = adapt(_train(trainer, subset, trainer_seed(seed, k))).outputs(pool)
        effect.update(probe_ratio(shadow, confidence_score(probe, pool.target)))
        _check_probe(effect)
    online, offline = lira_scores(target_score, shadow, inclusion)
    extra = int("probe_ratio" in effect)
    evidence = {
        "shadow_models": k,
        "trainings": k + extra,
        "inference_passes": k + 1 + extra,
        "inclusion_effect": effect,
    }
    return online, offline, evidence


def _lira_verdict(
    attacks: dict[str, RocCurve], limits: dict[float, float], evidence: dict[str, Any], m: int
) -> Verdict:
    """Decide on the FPR whose TPR exceeds its limit most (or comes closest)."""
    evidence["attacks"] = {name: curve.summary(limits) for name, curve in attacks.items()}
    best = {fpr: max(c.tpr_at(fpr) for c in attacks.values()) for fpr in limits}
    fpr = max(limits, key=lambda f: best[f] - limits[f])
    strongest = max(attacks, key=lambda name: attacks[name].tpr_at(fpr))
    evidence["strongest"] = strongest
    tpr = best[fpr]
    _check_resolution(attacks, limits, best, m)
    _check_chance(tpr, fpr, limits[fpr], m, len(attacks))
    verdict = decide(
        requirement="privacy",
        metric="tpr_at_fpr",
        values=np.array([tpr]),
        operator="<=",
        threshold=float(limits[fpr]),
        n=2 * m,
        formula=(
            f"max over attacks of the share of members scored above every threshold that "
            f"calls at most {fpr:g} of the non-members members"
        ),
        evidence=evidence,
    )
    verdict.ci = clopper_pearson(round(tpr * m), m, CI_LEVEL)
    verdict.message += f"\n  at FPR    {fpr:g} ({strongest} attack, {m} members, {m} non-members)"
    verdict.message += "\n  attacks   " + "; ".join(
        f"{name}: " + ", ".join(f"TPR@{f:g}={c.tpr_at(f):.4g}" for f in FPRS) + f", AUC={c.auc:.3g}"
        for name, c in attacks.items()
    )
    verdict.message += f"\n  bound     {evidence['bound']}"
    return verdict


def _check_resolution(
    attacks: dict[str, RocCurve], limits: dict[float, float], best: dict[float, float], m: int
) -> None:
    """A pass read where no threshold can reach the FPR is no measurement: an error.

    When the top tie of an attack's scores (saturated outputs, a tree's 0/1 leaves) holds
    more non-members than the FPR allows, every threshold but "nobody" lies beyond it and
    the TPR there reads 0 whatever the model leaks. LiRA decides when it ran; without
    shadows every attack must resolve the rate.
    """
    deciding = [n for n in attacks if n.startswith("lira")] or list(attacks)
    for fpr, limit in limits.items():
        if best[fpr] > limit:
            continue  # a threshold that does resolve already exceeds the limit: a fair fail
        first = {n: float(attacks[n].fpr[attacks[n].fpr > 0].min()) for n in deciding}
        if min(first.values()) > max(fpr, 1.0 / m) + 1e-12:
            ties = ", ".join(f"{name} {share:.2%}" for name, share in first.items())
            raise GateError(
                f"no attack can resolve FPR {fpr:g}: the highest scores tie on more of the "
                f"non-members than that ({ties}), so the only threshold below that rate calls "
                "nobody a member and reads TPR 0 whatever the model leaks. Use more "
                "shadow_models= (the release profile), a model whose scores tie less (not 0/1 "
                "probabilities), or gate a higher FPR"
            )


def _check_chance(tpr: float, fpr: float, limit: float, m: int, n_attacks: int) -> None:
    """Below one non-member in 1/FPR, the TPR is read at zero false positives, where a
    model that never saw the rows still ranks a member first about half the time: a TPR
    above the limit there fails only when chance explains it less than 1 - CI_LEVEL."""
    if tpr <= limit or fpr * m >= 1:
        return
    k = round(tpr * m)
    # P[the k highest of m members and m non-members, ranked at random, are all members]
    chance = math.exp(
        math.lgamma(m + 1) - math.lgamma(m - k + 1) - math.lgamma(2 * m + 1)
        + math.lgamma(2 * m - k + 1)
    )  # fmt: skip
    chance = min(1.0, chance * n_attacks)  # the strongest of the attacks decides
    if chance >= 1 - CI_LEVEL:
        raise GateError(
            f"{k} of {m} members score above every non-member (TPR {tpr:.3g} > {limit:g}), "
            f"but with {m} non-members FPR {fpr:g} cannot be resolved (one false positive "
            f"is {1 / m:.3g}) and a model that never saw the rows does this with "
            f"probability {chance:.2g}: give at least {math.ceil(1 / fpr)} non-members "
            "(samples= and the dataset), or gate a higher FPR"
        )


def _limits(max_tpr_at_fpr: Any) -> dict[float, float]:
    if not isinstance(max_tpr_at_fpr, Mapping) or not max_tpr_at_fpr:
        raise GateError(
            f"max_tpr_at_fpr={max_tpr_at_fpr!r}: give a dict from false-positive rate to the "
            "largest true-positive rate allowed there, e.g. {0.001: 0.01}"
        )
    limits = {}
    for fpr, tpr in max_tpr_at_fpr.items():
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (fpr, tpr))
        if not numbers or not 0 < fpr < 1 or not 0 <= tpr <= 1:
            raise GateError(
                f"max_tpr_at_fpr={{{fpr!r}: {tpr!r}}}: a false-positive rate in (0, 1) maps to "
                "a true-positive rate in [0, 1]"
            )
        if tpr >= 1:
            raise GateError(
                f"max_tpr_at_fpr={{{fpr!r}: {tpr!r}}} cannot fail: a true-positive rate never "
                "exceeds 1; give the largest share of members an attacker may identify"
            )
        limits[float(fpr)] = float(tpr)
    return limits


def trainer_seed(seed: int, run: int) -> int:
    """A 31-bit seed for training run ``run`` of a gate (frameworks take small seeds)."""
    return int(np.random.SeedSequence([seed & (2**63 - 1), run]).generate_state(1)[0] >> 1)


def _train(trainer: Callable[..., Any], subset: Dataset, seed: int) -> Any:
    try:
        takes_seed = "seed" in inspect.signature(trainer).parameters
    except (TypeError, ValueError):
        takes_seed = False
    try:
        return trainer(subset, seed=seed) if takes_seed else trainer(subset)
    except GateError:
        raise
    except Exception as exc:
        raise GateError(
            f"the trainer raised {type(exc).__name__}: {exc} (it gets a Dataset of the rows "
            "to train on and returns a model)"
        ) from exc


def _check_shadows(outputs: list[np.ndarray], target: np.ndarray) -> None:
    """Shadows that ignore their training rows make LiRA measure nothing: an error."""
    same_as_target = all(
        o.shape == target.shape and np.max(np.abs(o - target)) < IDENTICAL for o in outputs
    )
    same_as_each_other = all(
        o.shape == outputs[0].shape and np.max(np.abs(o - outputs[0])) < IDENTICAL
        for o in outputs[1:]
    )
    if same_as_target or same_as_each_other:
        what = "the target model" if same_as_target else "each other"
        raise GateError(
            f"every shadow model predicts exactly like {what}: the trainer ignores the subset "
            "it is given (a fixture that returns the trained model, or trains on all the "
            "data). It must train a new model on exactly the rows of the Dataset it receives"
        )


def inclusion_effect(
    shadow: np.ndarray, inclusion: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """How much training on a row raises a shadow's confidence on it, against chance.

    ``effect`` is the mean over rows of (mean score of the shadows that trained on the row
    minus the mean of those that did not), on LiRA's logit scale. A trainer that uses its
    subset gives every row a positive expected effect: an empirical-risk minimiser never
    fits a row worse for having it in its data, however well it generalises, and 2m rows
    average the noise away. A trainer that ignores the subset (the model under test with
    some jitter, or a closure that trains on the full data with a new seed) gives an effect
    that is noise around 0. ``z`` is the effect in standard deviations of its distribution
    when the inclusion matrix is shuffled within each row (each row still in half of the
    shadows), which is what an ignored subset looks like.
    """

    def effect_of(mask: np.ndarray) -> float:
        k_in = mask.sum(axis=0)
        inside = (shadow * mask).sum(axis=0) / k_in
        outside = (shadow * ~mask).sum(axis=0) / (len(mask) - k_in)
        return float(np.mean(inside - outside))

    observed = effect_of(inclusion)
    null = np.array([
        effect_of(np.take_along_axis(inclusion, rng.random(inclusion.shape).argsort(axis=0), 0))
        for _ in range(PERMUTATIONS)
    ])  # fmt: skip
    spread = float(null.std())
    z = observed / spread if spread > 0 else (math.inf if observed > 0 else 0.0)
    return {"effect": observed, "null_sd": spread, "z": z, "permutations": PERMUTATIONS}


def _effect_by_side(
    shadow: np.ndarray, inclusion: np.ndarray, pool_members: np.ndarray, seed: int
) -> dict[str, float]:
    """The inclusion effect on the target's members and on its non-members, separately.

    The shadows draw their halves from the pool blind to which rows the target trained on,
    so an honest trainer gains the same on both sides, up to noise. A trainer that adds
    rows of its own (its subset and every member, say) gains nothing on the rows it always
    sees and everything on the others: the pooled effect looks healthy while LiRA's
    "in" and "out" shadows agree on the members and the attack is neutralised.
    """
    sides = {"members": pool_members, "non_members": ~pool_members}
    found = {
        side: inclusion_effect(
            shadow[:, rows], inclusion[:, rows], np.random.default_rng([seed, 14])
        )
        for side, rows in sides.items()
    }
    gap = found["non_members"]["effect"] - found["members"]["effect"]
    spread = math.hypot(found["members"]["null_sd"], found["non_members"]["null_sd"])
    gap_z = gap / spread if spread > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
    result = {f"z_{side}": found[side]["z"] for side in sides}
    result |= {f"effect_{side}": found[side]["effect"] for side in sides}
    result["side_gap_z"] = gap_z
    if abs(gap_z) >= MIN_INCLUSION_Z:
        raise GateError(
            f"the shadow models gain {found['members']['effect']:.3g} on the logit scale from "
            f"training on a row of the target's members but {found['non_members']['effect']:.3g} "
            f"on a non-member row, {abs(gap_z):.2g} standard deviations apart, though their "
            "halves are drawn blind to that difference. The trainer adds rows to the subset "
            "it is given (e.g. subset + the training data), which neutralises LiRA; it must "
            "train on exactly the rows it receives"
        )
    return result


def probe_ratio(shadow: np.ndarray, probe: np.ndarray) -> dict[str, float]:
    """How much more shadows on different subsets differ than two trainings on one subset.

    ``probe`` is a second training on shadow 0's subset (another seed). A trainer that uses
    its subset gives models that differ more across subsets (data and seed) than within one
    (seed alone; nothing for a deterministic trainer); one that ignores it gives models
    that differ by the same noise either way (ratio about 1). Unlike the inclusion effect,
    this does not need membership to leave a trace, so a model that generalises well
    passes it: its shadows still differ with their data.
    """
    same = float(np.median(np.abs(probe - shadow[0])))  # medians: a few saturated rows
    across = float(np.median(np.abs(shadow[1:] - shadow[0])))  # must not decide
    ratio = across / same if same > 0 else (math.inf if across > 0 else 1.0)
    return {"probe_same_subset": same, "probe_other_subsets": across, "probe_ratio": ratio}


def _check_probe(effect: dict[str, float]) -> None:
    """Shadows that differ no more across subsets than within one ignore their subset."""
    if effect["probe_ratio"] >= MIN_PROBE_RATIO:
        return
    raise GateError(
        f"the shadow models do not depend on the rows they are given: they are no more "
        f"confident on their own training rows (mean gain {effect['effect']:.3g} on the "
        f"logit scale, {effect['z']:.2g} standard deviations of chance), and models trained "
        f"on different subsets differ only {effect['probe_ratio']:.3g}x as much as two "
        f"trainings on the same subset (at least {MIN_PROBE_RATIO:g}x needed). The trainer "
        "ignores the subset it is given: it returns the model under test (perhaps with "
        "noise), or a closure trains on the full data. It must train a new model on exactly "
        "the rows of the Dataset it receives"
    )


def training_orders(inclusion: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each shadow's rows of the pool, in an order drawn from the seed.

    The pool lists the members first and the non-members last: in pool order a trainer
    that ignores the tail of its data (Keras' ``validation_split=`` holds out the last
    rows) would never train on a non-member, and the shadows would not follow their
    subsets the same way on both sides.
    """
    orders = np.random.default_rng([seed, 16])
    return [orders.permutation(np.flatnonzero(included)) for included in inclusion]


def balanced_inclusion(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(k, n)`` boolean matrix: every row is in exactly ``k / 2`` of the shadows."""
    order = np.argsort(rng.random((k, n)), axis=0)
    return order < k // 2


def confidence_score(output: ModelOutput, target: np.ndarray) -> np.ndarray:
    """LiRA's statistic: the logit of the probability of the true class,
    ``log p_y - log(1 - p_y)``, computed from log-probabilities (stable near 0 and 1)."""
    from pytest_modelguard.checks.privacy import _columns_of, _log_probabilities

    if output.kind not in ("probabilities", "logits"):
        raise GateError(
            f"membership inference needs class scores, but the model returns {output.kind}: "
            "return probabilities or logits"
        )
    log_p = _log_probabilities(output.array.astype(np.float64), output.kind)
    column = _columns_of(target, output, log_p.shape[1])
    rows = np.arange(len(target))
    own = log_p[rows, column]
    others = log_p.copy()
    others[rows, column] = -np.inf
    rest = np.logaddexp.reduce(others, axis=1)
    return own - rest


def _confidence_attack(output: ModelOutput) -> np.ndarray:
    from pytest_modelguard.checks.privacy import _log_probabilities

    return _log_probabilities(output.array.astype(np.float64), output.kind).max(axis=1)


def lira_scores(
    target: np.ndarray, shadow: np.ndarray, inclusion: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Online and offline LiRA scores (higher: more likely a member).

    Online: the log-likelihood ratio of the target's statistic under Gaussians fitted to
    the shadows with and without the row. Offline: how far above the shadows without the
    row it lies, in their standard deviations. With few shadows a per-row variance is
    noise, so the variance is shared across rows (as Carlini et al. do below 64 shadows).
    """
    inside = np.where(inclusion, shadow, np.nan)
    outside = np.where(~inclusion, shadow, np.nan)
    mu_in, mu_out = np.nanmean(inside, axis=0), np.nanmean(outside, axis=0)
    var_in = max(float(np.nanmean((inside - mu_in) ** 2)), MIN_VARIANCE)
    var_out = max(float(np.nanmean((outside - mu_out) ** 2)), MIN_VARIANCE)
    online = (
        -((target - mu_in) ** 2) / (2 * var_in)
        + ((target - mu_out) ** 2) / (2 * var_out)
        - 0.5 * math.log(var_in / var_out)
    )
    offline = (target - mu_out) / math.sqrt(var_out)
    return online, offline


class RocCurve:
    """The ROC of one attack: TPR at every FPR, read conservatively (FPR <= the rate)."""

    def __init__(self, fpr: np.ndarray, tpr: np.ndarray, auc: float) -> None:
        self.fpr, self.tpr, self.auc = fpr, tpr, auc

    def tpr_at(self, rate: float) -> float:
        """The largest TPR of a threshold whose FPR is at most ``rate``."""
        return float(self.tpr[self.fpr <= rate + 1e-12].max())

    def summary(self, limits: Mapping[float, float]) -> dict[str, Any]:
        rates = sorted({*FPRS, *limits})
        grid = np.unique(np.r_[0.0, np.logspace(-4, 0, ROC_POINTS)])
        return {
            **{f"tpr_at_fpr_{r:g}": self.tpr_at(r) for r in rates},
            "auc": self.auc,
            "roc": {
                "fpr": grid.round(6).tolist(),
                "tpr": [round(self.tpr_at(r), 5) for r in grid],
            },
        }


def roc_at(scores: np.ndarray, is_member: np.ndarray) -> RocCurve:
    """The ROC of ``scores`` (ties: one threshold), with the rank AUC."""
    order = np.argsort(-scores, kind="stable")
    ranked, labels = scores[order], is_member[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    tp = np.cumsum(labels)[ends]
    fp = ends + 1 - tp
    tpr = np.r_[0.0, tp / max(labels.sum(), 1)]
    fpr = np.r_[0.0, fp / max((~labels).sum(), 1)]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)
    return RocCurve(fpr, tpr, auc)


def clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion."""
    from scipy.stats import beta

    alpha = 1 - level
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


# -- datasets as row subsets -------------------------------------------------------------


def take(dataset: Dataset, rows: np.ndarray, *, name: str | None = None) -> Dataset:
    """The rows ``rows`` of an in-memory dataset, as a new :class:`Dataset`."""
    features = dataset.features
    features = features.iloc[rows] if dataset.is_dataframe else np.asarray(features)[rows]
    if dataset.is_dataframe:
        features = features.reset_index(drop=True)
    return Dataset(
        features,
        dataset.target[rows],
        sensitive={k: v[rows] for k, v in dataset.sensitive.items()},
        feature_names=dataset.feature_names,
        bounds=dataset.bounds,
        kind=dataset.kind,
        name=name or dataset.name,
    )


def shuffled(dataset: Dataset, rng: np.random.Generator, *, name: str) -> Dataset:
    """The rows of ``dataset`` in a random order: a trainer may treat its rows unequally
    by position (a validation split off the end, a time-ordered split), so rows the gate
    adds must not sit in a block."""
    return take(dataset, rng.permutation(len(dataset)), name=name)


def concat(first: Dataset, second: Dataset, *, name: str) -> Dataset:
    """The rows of ``first`` then ``second`` (same features, checked by the caller)."""
    if first.is_dataframe:
        import pandas as pd

        features: Any = pd.concat([first.features, second.features], ignore_index=True)
    else:
        features = np.concatenate([np.asarray(first.features), np.asarray(second.features)])
    shared = set(first.sensitive) & set(second.sensitive)
    return Dataset(
        features,
        np.concatenate([first.target, second.target]),
        sensitive={k: np.concatenate([first.sensitive[k], second.sensitive[k]]) for k in shared},
        feature_names=first.feature_names,
        bounds=first.bounds,
        kind=first.kind,
        name=name,
    )


def _sample(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return np.arange(n) if m == n else np.sort(rng.choice(n, m, replace=False))
