"""Which text fairness gate a ``@fairness(...)`` marker asks for, and what does not apply."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.core.verdict import GateError, Verdict

SWAP_KEYWORDS = ("groups", "max_gap", "lexicon", "exclude_terms", "templates")
ASSOCIATION_KEYWORDS = ("targets", "attributes", "max_effect_size")


def text_fairness(
    model: Any,
    dataset: Any,
    *,
    text_options: dict[str, Any],
    metric: str,
    others: dict[str, Any],
    pos_label: Any,
    decision_threshold: float,
    confidence: float | None,
    n_resamples: int,
    examples: int | None,
    seed: int,
    profile: Any,
) -> Verdict:
    """Dispatch to the identity-swap gate or the association test, refusing mixed options."""
    given = {k for k, v in text_options.items() if v is not None}
    stray = [k for k, v in others.items() if v is not None]
    if metric != "demographic_parity_difference":
        stray.insert(0, "metric")
    counterfactual, association = text_options["counterfactual"], text_options["association"]
    if counterfactual is not None and association is not None:
        raise GateError("give counterfactual= or association=, not both (use two markers)")
    if association is not None:
        swap_only = {"pos_label": pos_label, "confidence": confidence, "examples": examples}
        wrong = sorted(given & set(SWAP_KEYWORDS)) + [
            k for k, v in swap_only.items() if v is not None
        ]
        _refuse([*stray, *wrong], f"association={association!r}")
        from pytest_modelguard.text.association import association as run

        return run(
            model,
            dataset,
            association=association,
            targets=text_options["targets"],
            attributes=text_options["attributes"],
            max_effect_size=text_options["max_effect_size"],
            n_resamples=n_resamples,
            seed=seed,
        )
    if counterfactual is None:
        missing = (
            "association= (weat, seat)"
            if given & set(ASSOCIATION_KEYWORDS)
            else ('counterfactual="identity"')
        )
        raise GateError(f"{', '.join(sorted(f'{k}=' for k in given))} need {missing}")
    if counterfactual != "identity":
        raise GateError(
            f"counterfactual={counterfactual!r}: use 'identity' (swap identity terms in texts); "
            "for a model that takes the attribute as a feature use "
            "metric='counterfactual_flip_rate'"
        )
    _refuse([*stray, *sorted(given & set(ASSOCIATION_KEYWORDS))], 'counterfactual="identity"')
    if text_options["groups"] is None:
        raise GateError(
            'counterfactual="identity" needs groups=, e.g. groups=("european_american_names", '
            '"african_american_names") or a category such as groups="religion"'
        )
    from pytest_modelguard.text.swap import identity_swap

    return identity_swap(
        model,
        dataset,
        groups=text_options["groups"],
        max_gap=text_options["max_gap"],
        lexicon=text_options["lexicon"],
        exclude_terms=text_options["exclude_terms"],
        templates=text_options["templates"],
        pos_label=pos_label,
        decision_threshold=decision_threshold,
        confidence=confidence,
        n_resamples=n_resamples,
        examples=examples,
        seed=seed,
        profile=profile,
    )


def _refuse(names: list[str], gate: str) -> None:
    if names:
        listed = " and ".join(f"{n}=" for n in names)
        raise GateError(f"{listed} {'does' if len(names) == 1 else 'do'} not apply to {gate}")
