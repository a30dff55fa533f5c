"""The public Hypothesis strategies: what each family does to a batch, and how it shrinks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from pytest_modelguard import strategies as mgs
from pytest_modelguard.core.verdict import GateError

FAST = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
IMAGES = np.random.default_rng(0).uniform(0, 1, size=(6, 8, 8, 3)).astype(np.float32)
EPS = {
    "gaussian_noise": 0.1,
    "uniform_noise": 0.1,
    "brightness": 0.1,
    "contrast": 0.3,
    "occlusion": 0.2,
    "rotation": 30.0,
    "translation": 3.0,
}
FRAME = pd.DataFrame(
    {
        "income": np.linspace(0.0, 100.0, 20),
        "age": np.arange(20, 40, dtype=np.int64),
        "region": ["north", "south", "east", "west"] * 5,
        "id": np.arange(20.0),
    }
)
TEXTS = ["The food was good.", "Staff were friendly, really", "ok"]


@pytest.mark.parametrize("family", sorted(EPS))
def test_image_families_stay_in_bounds_and_shape(family):
    @FAST
    @given(mgs.perturbations(family, EPS[family]))
    def check(p: mgs.Perturbation) -> None:
        out = p.apply(IMAGES, bounds=(0.0, 1.0))
        assert out.shape == IMAGES.shape and out.dtype == IMAGES.dtype
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert 0 < p.magnitude <= EPS[family]
        assert np.array_equal(out, p.apply(IMAGES, bounds=(0.0, 1.0)))  # deterministic
        assert not np.array_equal(out, IMAGES)

    check()


def test_uint8_images_keep_their_dtype():
    images = (IMAGES * 255).astype(np.uint8)
    out = mgs.Perturbation("gaussian_noise", 0.1, {"seed": 3}).apply(images, bounds=(0, 255))
    assert out.dtype == np.uint8 and not np.array_equal(out, images)


def test_rotation_and_translation_move_pixels_where_expected():
    image = np.arange(25, dtype=float).reshape(1, 5, 5)
    quarter = mgs.Perturbation("rotation", 90.0, {"sign": 1}).apply(image, bounds=(0, 24))
    np.testing.assert_allclose(quarter[0], np.rot90(image[0]), atol=1e-9)
    assert np.array_equal(
        mgs.Perturbation("rotation", 0.0, {"sign": 1}).apply(image, bounds=(0, 24)), image
    )
    right = mgs.Perturbation("translation", 2, {"direction": [0, 1]}).apply(image, bounds=(0, 24))
    assert np.array_equal(right[0, :, 2:], image[0, :, :3]) and np.all(right[0, :, :2] == 0)


def test_occlusion_covers_the_share_of_pixels_with_the_low_bound():
    ones = np.ones((2, 10, 10))
    out = mgs.Perturbation("occlusion", 0.25, {"top": 1.0, "left": 0.0}).apply(ones, bounds=(0, 1))
    assert (out[0] == 0).sum() == 25 and np.all(out[:, 5:, :5] == 0)


@FAST
@given(mgs.feature_jitter(0.3))
def test_feature_jitter_respects_bounds_types_categories_and_immutable(p):
    bounds = {"income": (0.0, 120.0)}
    out = p.apply(FRAME, bounds=bounds, immutable=["id"])
    assert list(out.dtypes) == list(FRAME.dtypes)
    assert out.income.between(0.0, 120.0).all()
    assert np.all(np.abs(out.income - FRAME.income) <= 0.3 * 120.0 + 1e-9)
    assert out.age.between(20, 39).all()
    assert set(out.region) <= set(FRAME.region)
    assert out.id.equals(FRAME.id)
    assert FRAME.income.equals(pd.Series(np.linspace(0.0, 100.0, 20), name="income"))  # input kept


def test_feature_jitter_on_arrays_uses_the_reference_range():
    data = np.column_stack([np.linspace(0, 10, 50), np.linspace(-1, 1, 50)])
    p = mgs.Perturbation("feature_jitter", 0.1, {"seed": 1})
    out = p.apply(data[:5], reference=data, feature_names=["a", "b"], immutable=["b"])
    assert np.all(np.abs(out[:, 0] - data[:5, 0]) <= 1.0) and np.any(out[:, 0] != data[:5, 0])
    assert np.array_equal(out[:, 1], data[:5, 1]) and out[:, 0].min() >= 0


def test_missing_values_only_in_mutable_columns():
    p = mgs.Perturbation("missing_values", 0.5, {"seed": 2})
    out = p.apply(FRAME, immutable=["id"])
    assert out.income.isna().any() and out.region.isna().any() and out.age.isna().any()
    assert not out.id.isna().any()
    array = p.apply(np.arange(40).reshape(20, 2))
    assert array.dtype == np.float64 and np.isnan(array).any()


@pytest.mark.parametrize("family", ["typo", "case", "whitespace", "punctuation"])
@pytest.mark.parametrize("container", [list, np.array, pd.Series])
def test_text_families_keep_the_container(family, container):
    batch = container(TEXTS)
    out = mgs.Perturbation(family, 0.2, {"seed": 4}).apply(batch)
    assert type(out) is type(batch) and len(out) == len(TEXTS)
    changed = [a != b for a, b in zip(TEXTS, list(out), strict=True)]
    assert all(changed)
    if family == "case":
        assert [t.lower() for t in out] == [t.lower() for t in TEXTS]
    if family == "whitespace":
        assert [t.split() for t in out] == [t.split() for t in TEXTS]


def test_perturbed_gives_batches_for_a_users_given_test():
    seen = []

    @FAST
    @given(mgs.perturbed(IMAGES, "brightness", 0.2, bounds=(0.0, 1.0)))
    def brighter_or_darker(batch: np.ndarray) -> None:
        seen.append(batch)
        assert batch.shape == IMAGES.shape
        assert abs(float(batch.mean() - IMAGES.mean())) <= 0.2

    brighter_or_darker()
    assert len(seen) > 1


def test_strategies_shrink_to_the_smallest_failing_magnitude():
    smallest = find(
        mgs.gaussian_noise(0.05), lambda p: p.magnitude >= 0.02, settings=settings(database=None)
    )
    assert smallest == mgs.Perturbation("gaussian_noise", 0.02, {"seed": 0})
    shift = find(mgs.translation(4), lambda p: p.magnitude >= 2, settings=settings(database=None))
    assert shift.describe() == {"family": "translation", "magnitude": 2, "direction": [0, 1]}


def test_bad_family_or_eps():
    with pytest.raises(GateError, match="typo, case, whitespace, punctuation"):
        mgs.perturbations("blur", 0.1)
    with pytest.raises(GateError, match="at most 1"):
        mgs.gaussian_noise(3.0)
    with pytest.raises(GateError, match="shape"):
        mgs.perturbed(np.zeros(3), "rotation", 5.0)


@FAST
@given(st.data())
def test_all_public_family_functions(data):
    for name in mgs.FAMILIES:
        eps = EPS.get(name, 0.2)
        p = data.draw(getattr(mgs, name)(eps))
        assert p.family == name and 0 < p.magnitude <= eps


def test_importing_the_package_does_not_import_hypothesis():
    code = (
        "import sys, pytest_modelguard, pytest_modelguard.checks.robustness.perturbation, "
        "pytest_modelguard.checks.robustness.directional; "
        "print([m for m in ('hypothesis', 'pandas', 'tensorflow') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
