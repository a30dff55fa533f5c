"""Intervals for shares of prompts, pairs or candidates: Wilson score intervals.

A leak rate, a preference share or an extraction rate is a binomial proportion over a
few dozen to a few thousand trials; the Wilson interval keeps its coverage there and is
never degenerate at 0 or 1 (a rate of 0/20 still has an upper bound of ~0.16 at 95%).
"""

from __future__ import annotations

import math
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95


def wilson(
    successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Two-sided Wilson score interval for ``successes`` out of ``trials``."""
    if trials <= 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
