"""Fairness: disparities of a classifier between groups, equal to fairlearn's metrics.

One pass counts every group's weighted confusion cells (:mod:`pytest_modelguard.core.groups`);
each metric is a function of those counts, so point values equal fairlearn's, a
stream is gated batch by batch, and a bootstrap resample costs O(groups), not O(rows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from numbers import Real
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.adapters import Adapter, adapt, positive_label
from pytest_modelguard.adapters.outputs import predicted_labels
from pytest_modelguard.checks._gate import (
    UNIT,
    check_confidence,
    check_threshold,
    decide,
    one_threshold,
)
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.groups import GroupCounts
from pytest_modelguard.core.spec import (
    Fixture,
    Kind,
    Needs,
    Reports,
    dispatch,
    given_keywords,
    requirement,
    requirements,
)
from pytest_modelguard.core.stats import (
    fold_difference,
    fold_ratio,
    mover_ratio,
    newcombe_difference,
    two_sided_z,
    wilson,
)
from pytest_modelguard.core.verdict import GateError, Operator, Verdict, require_count
from pytest_modelguard.logs import per_window

METHODS = ("between_groups", "to_overall")
SMALL_GROUPS = ("error", "ignore")
THRESHOLD = {"difference": "max_disparity", "ratio": "min_ratio", "group_min": "min"}


@dataclass(frozen=True)
class Rate:
    """A group rate as a ratio of confusion cells ``[TN, FP, FN, TP]`` (or ``[wrong, right]``)."""

    symbol: str
    numerator: tuple[int, ...]
    denominator: tuple[int, ...]
    undefined: str  # why the rate cannot be computed for a group


RATES: dict[str, Rate] = {
    "selection_rate": Rate("P(ŷ=pos)", (1, 3), (0, 1, 2, 3), "it has no weight"),
    "tpr": Rate("TPR", (3,), (2, 3), "it has no rows with a positive target"),
    "fnr": Rate("FNR", (2,), (2, 3), "it has no rows with a positive target"),
    "fpr": Rate("FPR", (1,), (0, 1), "it has no rows with a negative target"),
    "tnr": Rate("TNR", (0,), (0, 1), "it has no rows with a negative target"),
    "precision": Rate("precision", (3,), (1, 3), "the model predicts no positives for it"),
    "accuracy": Rate("accuracy", (1,), (0, 1), "it has no weight"),
}


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "difference", "ratio" or "group_min"
    rates: tuple[str, ...]

    @property
    def binary(self) -> bool:
        return self.rates != ("accuracy",)

    def formula(self, method: str) -> str:
        def one(rate: str) -> str:
            r = RATES[rate].symbol
            if self.kind == "group_min":
                return f"min_g {r}_g"
            if self.kind == "difference":
                if method == "between_groups":
                    return f"max_g {r}_g - min_g {r}_g"
                return f"max_g |{r}_g - {r}_all|"
            if method == "between_groups":
                return f"min_g {r}_g / max_g {r}_g"
            return f"min_g min({r}_g / {r}_all, {r}_all / {r}_g)"

        if len(self.rates) == 1:
            return one(self.rates[0])
        worst = "max" if self.kind == "difference" else "min"
        return f"{worst}({', '.join(one(rate) for rate in self.rates)})"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("demographic_parity_difference", "difference", ("selection_rate",)),
        Metric("demographic_parity_ratio", "ratio", ("selection_rate",)),
        Metric("equalized_odds_difference", "difference", ("tpr", "fpr")),
        Metric("equalized_odds_ratio", "ratio", ("tpr", "fpr")),
        Metric("equal_opportunity_difference", "difference", ("tpr",)),
        Metric("equal_opportunity_ratio", "ratio", ("tpr",)),
        Metric("false_positive_rate_difference", "difference", ("fpr",)),
        Metric("false_negative_rate_difference", "difference", ("fnr",)),
        Metric("true_positive_rate_difference", "difference", ("tpr",)),
        Metric("true_negative_rate_difference", "difference", ("tnr",)),
        Metric("selection_rate_difference", "difference", ("selection_rate",)),
        Metric("accuracy_difference", "difference", ("accuracy",)),
        Metric("precision_difference", "difference", ("precision",)),
        Metric("accuracy_group_min", "group_min", ("accuracy",)),
    ]
}
COUNTERFACTUAL = "counterfactual_flip_rate"


@dataclass(frozen=True)
class View:
    """One way of grouping the rows: a sensitive column, or the intersection of several."""

    label: str
    groups: list[str]
    membership: np.ndarray  # (joint groups, groups of this view): 1 where a joint group belongs


# Long only by its signature: the keywords are the spec of every fairness gate (markers and
# policy files are checked against them); the body routes to one function per kind of gate.
@per_window
@requirement(example='metric="demographic_parity_difference", max_disparity=0.1', rank=20)
def fairness(
    model: Any,
    dataset: Dataset,
    *,
    metric: Annotated[str, Reports("{value}")] = "demographic_parity_difference",
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
    stereotype: Annotated[
        str | None, Reports("stereotype_preference"), Needs(model="required", data="unused")
    ] = None,
    max_preference: Annotated[float | None, Needs(model="required", data="unused")] = None,
    bias_types: list[str] | None = None,
    samples: int | None = None,
    counterfactual: Annotated[
        str | None, Reports("identity_swap_gap"), Needs(model="required", data="optional")
    ] = None,
    on: Annotated[
        str | None,
        Reports("semantic_gap"),
        Needs(when="outputs", model="required", data="optional", encoder="optional"),
    ] = None,
    max_gap: float | None = None,
    groups: str | list[str] | dict[str, list[str]] | None = None,
    encoder: Annotated[Any, Fixture("encoder")] = None,
    scorer: Annotated[Any, Fixture(), Needs(encoder="unused")] = None,
    prompts: Annotated[Any, Fixture(), Needs(data="unused")] = None,
    lexicon: dict[str, Any] | None = None,
    exclude_terms: list[str] | None = None,
    templates: bool | None = None,
    association: Annotated[
        str | None, Reports("{value}_effect_size"), Needs(model="required", data="unused")
    ] = None,
    targets: Any = None,
    attributes: Any = None,
    max_effect_size: float | None = None,
    seed: int = 0,
    profile: Any = None,
) -> Verdict:
    """Gate a fairness metric of ``model`` between the groups of ``sensitive`` columns.

    Differences take ``max_disparity=``, ratios ``min_ratio=``, ``*_group_min`` ``min=``.
    Each sensitive column (default: all of the dataset's) is gated on its own and the
    worst decides; ``intersectional=True`` gates their combined groups instead. A group
    with fewer than ``min_group_size`` rows is an error (``small_groups="ignore"`` leaves
    it out); missing sensitive values are an error (``missing="group"`` makes them a
    group). With ``confidence`` the gate decides on the threshold's bound of a score
    interval that keeps its level at parity and on small groups (docs/statistics.md); it
    is closed-form, so ``n_resamples`` is accepted for compatibility and not used.

    Text models: ``counterfactual="identity"`` with ``groups=`` and ``max_gap=`` swaps
    identity terms (:mod:`pytest_modelguard.text.swap`); ``association="weat"``/``"seat"``
    with ``targets=``, ``attributes=`` and ``max_effect_size=`` tests an encoder
    (:mod:`pytest_modelguard.text.association`). A generative model (``Generator``):
    ``stereotype="crows_pairs"`` with ``max_preference=``, or ``counterfactual=`` with
    ``on="outputs"`` and ``max_gap=`` (answers compared under an encoder).
    """
    keywords = {
        k: v for k, v in locals().items() if k not in ("model", "dataset", "seed", "profile")
    }
    return dispatch(
        "fairness", KINDS_OF_GATE, model, dataset, keywords, {"seed": seed, "profile": profile},
        fallback=KINDS_OF_GATE[0],
    )  # fmt: skip


# -- the kinds of fairness gate ------------------------------------------------------------


def _group_kind(
    model: Any,
    dataset: Dataset,
    *,
    metric: str,
    max_disparity: float | None,
    min_ratio: float | None,
    min: float | None,
    seed: int,
    **options: Any,
) -> Verdict:
    """A classifier's gate on groups of rows (the fallback kind: no other kind's keyword)."""
    thresholds = _given(max_disparity, min_ratio, min)
    return _tabular_fairness(model, dataset, metric, thresholds, GroupOptions(**options), seed=seed)


def _identity_swap(model: Any, dataset: Any, *, seed: int, profile: Any, **options: Any) -> Verdict:
    """A text classifier's gate: identity terms swapped in its texts."""
    from pytest_modelguard.text.gates import text_fairness

    text_options = dict.fromkeys(_ASSOCIATION_OPTIONS) | {
        name: options.pop(name) for name in TEXT_OPTIONS if name in options
    }
    return text_fairness(
        model, dataset, text_options=text_options, metric="demographic_parity_difference",
        others={}, seed=seed, profile=profile, **options,
    )  # fmt: skip


def _association(model: Any, dataset: Any, *, seed: int, **options: Any) -> Verdict:
    """An encoder's gate: a WEAT/SEAT effect size between targets and attributes."""
    from pytest_modelguard.text.association import association

    return association(model, dataset, seed=seed, **options)


def _stereotype(model: Any, dataset: Any, **options: Any) -> Verdict:
    """A generative model's gate: its CrowS-Pairs preference for the stereotyped sentence."""
    from pytest_modelguard.generative.stereotype import stereotype_gate

    return stereotype_gate(model, **options)


def _outputs(model: Any, dataset: Any, *, on: Any, prompts: Any, **options: Any) -> Verdict:
    """A generative model's gate: answers to identity-swapped prompts compared."""
    from pytest_modelguard.generative.consistency import counterfactual_gate

    if on != "outputs" or options["counterfactual"] is None:
        raise GateError(
            f"on={on!r}: a generative counterfactual gate takes counterfactual=... with "
            "on='outputs' (a text classifier's identity swaps take no on=)"
        )
    return counterfactual_gate(model, prompts if prompts is not None else dataset, **options)


_ASSOCIATION_OPTIONS = ("association", "targets", "attributes", "max_effect_size")
TEXT_OPTIONS = ("counterfactual", "groups", "max_gap", "lexicon", "exclude_terms", "templates")
GROUP_OPTIONS = (
    "sensitive", "intersectional", "method", "pos_label", "decision_threshold", "min_group_size",
    "small_groups", "missing", "confidence", "n_resamples", "examples",
)  # fmt: skip
#: the kinds of fairness gate, each with the keywords it takes (the first is the fallback:
#: a gate with no other kind's keyword is a group gate); a keyword of another kind is an
#: error, never dropped
KINDS_OF_GATE = (
    Kind(
        "group",
        triggers=("max_disparity", "min_ratio", "min"),
        options=("metric", *GROUP_OPTIONS),
        run=_group_kind,
        context=("seed",),
    ),
    Kind(
        "identity swap",
        triggers=("counterfactual",),
        options=(
            *TEXT_OPTIONS[1:],
            "pos_label",
            "decision_threshold",
            "confidence",
            "n_resamples",
            "examples",
        ),
        run=_identity_swap,
    ),
    Kind(
        "association",
        triggers=("association",),
        options=(*_ASSOCIATION_OPTIONS[1:], "n_resamples"),
        run=_association,
        context=("seed",),
    ),
    Kind(
        "stereotype",
        triggers=("stereotype", "max_preference"),
        options=("bias_types", "samples", "confidence"),
        run=_stereotype,
        context=("seed",),
    ),
    Kind(
        "counterfactual on outputs",
        triggers=("on",),
        options=(
            "counterfactual",
            "max_gap",
            "groups",
            "encoder",
            "scorer",
            "prompts",
            "confidence",
        ),
        run=_outputs,
    ),
)


@dataclass(frozen=True)
class GroupOptions:
    """How a classifier's groups are formed and compared: the keywords of a group gate."""

    sensitive: str | list[str] | None
    intersectional: bool
    method: str
    pos_label: Any
    decision_threshold: float
    min_group_size: int
    small_groups: str
    missing: str
    confidence: float | None
    n_resamples: int
    examples: int | None

    def changed(self) -> list[str]:
        """The keywords given away from their defaults (a flip-rate gate rejects them); the
        defaults are read from the check's signature, never written twice."""
        declared = requirements()["fairness"].defaults()
        options = {name: getattr(self, name) for name in FLIP_RATE_REJECTS}
        return list(given_keywords(options, declared))


FLIP_RATE_REJECTS = (
    "method", "pos_label", "min_group_size", "small_groups", "missing", "confidence",
    "intersectional",
)  # fmt: skip


def _tabular_fairness(
    model: Any,
    dataset: Dataset,
    metric: str,
    thresholds: dict[str, Any],
    o: GroupOptions,
    *,
    seed: int,
) -> Verdict:
    """A classifier's gate on groups of rows: a disparity, or the counterfactual flip rate."""
    started = time.perf_counter()
    _check_options(
        method=o.method,
        small_groups=o.small_groups,
        min_group_size=o.min_group_size,
        decision_threshold=o.decision_threshold,
        intersectional=o.intersectional,
    )
    # plain JSON in the evidence, even from numpy
    o = replace(o, decision_threshold=float(o.decision_threshold))
    if metric == COUNTERFACTUAL:
        return _counterfactual(
            model,
            dataset,
            sensitive=o.sensitive,
            thresholds=thresholds,
            not_applicable=o.changed(),
            examples=o.examples,
            decision_threshold=o.decision_threshold,
            seed=seed,
        )
    verdict = _group_gate(model, dataset, metric, thresholds, o)
    verdict.duration = time.perf_counter() - started
    return verdict


def _group_gate(
    model: Any, dataset: Dataset, metric: str, thresholds: dict[str, Any], o: GroupOptions
) -> Verdict:
    """A disparity between groups, from one count of every group's confusion cells."""
    spec = METRICS.get(metric)
    if spec is None:
        raise GateError(
            f"unknown fairness metric {metric!r}; choose one of "
            f"{', '.join([*METRICS, COUNTERFACTUAL])}"
        )
    operator, threshold = _threshold(spec, thresholds)
    if o.examples is not None:
        raise GateError(f"examples= applies only to metric={COUNTERFACTUAL!r}")
    check_confidence(o.confidence, o.n_resamples)
    columns = _sensitive_columns(dataset, o.sensitive)
    counts, model_name, output_kind = _subject_counts(
        model, dataset, columns, decision_threshold=o.decision_threshold, missing=o.missing
    )
    joint_groups, labels, table = counts.table()
    cells, positive = _cells(spec, labels, table, o.pos_label)
    evidence: dict[str, Any] = {
        "model": model_name,
        "dataset": dataset.name,
        "output": output_kind,
        "sensitive": list(columns),
        "intersectional": o.intersectional,
        "method": o.method,
        "min_group_size": o.min_group_size,
    }
    if positive is not None:
        evidence["pos_label"] = str(positive)
    if output_kind in ("probabilities", "logits"):
        evidence["decision_threshold"] = o.decision_threshold
    if counts.weighted:
        evidence["weighted"] = True
    views = _views(columns, joint_groups, o.intersectional)
    views = _drop_small_groups(views, cells[..., 0], o.min_group_size, o.small_groups, evidence)

    weights = cells[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = _statistic(spec, o.method, views, weights[None])[0]
    _require_defined(spec, o.method, views, weights, values)
    low = high = None
    if o.confidence is not None:
        low, high = _interval(
            spec, o.method, views, cells, confidence=o.confidence, evidence=evidence
        )
    evidence["by_sensitive"] = _tables(
        spec, views, cells, values, low, high, weighted=bool(counts.weighted)
    )
    verdict = decide(
        requirement="fairness", metric=metric, values=values, labels=[v.label for v in views],
        operator=operator, threshold=threshold, confidence=o.confidence, low=low, high=high,
        n=len(counts), formula=spec.formula(o.method), evidence=evidence,
    )  # fmt: skip
    _say_ignored_groups(verdict, o.min_group_size)
    return verdict


def _subject_counts(
    model: Any, dataset: Dataset, columns: list[str], *, decision_threshold: float, missing: str
) -> tuple[GroupCounts, str, str]:
    """The group counts, the model's name and its output kind (a log's, or the model's)."""
    if getattr(dataset, "is_prediction_log", False):
        counts = dataset.group_counts(
            columns, decision_threshold=decision_threshold, missing=missing
        )
        return counts, "logged predictions", dataset.output_kind
    adapter = adapt(model)
    counts, output_kind = count_groups(
        adapter, dataset, columns=columns, decision_threshold=decision_threshold, missing=missing
    )
    return counts, adapter.name, output_kind


def _say_ignored_groups(verdict: Verdict, min_group_size: int) -> None:
    ignored = verdict.evidence.get("ignored_groups")
    if ignored:
        left_out = "; ".join(
            f"{view}: " + ", ".join(f"{g} (n={n})" for g, n in groups.items())
            for view, groups in ignored.items()
        )
        verdict.message += f"\n  ignored   groups below min_group_size={min_group_size}: {left_out}"


# -- counting ---------------------------------------------------------------------------


def count_groups(
    adapter: Adapter,
    dataset: Dataset,
    *,
    columns: list[str],
    decision_threshold: float = 0.5,
    missing: str = "error",
) -> tuple[GroupCounts, str]:
    """The group counts of the model's labels on ``dataset``, and what the model outputs.

    An in-memory dataset uses the adapter's cached outputs, and its counts are kept with
    them, so every fairness gate on the same model, data and columns counts once; a stream
    is predicted and counted batch by batch, so only one batch is in memory at a time.
    """
    counts = GroupCounts(columns, missing=missing)
    if not dataset.is_streaming:
        output = adapter.outputs(dataset)
        key = ("group_counts", tuple(columns), decision_threshold, missing)
        if key not in output.derived:
            predicted = predicted_labels(output, dataset.target, decision_threshold)
            counts.add(dataset.sensitive, dataset.target, predicted, dataset.sample_weight)
            output.derived[key] = counts  # read only: gates take tables from it, never add
        return output.derived[key], output.kind
    if isinstance(adapter.model, Predictions):
        raise GateError(
            "stored Predictions cannot be aligned with a stream of batches: use an in-memory "
            "Dataset, or gate the model itself"
        )
    kind = None
    for index, batch in enumerate(dataset.batches()):
        if len(batch) == 0:
            continue
        # Uncached on purpose: a batch is seen once, and caching would hold the whole stream.
        output = adapter.predict(batch.as_dataset(f"{dataset.name}[batch {index}]"))
        if kind is not None and output.kind != kind:
            raise GateError(
                f"the model's outputs look like {kind} in earlier batches but {output.kind} in "
                f"batch {index}: state them with adapt(model, output=...) in the model fixture"
            )
        kind = output.kind
        predicted = predicted_labels(output, batch.target, decision_threshold)
        counts.add(batch.sensitive, batch.target, predicted, batch.sample_weight)
    if kind is None:
        raise GateError(f"dataset {dataset.name!r} yielded no rows")
    return counts, kind


def _cells(
    spec: Metric, labels: list[Any], table: np.ndarray, pos_label: Any
) -> tuple[np.ndarray, Any]:
    """``(groups, cells, (rows, weight, weight²))``: ``[TN, FP, FN, TP]`` or ``[wrong, right]``."""
    if not spec.binary:
        right = np.einsum("gtts->gs", table)
        return np.stack([table.sum(axis=(1, 2)) - right, right], axis=1), None
    if len(labels) > 2:
        raise GateError(
            f"{spec.name} is defined for binary classification, but the target and predictions "
            f"have {len(labels)} labels {labels[:10]}; binarise the target (one class against "
            "the rest) or gate accuracy_difference / accuracy_group_min"
        )
    positive = positive_label(labels, pos_label)
    cells = np.zeros((table.shape[0], 4, 3))
    is_positive = [label == positive for label in labels]
    for t, true_positive in enumerate(is_positive):
        for p, predicted_positive in enumerate(is_positive):
            cells[:, 2 * true_positive + predicted_positive] += table[:, t, p]
    return cells, positive


# -- groups -----------------------------------------------------------------------------


def _views(columns: list[str], joint: list[tuple[Any, ...]], intersectional: bool) -> list[View]:
    if intersectional:
        names = [" & ".join(map(str, g)) for g in joint]
        return [View(" & ".join(columns), names, np.eye(len(joint)))]
    views = []
    for c, column in enumerate(columns):
        names = list(dict.fromkeys(str(g[c]) for g in sorted(joint, key=lambda g: _key(g[c]))))
        index = {name: i for i, name in enumerate(names)}
        membership = np.zeros((len(joint), len(names)))
        membership[np.arange(len(joint)), [index[str(g[c])] for g in joint]] = 1.0
        views.append(View(column, names, membership))
    return views


def _key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _drop_small_groups(
    views: list[View],
    rows: np.ndarray,
    min_group_size: int,
    small_groups: str,
    evidence: dict[str, Any],
) -> list[View]:
    """Views without groups below ``min_group_size`` (or an error naming them)."""
    kept_views = []
    for view in views:
        sizes = rows.sum(axis=1) @ view.membership
        small = {g: int(n) for g, n in zip(view.groups, sizes, strict=True) if n < min_group_size}
        if small and small_groups == "error":
            listed = " and ".join(f"group {g!r} has {n} rows" for g, n in small.items())
            raise GateError(
                f"sensitive {view.label!r}: {listed}, fewer than min_group_size="
                f"{min_group_size}; add data, lower min_group_size=, or pass "
                "small_groups='ignore' to leave such groups out"
            )
        if small:
            evidence.setdefault("ignored_groups", {})[view.label] = small
        keep = [i for i, g in enumerate(view.groups) if g not in small]
        if len(keep) < 2:
            names = [view.groups[i] for i in keep]
            raise GateError(
                f"sensitive {view.label!r} has {len(keep)} group{'s' if len(keep) != 1 else ''} "
                f"{names}{' after leaving out small groups' if small else ''}: a disparity needs "
                "at least two groups"
            )
        kept = View(view.label, [view.groups[i] for i in keep], view.membership[:, keep])
        kept_views.append(kept)
    return kept_views


# -- the statistic: weights of the joint cells -> one value per view --------------------


def _group_rates(weights: np.ndarray, rates: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``weights`` ``(r, groups, cells)`` -> each rate ``(r, groups)``."""
    return {
        name: weights[..., list(RATES[name].numerator)].sum(axis=-1)
        / weights[..., list(RATES[name].denominator)].sum(axis=-1)
        for name in rates
    }


def _statistic(spec: Metric, method: str, views: list[View], weights: np.ndarray) -> np.ndarray:
    """``weights`` ``(r, joint groups, cells)`` -> the metric of every view ``(r, views)``."""
    results = []
    for view in views:
        grouped = np.einsum("rjc,jg->rgc", weights, view.membership)
        by_group = _group_rates(grouped, spec.rates)
        overall = _group_rates(grouped.sum(axis=1, keepdims=True), spec.rates)
        parts = [_aggregate(spec.kind, method, by_group[r], overall[r]) for r in spec.rates]
        combine = np.max if spec.kind == "difference" else np.min
        results.append(combine(np.stack(parts), axis=0))
    return np.stack(results, axis=1)


def _aggregate(kind: str, method: str, groups: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """fairlearn's ``difference`` / ``ratio`` / ``group_min`` over the group axis."""
    if kind == "group_min":
        return groups.min(axis=1)
    if kind == "difference":
        if method == "between_groups":
            return groups.max(axis=1) - groups.min(axis=1)
        return np.abs(groups - overall).max(axis=1)
    if method == "between_groups":
        return groups.min(axis=1) / groups.max(axis=1)
    ratios = groups / overall
    return np.where(ratios > 1, 1 / ratios, ratios).min(axis=1)


def _require_defined(
    spec: Metric, method: str, views: list[View], weights: np.ndarray, values: np.ndarray
) -> None:
    """A rate undefined for some group, or a ratio of zeros, is an error naming it."""
    for view, value in zip(views, values, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = _group_rates((weights.T @ view.membership).T[None], spec.rates)
        for name, per_group in rates.items():
            bad = [g for g, v in zip(view.groups, per_group[0], strict=True) if not np.isfinite(v)]
            if bad:
                raise GateError(
                    f"{spec.name}: the {RATES[name].symbol} of group {bad[0]!r} of sensitive "
                    f"{view.label!r} is undefined: {RATES[name].undefined}; add such rows, merge "
                    "the group, or choose another metric"
                )
        if not np.isfinite(value):
            zero = "the overall rate is 0" if method == "to_overall" else "every group's rate is 0"
            raise GateError(f"{spec.name} is undefined for sensitive {view.label!r}: {zero}")


def _interval(
    spec: Metric,
    method: str,
    views: list[View],
    cells: np.ndarray,
    *,
    confidence: float,
    evidence: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """The interval of every view's metric (see :func:`disparity_interval`)."""
    bounds = [
        disparity_interval(
            spec, method, np.einsum("jcs,jg->gcs", cells, view.membership), confidence
        )
        for view in views
    ]
    low, high = (np.array([float(b[i]) for b in bounds]) for i in (0, 1))
    undefined = [v.label for v, a, b in zip(views, low, high, strict=True) if np.isnan(a + b)]
    if undefined:
        raise GateError(
            f"{spec.name}: the interval is undefined for sensitive {undefined[0]!r} (a rate "
            "has no rows outside one group); add rows or drop confidence="
        )
    evidence["interval"] = INTERVAL_METHOD[spec.kind]
    return low, high


INTERVAL_METHOD = {
    "difference": "Newcombe score intervals of the signed differences between groups, folded "
    "at 0; upper bound pointwise, lower bound Bonferroni over the comparisons",
    "ratio": "MOVER-R score intervals of the ratios between groups, folded at 1; lower bound "
    "pointwise, upper bound Bonferroni over the comparisons",
    "group_min": "Wilson score intervals of the group rates; lower bound pointwise, upper "
    "bound Bonferroni over the groups",
}


def disparity_interval(
    spec: Metric, method: str, grouped: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``confidence`` interval of the metric from group cells ``(..., groups,
    cells, (rows, weight, weight²))``; leading axes are independent datasets.

    A disparity is the largest (a ratio: the smallest) of smooth comparisons ``c`` of two
    rates: ``|p_i - p_j|``, ``min(p_i/p_j, p_j/p_i)``, or a group against the rest of the
    rows for ``to_overall``. Each comparison has a score interval (Newcombe / MOVER-R of
    Wilson intervals), folded at parity, so it covers 0 (or 1) there. Then:

    - the bound on the threshold's side is the worst comparison's bound at the pointwise
      level: it can only miss if the comparison that *is* the worst misses on that side,
      so it keeps the one-sided level ``(1 + confidence) / 2`` of a two-sided interval;
    - the other bound needs every comparison to hold at once: Bonferroni over the ``C``
      comparisons (two-sided ``1 - (1 - confidence) / (2C)``), so the two-sided interval
      keeps ``confidence``. With one comparison the fold alone does.

    With weights a rate's row count is Kish's effective count ``W² / W2``.
    """
    alpha = 1.0 - confidence
    sums = [_rate_sums(grouped, RATES[name]) for name in spec.rates]
    k = grouped.shape[-3]
    if spec.kind == "group_min":
        z_point, z_joint = two_sided_z(confidence), two_sided_z(1.0 - alpha / k)
        lows, highs = [], []
        for rate in sums:
            p, n = _rate_and_size(*rate)
            lows.append(wilson(p, n, z_point)[0].min(axis=-1))
            highs.append(wilson(p, n, z_joint)[1].min(axis=-1))
        return np.min(lows, axis=0), np.min(highs, axis=0)
    comparisons = len(sums) * (k * (k - 1) // 2 if method == "between_groups" else k)
    joint = confidence if comparisons == 1 else 1.0 - alpha / (2 * comparisons)
    point = [_comparisons(spec.kind, method, rate, confidence) for rate in sums]
    both = [_comparisons(spec.kind, method, rate, joint) for rate in sums]
    if spec.kind == "difference":
        high = np.max([b[1].max(axis=-1) for b in point], axis=0)
        low = np.max([b[0].max(axis=-1) for b in both], axis=0)
    else:
        low = np.min([b[0].min(axis=-1) for b in point], axis=0)
        high = np.min([b[1].min(axis=-1) for b in both], axis=0)
    return low, high


def _rate_sums(grouped: np.ndarray, rate: Rate) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each group's numerator weight, denominator weight and squared weight ``(..., groups)``."""
    numerator = grouped[..., list(rate.numerator), 1].sum(axis=-1)
    denominator = grouped[..., list(rate.denominator), :].sum(axis=-2)
    return numerator, denominator[..., 1], denominator[..., 2]


def _rate_and_size(
    numerator: np.ndarray, weight: np.ndarray, square: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rate and its effective row count (Kish: ``W² / W2``; the rows when unweighted)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / weight, weight**2 / square


def _comparisons(
    kind: str,
    method: str,
    sums: tuple[np.ndarray, np.ndarray, np.ndarray],
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Folded intervals of every comparison ``(..., comparisons)`` at ``confidence``."""
    z = two_sided_z(confidence)
    if method == "between_groups":
        i, j = np.triu_indices(sums[0].shape[-1], 1)
        first = _rate_and_size(*(a[..., i] for a in sums))
        second = _rate_and_size(*(a[..., j] for a in sums))
    else:  # to_overall: each group against the rows outside it
        first = _rate_and_size(*sums)
        second = _rate_and_size(*(a.sum(axis=-1, keepdims=True) - a for a in sums))
    (p1, n1), (p2, n2) = first, second
    bounds1, bounds2 = wilson(p1, n1, z), wilson(p2, n2, z)
    if kind == "difference":
        low, high = newcombe_difference(p1, bounds1, p2, bounds2)
        if method == "to_overall":  # p_g - p_all = (1 - w)(p_g - p_rest), w = g's share
            rest = 1.0 - sums[1] / sums[1].sum(axis=-1, keepdims=True)
            low, high = rest * low, rest * high
        return fold_difference(low, high)
    if method == "between_groups":
        return fold_ratio(*mover_ratio(p1, bounds1, p2, bounds2))
    # p_g / p_all = 1 / (w + (1 - w) p_rest / p_g): decreasing in p_rest / p_g
    share = sums[1] / sums[1].sum(axis=-1, keepdims=True)
    low_rest, high_rest = mover_ratio(p2, bounds2, p1, bounds1)
    with np.errstate(divide="ignore"):
        low = 1.0 / (share + (1.0 - share) * high_rest)
        high = 1.0 / (share + (1.0 - share) * low_rest)
    return fold_ratio(low, high)


# -- evidence ---------------------------------------------------------------------------


def _tables(
    spec: Metric,
    views: list[View],
    cells: np.ndarray,
    values: np.ndarray,
    low: np.ndarray | None,
    high: np.ndarray | None,
    *,
    weighted: bool,
) -> dict[str, Any]:
    """Per sensitive column: value, interval and the per-group table (plain JSON)."""
    shown = (
        tuple(dict.fromkeys(("selection_rate", "tpr", "fpr", *spec.rates)))
        if spec.binary
        else spec.rates
    )
    tables = {}
    for i, view in enumerate(views):
        grouped = np.einsum("jcs,jg->gcs", cells, view.membership)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = _group_rates(grouped[..., 1], shown)
        rows = {}
        for g, group in enumerate(view.groups):
            row: dict[str, Any] = {"n": int(grouped[g, :, 0].sum())}
            if weighted:
                row["weight"] = float(grouped[g, :, 1].sum())
            for name in shown:
                value = float(rates[name][g])
                row[name] = value if np.isfinite(value) else None
            rows[group] = row
        tables[view.label] = {
            "value": float(values[i]),
            "ci": None if low is None or high is None else [float(low[i]), float(high[i])],
            "groups": rows,
        }
    return tables


# -- arguments --------------------------------------------------------------------------


def _given(max_disparity: Any, min_ratio: Any, min: Any) -> dict[str, Any]:
    return {"max_disparity": max_disparity, "min_ratio": min_ratio, "min": min}


def _threshold(spec: Metric, given: dict[str, Any]) -> tuple[str, float]:
    wanted = THRESHOLD[spec.kind]
    wrong = [name for name, value in given.items() if value is not None and name != wanted]
    kind = {"difference": "a difference", "ratio": "a ratio", "group_min": "a group minimum"}
    if wrong:
        raise GateError(
            f"{wrong[0]}= does not apply to {spec.name} ({kind[spec.kind]}); use {wanted}="
        )
    name, value = one_threshold("fairness", {wanted: given[wanted]})
    operator: Operator = "<=" if name == "max_disparity" else ">="
    what = "a disparity" if name == "max_disparity" else kind[spec.kind]
    return operator, check_threshold(name, value, operator=operator, within=UNIT, what=what)


def _check_options(
    *,
    method: str,
    small_groups: str,
    min_group_size: Any,
    decision_threshold: Any,
    intersectional: Any,
) -> None:
    if method not in METHODS:
        raise GateError(f"method={method!r}: use one of {', '.join(METHODS)}")
    if small_groups not in SMALL_GROUPS:
        raise GateError(f"small_groups={small_groups!r}: use one of {', '.join(SMALL_GROUPS)}")
    require_count("min_group_size", min_group_size)
    if not isinstance(decision_threshold, Real) or not 0.0 < decision_threshold < 1.0:
        raise GateError(
            f"decision_threshold={decision_threshold!r} must lie strictly between 0 and 1"
        )
    if not isinstance(intersectional, bool):
        raise GateError(f"intersectional={intersectional!r}: use True or False")


def _sensitive_columns(dataset: Dataset, sensitive: str | list[str] | None) -> list[str]:
    available = list(dataset.sensitive_columns if dataset.is_streaming else dataset.sensitive)
    if sensitive is None:
        if not available:
            raise GateError(
                f"dataset {dataset.name!r} has no sensitive columns: build it with "
                "sensitive=[...] (e.g. Dataset.from_pandas(df, target=..., sensitive=['sex']))"
            )
        return available
    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not columns:
        raise GateError("sensitive=[] names no column: name one or more, or omit it for all")
    absent = [c for c in columns if c not in available]
    if absent:
        raise GateError(
            f"sensitive column(s) {', '.join(map(repr, absent))} not in dataset "
            f"{dataset.name!r}; its sensitive columns are: {', '.join(available) or 'none'}"
        )
    if len(set(columns)) != len(columns):
        raise GateError(f"sensitive={columns!r} names a column twice")
    return columns


def _counterfactual(
    model: Any,
    dataset: Dataset,
    *,
    sensitive: str | list[str] | None,
    thresholds: dict[str, Any],
    not_applicable: list[str],
    examples: int | None,
    decision_threshold: float,
    seed: int,
) -> Verdict:
    wrong = [k for k, v in thresholds.items() if v is not None and k != "max_disparity"]
    if wrong:
        raise GateError(f"{wrong[0]}= does not apply to {COUNTERFACTUAL}; use max_disparity=")
    _, max_disparity = one_threshold("fairness", {"max_disparity": thresholds["max_disparity"]})
    if not_applicable:
        names = " and ".join(f"{name}=" for name in not_applicable)
        raise GateError(
            f"{names} {'does' if len(not_applicable) == 1 else 'do'} not apply to "
            f"{COUNTERFACTUAL}: it compares each row's decision with its counterfactual"
        )
    columns = _sensitive_columns(dataset, sensitive)
    if len(columns) != 1:
        raise GateError(
            f"{COUNTERFACTUAL} flips one sensitive column: name it with sensitive='...'"
        )
    from pytest_modelguard.checks.fairness.counterfactual import counterfactual_flip_rate

    extra = {} if examples is None else {"examples": examples}
    return counterfactual_flip_rate(
        model,
        dataset,
        sensitive=columns[0],
        max_disparity=max_disparity,
        decision_threshold=decision_threshold,
        seed=seed,
        **extra,
    )
