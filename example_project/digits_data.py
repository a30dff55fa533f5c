"""scikit-learn's bundled 8x8 digits, split the same way for training and for the gates."""

from __future__ import annotations

import numpy as np

HOLDOUT_SIZE = 0.3
SPLIT_SEED = 0


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, x_holdout, y_train, y_holdout``: images (n, 8, 8, 1) float32 in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    return train_test_split(
        images,
        digits.target.astype(np.int64),
        test_size=HOLDOUT_SIZE,
        random_state=SPLIT_SEED,
        stratify=digits.target,
    )
