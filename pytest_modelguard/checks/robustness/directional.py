"""Directional expectations: raising a feature must move the score the declared way.

``monotonic={"income": "increasing", "debt": "decreasing"}``: Hypothesis draws one of the
named features, a step up to the whole of its range and a batch of rows; the batch is
scored with the feature raised by that step (clipped to its bounds) in one model call and
compared with the cached clean scores. A row whose score moves against the declared
direction is a violation; on a failure Hypothesis shrinks to the smallest step that still
breaks the gate and the message shows those rows, their values and scores.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, ModelOutput, adapt
from pytest_modelguard.checks._gate import decide
from pytest_modelguard.checks.robustness.perturbation import (
    ROWS_PER_EXAMPLE,
    SHOWN_ROWS,
    Column,
    check_rate,
    column_values,
    examples_for,
    feature_names_of,
    run_search,
    tabular_columns,
    take,
)
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.verdict import GateError, Verdict

METRIC = "violation_rate"
DIRECTIONS = ("increasing", "decreasing")
LEVELS = 100  # steps are drawn as k / LEVELS of the feature's range, k = 1..LEVELS
TOLERANCE = 1e-6  # score changes within TOLERANCE x max(1, |score|) are float noise, not moves


def monotonic_gate(
    model: Any,
    dataset: Dataset,
    *,
    monotonic: dict[str, str],
    max_violation_rate: float | None,
    examples: int | None,
    bounds: Any,
    seed: int,
    profile: Profile | None,
) -> Verdict:
    """Gate the worst share of rows whose score moves against a declared direction.

    ``value`` is the worst, over every Hypothesis example evaluated, of violations / rows
    whose feature actually moved (rows already at the upper bound cannot move).
    """
    started = time.perf_counter()
    directions = _directions(monotonic)
    threshold = check_rate(
        "max_violation_rate",
        0.0 if max_violation_rate is None else max_violation_rate,
        needed_by="monotonic gates",
    )
    profile = profile or PROFILES["ci"]
    examples = examples_for(examples, profile)
    if dataset.kind != "tabular":
        raise GateError(
            f"monotonic= varies tabular feature columns, but dataset {dataset.name!r} is "
            f"kind={dataset.kind!r}"
        )
    names = _named_columns(dataset, list(directions))
    bounds = dataset.bounds if bounds is None else bounds
    columns = {c.name: c for c in tabular_columns(dataset.features, names, bounds, [])}
    for name in directions:
        if columns[name].kind == "categorical":
            raise GateError(
                f"monotonic= names {name!r}, a categorical column: a direction needs an "
                "ordered numeric feature; encode it as numbers or drop it from monotonic="
            )
        if columns[name].high <= columns[name].low:
            raise GateError(
                f"feature {name!r} takes a single value in the data and has no declared bounds: "
                f"give bounds={{{name!r}: (low, high)}} so that it can be varied"
            )

    adapter = adapt(model)
    clean = _scores(adapter.outputs(dataset), adapter)
    probe = _Probe(adapter, dataset, names, columns, directions, clean, threshold, seed)

    from hypothesis import strategies as st

    drawn = st.tuples(st.sampled_from(list(directions)), st.integers(1, LEVELS))
    result, search = run_search(probe, drawn, examples=examples, seed=seed, profile=profile)
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "monotonic": dict(directions),
        "bounds": {n: [columns[n].low, columns[n].high] for n in directions},
        "rows_per_example": probe.size,
        "tolerance": TOLERANCE,
        "search": search,
    }
    verdict = decide(
        requirement="robust",
        metric=METRIC,
        values=np.array([search["worst_violation_rate"]]),
        operator="<=",
        threshold=threshold,
        n=probe.size,
        formula=(
            f"max over {search['examples_evaluated']} Hypothesis examples of rows whose score "
            "moves against the declared direction / rows whose feature moved"
        ),
        evidence=evidence,
    )
    if result is not None:
        verdict.counterexample = result
        verdict.message = verdict.describe()
    verdict.duration = time.perf_counter() - started
    return verdict


def _directions(monotonic: Any) -> dict[str, str]:
    if not isinstance(monotonic, dict) or not monotonic:
        raise GateError(
            f"monotonic={monotonic!r}: give a dict of feature -> 'increasing' or 'decreasing', "
            "e.g. monotonic={'income': 'increasing'}"
        )
    bad = {k: v for k, v in monotonic.items() if v not in DIRECTIONS}
    if bad:
        raise GateError(
            f"monotonic={monotonic!r}: directions must be 'increasing' or 'decreasing', got {bad}"
        )
    return {str(k): v for k, v in monotonic.items()}


def _named_columns(dataset: Dataset, wanted: list[str]) -> list[str]:
    """The feature names, with every name in ``wanted`` among them."""
    if not dataset.is_dataframe and dataset.feature_names is None:
        raise GateError(
            f"dataset {dataset.name!r} has no feature_names, so monotonic= cannot find "
            f"{', '.join(map(repr, wanted))}: pass feature_names=[...] to Dataset.from_arrays"
        )
    names = feature_names_of(dataset.features, dataset.feature_names)
    missing = [w for w in wanted if w not in names]
    if missing:
        raise GateError(
            f"monotonic= names {', '.join(map(repr, missing))}, not a feature of dataset "
            f"{dataset.name!r}; its features are {', '.join(names[:30])}"
        )
    return names


def _scores(output: ModelOutput, adapter: Adapter) -> np.ndarray:
    """One score per row: the value, the positive-class score, or a numeric label."""
    array = output.array
    if array.ndim == 2:
        if array.shape[1] != 2 or output.kind == "values":
            raise GateError(
                f"monotonic= needs one score per row, but the model {adapter.name} gives "
                f"{array.shape[1]} per row; use a binary classifier or a single-output regressor"
            )
        # the positive class: its probability, or the logit margin (the same order)
        array = array[:, 1] if output.kind == "probabilities" else array[:, 1] - array[:, 0]
    if array.dtype.kind not in "biuf":
        raise GateError(
            f"monotonic= compares scores, but the model {adapter.name} returns {array.dtype} "
            "labels; use a model that returns scores or numeric values"
        )
    return array.astype(np.float64)


class _Probe:
    """Raises one feature of a window of rows and scores it in one model call."""

    rate_key = "violation_rate"
    changed_key = "moved"  # rows whose feature moved: none in a whole search measures nothing

    def __init__(
        self,
        adapter: Adapter,
        dataset: Dataset,
        names: list[str],
        columns: dict[str, Column],
        directions: dict[str, str],
        clean: np.ndarray,
        threshold: float,
        seed: int,
    ) -> None:
        n = len(dataset)
        self.adapter, self.dataset, self.names = adapter, dataset, names
        self.columns, self.directions, self.clean = columns, directions, clean
        self.threshold = threshold
        self.size = min(n, ROWS_PER_EXAMPLE, adapter.batch_size)
        self.windows = n // self.size
        self.order = np.random.default_rng(seed).permutation(n)
        self.outcomes: list[dict[str, Any]] = []

    def __call__(self, drawn: tuple[str, int], window: int) -> dict[str, Any]:
        name, level = drawn
        column = self.columns[name]
        j = self.names.index(name)
        rows = self.order[window * self.size : (window + 1) * self.size]
        batch = take(self.dataset.features, rows)
        old = column_values(batch, j)
        step = level / LEVELS * (column.high - column.low)
        if column.kind == "integer":
            step = max(1, round(step))
        new = np.minimum(old.astype(np.float64) + step, column.high)
        if column.kind == "integer":
            new = np.floor(new).astype(old.dtype)
        raised = _with_column(batch, j, new)
        target = self.dataset.target[rows]
        scored = Dataset(
            raised, target, feature_names=self.dataset.feature_names, name=self.dataset.name
        )
        after = _scores(self.adapter.predict(scored), self.adapter)
        before = self.clean[rows]
        moved = new > old
        change = (after - before) * (1 if self.directions[name] == "increasing" else -1)
        against = moved & (change < -TOLERANCE * np.maximum(1.0, np.abs(before)))
        bad = np.flatnonzero(against)
        shown = bad[:SHOWN_ROWS]
        outcome = {
            "feature": name,
            "direction": self.directions[name],
            "step": float(step),
            "window": int(window),
            "rows_in_example": len(rows),
            "moved": int(moved.sum()),
            "violations": len(bad),
            "violation_rate": float(len(bad) / moved.sum()) if moved.any() else 0.0,
            "rows": [int(r) for r in rows[shown]],
            "values_before": [float(v) for v in old[shown]],
            "values_after": [float(v) for v in new[shown]],
            "scores_before": [float(v) for v in before[shown]],
            "scores_after": [float(v) for v in after[shown]],
        }
        self.outcomes.append(outcome)
        return outcome


def _with_column(batch: Any, j: int, values: np.ndarray) -> Any:
    """A copy of ``batch`` with column ``j`` replaced."""
    if hasattr(batch, "iloc"):
        out = batch.copy()
        out.isetitem(j, values)
        return out
    out = np.array(batch, copy=True)
    out[:, j] = values
    return out
