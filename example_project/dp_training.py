"""A differentially private credit model: logistic regression trained with DP-SGD.

DP-SGD (Abadi et al. 2016): each step draws a Poisson sample of the rows (each with
probability ``SAMPLING_RATE``), clips every row's gradient to norm ``CLIP``, adds
Gaussian noise of standard deviation ``NOISE_MULTIPLIER * CLIP`` to their sum and takes
a step. Google's ``dp-accounting`` (its RDP accountant for the Poisson-sampled Gaussian
mechanism) turns these settings into the (epsilon, delta) the model card claims.

Features are scaled with fixed, public constants (:data:`PUBLIC_SCALE`), not with
statistics of the training data, which would themselves leak. Small enough to train in
about a second, so the privacy gates can retrain it with canaries.
"""

from __future__ import annotations

from typing import Any

import credit_data
import numpy as np

CLIP = 1.0
NOISE_MULTIPLIER = 1.5
BATCH = 256  # expected rows per step: the sampling rate is BATCH / rows
EPOCHS = 5
LEARNING_RATE = 0.5
DELTA = 1e-5
SEED = 7
#: (centre, scale, log?) per feature, chosen from the data's public description
PUBLIC_SCALE = {
    "age": (45.0, 15.0, False),
    "income": (np.log(45_000), 0.5, True),
    "debt": (9.0, 1.5, True),
    "credit_history_years": (10.0, 8.0, False),
    "employment_years": (6.0, 5.0, False),
    "loan_amount": (np.log(14_000), 0.7, True),
    "num_open_accounts": (2.5, 2.0, False),
}


def scale(features: Any) -> np.ndarray:
    """Rows of the credit features as standardised values in [-4, 4]."""
    columns = []
    for name in credit_data.FEATURES:
        centre, width, log = PUBLIC_SCALE[name]
        values = np.asarray(features[name], dtype=np.float64)
        values = np.log1p(np.maximum(values, 0.0)) if log else values
        columns.append((values - centre) / width)
    return np.clip(np.column_stack(columns), -4.0, 4.0)


class DPLogisticRegression:
    """Approval probabilities from weights trained with DP-SGD; called on a DataFrame."""

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self.weights, self.bias = weights, bias

    def __call__(self, rows: Any) -> np.ndarray:
        z = scale(rows) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def train_dp(features: Any, labels: np.ndarray, *, seed: int = SEED) -> DPLogisticRegression:
    """DP-SGD on ``features`` (a DataFrame of :data:`credit_data.FEATURES`), ``labels`` 0/1."""
    x = scale(features)
    x = np.column_stack([x, np.ones(len(x))])  # the bias as a weight
    y = np.asarray(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rate = BATCH / len(x)
    steps = round(EPOCHS / rate)
    theta = np.zeros(x.shape[1])
    for _ in range(steps):
        batch = rng.random(len(x)) < rate
        xb, yb = x[batch], y[batch]
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        grads = (p - yb)[:, None] * xb  # one gradient per row
        norms = np.maximum(np.linalg.norm(grads, axis=1) / CLIP, 1.0)
        total = (grads / norms[:, None]).sum(axis=0)
        noisy = total + rng.normal(0.0, NOISE_MULTIPLIER * CLIP, size=theta.shape)
        theta -= LEARNING_RATE * noisy / BATCH
    return DPLogisticRegression(theta[:-1], float(theta[-1]))


def epsilon(rows: int, delta: float = DELTA) -> float:
    """The epsilon of :func:`train_dp` on ``rows`` rows at ``delta`` (RDP accountant; a
    few seconds, so it is computed for the model card, not on every training)."""
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    rate = BATCH / rows
    steps = round(EPOCHS / rate)
    accountant = rdp_privacy_accountant.RdpAccountant()
    event = dp_event.PoissonSampledDpEvent(rate, dp_event.GaussianDpEvent(NOISE_MULTIPLIER))
    accountant.compose(event, steps)
    return float(accountant.get_epsilon(delta))
