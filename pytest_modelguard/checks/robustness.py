"""Robustness: predictions that survive adversarial attacks, perturbations, and directions.

:func:`robust` is the one entry point. ``monotonic=`` makes it a monotonicity gate and
``perturbation=`` a perturbation gate (both in their own modules, loaded when used);
otherwise it is an adversarial gate: foolbox attacks a stratified sample of rows (through
:mod:`pytest_modelguard.attacks`; by default the worst case over an ensemble of attacks,
whose gradient-masking checks make an unreliable evaluation an error) and the accuracy
left is gated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np

from pytest_modelguard import stats
from pytest_modelguard.adapters import adapt
from pytest_modelguard.checks._gate import UNIT, check_threshold, decide, one_threshold
from pytest_modelguard.dataset import Dataset, Predictions
from pytest_modelguard.profiles import PROFILES, Profile
from pytest_modelguard.verdict import GateError, Verdict

DEFAULT_MAX_ACCURACY_DROP = 0.05
CI_LEVEL = 0.95
_DEFAULTS: dict[str, Any] = {"restarts": 1, "samples": 500}
#: the keywords each kind of robust gate takes (seed and profile always apply)
MODES: dict[str, tuple[str, ...]] = {
    "adversarial": (
        "eps", "attack", "norm", "steps", "restarts", "max_accuracy_drop", "min_accuracy",
        "samples", "bounds",
    ),
    "perturbation": (
        "perturbation", "eps", "max_flip_rate", "examples", "immutable", "bounds",
    ),
    "monotonic": ("monotonic", "max_violation_rate", "examples", "bounds"),
}  # fmt: skip
_MODE_NAMES = {
    "adversarial": "an adversarial gate (eps=, attack=)",
    "perturbation": "a perturbation= gate",
    "monotonic": "a monotonic= gate",
}


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
    min_accuracy: float | None = None,
    samples: int = 500,
    bounds: tuple[float, float] | None = None,
    perturbation: str | None = None,
    max_flip_rate: float | None = None,
    examples: int | None = None,
    immutable: list[str] | None = None,
    monotonic: dict[str, str] | None = None,
    max_violation_rate: float | None = None,
    on: str | None = None,
    min_similarity: float | None = None,
    encoder: Any = None,
    prompts: Any = None,
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
    if on is not None or min_similarity is not None:
        from pytest_modelguard.generative.consistency import prompt_robustness_gate

        if on != "prompts":
            raise GateError(
                f"min_similarity= gates answers to perturbed prompts: add on='prompts' (got {on!r})"
            )
        return prompt_robustness_gate(
            model, prompts if prompts is not None else dataset, perturbation=perturbation,
            min_similarity=min_similarity, encoder=encoder, examples=examples,
            confidence=confidence, seed=seed, profile=profile,
        )  # fmt: skip
    generative_only = {"encoder": encoder, "prompts": prompts, "confidence": confidence}
    stray = [name for name, value in generative_only.items() if value is not None]
    if stray:
        raise GateError(f"{stray[0]}= applies to prompt robustness (on='prompts'): remove it")
    options = {
        "eps": eps, "attack": attack, "norm": norm, "steps": steps, "restarts": restarts,
        "max_accuracy_drop": max_accuracy_drop, "min_accuracy": min_accuracy,
        "samples": samples, "bounds": bounds, "perturbation": perturbation,
        "max_flip_rate": max_flip_rate, "examples": examples, "immutable": immutable,
        "monotonic": monotonic, "max_violation_rate": max_violation_rate,
    }  # fmt: skip
    if monotonic is not None and perturbation is not None:
        raise GateError(
            "robust got perturbation= and monotonic=: they are different gates; give one "
            "per @robust marker"
        )
    mode = "monotonic" if monotonic is not None else "adversarial"
    mode = "perturbation" if perturbation is not None else mode
    _reject_foreign(mode, options)
    if mode == "monotonic":
        from pytest_modelguard.checks.directional import monotonic_gate

        return monotonic_gate(
            model,
            dataset,
            monotonic=monotonic,  # type: ignore[arg-type]
            max_violation_rate=max_violation_rate,
            examples=examples,
            bounds=bounds,
            seed=seed,
            profile=profile,
        )
    if mode == "perturbation":
        from pytest_modelguard.checks.perturbation import perturbation_gate

        return perturbation_gate(
            model,
            dataset,
            perturbation=perturbation,  # type: ignore[arg-type]
            eps=eps,
            max_flip_rate=max_flip_rate,
            examples=examples,
            immutable=immutable,
            bounds=bounds,
            seed=seed,
            profile=profile,
        )
    return adversarial(
        model,
        dataset,
        eps=eps,
        attack=attack,
        norm=norm,
        steps=steps,
        restarts=restarts,
        max_accuracy_drop=max_accuracy_drop,
        min_accuracy=min_accuracy,
        samples=samples,
        bounds=bounds,
        seed=seed,
        profile=profile,
    )


def _reject_foreign(mode: str, options: dict[str, Any]) -> None:
    """Keywords given that the chosen kind of gate would silently ignore are an error."""
    given = [name for name, value in options.items() if not _is_default(name, value)]
    foreign = [name for name in given if name not in MODES[mode]]
    if not foreign:
        return
    where = "; ".join(
        f"{name}= is for {' or '.join(_MODE_NAMES[m] for m in MODES if name in MODES[m])}"
        for name in foreign
    )
    raise GateError(
        f"{', '.join(f'{name}=' for name in foreign)} do(es) not apply to "
        f"{_MODE_NAMES[mode]} ({where}): remove it, or write a second @robust marker"
    )


def _is_default(name: str, value: Any) -> bool:
    default = _DEFAULTS.get(name)
    return value is None if default is None else (type(value) is type(default) and value == default)


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
    from pytest_modelguard import attacks

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
        evidence["bound"] = "upper bound: one attack; the default ensemble finds at least as much"
    if defaulted:
        evidence["threshold"] = f"max_accuracy_drop={DEFAULT_MAX_ACCURACY_DROP} (the default)"
    verdict = _adversarial_verdict(name, threshold, clean, run.success, epsilons, evidence)
    verdict.duration = time.perf_counter() - started
    return verdict


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
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise GateError(f"samples={samples!r} must be a positive integer (rows to attack)")
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


def _request(
    adapter: Any,
    attack: str | None,
    norm: str | None,
    steps: int | None,
    restarts: int,
    profile: Profile | None,
) -> dict[str, Any]:
    """The attack, norm, steps and restarts the gate runs, and why that attack."""
    from pytest_modelguard import attacks

    differentiable = attacks.is_differentiable(adapter)
    if attack == ENSEMBLE or (attack is None and differentiable):
        norm, steps, restarts = _ensemble_request(adapter, norm, steps, restarts, profile)
        name = ENSEMBLE
    else:
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
    from pytest_modelguard import attacks

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
    from pytest_modelguard import attacks

    if not attacks.is_differentiable(adapter):
        raise GateError(
            f"attack='ensemble' needs gradients, but {adapter.name} has none (only Keras and "
            "TensorFlow models do): use attack='hopskipjump' or attack='boundary'"
        )
    norm = "linf" if norm is None else norm
    if norm not in ("linf", "l2"):
        raise GateError(f"attack='ensemble' works in norm='linf' or 'l2', not norm={norm!r}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise GateError(f"steps={steps!r} must be a positive integer")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise GateError(f"restarts={restarts!r} must be a positive integer")
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
    from pytest_modelguard.checks.performance import class_probabilities

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


def attack_bounds(
    dataset: Dataset, given: Any, x: np.ndarray
) -> tuple[float | np.ndarray, float | np.ndarray, dict[str, Any]]:
    """The input box to attack in: scalar bounds, or per-feature arrays (unit-scaled attack)."""
    missing = int(np.sum(~np.isfinite(x)))
    if missing:
        raise GateError(
            f"dataset {dataset.name!r} has {missing} missing or infinite feature values: an "
            "attack moves finite inputs within bounds; impute them or drop those rows"
        )
    source = "marker" if given is not None else "dataset"
    declared = given if given is not None else dataset.bounds
    if declared is None:
        if dataset.kind == "image":
            raise GateError(
                f"image dataset {dataset.name!r} has no bounds: give the pixel range the model "
                "takes, Dataset.from_arrays(..., bounds=(0, 1)) or @robust(bounds=(0, 255))"
            )
        low, high = x.min(axis=0), x.max(axis=0)
        return (
            low,
            high,
            {
                "bounds": "observed range of each feature",
                "bounds_source": "data",
                "eps_units": "fraction of each feature's range",
            },
        )
    if isinstance(declared, Mapping):
        low, high = _per_feature(dataset, declared, x)
        evidence = {
            "bounds": {str(k): [float(a), float(b)] for k, (a, b) in declared.items()},
            "bounds_source": source,
            "eps_units": "fraction of each feature's range (features without bounds: observed)",
        }
    else:
        low, high = _pair(declared, "bounds")
        evidence = {"bounds": [low, high], "bounds_source": source, "eps_units": "input units"}
    outside = int(np.sum((x < low) | (x > high)))
    if outside:
        raise GateError(
            f"{outside} feature values of dataset {dataset.name!r} lie outside the bounds "
            f"({source}) [{np.min(low):g}, {np.max(high):g}]: bounds are the range of the "
            "model's input (before any preprocessing inside the model); fix bounds= or the data"
        )
    return low, high, evidence


def _per_feature(
    dataset: Dataset, declared: Mapping[str, Any], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    names = dataset.feature_names
    if names is None or x.ndim != 2:
        raise GateError(
            "bounds per feature need named tabular features: give feature_names= to the "
            "Dataset, or one (low, high) for every input"
        )
    unknown = [k for k in declared if k not in names]
    if unknown:
        raise GateError(f"bounds name unknown features {unknown}; the features are {names}")
    low, high = x.min(axis=0), x.max(axis=0)
    for key, pair in declared.items():
        low[names.index(key)], high[names.index(key)] = _pair(pair, f"bounds[{key!r}]")
    return low, high


def _pair(value: Any, role: str) -> tuple[float, float]:
    pair = list(value) if isinstance(value, list | tuple) else []
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pair
    )
    if len(pair) != 2 or not numbers or pair[0] >= pair[1]:
        raise GateError(f"{role}={value!r}: give (low, high), two finite numbers with low < high")
    return float(pair[0]), float(pair[1])


def check_eps(epsilons: list[float], norm: str, low: Any, high: Any, size: int) -> None:
    """An eps that lets the attack reach any input measures nothing: an error."""
    per_feature = np.ndim(low) > 0
    width = 1.0 if per_feature else float(high) - float(low)
    reach = width if norm == "linf" else width * math.sqrt(size)
    too_large = [e for e in epsilons if e > reach]
    if too_large:
        units = "a fraction of each feature's range" if per_feature else f"units of {low}..{high}"
        raise GateError(
            f"eps={too_large[0]:g} is larger than the input range ({norm} reach {reach:g}, "
            f"eps in {units}): the attack could replace any input by any other; give eps in "
            "the units of the bounds (8/255 of a [0, 1] image is eps=0.031)"
        )


def stratified_rows(target: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Indices of ``samples`` rows, each class in proportion (largest remainders), seeded;
    every row, in order, when ``samples`` covers the dataset."""
    n = len(target)
    if samples >= n:
        return np.arange(n)
    rng = stats.rng_from(seed)
    _, inverse = np.unique(target, return_inverse=True)
    counts = np.bincount(inverse)
    quota = samples * counts / n
    take = np.floor(quota).astype(int)
    extra = np.argsort(-(quota - take), kind="stable")[: samples - take.sum()]
    take[extra] += 1
    chosen = [rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(take) if k]
    return np.sort(np.concatenate(chosen))


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
