"""core/groups.py: per-group confusion counts equal scikit-learn's confusion matrices, and
counts of batches (or workers) merge into the counts of the whole."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from pytest_modelguard.core.groups import MISSING, GroupCounts
from pytest_modelguard.core.verdict import GateError


def rows(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["f", "m"], n)
    race = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    weight = rng.uniform(0.5, 2.0, n)
    return {"sex": sex, "race": race}, y, pred, weight


def test_cells_equal_sklearns_confusion_matrix_per_intersectional_group():
    sensitive, y, pred, weight = rows()
    groups, labels, table = GroupCounts(["sex", "race"]).add(sensitive, y, pred, weight).table()
    assert labels == [0, 1]
    for i, (sex, race) in enumerate(groups):
        mask = (sensitive["sex"] == sex) & (sensitive["race"] == race)
        rows_ref = confusion_matrix(y[mask], pred[mask], labels=[0, 1])
        weight_ref = confusion_matrix(
            y[mask], pred[mask], labels=[0, 1], sample_weight=weight[mask]
        )
        np.testing.assert_array_equal(table[i, :, :, 0], rows_ref)
        np.testing.assert_allclose(table[i, :, :, 1], weight_ref)
    assert len(groups) == 6


def test_counts_of_batches_merge_into_the_counts_of_all_rows():
    sensitive, y, pred, weight = rows()
    whole = GroupCounts(["race"]).add(sensitive, y, pred, weight)
    parts = [
        GroupCounts(["race"]).add({k: v[s] for k, v in sensitive.items()}, y[s], pred[s], weight[s])
        for s in (slice(0, 700), slice(700, 1500), slice(1500, None))
    ]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert len(merged) == len(whole) == 2000
    np.testing.assert_allclose(merged.table()[2], whole.table()[2])


def test_missing_sensitive_values_are_an_error_unless_they_form_their_own_group():
    sensitive = {"sex": np.array(["f", None, "m"], dtype=object)}
    with pytest.raises(GateError, match="missing"):
        GroupCounts(["sex"]).add(sensitive, [0, 1, 1], [0, 1, 0])
    groups, _, _ = (
        GroupCounts(["sex"], missing="group").add(sensitive, [0, 1, 1], [0, 1, 0]).table()
    )
    assert (MISSING,) in groups


def test_weighted_and_unweighted_batches_do_not_mix():
    counts = GroupCounts(["sex"]).add({"sex": np.array(["f"])}, [1], [1], [2.0])
    with pytest.raises(GateError, match="sample_weight"):
        counts.add({"sex": np.array(["m"])}, [1], [0])
