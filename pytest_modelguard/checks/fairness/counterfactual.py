"""Counterfactual flips: does a decision change when only the sensitive attribute does?

For a model that takes the sensitive attribute as an input, every row is re-scored with
the attribute set to each other group seen in the data. The rate of rows whose decision
changes is measured exhaustively (one batched pass per alternative group); Hypothesis
then searches the same space and shrinks a failure to one row, so the message shows a
small counterexample verified by a fresh model call rather than a statistic alone.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, adapt
from pytest_modelguard.adapters.outputs import class_probabilities, predicted_labels
from pytest_modelguard.checks._gate import UNIT, check_threshold, decide, one_threshold
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES
from pytest_modelguard.core.verdict import Counterexample, GateError, Verdict, require_count

METRIC = "counterfactual_flip_rate"
MAX_GROUPS = 50  # a counterfactual substitutes every other value; more than this is not a group
ROWS_PER_EXAMPLE = 64  # rows one Hypothesis example may score in one batched model call


def counterfactual_flip_rate(
    model: Any,
    dataset: Dataset,
    *,
    sensitive: str | None,
    max_disparity: float | None,
    decision_threshold: float = 0.5,
    examples: int = 100,
    seed: int = 0,
) -> Verdict:
    """Gate the share of rows whose decision changes when ``sensitive`` alone is changed.

    ``sensitive`` names one of the dataset's sensitive columns (``None``: its only one);
    the features must hold a column of the same name, which is what the model sees.
    On a failure, Hypothesis (``examples`` examples, seeded by ``seed``) shrinks a
    counterexample: one row, its original and counterfactual group and both decisions.
    """
    started = time.perf_counter()
    _, threshold = one_threshold("fairness", {"max_disparity": max_disparity})
    check_threshold("max_disparity", threshold, operator="<=", within=UNIT, what="a flip rate")
    if not 0.0 < decision_threshold < 1.0:
        raise GateError(
            f"decision_threshold={decision_threshold!r} must lie strictly between 0 and 1"
        )
    require_count("examples", examples, what="(Hypothesis examples)")

    if dataset.is_streaming:
        raise GateError(
            f"{METRIC} re-scores rows with the attribute changed, so it needs an in-memory "
            f"Dataset (from_arrays, from_pandas, from_csv), not the stream {dataset.name!r}"
        )
    name = _attribute(dataset, sensitive)
    column = _feature_position(dataset, name)
    values = _column_values(dataset.features, column)
    groups = _groups(values, name)
    codes = np.searchsorted(groups, values)
    adapter, base = _decisions_of(model, dataset, decision_threshold)
    flipped, transitions = _flips(adapter, dataset, column, groups, codes, base, decision_threshold)
    rate = float(flipped.mean())
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "attribute": name,
        "groups": [_plain(g) for g in groups],
        "decision_threshold": decision_threshold,
        "flipped_rows": int(flipped.sum()),
        "transitions": transitions,
    }
    verdict = decide(
        requirement="fairness",
        metric=METRIC,
        values=np.array([rate]),
        operator="<=",
        threshold=threshold,
        n=len(dataset),
        formula=f"rows whose decision changes when {name} is set to another group / n",
        evidence=evidence,
    )
    if verdict.status == "fail":
        probe = _Probe(adapter, dataset, column, groups, codes, decision_threshold)
        verdict.counterexample, evidence["search"] = _counterexample(
            probe, flipped, examples=examples, seed=seed
        )
        verdict.message = verdict.describe()
    verdict.duration = time.perf_counter() - started
    return verdict


def _decisions_of(
    model: Any, dataset: Dataset, decision_threshold: float
) -> tuple[Adapter, np.ndarray]:
    """The model's adapter and its decisions on the rows as they are."""
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError(
            f"{METRIC} runs the model on rows with the attribute changed; stored Predictions "
            "cannot score those: gate the model itself"
        )
    output = adapter.outputs(dataset)
    if output.kind == "values":
        raise GateError(
            f"counterfactual flips compare decisions, but the model {adapter.name} returns "
            "regression values; use a classifier (or a callable returning scores or labels)"
        )
    return adapter, predicted_labels(output, dataset.target, decision_threshold)


def _flips(
    adapter: Adapter,
    dataset: Dataset,
    column: int,
    groups: np.ndarray,
    codes: np.ndarray,
    base: np.ndarray,
    decision_threshold: float,
) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """Every row re-scored with the attribute set to each other group, in one batched pass
    per group: which rows' decisions flip, and the flips per (original -> other) group."""
    flipped = np.zeros(len(dataset), dtype=bool)
    changes: dict[tuple[int, int], tuple[int, int]] = {}  # (original, alternative) -> (rows, flips)
    for g, group in enumerate(groups):
        rows = np.flatnonzero(codes != g)
        counterfactual = _with_attribute(dataset.features, rows, column, [group] * len(rows))
        decisions, _ = _decisions(adapter, dataset, counterfactual, rows, decision_threshold)
        changed = decisions != base[rows]
        flipped[rows[changed]] = True
        for o in np.unique(codes[rows]):
            of_group = codes[rows] == o
            changes[int(o), g] = (int(of_group.sum()), int(changed[of_group].sum()))
    transitions = {
        f"{_plain(groups[o])} -> {_plain(groups[g])}": {
            "rows": total,
            "flips": flips,
            "rate": flips / total,
        }
        for (o, g), (total, flips) in sorted(changes.items())
    }
    return flipped, transitions


# -- which column is the attribute ----------------------------------------------------------


def _attribute(dataset: Dataset, sensitive: str | None) -> str:
    declared = list(dataset.sensitive)
    if not declared:
        raise GateError(
            f"dataset {dataset.name!r} declares no sensitive column: build it with "
            "sensitive='<column>' (and keep that column among features=[...])"
        )
    if sensitive is None:
        if len(declared) > 1:
            raise GateError(
                f"dataset {dataset.name!r} has sensitive columns "
                f"{', '.join(map(repr, declared))}: choose one with sensitive="
            )
        return declared[0]
    if sensitive not in declared:
        raise GateError(
            f"sensitive={sensitive!r} is not a sensitive column of dataset {dataset.name!r}; "
            f"its sensitive columns are {', '.join(map(repr, declared))}"
        )
    return sensitive


def _feature_position(dataset: Dataset, name: str) -> int:
    """Where the attribute sits among the features the model takes."""
    features = dataset.features
    if dataset.is_dataframe:
        names = [str(c) for c in features.columns]
    else:
        shape = np.shape(features)
        if len(shape) != 2:
            raise GateError(
                f"counterfactual flips need tabular features (rows x columns); dataset "
                f"{dataset.name!r} has features of shape {shape}"
            )
        if dataset.feature_names is None:
            raise GateError(
                f"dataset {dataset.name!r} has no feature_names, so the column of {name!r} "
                "among the features cannot be found: pass feature_names=[...] to "
                "Dataset.from_arrays, naming that column like the sensitive attribute"
            )
        names = list(dataset.feature_names)
    if name not in names:
        raise GateError(
            f"counterfactual flips need the model to take {name!r} as an input, but the "
            f"features of dataset {dataset.name!r} have no column {name!r} (they are "
            f"{', '.join(names[:20])}). Include it, e.g. Dataset.from_pandas(df, target=..., "
            f"sensitive={name!r}, features=[..., {name!r}]); for a model that does not see "
            "the attribute, gate a group metric instead"
        )
    return names.index(name)


def _column_values(features: Any, column: int) -> np.ndarray:
    if hasattr(features, "iloc"):
        return features.iloc[:, column].to_numpy()
    return np.asarray(features)[:, column]


def _groups(values: np.ndarray, name: str) -> np.ndarray:
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise GateError(
            f"the feature {name!r} has missing values: fill or drop them, a counterfactual "
            "needs a group for every row"
        )
    try:
        groups = np.unique(values)
    except TypeError as exc:
        raise GateError(
            f"the values of feature {name!r} cannot be ordered ({exc}): give it one type and "
            "no missing values"
        ) from exc
    if len(groups) < 2:
        raise GateError(
            f"the feature {name!r} has a single value ({_plain(groups[0])!r}) in the data: a "
            "counterfactual needs at least two groups to swap between"
        )
    if len(groups) > MAX_GROUPS:
        raise GateError(
            f"the feature {name!r} has {len(groups)} distinct values: counterfactual flips "
            f"substitute every other value, so bin it into at most {MAX_GROUPS} groups"
        )
    return groups


# -- scoring counterfactual rows ------------------------------------------------------------


def _with_attribute(features: Any, rows: np.ndarray, column: int, values: list[Any]) -> Any:
    """Rows ``rows`` of the features, with the attribute set to ``values`` (a copy)."""
    if hasattr(features, "iloc"):
        import pandas as pd

        batch = features.iloc[rows].copy()
        batch.isetitem(column, pd.array(values, dtype=batch.dtypes.iloc[column]))
        return batch
    batch = np.asarray(features)[rows].copy()
    batch[:, column] = values
    return batch


def _decisions(
    adapter: Adapter, dataset: Dataset, features: Any, rows: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decisions (and class probabilities, for scoring models) on counterfactual rows.

    Goes through the adapter's batch path but not its cache: counterfactual data must not
    evict or mingle with the predictions the other gates share.
    """
    target = dataset.target[rows]
    batch = Dataset(
        features,
        target,
        feature_names=dataset.feature_names,
        kind=dataset.kind,
        name=dataset.name,
    )
    output = adapter.predict(batch)
    decisions = predicted_labels(output, target, threshold)
    if output.kind in ("probabilities", "logits"):
        return decisions, class_probabilities(output, target)[0]
    return decisions, None


class _Probe:
    """Scores rows and their counterfactuals side by side, in one model call."""

    def __init__(
        self,
        adapter: Adapter,
        dataset: Dataset,
        column: int,
        groups: np.ndarray,
        codes: np.ndarray,
        threshold: float,
    ) -> None:
        self.adapter, self.dataset, self.column = adapter, dataset, column
        self.groups, self.codes, self.threshold = groups, codes, threshold

    def alternative(self, row: int, k: int) -> int:
        """The ``k``-th group other than the row's own (shrinks towards the first)."""
        own = int(self.codes[row])
        return k + (k >= own)

    def __call__(self, pairs: list[tuple[int, int]]) -> dict[str, Any] | None:
        """The first of ``(row, k)`` whose decision flips, as a counterexample, or None."""
        rows = np.array([row for row, _ in pairs])
        others = [self.alternative(row, k) for row, k in pairs]
        features = self.dataset.features
        counterfactual = _with_attribute(features, rows, self.column, list(self.groups[others]))
        if self.dataset.is_dataframe:
            import pandas as pd

            batch = pd.concat([features.iloc[rows], counterfactual])
        else:
            batch = np.concatenate([np.asarray(features)[rows], counterfactual])
        both = np.concatenate([rows, rows])
        decisions, probabilities = _decisions(
            self.adapter, self.dataset, batch, both, self.threshold
        )
        m = len(rows)
        changed = np.flatnonzero(decisions[:m] != decisions[m:])
        if not len(changed):
            return None
        i = int(changed[0])
        found = {
            "row": int(rows[i]),
            "original_group": _plain(self.groups[self.codes[rows[i]]]),
            "counterfactual_group": _plain(self.groups[others[i]]),
            "decision": _plain(decisions[i]),
            "counterfactual_decision": _plain(decisions[m + i]),
        }
        if self.dataset.is_dataframe:
            found["index"] = _plain(features.index[rows[i]])
        if probabilities is not None:
            found["score"] = _score(probabilities[i])
            found["counterfactual_score"] = _score(probabilities[m + i])
        return found


def _score(probabilities: np.ndarray) -> float | list[float]:
    """The positive-class probability for two classes, every class's otherwise."""
    if len(probabilities) == 2:
        return float(probabilities[1])
    return [float(p) for p in probabilities]


# -- the Hypothesis search ------------------------------------------------------------------


def _counterexample(
    probe: _Probe, flipped: np.ndarray, *, examples: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A shrunk counterexample from Hypothesis, or the first flip of the exhaustive pass.

    The exhaustive pass already proved that flips exist; the search is what makes the
    example small. If ``examples`` draws miss every flip, the first flipped row (what
    shrinking tends to) stands in, and ``found_by`` says so.
    """
    try:
        import hypothesis
        from hypothesis import given
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky
    except ImportError as exc:
        raise GateError(
            "counterfactual_flip_rate uses Hypothesis to shrink a counterexample: install "
            "it with pip install 'pytest-modelguard[robustness]' (or pip install hypothesis)"
        ) from exc

    # the plugin's own settings, every one explicit: never the user's active profile
    own = PROFILES["ci"].hypothesis_settings(max_examples=examples)
    n, others = len(flipped), len(probe.groups) - 1
    pairs = st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(0, others - 1)),
        min_size=1,
        max_size=ROWS_PER_EXAMPLE,
    )

    @hypothesis.seed(seed)
    @own
    @given(pairs)
    def decision_does_not_change(drawn: list[tuple[int, int]]) -> None:
        found = probe(drawn)
        if found is not None:
            raise Counterexample(found)

    search = {"examples": examples, "seed": seed}
    try:
        decision_does_not_change()
    except Counterexample as flip:
        return flip.counterexample, {**search, "found_by": "hypothesis"}
    except Flaky:
        search["note"] = "the model's decisions did not reproduce on a rerun of the same rows"
    row = int(np.flatnonzero(flipped)[0])
    for k in range(others):
        found = probe([(row, k)])
        if found is not None:
            return found, {**search, "found_by": "exhaustive pass"}
    raise GateError(
        f"row {row} flipped in the batched pass but not when scored again: the model's "
        "decisions are not reproducible (dropout or randomness at inference?)"
    )


def _plain(value: Any) -> Any:
    """A JSON-serialisable Python scalar (its text when it has no JSON form: dates...)."""
    value = value.item() if isinstance(value, np.generic) else value
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
