"""Transparency: the model card exists, is complete, and does not overstate its model.

Claims are measured again by the performance and fairness checks themselves, so a card
is held to exactly the numbers the other gates would report.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.checks._gate import decide
from pytest_modelguard.checks.fairness import METRICS as FAIRNESS_METRICS
from pytest_modelguard.checks.fairness import THRESHOLD, fairness
from pytest_modelguard.checks.performance import METRICS as PERFORMANCE_METRICS
from pytest_modelguard.checks.performance import performance
from pytest_modelguard.checks.transparency import modelcard
from pytest_modelguard.checks.transparency.modelcard import ModelCard
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.spec import FilePath, Fixture, Needs, Reports, requirement
from pytest_modelguard.core.verdict import GateError, Verdict

#: performance metrics where a higher value is better; every other one is an error or a cost
HIGHER_IS_BETTER = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "r2"}
)
LOWER_IS_BETTER = frozenset(
    {"log_loss", "brier", "ece", "mae", "rmse", "latency_p95_ms", "model_size_mb"}
)
#: keywords a performance claim may carry besides its value: how the number was measured
CLAIM_OPTIONS = ("decision_threshold", "pos_label")
CLAIM_ERROR_FORMULA = (
    "max over claims of the overstatement (claimed - measured where higher is better, "
    "measured - claimed where lower is better), 0 if none overstates"
)


@dataclass(frozen=True)
class Claim:
    """One number the card states about its model."""

    label: str  # "accuracy", "demographic_parity_difference[sex]"
    metric: str
    claimed: float
    higher_is_better: bool
    sensitive: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


@requirement(
    example='model_card="MODEL_CARD.md"', rank=70, needs=Needs(model="unused", data="unused")
)
def transparency(
    model: Any = None,
    dataset: Dataset | None = None,
    *,
    model_card: Annotated[Any, Reports("missing_fields"), FilePath()] = None,
    required: list[str] | None = None,
    verify_claims: Annotated[
        bool,
        Reports("claim_error"),
        Needs(model="required", data="required", members="optional", trainer="optional"),
    ] = False,
    tolerance: float = 0.01,
    members: Annotated[Dataset | None, Fixture("train_dataset")] = None,
    trainer: Annotated[Any, Fixture("train_model")] = None,
    seed: int = 0,
) -> Verdict:
    """Gate the model card: every required field filled and, with ``verify_claims=True``,
    no claimed metric better than ``model`` measures on ``dataset`` by more than
    ``tolerance``.

    ``model_card`` is a path (``.md`` with YAML front matter, ``.yaml``/``.yml``,
    ``.json``; relative to the working directory) or a :class:`ModelCard`. ``required``
    adds fields (``a.b`` for a key inside ``a``) to :data:`modelcard.REQUIRED_FIELDS`.
    A card that understates a metric passes: conservative is honest; overstating fails.
    A ``privacy: {epsilon: ..., delta: ...}`` claim is verified by the differential-privacy
    audit (:mod:`~pytest_modelguard.checks.privacy.dp_audit`), with ``trainer`` and ``members``.
    """
    started = time.perf_counter()
    card = _card(model_card)
    fields = [*modelcard.REQUIRED_FIELDS, *_required(required)]
    tolerance = _claims_request(verify_claims, tolerance, model, dataset)
    missing = card.missing(fields)
    evidence: dict[str, Any] = {
        "model_card": str(card.path) if card.path else None,
        "format": card.format,
        "required": list(dict.fromkeys(fields)),
        "missing_fields": missing,
        # the card as written, so the sign-off report's drafted card keeps its fields
        "card_fields": json.loads(json.dumps(card.fields, default=str)),
    }
    claims: list[dict[str, Any]] = []
    if verify_claims and "metrics" not in missing:
        evidence["tolerance"] = tolerance
        claims = [_verify(claim, model, dataset, seed) for claim in _claims(card)]
        evidence["claims"] = claims
    if verify_claims and card.get("privacy") is not None:
        from pytest_modelguard.checks.privacy.dp_audit import verify_privacy_claim

        claims.append(verify_privacy_claim(card.get("privacy"), dataset, members, trainer, seed))
        evidence["claims"] = claims
    for claim in claims:  # the one decision: the verdict fails exactly when a claim is not ok
        claim["ok"] = claim["overstatement"] <= _allowed(claim, tolerance)

    if missing or not verify_claims:
        verdict = _decide("missing_fields", len(missing), 0.0, None, evidence, card)
        hints = card.near_misses(missing)
        named = ", ".join(
            f"{name} (the card has {hints[name]!r}; write it {name})" if name in hints else name
            for name in missing
        )
        if missing:
            verdict.message += f"\n  missing   {named}"
            if verify_claims and not claims:
                verdict.message += "\n  claims    not verified: the card has no metrics"
    else:
        n = max(claim["n"] for claim in claims)
        refuted = [c["overstatement"] for c in claims if c["metric"] == "epsilon_lower_bound"]
        if refuted and max(refuted) > 0:  # decided as @privacy(claimed_epsilon=) decides it
            verdict = _decide("claim_error", max(refuted), 0.0, n, evidence, card)
        else:
            worst = max(claim["overstatement"] for claim in claims)
            verdict = _decide("claim_error", max(worst, 0.0), tolerance, n, evidence, card)
    for claim in claims:
        verdict.message += "\n" + _claim_line(claim)
    verdict.duration = time.perf_counter() - started
    return verdict


def _allowed(claim: dict[str, Any], tolerance: float) -> float:
    """How far a claim may overstate: ``tolerance`` for a measured metric; nothing for a
    privacy claim, whose audit bound already holds at its confidence level (a claim it
    refutes is false, as the stand-alone privacy gate decides)."""
    return 0.0 if claim["metric"] == "epsilon_lower_bound" else tolerance


def _decide(
    metric: str,
    value: float,
    threshold: float,
    n: int | None,
    evidence: dict[str, Any],
    card: ModelCard,
) -> Verdict:
    formula = (
        "number of required fields absent, empty or a placeholder"
        if metric == "missing_fields"
        else CLAIM_ERROR_FORMULA
    )
    verdict = decide(
        requirement="transparency",
        metric=metric,
        values=np.array([value]),
        operator="<=",
        threshold=threshold,
        n=n,  # type: ignore[arg-type]
        formula=formula,
        evidence=evidence,
    )
    if card.path is not None:
        verdict.message += f"\n  card      {card.path}"
    return verdict


def _claim_line(claim: dict[str, Any]) -> str:
    over = claim["overstatement"]
    if claim["metric"] == "epsilon_lower_bound":
        return _privacy_claim_line(claim)
    if over < 0:
        how = "understates: ok"
    elif over == 0:
        how = "matches"
    elif claim["ok"]:
        how = f"overstates by {over:.4g}, within tolerance"
    else:
        how = f"OVERSTATES by {over:.4g}"
    return (
        f"  claim     {claim['claim']}: claimed {claim['claimed']:.4g}, measured "
        f"{claim['measured']:.4g} -> {how}"
    )


def _privacy_claim_line(claim: dict[str, Any]) -> str:
    """An audit's lower bound below the claim refutes nothing: the claim is neither shown
    conservative nor proven, so the line says the audit could not refute it."""
    over, lower = claim["overstatement"], claim["measured"]
    if over > 0:
        how = f"OVERSTATES by {over:.4g}: the audit refutes it"
    else:
        why = "the audit found no leak and" if lower == 0 else "at or below the claim: the audit"
        how = f"{why} could not refute the claim (a pass is not a proof of DP)"
    return (
        f"  claim     {claim['claim']}: claimed {claim['claimed']:.4g}, the audit proves eps >= "
        f"{lower:.4g} at {claim['confidence']:.0%} confidence -> {how}"
    )


# -- arguments ------------------------------------------------------------------------------


def _claims_request(verify_claims: Any, tolerance: Any, model: Any, dataset: Any) -> float:
    """The tolerance of a claims check, once ``verify_claims`` asks for one it can run."""
    if not isinstance(verify_claims, bool):
        raise GateError(f"verify_claims={verify_claims!r}: use True or False")
    if not verify_claims:
        if tolerance != 0.01:
            raise GateError(
                f"tolerance={tolerance!r} applies to claims: add verify_claims=True, or drop it"
            )
        return tolerance
    tolerance = _tolerance(tolerance)
    if model is None or dataset is None:
        raise GateError(
            "verify_claims=True measures the card's metrics again: give the model and the "
            "dataset they were claimed on, checks.transparency(model, dataset, ...) (under "
            "pytest, the model and dataset fixtures)"
        )
    return tolerance


def _card(model_card: Any) -> ModelCard:
    if isinstance(model_card, ModelCard):
        return model_card
    if model_card is None:
        raise GateError(
            "give model_card= the path of the model card: MODEL_CARD.md with YAML front "
            "matter, or a .yaml/.json file"
        )
    if not isinstance(model_card, str | os.PathLike):
        raise GateError(
            f"model_card={model_card!r}: give a path (str or pathlib.Path) or a ModelCard"
        )
    return modelcard.load(model_card)


def _required(required: Any) -> list[str]:
    if required is None:
        return []
    if isinstance(required, str) or not isinstance(required, list | tuple):
        raise GateError(
            f"required={required!r}: give a list of field names, e.g. required=['contact']"
        )
    bad = [name for name in required if not isinstance(name, str) or not name.strip()]
    if bad:
        raise GateError(f"required= holds {bad[0]!r}: every entry must be a field name")
    return list(required)


def _tolerance(tolerance: Any) -> float:
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not math.isfinite(tolerance)
        or tolerance < 0
    ):
        raise GateError(f"tolerance={tolerance!r}: use a finite number >= 0, e.g. 0.01")
    return float(tolerance)


# -- claims ---------------------------------------------------------------------------------


def _claims(card: ModelCard) -> list[Claim]:
    """The card's ``metrics`` as claims, or an error naming the entry that is not one."""
    metrics = card.get("metrics")
    where = f"model card {card.path or '(in memory)'}"
    if not isinstance(metrics, Mapping):
        raise GateError(
            f"{where}: metrics must map each claimed metric to its value (accuracy: 0.91), "
            f"got {type(metrics).__name__}"
        )
    claims = []
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise GateError(f"{where}: metric names are strings, got {name!r}")
        if name in PERFORMANCE_METRICS:
            claims.append(_performance_claim(name, value, where))
        elif name in FAIRNESS_METRICS:
            claims.extend(_fairness_claims(name, value, where))
        else:
            raise GateError(_unmeasurable(name, where))
    return claims


def _unmeasurable(name: str, where: str) -> str:
    known = [*PERFORMANCE_METRICS, *FAIRNESS_METRICS]
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{where} claims {name!r}, a metric pytest-modelguard cannot measure{hint}; claim "
        f"performance metrics ({', '.join(PERFORMANCE_METRICS)}) or fairness metrics "
        f"({', '.join(FAIRNESS_METRICS)}), or move {name!r} out of metrics into the "
        "card's text"
    )


def _performance_claim(name: str, value: Any, where: str) -> Claim:
    options: dict[str, Any] = {}
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"value", *CLAIM_OPTIONS})
        if unknown or "value" not in value:
            raise GateError(
                f"{where}: metrics.{name} as a mapping takes value: and optionally "
                f"{', '.join(f'{o}:' for o in CLAIM_OPTIONS)}"
                + (f"; got {', '.join(unknown)}" if unknown else "; value: is missing")
            )
        options = {key: value[key] for key in CLAIM_OPTIONS if key in value}
        value = value["value"]
    higher = name in HIGHER_IS_BETTER
    if not higher and name not in LOWER_IS_BETTER:
        raise GateError(f"cannot verify a claim of {name}: its better direction is not known")
    claimed = _number(name, value, where)
    _in_range(name, claimed, *PERFORMANCE_METRICS[name].within, where)  # brier: [0, 2]
    return Claim(name, name, claimed, higher, options=tuple(options.items()))


def _fairness_claims(name: str, value: Any, where: str) -> list[Claim]:
    if not isinstance(value, Mapping) or not value:
        raise GateError(
            f"{where}: metrics.{name} needs the sensitive column it is about, e.g. "
            f"{name}: {{sex: 0.02}}"
        )
    higher = FAIRNESS_METRICS[name].kind != "difference"
    claims = []
    for column, number in value.items():
        label = f"{name}[{column}]"
        claimed = _number(label, number, where)
        _in_range(label, claimed, 0.0, 1.0, where)
        claims.append(Claim(label, name, claimed, higher, sensitive=str(column)))
    return claims


def _number(label: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateError(
            f"{where}: the claim {label}: {value!r} is not a number; write the measured value, "
            "e.g. 0.91"
        )
    return float(value)


def _in_range(label: str, value: float, low: float, high: float, where: str) -> None:
    if low <= value <= high:
        return
    percent = " (a percentage? write 0.91 for 91%)" if high == 1.0 and 1 < value <= 100 else ""
    raise GateError(
        f"{where}: the claim {label}: {value:g} lies outside [{low:g}, {high:g}]{percent}"
    )


def _verify(claim: Claim, model: Any, dataset: Dataset, seed: int) -> dict:
    """Measure one claim with the performance or fairness check and compare."""
    try:
        if claim.sensitive is None:
            bound = "min" if claim.higher_is_better else "max"
            measured = performance(
                model,
                dataset,
                metric=claim.metric,
                seed=seed,
                **{bound: claim.claimed},
                **dict(claim.options),
            )
        else:
            # any valid threshold: only the measured value is used
            threshold = THRESHOLD[FAIRNESS_METRICS[claim.metric].kind]
            measured = fairness(
                model,
                dataset,
                metric=claim.metric,
                sensitive=claim.sensitive,
                seed=seed,
                **{threshold: 0.5},
            )
    except GateError as exc:
        raise GateError(f"cannot measure the card's claim {claim.label}: {exc}") from None
    value = float(measured.value)  # type: ignore[arg-type]
    over = round(claim.claimed - value if claim.higher_is_better else value - claim.claimed, 12)
    return {
        "claim": claim.label,
        "metric": claim.metric,
        "sensitive": claim.sensitive,
        **dict(claim.options),
        "claimed": claim.claimed,
        "measured": value,
        "difference": round(value - claim.claimed, 12),
        "overstatement": over,
        "better": "higher" if claim.higher_is_better else "lower",
        "n": measured.n,
    }
