"""Hypothesis strategies for input perturbations, for your own ``@given`` tests.

The same strategies drive ``@robust(perturbation=...)``. Each draws a
:class:`Perturbation` — a family, a magnitude up to ``eps`` and the family's other
parameters (noise seed, sign, patch position, direction) — that shrinks towards the
smallest, simplest perturbation, and applies deterministically to a batch::

    from hypothesis import given
    from pytest_modelguard import strategies as mgs

    @given(mgs.gaussian_noise(eps=0.05))
    def test_noise_keeps_digits(model, images, p):
        noisy = p.apply(images, bounds=(0.0, 1.0))
        assert (model(noisy).argmax(1) == model(images).argmax(1)).mean() >= 0.99

:func:`perturbed` gives the perturbed batch itself. What ``eps`` means per family is in
``docs/perturbations.md`` (and ``FAMILIES[name].eps``). Unlike the rest of the package this
module imports Hypothesis at import time: only tests that use it import it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from pytest_modelguard.checks.robustness import perturbation as _p
from pytest_modelguard.checks.robustness.perturbation import FAMILIES, Family

__all__ = [
    "FAMILIES",
    "LEVELS",
    "Perturbation",
    "brightness",
    "case",
    "contrast",
    "feature_jitter",
    "gaussian_noise",
    "missing_values",
    "occlusion",
    "perturbations",
    "perturbed",
    "punctuation",
    "rotation",
    "translation",
    "typo",
    "uniform_noise",
    "whitespace",
]

#: magnitudes are drawn on a grid of ``eps * k / LEVELS`` (k = 1..LEVELS): integers shrink
#: cleanly, so a failure shrinks to the smallest failing step of the grid.
LEVELS = 100
DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


@dataclass(frozen=True, eq=True)
class Perturbation:
    """One concrete perturbation: applying it twice gives the same batch."""

    family: str
    magnitude: float
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable: family, magnitude and the family's parameters."""
        return {"family": self.family, "magnitude": self.magnitude, **self.params}

    def apply(
        self,
        features: Any,
        *,
        bounds: Any = None,
        immutable: Sequence[str] = (),
        reference: Any = None,
        feature_names: Sequence[str] | None = None,
        context: Any = None,
    ) -> Any:
        """``features`` (a batch of rows) perturbed; the input is not modified.

        Images: an array (N, H, W[, C]) clipped to ``bounds=(low, high)``. Tabular: a
        DataFrame or 2-D array; ``bounds`` is a pair or a mapping column -> pair, columns
        in ``immutable`` stay as they are, and ranges and categories come from
        ``reference`` (default: the batch itself) — pass the full data so that a small
        batch jitters on the data's scale. Text: a list, array or Series of strings.
        """
        if context is None:
            context = self.context(
                features if reference is None else reference,
                bounds=bounds,
                immutable=immutable,
                feature_names=feature_names,
            )
        return _p.apply(self.describe(), features, context)

    def context(
        self,
        data: Any,
        *,
        bounds: Any = None,
        immutable: Sequence[str] = (),
        feature_names: Sequence[str] | None = None,
    ) -> Any:
        """What :meth:`apply` needs to know about the data; compute it once for many batches."""
        kind = FAMILIES[self.family].kind
        if kind == "image":
            return _p.image_bounds(data, bounds)
        if kind == "tabular":
            return _p.tabular_columns(data, feature_names, bounds, list(immutable))
        _p.texts(data)
        return None


def _magnitudes(eps: float) -> st.SearchStrategy[float]:
    return st.integers(1, LEVELS).map(lambda k: round(eps * k / LEVELS, 12))


def _seeded(family: str, eps: float) -> st.SearchStrategy[Perturbation]:
    return st.builds(
        lambda m, seed: Perturbation(family, m, {"seed": seed}),
        _magnitudes(eps),
        st.integers(0, 2**32 - 1),
    )


def _signed(family: str, eps: float) -> st.SearchStrategy[Perturbation]:
    return st.builds(
        lambda m, sign: Perturbation(family, m, {"sign": sign}),
        _magnitudes(eps),
        st.sampled_from((1, -1)),
    )


def perturbations(family: str, eps: float) -> st.SearchStrategy[Perturbation]:
    """Perturbations of ``family`` with magnitude at most ``eps`` (see ``FAMILIES``)."""
    chosen: Family = _p.family_for(family, eps)
    name = chosen.name
    if name == "occlusion":
        return st.builds(
            lambda m, top, left: Perturbation(
                name, m, {"top": top / LEVELS, "left": left / LEVELS}
            ),
            _magnitudes(eps),
            st.integers(0, LEVELS),
            st.integers(0, LEVELS),
        )
    if name == "translation":
        return st.builds(
            lambda shift, direction: Perturbation(name, shift, {"direction": list(direction)}),
            st.integers(1, math.floor(eps)),
            st.sampled_from(DIRECTIONS),
        )
    if name in ("brightness", "contrast", "rotation"):
        return _signed(name, eps)
    return _seeded(name, eps)


def perturbed(
    features: Any,
    family: str,
    eps: float,
    *,
    bounds: Any = None,
    immutable: Sequence[str] = (),
    reference: Any = None,
    feature_names: Sequence[str] | None = None,
) -> st.SearchStrategy[Any]:
    """The batch ``features`` perturbed by a drawn perturbation of ``family``."""
    _p.family_for(family, eps)
    probe = Perturbation(family, eps)
    context = probe.context(
        features if reference is None else reference,
        bounds=bounds,
        immutable=immutable,
        feature_names=feature_names,
    )
    return perturbations(family, eps).map(lambda p: p.apply(features, context=context))


def gaussian_noise(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: additive Gaussian noise, std up to ``eps`` x the bounds range."""
    return perturbations("gaussian_noise", eps)


def uniform_noise(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: additive uniform noise in +-``eps`` x the bounds range."""
    return perturbations("uniform_noise", eps)


def brightness(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: every pixel shifted by +-``eps`` x the bounds range."""
    return perturbations("brightness", eps)


def contrast(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: contrast about each image's mean scaled by a factor in [1 - eps, 1 + eps]."""
    return perturbations("contrast", eps)


def occlusion(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: one square patch covering up to ``eps`` of the pixels, set to the low bound."""
    return perturbations("occlusion", eps)


def rotation(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: rotation about the centre by up to ``eps`` degrees either way."""
    return perturbations("rotation", eps)


def translation(eps: float) -> st.SearchStrategy[Perturbation]:
    """Images: a shift by up to ``eps`` whole pixels in one of eight directions."""
    return perturbations("translation", eps)


def feature_jitter(eps: float) -> st.SearchStrategy[Perturbation]:
    """Tabular: numbers moved by up to ``eps`` x their column's range (clipped, integers
    rounded); categories swapped for another seen category with probability ``eps``."""
    return perturbations("feature_jitter", eps)


def missing_values(eps: float) -> st.SearchStrategy[Perturbation]:
    """Tabular: each mutable cell set missing (NaN / None) with probability up to ``eps``."""
    return perturbations("missing_values", eps)


def typo(eps: float) -> st.SearchStrategy[Perturbation]:
    """Text: deletions, substitutions, swaps and insertions at ``eps`` of the characters."""
    return perturbations("typo", eps)


def case(eps: float) -> st.SearchStrategy[Perturbation]:
    """Text: the case of ``eps`` of the characters' worth of letters flipped."""
    return perturbations("case", eps)


def whitespace(eps: float) -> st.SearchStrategy[Perturbation]:
    """Text: extra spaces, tabs or newlines at word boundaries and the ends."""
    return perturbations("whitespace", eps)


def punctuation(eps: float) -> st.SearchStrategy[Perturbation]:
    """Text: punctuation marks added after characters, or existing ones removed."""
    return perturbations("punctuation", eps)


def swap_identity(eps: float) -> st.SearchStrategy[Perturbation]:
    """Text: ``eps`` of the identity terms (names, gendered words, religions, ...) swapped to
    another group of their category (at least one)."""
    return perturbations("swap_identity", eps)
