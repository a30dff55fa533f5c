"""Gate markers: the factories users decorate tests with, and marker -> spec.

``@performance(metric="f1", min=0.8)`` is ``pytest.mark.performance(...)`` with the
arguments checked against a documented keyword-only signature. A wrong keyword does
not break collection of the module: it makes that one test an ERROR that names it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_modelguard.verdict import GateError

UMBRELLA = "modelguard"
SUBJECT_KEYWORDS = ("model", "data")

GATES: dict[str, Callable[..., pytest.MarkDecorator]] = {}


def _gate(factory: Callable[..., pytest.MarkDecorator]) -> Callable[..., pytest.MarkDecorator]:
    GATES[factory.__name__] = factory
    return factory


def performance(
    *,
    metric: str = "accuracy",
    min: float | None = None,
    max: float | None = None,
    confidence: float | None = None,
    n_resamples: int = 2000,
    per_class: bool = False,
    decision_threshold: float = 0.5,
    pos_label: Any = None,
    batch_size: int = 32,
    model: str | None = None,
    data: str | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Model quality must reach min= (or stay under max=): accuracy, f1, roc_auc, rmse, ..."""
    return _mark("performance", locals())


_gate(performance)


def fairness(
    *,
    metric: str = "demographic_parity_difference",
    max_disparity: float | None = None,
    min_ratio: float | None = None,
    min: float | None = None,
    sensitive: str | list[str] | None = None,
    intersectional: bool = False,
    method: str = "between_groups",
    pos_label: Any = None,
    decision_threshold: float = 0.5,
    min_group_size: int = 30,
    small_groups: str = "error",
    missing: str = "error",
    confidence: float | None = None,
    n_resamples: int = 10_000,
    examples: int | None = None,
    model: str | None = None,
    data: str | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Groups must be treated alike: max_disparity= for differences, min_ratio= for ratios, min=."""
    return _mark("fairness", locals())


_gate(fairness)


def defaults(requirement: str) -> dict[str, Any]:
    parameters = inspect.signature(GATES[requirement]).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _mark(name: str, arguments: dict[str, Any]) -> pytest.MarkDecorator:
    """The mark with the keywords that differ from the defaults (the check owns defaults),
    plus unknown ones, which the test reports as an ERROR when it runs."""
    unknown = arguments.pop("unknown")
    default = defaults(name)
    given = {k: v for k, v in arguments.items() if not _same(v, default[k])}
    return getattr(pytest.mark, name)(**given, **unknown)


def _same(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


@dataclass(frozen=True)
class GateSpec:
    """One gate of a test: the requirement, its subject fixtures and check keywords."""

    requirement: str
    model_fixture: str
    data_fixture: str
    keywords: dict[str, Any]


def accepted_keywords(requirement: str) -> list[str]:
    return list(defaults(requirement))


def spec_from_mark(mark: pytest.Mark, *, model_fixture: str, data_fixture: str) -> GateSpec:
    """Validate a gate marker's arguments; a mistake is a :class:`GateError` saying what to fix."""
    accepted = accepted_keywords(mark.name)
    if mark.args:
        raise GateError(
            f"takes keyword arguments only, got positional {mark.args!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    unknown = sorted(set(mark.kwargs) - set(accepted))
    if unknown:
        raise GateError(f"unknown keyword(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    keywords = dict(mark.kwargs)
    model = keywords.pop("model", None) or model_fixture
    data = keywords.pop("data", None) or data_fixture
    return GateSpec(mark.name, model, data, keywords)


def marker_lines() -> list[str]:
    """``pytest --markers`` lines: every gate with its full signature."""
    lines = []
    for name, factory in GATES.items():
        signature = ", ".join(
            f"{p.name}={p.default!r}"
            for p in inspect.signature(factory).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        lines.append(f"{name}(*, {signature}): modelguard gate. {summary}")
    lines.append(
        f"{UMBRELLA}: carried by every modelguard gate test; select them with -m {UMBRELLA}."
    )
    return lines
