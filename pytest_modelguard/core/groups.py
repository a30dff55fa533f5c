"""Per-group sufficient statistics: one pass over the rows, mergeable across batches.

Every group metric of a classifier (selection rate, TPR, FPR, accuracy, precision...)
is a function of the weighted confusion counts of each group. :class:`GroupCounts`
keeps, for every (group, true label, predicted label) cell, the number of rows, the
sum of their weights and the sum of squared weights. Counts of two batches add up, so a
stream, an xdist worker or a bootstrap never needs the rows again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pytest_modelguard.core.verdict import GateError

MISSING = "<missing>"
"""The group label of missing sensitive values with ``missing="group"``."""

_DENSE_CELLS = 1 << 20  # up to this many possible cells, count with bincount, not a sort

Key = tuple[tuple[Any, ...], Any, Any]  # (group values, true label, predicted label)


class GroupCounts:
    """Rows, weight and squared weight per (group, true label, predicted label) cell.

    ``columns`` are the sensitive columns a group is made of (their intersection);
    per-column groups are marginals of it.
    """

    def __init__(self, columns: Sequence[str], *, missing: str = "error") -> None:
        if missing not in ("error", "group"):
            raise GateError(f"missing={missing!r}: use 'error' or 'group'")
        self.columns = tuple(columns)
        self.missing = missing
        self.weighted: bool | None = None
        self.cells: dict[Key, np.ndarray] = {}

    def __len__(self) -> int:
        """Rows counted so far."""
        return int(sum(cell[0] for cell in self.cells.values()))

    def add(
        self,
        sensitive: Mapping[str, Any],
        y_true: Any,
        y_pred: Any,
        sample_weight: Any = None,
    ) -> GroupCounts:
        """Count one batch of rows (vectorised; the Python work is per cell, not per row)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        self._weighting(sample_weight is not None)
        if len(y_true) == 0:
            return self
        parts = [
            _factorize(f"sensitive column {c!r}", np.asarray(sensitive[c]), self.missing)
            for c in self.columns
        ]
        parts.append(_factorize("the target", y_true, "error"))
        parts.append(_factorize("the predictions", y_pred, "error"))
        dims = tuple(len(labels) for labels, _ in parts)
        combined = np.ravel_multi_index(tuple(codes for _, codes in parts), dims)
        cells, inverse = _number_cells(combined, int(np.prod(dims)))
        rows = np.bincount(inverse, minlength=len(cells)).astype(float)
        if sample_weight is None:
            weights = squares = rows
        else:
            w = np.asarray(sample_weight, dtype=float)
            weights = np.bincount(inverse, weights=w, minlength=len(cells))
            squares = np.bincount(inverse, weights=w * w, minlength=len(cells))
        for i, index in enumerate(zip(*np.unravel_index(cells, dims), strict=True)):
            labels = [parts[d][0][j] for d, j in enumerate(index)]
            key = (tuple(labels[:-2]), labels[-2], labels[-1])
            stat = np.array([rows[i], weights[i], squares[i]])
            if key in self.cells:
                self.cells[key] += stat
            else:
                self.cells[key] = stat
        return self

    def merge(self, other: GroupCounts) -> GroupCounts:
        """Add another set of counts (another batch, another worker) to these."""
        if other.columns != self.columns:
            raise GateError(
                f"cannot merge counts over {other.columns} into counts over {self.columns}"
            )
        if other.weighted is not None:
            self._weighting(other.weighted)
        for key, stat in other.cells.items():
            self.cells[key] = self.cells[key] + stat if key in self.cells else stat.copy()
        return self

    def table(self) -> tuple[list[tuple[Any, ...]], list[Any], np.ndarray]:
        """Groups, labels and an array ``[group, true, predicted, (rows, weight, weight²)]``.

        Groups and labels are sorted, so equal counts give equal arrays however the rows
        were batched.
        """
        groups = sorted({key[0] for key in self.cells}, key=lambda g: tuple(map(_order, g)))
        labels = sorted({k[1] for k in self.cells} | {k[2] for k in self.cells}, key=_order)
        group_index = {g: i for i, g in enumerate(groups)}
        label_index = {label: i for i, label in enumerate(labels)}
        array = np.zeros((len(groups), len(labels), len(labels), 3))
        for (group, true, predicted), stat in self.cells.items():
            array[group_index[group], label_index[true], label_index[predicted]] = stat
        return groups, labels, array

    def _weighting(self, weighted: bool) -> None:
        if self.weighted is None:
            self.weighted = weighted
        elif self.weighted != weighted:
            raise GateError("some batches have sample_weight and others do not: give it for all")


def _number_cells(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The occupied cells, and each row's index among them (a bincount when cells are few)."""
    if size > _DENSE_CELLS:
        return np.unique(codes, return_inverse=True)
    occupied = np.flatnonzero(np.bincount(codes, minlength=size))
    lookup = np.zeros(size, dtype=np.intp)
    lookup[occupied] = np.arange(len(occupied))
    return occupied, lookup[codes]


def _order(value: Any) -> tuple[int, Any, str]:
    """Sort key for labels of mixed types: numbers by value, everything else by text."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _factorize(role: str, values: np.ndarray, missing: str) -> tuple[list[Any], np.ndarray]:
    """Distinct values (as Python scalars) and each row's index into them."""
    if values.ndim != 1:
        raise GateError(f"{role} must be one value per row, got shape {values.shape}")
    absent = _missing_mask(values)
    if absent.any() and missing == "error":
        hint = (
            ", or pass missing='group' to gate them as their own group"
            if role.startswith("sensitive")
            else ""
        )
        raise GateError(
            f"{role} has {int(absent.sum())} missing (NaN/None) values: fill them or drop "
            f"those rows{hint}"
        )
    present = values[~absent] if absent.any() else values
    try:
        uniques, inverse = _unique(present)
    except TypeError as exc:
        raise GateError(
            f"{role} mixes values of different types ({exc}); cast it to one type"
        ) from None
    labels = [u.item() if isinstance(u, np.generic) else u for u in uniques]
    if not absent.any():
        return labels, inverse
    codes = np.full(len(values), len(labels), dtype=np.intp)
    codes[~absent] = inverse
    return [*labels, MISSING], codes


def _unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``, without a sort for small integer codes."""
    if values.dtype.kind in "biu" and len(values):
        ints = values.astype(np.int64, copy=False)
        low = int(ints.min())
        span = int(ints.max()) - low + 1
        if span <= _DENSE_CELLS:
            occupied, inverse = _number_cells((ints - low).astype(np.intp), span)
            return (occupied + low).astype(values.dtype), inverse
    return np.unique(values, return_inverse=True)


def _missing_mask(values: np.ndarray) -> np.ndarray:
    kind = values.dtype.kind
    if kind == "f":
        return np.isnan(values)
    if kind in "mM":
        return np.isnat(values)
    if kind == "O":
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas comes with the fairness extra
            return np.array([v is None or v != v for v in values], dtype=bool)
        return np.asarray(pd.isna(values), dtype=bool)
    return np.zeros(len(values), dtype=bool)
