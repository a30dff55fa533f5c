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
from pytest_modelguard.checks.robustness.attacks import attack_bounds, check_eps, stratified_rows
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
    per-row worst case over PGD runs, FMN, DeepFool and HopSkipJump with the profile's
    effort and gradient-masking checks; ``boundary`` for models without gradients; or one
    named attack, an upper bound) attacks ``samples`` stratified rows at each
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
    from pytest_modelguard.adapters.keras import as_float32
    from pytest_modelguard.checks.robustness import attacks

    epsilons = eps_values(eps)
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
    adapter = adapt(model)
    ensemble = attack == ENSEMBLE or (attack is None and attacks.is_differentiable(adapter))
    if ensemble:
        norm, steps, restarts = _ensemble_request(adapter, norm, steps, restarts, profile)
        spec = attacks.AttackSpec(ENSEMBLE, ("linf", "l2"), True, steps, True, ENSEMBLE_SUMMARY)
    else:
        spec, norm, steps = attacks.resolve(adapter, attack, norm, steps, restarts)

    x = as_float32(dataset)
    target = dataset.target
    output = adapter.outputs(dataset)  # cached: clean predictions cost no extra pass
    classes, truth, clean_correct = clean_rows(output, target)
    low, high, bounds_evidence = attack_bounds(dataset, bounds, x)
    check_eps(epsilons, norm, low, high, x[0].size)
    rows = stratified_rows(target, samples, seed)
    if not clean_correct[rows].any():
        raise GateError(
            f"the model classifies none of the {len(rows)} sampled rows of dataset "
            f"{dataset.name!r} correctly: there is no accuracy for an attack to take away "
            "(check the model, the labels and the class order)"
        )
    columns = list(dataset.features.columns) if dataset.is_dataframe else None
    clean = clean_correct[rows]
    common = dict(
        norm=norm, eps=epsilons, steps=steps, restarts=restarts, seed=seed, low=low,
        high=high, output_kind=output.kind, classes=classes, columns=columns,
    )  # fmt: skip
    ensemble_evidence: dict[str, Any] | None = None
    if ensemble:
        effort = profile or PROFILES["dev"]
        found = attacks.run_ensemble(
            adapter, x[rows], truth[rows], decision_steps=effort.decision_steps, clean=clean,
            **common,
        )  # fmt: skip
        problems = found.masking_problems(epsilons)
        if problems:
            raise GateError(
                "this evaluation is unreliable because "
                + "; and because ".join(problems)
                + f" (model {adapter.name}, dataset {dataset.name!r}, {found.clean_rows} rows). "
                "Fix the model's gradients (remove input quantisation or clipping from the "
                "graph, return logits) or evaluate it with attack='hopskipjump'"
            )
        run = attacks.AttackRun(success=found.success, logits=found.logits, seed=found.seed)
        ensemble_evidence = {
            "broke_first": found.broke_first,
            "runs": found.runs,
            "seconds": found.seconds,
            "unbounded_success": found.unbounded_success,
            "decision_only": found.decision_only,
            "masking_checks": MASKING_CHECKS,
            "profile": effort.name,
        }
    else:
        run = attacks.run_attack(
            adapter, x[rows], truth[rows], attack=spec.name, **common
        )  # fmt: skip
    survived = clean[None, :] & ~run.success  # correct before and after the attack
    n = len(rows)
    clean_accuracy = float(clean.mean())
    robust_accuracy = survived.mean(axis=1)
    broken = (clean[None, :] & run.success).sum(axis=1)  # drop = broken / n, a proportion
    curve = [
        {
            "eps": e,
            "robust_accuracy": float(robust_accuracy[i]),
            "accuracy_drop": float(broken[i] / n),
            "ci": list(wilson(int(survived[i].sum()), n)),
        }
        for i, e in enumerate(epsilons)
    ]
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "attack": spec.name,
        "norm": norm,
        "steps": steps,
        "restarts": restarts,
        "eps": epsilons,
        **bounds_evidence,
        "logits": run.logits,
        "clean_accuracy": clean_accuracy,
        "clean_accuracy_all_rows": float(clean_correct.mean()),
        "curve": curve,
        "samples": n,
        "stratified": n < len(dataset),
        "attack_seed": run.seed,
        "ci_level": CI_LEVEL,
        "ci_method": "Wilson score interval; the gate decides on the point estimate",
    }
    if ensemble_evidence is not None:
        evidence["ensemble"] = ensemble_evidence
    else:
        evidence["bound"] = "upper bound: one attack; the default ensemble finds at least as much"
    if defaulted:
        evidence["threshold"] = f"max_accuracy_drop={DEFAULT_MAX_ACCURACY_DROP} (the default)"
    if name == "min_accuracy":
        metric, operator, values = "robust_accuracy", ">=", robust_accuracy
        formula = "rows correct before and after the attack / n"
        intervals = [wilson(int(k), n) for k in survived.sum(axis=1)]
    else:
        metric, operator, values = "accuracy_drop", "<=", broken / n
        formula = "clean accuracy - robust accuracy = rows the attack broke / n"
        intervals = [wilson(int(k), n) for k in broken]
    verdict = decide(
        requirement="robust",
        metric=metric,
        values=values,
        labels=[f"eps={e:g}" for e in epsilons],
        operator=operator,  # type: ignore[arg-type]
        threshold=threshold,
        n=n,
        formula=formula,
        evidence=evidence,
    )
    worst = int(np.argmin(values) if operator == ">=" else np.argmax(values))
    verdict.ci = intervals[worst]
    verdict.duration = time.perf_counter() - started
    verdict.message = (
        f"{verdict.describe()}\n  attack    {spec.name} ({norm}, steps={steps}, "
        f"restarts={restarts}) at eps={epsilons[worst]:g}: accuracy {clean_accuracy:.4g} "
        f"clean -> {robust_accuracy[worst]:.4g} under attack"
    )
    if ensemble_evidence is not None:
        broke = ensemble_evidence["broke_first"]
        verdict.message += (
            "\n  broken by "
            + ", ".join(f"{name} {counts[worst]}" for name, counts in broke.items())
            + (
                f" of {int(clean.sum())} correct rows (each attack counts the rows the earlier "
                "ones left); masking checks passed"
            )
        )
    return verdict


ENSEMBLE = "ensemble"
ENSEMBLE_SUMMARY = "per-row worst case over PGD runs, FMN, DeepFool and HopSkipJump"
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
