"""Perturbation gates: do predictions survive noise, edits and occlusions of the inputs?

Hypothesis draws the parameters of one perturbation family (magnitude up to ``eps``, noise
seed, direction, patch position, ...) and a batch of rows; each example perturbs the batch
and scores it in one model call against the cached clean predictions. The property is
"flip rate <= max_flip_rate"; on a failure Hypothesis shrinks to the smallest perturbation
that still breaks it, and the message shows that perturbation and the rows it flips.

The families themselves are plain numpy (:func:`apply`); their Hypothesis strategies are
public in :mod:`pytest_modelguard.checks.robustness.strategies`.
"""

from __future__ import annotations

import math
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_modelguard.adapters import Adapter, adapt
from pytest_modelguard.adapters.outputs import predicted_labels
from pytest_modelguard.checks._gate import UNIT, check_threshold, decide
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.verdict import Counterexample, GateError, Verdict, require_count

if TYPE_CHECKING:
    from pytest_modelguard.checks.robustness.strategies import Perturbation

METRIC = "flip_rate"
ROWS_PER_EXAMPLE = 256  # rows one Hypothesis example perturbs and scores in one model call
SHOWN_ROWS = 5  # rows of a counterexample listed with their predictions
DECISION_THRESHOLD = 0.5


@dataclass(frozen=True)
class Family:
    """A perturbation family: the dataset kind it fits and what its ``eps`` means."""

    name: str
    kind: str
    eps: str
    max_eps: float | None = 1.0  # None: no upper limit
    min_eps: float = 0.0  # eps must exceed this (translation: at least one pixel)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "gaussian_noise", "image", "noise standard deviation, a fraction of the bounds range"
        ),
        Family("uniform_noise", "image", "noise amplitude (+-), a fraction of the bounds range"),
        Family("brightness", "image", "brightness shift (+-), a fraction of the bounds range"),
        Family("contrast", "image", "relative contrast change: factor in [1 - eps, 1 + eps]"),
        Family("occlusion", "image", "fraction of the pixels covered by one square patch"),
        Family("rotation", "image", "maximum rotation in degrees", max_eps=180.0),
        Family("translation", "image", "maximum shift in pixels", max_eps=None, min_eps=0.999),
        Family("feature_jitter", "tabular", "jitter amplitude, a fraction of each column's range"),
        Family("missing_values", "tabular", "share of the mutable cells set to missing"),
        Family("typo", "text", "share of characters edited (at least one per text)"),
        Family("case", "text", "share of letters whose case is flipped (at least one)"),
        Family(
            "whitespace", "text", "share of characters: whitespace runs inserted (at least one)"
        ),
        Family("punctuation", "text", "share of characters: punctuation added or removed (>= one)"),
        Family(
            "swap_identity", "text", "share of identity terms swapped to another group (>= one)"
        ),
    ]
}


def family_for(perturbation: Any, eps: Any) -> Family:
    """The family named ``perturbation`` with ``eps`` checked, or an error listing the choices."""
    family = FAMILIES.get(perturbation) if isinstance(perturbation, str) else None
    if family is None:
        raise GateError(f"perturbation={perturbation!r} is not a perturbation family; {_listing()}")
    if eps is None:
        raise GateError(
            f"perturbation={family.name!r} needs eps=: the {family.eps} (e.g. "
            f"eps={_example_eps(family)})"
        )
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps):
        raise GateError(f"eps= must be a finite number, got {eps!r}")
    upper = family.max_eps
    if eps <= family.min_eps or (upper is not None and eps > upper):
        limit = "" if upper is None else f" and at most {upper:g}"
        raise GateError(
            f"eps={eps!r} for perturbation={family.name!r} ({family.eps}) must be more than "
            f"{math.ceil(family.min_eps):g}{limit}"
        )
    return family


def _example_eps(family: Family) -> str:
    return {"rotation": "10", "translation": "2"}.get(family.name, "0.05")


def _listing() -> str:
    kinds = {}
    for family in FAMILIES.values():
        kinds.setdefault(family.kind, []).append(family.name)
    return "families: " + "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())


# -- the gate ---------------------------------------------------------------------------------


def perturbation_gate(
    model: Any,
    dataset: Dataset,
    *,
    perturbation: str,
    eps: float | None,
    max_flip_rate: float | None,
    examples: int | None,
    immutable: list[str] | None,
    bounds: Any,
    seed: int,
    profile: Profile | None,
) -> Verdict:
    """Gate the worst flip rate Hypothesis finds under one perturbation family.

    Each example perturbs one batch of rows (a window of a seeded permutation) with
    parameters Hypothesis draws, scoring it in one model call; ``value`` is the worst batch
    flip rate over every example evaluated. A failure carries the shrunk counterexample.
    """
    started = time.perf_counter()
    family = family_for(perturbation, eps)
    if dataset.kind != family.kind:
        fitting = [f.name for f in FAMILIES.values() if f.kind == dataset.kind]
        raise GateError(
            f"perturbation={family.name!r} perturbs {family.kind} data, but dataset "
            f"{dataset.name!r} is kind={dataset.kind!r}: for {dataset.kind} data use one of "
            f"{', '.join(fitting)} (or build the Dataset with kind={family.kind!r})"
        )
    threshold = check_rate("max_flip_rate", max_flip_rate, needed_by="perturbation gates")
    profile = profile or PROFILES["ci"]
    examples = examples_for(examples, profile)
    context = _checked_context(family, dataset, bounds, immutable)
    adapter, before = _clean_decisions(model, dataset)
    probe = _Probe(adapter, dataset, before, context, threshold, seed)

    from pytest_modelguard.checks.robustness import strategies

    drawn = strategies.perturbations(family.name, float(eps))  # type: ignore[arg-type]
    result, search = run_search(probe, drawn, examples=examples, seed=seed, profile=profile)
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "family": family.name,
        "eps": float(eps),  # type: ignore[arg-type]
        "eps_means": family.eps,
        "rows_per_example": probe.size,
        "immutable": list(immutable or []),
        "search": search,
    }
    if family.kind == "image":
        evidence["bounds"] = list(context)
    verdict = decide(
        requirement="robust",
        metric=METRIC,
        values=np.array([search["worst_flip_rate"]]),
        operator="<=",
        threshold=threshold,
        n=probe.size,
        formula=(
            f"max over {search['examples_evaluated']} Hypothesis examples of rows whose "
            f"prediction changes under {family.name} / {probe.size} rows in the example"
        ),
        evidence=evidence,
    )
    if result is not None:
        verdict.counterexample = result
        verdict.message = verdict.describe()
    verdict.duration = time.perf_counter() - started
    return verdict


def _checked_context(
    family: Family, dataset: Dataset, bounds: Any, immutable: list[str] | None
) -> Any:
    """What the family perturbs within (columns and their bounds, or pixel bounds); a
    context in which nothing can change is an error, since the gate could not fail."""
    if immutable and family.kind != "tabular":
        raise GateError(
            f"immutable= names tabular columns; perturbation={family.name!r} perturbs "
            f"{family.kind} data: drop immutable="
        )
    bounds = dataset.bounds if bounds is None else bounds
    context = _context(family, dataset, bounds, immutable or [])
    if family.kind == "tabular" and not any(column.mutable for column in context):
        raise GateError(
            f"immutable= names every feature column, so {family.name} would change nothing "
            "and the gate could not fail: leave at least one column mutable"
        )
    return context


def _clean_decisions(model: Any, dataset: Dataset) -> tuple[Adapter, np.ndarray]:
    """The model's adapter and its decisions on the unperturbed rows."""
    adapter = adapt(model)
    clean = adapter.outputs(dataset)
    if clean.kind == "values":
        raise GateError(
            f"a flip rate compares decisions, but the model {adapter.name} returns regression "
            "values; use a classifier (or gate a regressor with monotonic=)"
        )
    return adapter, predicted_labels(clean, dataset.target, DECISION_THRESHOLD)


class _Probe:
    """Perturbs one window of rows and scores it in one model call."""

    def __init__(
        self,
        adapter: Adapter,
        dataset: Dataset,
        before: np.ndarray,
        context: Any,
        threshold: float,
        seed: int,
    ) -> None:
        n = len(dataset)
        self.adapter, self.dataset, self.before = adapter, dataset, before
        self.context, self.threshold = context, threshold
        self.size = min(n, ROWS_PER_EXAMPLE, adapter.batch_size)
        self.windows = n // self.size
        self.order = np.random.default_rng(seed).permutation(n)
        self.outcomes: list[dict[str, Any]] = []

    def rows(self, window: int) -> np.ndarray:
        return self.order[window * self.size : (window + 1) * self.size]

    def __call__(self, perturbation: Perturbation, window: int) -> dict[str, Any]:
        rows = self.rows(window)
        dataset = self.dataset
        original = take(dataset.features, rows)
        perturbed = perturbation.apply(original, context=self.context)
        target = dataset.target[rows]
        batch = Dataset(
            perturbed,
            target,
            feature_names=dataset.feature_names,
            kind=dataset.kind,
            name=dataset.name,
        )
        after = predicted_labels(self.adapter.predict(batch), target, DECISION_THRESHOLD)
        changed = np.flatnonzero(after != self.before[rows])
        shown = changed[:SHOWN_ROWS]
        outcome = {
            **perturbation.describe(),
            "window": int(window),
            "rows_in_example": len(rows),
            "inputs_changed": rows_changed(original, perturbed),
            "flipped": len(changed),
            "flip_rate": len(changed) / len(rows),
            "rows": [int(r) for r in rows[shown]],
            "before": [_plain(v) for v in self.before[rows[shown]]],
            "after": [_plain(v) for v in after[shown]],
        }
        if dataset.kind == "text":
            old, new = texts(original), texts(perturbed)
            outcome["texts"] = [[_short(old[i]), _short(new[i])] for i in shown]
        self.outcomes.append(outcome)
        return outcome


def rows_changed(original: Any, perturbed: Any) -> int:
    """How many rows a perturbation changed (NaN equals NaN): zero over a whole search
    means the gate measured nothing."""
    if hasattr(original, "iloc"):
        a, b = original.reset_index(drop=True), perturbed.reset_index(drop=True)
        same = (a.eq(b) | (a.isna() & b.isna())).to_numpy()
        return int((~same).reshape(len(a), -1).any(axis=1).sum())
    a, b = np.asarray(original), np.asarray(perturbed)
    if a.shape != b.shape:
        return len(a)
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    same = a == b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    return int((~same).any(axis=1).sum())


def run_search(
    probe: Any, drawn: Any, *, examples: int, seed: int, profile: Profile
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Run the Hypothesis property over ``drawn`` x windows; the shrunk failure or None.

    ``probe(params, window)`` scores one example and returns its outcome, whose
    ``probe.rate_key`` entry (default ``flip_rate``) must stay at or below
    ``probe.threshold``; every outcome is kept in ``probe.outcomes`` for the evidence.
    """
    import hypothesis
    from hypothesis import given
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky

    key = getattr(probe, "rate_key", "flip_rate")
    changed_key = getattr(probe, "changed_key", "inputs_changed")
    own = profile.hypothesis_settings(max_examples=examples)

    @hypothesis.seed(seed)
    @own
    @given(drawn, st.integers(0, probe.windows - 1))
    def rate_within_bound(params: Any, window: int) -> None:
        outcome = probe(params, window)
        if outcome[key] > probe.threshold:
            raise Counterexample(outcome)

    found = None
    try:
        rate_within_bound()
    except Counterexample as broken:
        found = broken.counterexample
    except Flaky as exc:
        raise GateError(
            "the model's predictions did not reproduce when Hypothesis re-ran the same "
            "perturbed rows (dropout or randomness at inference?); make inference "
            f"deterministic: {type(exc).__name__}"
        ) from None
    outcomes = probe.outcomes
    if found is None and not any(o.get(changed_key, 1) for o in outcomes):
        raise GateError(
            f"nothing to measure: none of the {len(outcomes)} examples changed any input "
            f"row, so no {key.replace('_', ' ')} could rise above 0 and the gate would pass "
            "by construction; the perturbation has nothing to act on here (constant or "
            "immutable columns, values at their bounds, texts without letters, blank "
            "images): perturb other data or columns, or a larger eps="
        )
    failing = [i for i, o in enumerate(outcomes) if o[key] > probe.threshold]
    search = {
        "max_examples": examples,
        "examples_evaluated": len(outcomes),
        "examples_until_failure": failing[0] + 1 if failing else None,
        f"worst_{key}": max(o[key] for o in outcomes),
        "profile": profile.name,
        "seed": seed,
        "first_failure": outcomes[failing[0]] if failing else None,
    }
    return found, search


# -- validation and context -------------------------------------------------------------------


def check_rate(name: str, value: Any, *, needed_by: str) -> float:
    if value is None:
        raise GateError(f"{needed_by} need a threshold: give {name}= (e.g. {name}=0.01)")
    return check_threshold(name, value, operator="<=", within=UNIT, what="a rate")


def examples_for(examples: Any, profile: Profile) -> int:
    if examples is None:
        return profile.examples
    require_count("examples", examples, what="(Hypothesis examples)")
    return examples


def _context(family: Family, dataset: Dataset, bounds: Any, immutable: list[str]) -> Any:
    """What a family needs besides the rows: image bounds or the tabular columns."""
    if family.kind == "image":
        return image_bounds(dataset.features, bounds)
    if family.kind == "tabular":
        return tabular_columns(dataset.features, dataset.feature_names, bounds, immutable)
    values = texts(dataset.features)  # validates
    if family.name == "swap_identity":
        from pytest_modelguard.text.lexicons import require_identity_terms

        require_identity_terms(values, dataset.name)
    return None


def take(features: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of features of any supported container, in the same container."""
    if hasattr(features, "iloc"):
        return features.iloc[rows]
    if isinstance(features, list | tuple):
        return [features[int(i)] for i in rows]
    return np.asarray(features)[rows]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- images -----------------------------------------------------------------------------------


def image_bounds(features: Any, bounds: Any) -> tuple[float, float]:
    """The (low, high) pixel range: declared, or observed; pixels outside declared ones fail."""
    array = np.asarray(features)
    if array.ndim not in (3, 4) or array.dtype.kind not in "biuf":
        raise GateError(
            f"image perturbations need numeric features of shape (N, H, W) or (N, H, W, C); "
            f"got {array.dtype} of shape {array.shape}"
        )
    if bounds is None:
        return float(array.min()), float(array.max())
    if isinstance(bounds, Mapping):
        raise GateError(
            "image perturbations take bounds=(low, high) for every pixel, not a mapping of columns"
        )
    low, high = _pair("bounds", bounds)
    seen = float(array.min()), float(array.max())
    if seen[0] < low or seen[1] > high:
        raise GateError(
            f"the images have pixels in [{seen[0]:g}, {seen[1]:g}], outside the declared bounds "
            f"({low:g}, {high:g}): fix bounds= or rescale the images"
        )
    return low, high


def _pair(name: str, bounds: Any) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise GateError(f"{name}={bounds!r}: give a (low, high) pair of numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise GateError(f"{name}={bounds!r}: give finite numbers with low < high")
    return low, high


def _image(params: Mapping[str, Any], x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    family, m = params["family"], float(params["magnitude"])
    low, high = bounds
    span = high - low
    out = x.astype(np.float64)
    rng = np.random.default_rng(params.get("seed", 0))
    sign = params.get("sign", 1)
    if family == "gaussian_noise":
        out = out + rng.normal(0.0, m * span, out.shape)
    elif family == "uniform_noise":
        out = out + rng.uniform(-m * span, m * span, out.shape)
    elif family == "brightness":
        out = out + sign * m * span
    elif family == "contrast":
        axes = tuple(range(1, out.ndim))
        mean = out.mean(axis=axes, keepdims=True)
        out = (out - mean) * (1.0 + sign * m) + mean
    elif family == "occlusion":
        h, w = out.shape[1:3]
        side_h, side_w = max(1, round(math.sqrt(m) * h)), max(1, round(math.sqrt(m) * w))
        top = round(params["top"] * (h - side_h))
        left = round(params["left"] * (w - side_w))
        out[:, top : top + side_h, left : left + side_w] = low
    elif family == "rotation":
        out = _rotate(out, sign * m, low)
    elif family == "translation":
        dy, dx = (int(d * m) for d in params["direction"])
        out = _shift(out, dy, dx, low)
    out = np.clip(out, low, high)
    if x.dtype.kind in "biu":
        return np.rint(out).astype(x.dtype)
    return out.astype(x.dtype)


def _rotate(x: np.ndarray, degrees: float, fill: float) -> np.ndarray:
    """Rotate every image about its centre (bilinear; uncovered pixels get ``fill``)."""
    h, w = x.shape[1:3]
    t = math.radians(degrees)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sy = cy + (yy - cy) * math.cos(t) + (xx - cx) * math.sin(t)
    sx = cx - (yy - cy) * math.sin(t) + (xx - cx) * math.cos(t)
    inside = (sy >= -0.5) & (sy <= h - 0.5) & (sx >= -0.5) & (sx <= w - 0.5)
    sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = sy - y0, sx - x0
    if x.ndim == 4:
        fy, fx, inside = fy[..., None], fx[..., None], inside[..., None]
    top = x[:, y0, x0] * (1 - fx) + x[:, y0, x1] * fx
    bottom = x[:, y1, x0] * (1 - fx) + x[:, y1, x1] * fx
    return np.where(inside, top * (1 - fy) + bottom * fy, fill)


def _shift(x: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """Move every image by (dy, dx) pixels; the uncovered border gets ``fill``."""
    h, w = x.shape[1:3]
    out = np.full_like(x, fill)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


# -- tabular ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One feature column as jitter sees it: its type, range and whether it may change."""

    name: str
    kind: str  # "float", "integer" or "categorical"
    low: float = 0.0
    high: float = 0.0
    categories: tuple[Any, ...] = ()
    mutable: bool = True


def feature_names_of(features: Any, feature_names: Sequence[str] | None) -> list[str]:
    if hasattr(features, "columns"):
        return [str(c) for c in features.columns]
    shape = np.shape(features)
    if len(shape) != 2:
        raise GateError(f"tabular perturbations need rows x columns features; got shape {shape}")
    if feature_names is not None:
        return list(feature_names)
    return [f"x{j}" for j in range(shape[1])]


def column_values(features: Any, j: int) -> np.ndarray:
    if hasattr(features, "iloc"):
        return features.iloc[:, j].to_numpy()
    return np.asarray(features)[:, j]


def column_kind(values: np.ndarray, dtype: Any) -> str:
    kind = getattr(dtype, "kind", "O")
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    return "categorical"


def column_bounds(bounds: Any, names: list[str]) -> dict[str, tuple[float, float]]:
    """Declared bounds per column name: a pair applies to every column."""
    if bounds is None:
        return {}
    if isinstance(bounds, Mapping):
        unknown = [str(c) for c in bounds if str(c) not in names]
        if unknown:
            raise GateError(
                f"bounds name column(s) {unknown} that are not features; the features are "
                f"{', '.join(names[:30])}"
            )
        return {str(c): _pair(f"bounds[{c!r}]", pair) for c, pair in bounds.items()}
    pair = _pair("bounds", bounds)
    return dict.fromkeys(names, pair)


def tabular_columns(
    features: Any, feature_names: Sequence[str] | None, bounds: Any, immutable: Sequence[str]
) -> list[Column]:
    """Every feature column with its kind, range (declared or observed) and mutability."""
    names = feature_names_of(features, feature_names)
    unknown = [c for c in immutable if c not in names]
    if unknown:
        raise GateError(
            f"immutable= names {unknown}, which are not features; the features are "
            f"{', '.join(names[:30])}"
        )
    declared = column_bounds(bounds, names)
    dtypes = (
        list(features.dtypes)
        if hasattr(features, "dtypes")
        else [np.asarray(features).dtype] * len(names)
    )
    columns = []
    for j, (name, dtype) in enumerate(zip(names, dtypes, strict=True)):
        values = column_values(features, j)
        kind = column_kind(values, dtype)
        mutable = name not in immutable
        if kind == "categorical":
            categories = tuple(_categories(values))
            columns.append(Column(name, kind, categories=categories, mutable=mutable))
            continue
        numbers = values.astype(np.float64)
        finite = numbers[np.isfinite(numbers)]
        seen = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
        low, high = declared.get(name, seen)
        if name in declared and (seen[0] < low or seen[1] > high):
            raise GateError(
                f"column {name!r} has values in [{seen[0]:g}, {seen[1]:g}], outside the declared "
                f"bounds ({low:g}, {high:g}): fix bounds= or the data"
            )
        columns.append(Column(name, kind, low, high, mutable=mutable))
    return columns


def _categories(values: np.ndarray) -> list[Any]:
    seen: dict[Any, None] = {}
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        seen.setdefault(v, None)
    return list(seen)


def _tabular(params: Mapping[str, Any], batch: Any, columns: list[Column]) -> Any:
    family, m = params["family"], float(params["magnitude"])
    rng = np.random.default_rng(params.get("seed", 0))
    frame = hasattr(batch, "iloc")
    out = batch.copy() if frame else np.array(batch, copy=True)
    rows = len(batch)
    if family == "missing_values" and not frame and out.dtype.kind not in "fO":
        out = out.astype(np.float64)
    for j, column in enumerate(columns):
        draws = rng.random(rows), rng.uniform(-1.0, 1.0, rows), rng.integers(0, 2**31, rows)
        if not column.mutable:
            continue
        values = column_values(out, j)
        if family == "missing_values":
            hit = draws[0] < m
            if column.kind == "categorical":
                new = values.astype(object)
                new[hit] = None
            else:
                new = values.astype(np.float64)
                new[hit] = np.nan
        elif column.kind == "categorical":
            new = _swap_categories(values, column.categories, draws[0] < m, draws[2])
        else:
            step = draws[1] * m * (column.high - column.low)
            new = np.clip(values.astype(np.float64) + step, column.low, column.high)
            if column.kind == "integer":
                new = np.rint(new).astype(values.dtype)
        _set_column(out, j, new, frame)
    return out


def _swap_categories(
    values: np.ndarray, categories: tuple[Any, ...], hit: np.ndarray, picks: np.ndarray
) -> np.ndarray:
    """Each hit row takes another category seen in the data (a categorical jitter)."""
    new = values.copy()
    k = len(categories)
    if k < 2:
        return new
    index = {c: i for i, c in enumerate(categories)}
    for r in np.flatnonzero(hit):
        own = index.get(values[r])
        if own is None:
            continue
        new[r] = categories[(own + 1 + picks[r] % (k - 1)) % k]
    return new


def _set_column(out: Any, j: int, values: np.ndarray, frame: bool) -> None:
    if not frame:
        out[:, j] = values
        return
    import pandas as pd

    dtype = out.dtypes.iloc[j]
    if values.dtype == object or values.dtype.kind == dtype.kind:
        try:
            out.isetitem(j, pd.array(values, dtype=dtype))
            return
        except (TypeError, ValueError):
            pass
    out.isetitem(j, values)


# -- text -------------------------------------------------------------------------------------

_LETTERS = string.ascii_lowercase
_PUNCTUATION = ".,;:!?'-"
_WHITESPACE = (" ", "  ", "\t", "\n")


def texts(features: Any) -> list[str]:
    """The texts of a text dataset, or an error saying what a text dataset holds."""
    values = features.tolist() if hasattr(features, "tolist") else features
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise GateError(
            "text perturbations need one string per row (a list, 1-D array or Series of str); "
            f"got {type(features).__name__}"
        )
    return list(values)


def _text(params: Mapping[str, Any], batch: Any) -> Any:
    family, m = params["family"], float(params["magnitude"])
    rng = np.random.default_rng(params.get("seed", 0))
    edit: Callable[[str, float, np.random.Generator], str] = _TEXT_EDITS[family]
    out = [edit(s, m, rng) for s in texts(batch)]
    if hasattr(batch, "iloc"):
        import pandas as pd

        return pd.Series(out, index=batch.index, name=batch.name)
    if isinstance(batch, np.ndarray):
        return np.array(out, dtype=object)
    return out


def _positions(
    candidates: list[int], share: float, length: int, rng: np.random.Generator
) -> list[int]:
    """round(share x length) of ``candidates`` (at least one), in descending order."""
    if not candidates:
        return []
    k = min(len(candidates), max(1, round(share * length)))
    return sorted(rng.choice(candidates, size=k, replace=False).tolist(), reverse=True)


def _typo(s: str, m: float, rng: np.random.Generator) -> str:
    chars = list(s)
    for i in _positions(list(range(len(s))), m, len(s), rng):
        op = int(rng.integers(4))
        letter = _LETTERS[int(rng.integers(len(_LETTERS)))]
        if op == 0 and len(chars) > 1:
            del chars[i]
        elif op == 1:
            chars[i] = letter if chars[i] != letter else _LETTERS[(_LETTERS.index(letter) + 1) % 26]
        elif op == 2 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars.insert(i, letter)
    return "".join(chars)


def _case(s: str, m: float, rng: np.random.Generator) -> str:
    chars = list(s)
    letters = [i for i, c in enumerate(s) if c.swapcase() != c]
    for i in _positions(letters, m, len(s), rng):
        chars[i] = chars[i].swapcase()
    return "".join(chars)


def _whitespace(s: str, m: float, rng: np.random.Generator) -> str:
    chars = list(s)
    gaps = [0, len(s), *(i for i, c in enumerate(s) if c.isspace())]
    for i in _positions(sorted(set(gaps)), m, len(s), rng):
        chars.insert(i, _WHITESPACE[int(rng.integers(len(_WHITESPACE)))])
    return "".join(chars)


def _punctuation(s: str, m: float, rng: np.random.Generator) -> str:
    chars = list(s)
    for i in _positions(list(range(len(s))), m, len(s), rng):
        mark = _PUNCTUATION[int(rng.integers(len(_PUNCTUATION)))]
        if chars[i] in string.punctuation:
            del chars[i]
        else:
            chars.insert(i + 1, mark)
    return "".join(chars)


def _swap_identity(s: str, m: float, rng: np.random.Generator) -> str:
    from pytest_modelguard.text.lexicons import swap_some

    return swap_some(s, m, rng)


_TEXT_EDITS = {
    "typo": _typo,
    "case": _case,
    "whitespace": _whitespace,
    "punctuation": _punctuation,
    "swap_identity": _swap_identity,
}


# -- dispatch ---------------------------------------------------------------------------------


def apply(params: Mapping[str, Any], batch: Any, context: Any) -> Any:
    """``batch`` perturbed as ``params`` say (``family``, ``magnitude`` and its parameters).

    ``context`` is what :func:`image_bounds` or :func:`tabular_columns` computed on the data
    (None for text). The same parameters always give the same perturbed batch.
    """
    kind = FAMILIES[params["family"]].kind
    if kind == "image":
        return _image(params, np.asarray(batch), context)
    if kind == "tabular":
        return _tabular(params, batch, context)
    return _text(params, batch)
