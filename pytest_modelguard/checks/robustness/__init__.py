"""Robustness: predictions that survive adversarial attacks, perturbations, and directions.

:func:`robust` is the one entry point. ``monotonic=`` makes it a monotonicity gate and
``perturbation=`` a perturbation gate (both in their own modules, loaded when used);
otherwise it is an adversarial gate: foolbox attacks a stratified sample of rows (through
:mod:`pytest_modelguard.checks.robustness.attacks`; by default the worst case over an
ensemble of attacks, whose gradient-masking checks make an unreliable evaluation an error)
and the accuracy left is gated.
"""

from __future__ import annotations

import math
import time
from statistics import NormalDist
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.adapters import adapt
from pytest_modelguard.checks._gate import UNIT, check_threshold, decide, one_threshold
from pytest_modelguard.checks.robustness.attacks import stratified_rows
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.spec import Fixture, Kind, Needs, Reports, dispatch, requirement
from pytest_modelguard.core.verdict import GateError, Verdict, require_count

DEFAULT_MAX_ACCURACY_DROP = 0.05
CI_LEVEL = 0.95


@requirement(example='eps=0.03, attack="pgd"', rank=30, metric="accuracy_drop")
def robust(
    model: Any,
    dataset: Dataset,
    *,
    eps: float | list[float] | None = None,
    attack: str | None = None,
    norm: str | None = None,
    steps: int | None = None,
    restarts: int = 1,
    max_accuracy_drop: float | None = None,
    min_accuracy: Annotated[float | None, Reports("robust_accuracy")] = None,
    samples: int = 500,
    bounds: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
    perturbation: Annotated[str | None, Reports("flip_rate")] = None,
    max_flip_rate: float | None = None,
    examples: int | None = None,
    immutable: list[str] | None = None,
    monotonic: Annotated[dict[str, str] | None, Reports("violation_rate")] = None,
    max_violation_rate: float | None = None,
    on: Annotated[str | None, Needs(when="prompts", model="required", data="optional")] = None,
    min_similarity: Annotated[
        float | None, Reports("answer_similarity"), Needs(model="required", encoder="optional")
    ] = None,
    encoder: Annotated[Any, Fixture("encoder")] = None,
    prompts: Annotated[Any, Fixture(), Needs(data="unused")] = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate how well ``model`` holds up: under attack, under perturbation, or in direction.

    Adversarial (the default): ``attack`` (for Keras/TensorFlow models ``ensemble``, the
    per-row worst case over PGD runs, DeepFool and HopSkipJump with the profile's
    effort and gradient-masking checks; ``hopskipjump`` for models without gradients, an
    upper bound; or one named attack, an upper bound) attacks ``samples`` stratified rows at each
    ``eps`` (one number, or a list for a robustness curve) in ``norm``, within ``bounds``
    (the marker's, else the dataset's; tabular data without bounds uses each feature's
    observed range and eps becomes a fraction of it). The gate is on the drop from clean
    accuracy (``max_accuracy_drop``, default 0.05; metric ``accuracy_drop``) or on the
    accuracy left (``min_accuracy``; metric ``robust_accuracy``); the worst eps decides.
    ``seed`` draws the sample and seeds TensorFlow right before the attack.
    A generative model: ``perturbation="typo", on="prompts", min_similarity=`` compares its
    answers to clean and perturbed prompts under ``encoder``.
    """
    keywords = {
        k: v for k, v in locals().items() if k not in ("model", "dataset", "seed", "profile")
    }
    return dispatch(
        "robust", KINDS, model, dataset, keywords, {"seed": seed, "profile": profile},
        fallback=KINDS[-1],
    )  # fmt: skip


def _prompt_robustness(model: Any, dataset: Any, *, on: Any, prompts: Any, **spec: Any) -> Verdict:
    """A generator's answers to clean and perturbed prompts, compared under an encoder."""
    from pytest_modelguard.generative.consistency import prompt_robustness_gate

    if on != "prompts":
        raise GateError(
            f"min_similarity= gates answers to perturbed prompts: add on='prompts' (got {on!r})"
        )
    return prompt_robustness_gate(model, prompts if prompts is not None else dataset, **spec)


#: the kinds of robust gate, each with the keywords it takes (seed and profile always apply);
#: a call that gives none of their triggers is an adversarial gate (the fallback)
KINDS = (
    Kind(
        "prompt robustness",
        triggers=("on", "min_similarity"),
        options=("perturbation", "eps", "encoder", "prompts", "examples", "confidence"),
        run=_prompt_robustness,
    ),
    Kind(
        "monotonic",
        triggers=("monotonic",),
        options=("max_violation_rate", "examples", "bounds"),
        run="pytest_modelguard.checks.robustness.directional:monotonic_gate",
    ),
    Kind(
        "perturbation",
        triggers=("perturbation",),
        options=("eps", "max_flip_rate", "examples", "immutable", "bounds"),
        run="pytest_modelguard.checks.robustness.perturbation:perturbation_gate",
    ),
    Kind(
        "adversarial",
        triggers=(),
        options=("eps", "attack", "norm", "steps", "restarts", "max_accuracy_drop",
                 "min_accuracy", "samples", "bounds"),
        run="pytest_modelguard.checks.robustness:adversarial",
    ),
)  # fmt: skip


# -- the adversarial gate --------------------------------------------------------------------


def adversarial(
    model: Any,
    dataset: Dataset,
    *,
    eps: float | list[float] | None,
    attack: str | None = None,
    norm: str | None = None,
    steps: int | None = None,
    restarts: int = 1,
    max_accuracy_drop: float | None = None,
    min_accuracy: float | None = None,
    samples: int = 500,
    bounds: tuple[float, float] | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """The adversarial gate of :func:`robust` (see there)."""
    started = time.perf_counter()
    from pytest_modelguard.checks.robustness import attacks

    epsilons = eps_values(eps)
    name, threshold, defaulted = _adversarial_threshold(max_accuracy_drop, min_accuracy)
    _check_subject(model, dataset, samples)
    adapter = adapt(model)
    request = _request(adapter, attack, norm, steps, restarts, profile)
    target = attacks.target_of(adapter, dataset, bounds, epsilons, request["norm"])
    rows = stratified_rows(dataset.target, samples, seed)
    if not target.correct[rows].any():
        raise GateError(
            f"the model classifies none of the {len(rows)} sampled rows of dataset "
            f"{dataset.name!r} correctly: there is no accuracy for an attack to take away "
            "(check the model, the labels and the class order)"
        )
    clean = target.correct[rows]
    if request["attack"] == ENSEMBLE:
        effort = profile or PROFILES["dev"]
        run, ensemble = _run_ensemble(target, rows, clean, epsilons, request, effort, seed)
    else:
        ensemble = None
        run = attacks.attack_target(
            target, rows, attack=request["attack"], norm=request["norm"], eps=epsilons,
            steps=request["steps"], restarts=request["restarts"], seed=seed,
        )  # fmt: skip
    evidence = {
        "model": adapter.name, "dataset": dataset.name, **request, "eps": epsilons,
        **target.bounds_evidence, "logits": run.logits,
        "clean_accuracy": float(clean.mean()),
        "clean_accuracy_all_rows": float(target.correct.mean()),
        "samples": len(rows), "stratified": len(rows) < len(dataset), "attack_seed": run.seed,
        "ci_level": CI_LEVEL,
        "ci_method": "Wilson score interval; the gate decides on the point estimate",
    }  # fmt: skip
    if ensemble is not None:
        evidence["ensemble"] = ensemble
    else:
        evidence["bound"] = _single_attack_bound(attacks.is_differentiable(adapter))
    if defaulted:
        evidence["threshold"] = f"max_accuracy_drop={DEFAULT_MAX_ACCURACY_DROP} (the default)"
    verdict = _adversarial_verdict(name, threshold, clean, run.success, epsilons, evidence)
    verdict.duration = time.perf_counter() - started
    return verdict


NO_GRADIENT_BOUND = "upper bound for a model without gradients"


def _single_attack_bound(differentiable: bool) -> str:
    """What one attack's robust accuracy means: the ensemble exists only with gradients."""
    if differentiable:
        return "upper bound: one attack; the default ensemble finds at least as much"
    return (
        f"{NO_GRADIENT_BOUND}: a decision-based attack can miss adversarial points "
        "(on a logistic regression at linf eps=0.2, 0.35 robust accuracy against an exact "
        "0.27); read it as at most this robust"
    )


def _adversarial_threshold(
    max_accuracy_drop: float | None, min_accuracy: float | None
) -> tuple[str, float, bool]:
    """The one threshold of an adversarial gate (the default drop when none is given)."""
    defaulted = max_accuracy_drop is None and min_accuracy is None
    if defaulted:
        max_accuracy_drop = DEFAULT_MAX_ACCURACY_DROP
    name, threshold = one_threshold(
        "robust", {"max_accuracy_drop": max_accuracy_drop, "min_accuracy": min_accuracy}
    )
    check_threshold(
        name,
        threshold,
        operator="<=" if name == "max_accuracy_drop" else ">=",
        within=UNIT,
        what="an accuracy drop" if name == "max_accuracy_drop" else "an accuracy",
    )
    return name, threshold, defaulted


def _check_subject(model: Any, dataset: Dataset, samples: Any) -> None:
    require_count("samples", samples, what="(rows to attack)")
    if isinstance(model, Predictions):
        raise GateError(
            "stored Predictions cannot be attacked: an adversarial gate runs the model on new "
            "inputs; give the model itself"
        )
    if dataset.kind == "text":
        raise GateError(
            f"dataset {dataset.name!r} is text: adversarial gates perturb numeric inputs; for "
            "text use perturbation= gates"
        )


#: HopSkipJump steps of the default attack on a model without gradients, by profile (else
#: the attack's 32): on a logistic regression at linf eps 0.2, 64 steps left 0.30 robust
#: accuracy against an exact 0.27 (32 steps: 0.35; 128 steps: 0.30 again, at 3x the time)
GRADIENT_FREE_STEPS = {"release": 64}


def _request(
    adapter: Any,
    attack: str | None,
    norm: str | None,
    steps: int | None,
    restarts: int,
    profile: Profile | None,
) -> dict[str, Any]:
    """The attack, norm, steps and restarts the gate runs, and why that attack."""
    from pytest_modelguard.checks.robustness import attacks

    differentiable = attacks.is_differentiable(adapter)
    if attack == ENSEMBLE or (attack is None and differentiable):
        norm, steps, restarts = _ensemble_request(adapter, norm, steps, restarts, profile)
        name = ENSEMBLE
    else:
        if attack is None and steps is None and profile is not None:
            steps = GRADIENT_FREE_STEPS.get(profile.name)  # None: the attack's default
        spec, norm, steps = attacks.resolve(adapter, attack, norm, steps, restarts)
        name = spec.name
    if attack is not None:
        chosen = "given by attack="
    elif differentiable:
        chosen = "the default for a model with gradients"
    else:
        chosen = (
            f"the default for a model without gradients ({adapter.name}): decision-based, "
            f"in {norm}, the norm of eps"
        )
    return {"attack": name, "attack_chosen": chosen, "norm": norm, "steps": steps,
            "restarts": restarts}  # fmt: skip


def _run_ensemble(
    target: Any,
    rows: np.ndarray,
    clean: np.ndarray,
    epsilons: list[float],
    request: dict[str, Any],
    effort: Profile,
    seed: int,
) -> tuple[Any, dict[str, Any]]:
    """The ensemble on ``rows``; an unreliable evaluation (masking) is an error."""
    from pytest_modelguard.checks.robustness import attacks

    found = attacks.run_ensemble(
        target.adapter, target.x[rows], target.truth[rows], norm=request["norm"],
        eps=epsilons, steps=request["steps"], restarts=request["restarts"],
        decision_steps=effort.decision_steps, seed=seed, low=target.low, high=target.high,
        output_kind=target.output_kind, classes=target.classes, columns=target.columns,
        clean=clean,
    )  # fmt: skip
    problems = found.masking_problems(epsilons)
    if problems:
        raise GateError(
            "this evaluation is unreliable because "
            + "; and because ".join(problems)
            + f" (model {target.adapter.name}, {found.clean_rows} rows). Fix the model's "
            "gradients (remove input quantisation or clipping from the graph, return logits) "
            "or evaluate it with attack='hopskipjump'"
        )
    run = attacks.AttackRun(success=found.success, logits=found.logits, seed=found.seed)
    return run, {
        "broke_first": found.broke_first,
        "runs": found.runs,
        "seconds": found.seconds,
        "unbounded_success": found.unbounded_success,
        "decision_only": found.decision_only,
        "masking_checks": MASKING_CHECKS,
        "profile": effort.name,
    }


def _adversarial_verdict(
    name: str,
    threshold: float,
    clean: np.ndarray,
    success: np.ndarray,
    epsilons: list[float],
    evidence: dict[str, Any],
) -> Verdict:
    """Decide on the worst eps; the message and summary say which attack, in which norm."""
    survived = clean[None, :] & ~success  # correct before and after the attack
    n = len(clean)
    robust_accuracy = survived.mean(axis=1)
    broken = (clean[None, :] & success).sum(axis=1)  # drop = broken / n, a proportion
    evidence["curve"] = [
        {"eps": e, "robust_accuracy": float(robust_accuracy[i]),
         "accuracy_drop": float(broken[i] / n), "ci": list(wilson(int(survived[i].sum()), n))}
        for i, e in enumerate(epsilons)
    ]  # fmt: skip
    if name == "min_accuracy":
        metric, operator, values, counts = "robust_accuracy", ">=", robust_accuracy, survived
        formula = "rows correct before and after the attack / n"
        counts = survived.sum(axis=1)
    else:
        metric, operator, values, counts = "accuracy_drop", "<=", broken / n, broken
        formula = "clean accuracy - robust accuracy = rows the attack broke / n"
    intervals = [wilson(int(k), n) for k in counts]
    evidence["summary_note"] = f"{evidence['attack']}, {evidence['norm']}"
    verdict = decide(
        requirement="robust", metric=metric, values=values,
        labels=[f"eps={e:g}" for e in epsilons], operator=operator,  # type: ignore[arg-type]
        threshold=threshold, n=n, formula=formula, evidence=evidence,
    )  # fmt: skip
    worst = int(np.argmin(values) if operator == ">=" else np.argmax(values))
    verdict.ci = intervals[worst]
    verdict.message = (
        f"{verdict.describe()}\n  attack    {evidence['attack']} ({evidence['norm']}, "
        f"steps={evidence['steps']}, restarts={evidence['restarts']}; "
        f"{evidence['attack_chosen']}) at eps={epsilons[worst]:g}: accuracy "
        f"{float(clean.mean()):.4g} clean -> {robust_accuracy[worst]:.4g} under attack"
    )
    if evidence.get("bound", "").startswith(NO_GRADIENT_BOUND):  # no ensemble to fall back on
        verdict.message += f"\n  bound     {evidence['bound']}"
    ensemble = evidence.get("ensemble")
    if ensemble is not None:
        broke = ensemble["broke_first"]
        verdict.message += (
            "\n  broken by "
            + ", ".join(f"{k} {rows[worst]}" for k, rows in broke.items())
            + f" of {int(clean.sum())} correct rows (each attack counts the rows the earlier "
            "ones left); masking checks passed"
        )
    return verdict


ENSEMBLE = "ensemble"
ENSEMBLE_SUMMARY = (
    "per-row worst case over PGD (foolbox's, then compiled runs with targeted losses), "
    "DeepFool and HopSkipJump"
)
MASKING_CHECKS = [
    "robust accuracy does not rise with eps",
    "gradient attacks without an eps limit break (almost) every row",
    "a decision-based attack finds (almost) nothing the gradient attacks missed",
]


def _ensemble_request(
    adapter: Any, norm: str | None, steps: int | None, restarts: int, profile: Profile | None
) -> tuple[str, int, int]:
    """The ensemble's norm, PGD steps and PGD runs: the profile's unless the gate says."""
    from pytest_modelguard.checks.robustness import attacks

    if not attacks.is_differentiable(adapter):
        raise GateError(
            f"attack='ensemble' needs gradients, but {adapter.name} has none (only Keras and "
            "TensorFlow models do): use attack='hopskipjump' or attack='boundary'"
        )
    norm = "linf" if norm is None else norm
    if norm not in ("linf", "l2"):
        raise GateError(f"attack='ensemble' works in norm='linf' or 'l2', not norm={norm!r}")
    if steps is not None:
        require_count("steps", steps)
    require_count("restarts", restarts)
    effort = profile or PROFILES["dev"]
    return norm, steps or effort.attack_steps, restarts if restarts > 1 else effort.attack_restarts


def eps_values(eps: Any) -> list[float]:
    if eps is None:
        raise GateError(
            "an adversarial robust gate needs eps=: the largest perturbation to withstand, "
            "in input units (e.g. eps=0.03 for pixels in [0, 1]), or a list for a curve"
        )
    values = list(eps) if isinstance(eps, list | tuple) else [eps]
    if not values:
        raise GateError("eps= is an empty list: give at least one perturbation size")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise GateError(f"eps={value!r}: every eps must be a positive number")
        if not math.isfinite(value):
            raise GateError(f"eps={value!r}: every eps must be finite")
    return [float(v) for v in values]


def clean_rows(output: Any, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classes of the score columns, each row's true class index, and clean correctness."""
    from pytest_modelguard.adapters.outputs import class_probabilities

    continuous = target.dtype.kind == "f" and not np.all(np.mod(target, 1) == 0)
    if output.kind == "values" or continuous:
        raise GateError(
            "the model returns regression values (or the target is continuous): adversarial "
            "gates attack classifiers "
            "(misclassification); use a perturbation= gate for regression"
        )
    if output.kind == "labels":
        classes = np.union1d(target, output.array)
        truth = np.searchsorted(classes, target)
        return classes, truth, output.array == target
    probabilities, classes = class_probabilities(output, target)
    order = np.argsort(classes)
    truth = order[np.searchsorted(classes, target, sorter=order)]
    return np.asarray(classes), truth, probabilities.argmax(axis=1) == truth


def wilson(successes: int, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a proportion: sound near 0 and 1, where attacks often land."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
