"""The data a requirement is measured on, and stored predictions to audit."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["tabular", "image", "text"]
KINDS: tuple[str, ...] = ("tabular", "image", "text")
Bounds = tuple[float, float] | Mapping[str, tuple[float, float]]


class Dataset:
    """Features, target and sensitive attributes of one evaluation set.

    Build it with :meth:`from_arrays`, :meth:`from_pandas` or :meth:`from_csv`.
    ``features`` is exactly what the model receives: a DataFrame keeps its original
    columns (so a scikit-learn ``Pipeline`` with a ``ColumnTransformer`` works), an
    array is passed as is (Keras adapters cast it to float32).
    """

    def __init__(
        self,
        features: Any,
        target: Any,
        *,
        sensitive: Mapping[str, Any] | None = None,
        feature_names: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        kind: Kind = "tabular",
        name: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
        self.features = features
        self.target = _column("target", target)
        n = len(self.target)
        if features is not None and len(features) != n:
            raise ValueError(
                f"features have {len(features)} rows but target has {n}: "
                "they must be aligned row for row"
            )
        self.sensitive: dict[str, np.ndarray] = {}
        for column, values in (sensitive or {}).items():
            values = _column(f"sensitive column {column!r}", values)
            if len(values) != n:
                raise ValueError(
                    f"sensitive column {column!r} has {len(values)} rows but target has {n}"
                )
            self.sensitive[str(column)] = values
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.bounds = bounds
        self.kind: Kind = kind
        self.name = name or "dataset"
        self._fingerprint: str | None = None

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        features: Any,
        target: Any,
        *,
        sensitive: Mapping[str, Any] | Any | None = None,
        feature_names: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        kind: Kind = "tabular",
        name: str | None = None,
    ) -> Dataset:
        """Arrays aligned row for row; a single ``sensitive`` array is named ``sensitive``."""
        features = np.asarray(features)
        if features.ndim == 0:
            raise ValueError("features must be an array of rows, got a scalar")
        if sensitive is not None and not isinstance(sensitive, Mapping):
            sensitive = {"sensitive": sensitive}
        if feature_names is not None and features.ndim == 2:
            if len(feature_names) != features.shape[1]:
                raise ValueError(
                    f"{len(feature_names)} feature_names for {features.shape[1]} feature columns"
                )
        return cls(
            features,
            target,
            sensitive=sensitive,
            feature_names=feature_names,
            bounds=bounds,
            kind=kind,
            name=name,
        )

    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        *,
        target: str,
        sensitive: str | Sequence[str] = (),
        features: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        kind: Kind = "tabular",
        name: str | None = None,
    ) -> Dataset:
        """Columns of a DataFrame; ``features`` defaults to every other column."""
        sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        columns = [str(c) for c in df.columns]
        for role, wanted in [("target", [target]), ("sensitive", sensitive), ("features", features or [])]:
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise ValueError(
                    f"{role} column(s) {', '.join(map(repr, missing))} not in the data; "
                    f"available columns: {', '.join(columns)}"
                )
        if features is None:
            features = [c for c in columns if c != target and c not in sensitive]
        return cls(
            df[list(features)],
            df[target].to_numpy(),
            sensitive={c: df[c].to_numpy() for c in sensitive},
            feature_names=list(features),
            bounds=bounds,
            kind=kind,
            name=name,
        )

    @classmethod
    def from_csv(
        cls,
        path: Any,
        *,
        target: str,
        sensitive: str | Sequence[str] = (),
        features: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        kind: Kind = "tabular",
        name: str | None = None,
        **read_csv_kwargs: Any,
    ) -> Dataset:
        """Read a CSV with pandas; keyword arguments beyond ours go to ``pandas.read_csv``."""
        import pandas as pd

        df = pd.read_csv(path, **read_csv_kwargs)
        return cls.from_pandas(
            df,
            target=target,
            sensitive=sensitive,
            features=features,
            bounds=bounds,
            kind=kind,
            name=name or str(path),
        )

    # -- queries --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.target)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, kind={self.kind!r}, "
            f"sensitive={list(self.sensitive)})"
        )

    @property
    def is_dataframe(self) -> bool:
        return hasattr(self.features, "iloc")

    def rows(self, start: int, stop: int) -> Any:
        """Rows ``start:stop`` of the features, in the form the model receives."""
        if self.is_dataframe:
            return self.features.iloc[start:stop]
        return self.features[start:stop]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the content (features, target, sensitive columns), computed once."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for part in (self.features, self.target, *self.sensitive.values()):
                _hash_into(digest, part)
            for column in self.sensitive:
                digest.update(column.encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint


class Predictions:
    """A "model" made of stored predictions, aligned row for row with a dataset.

    Audits a model that cannot be run here (another language, a vendor score):
    ``y_pred`` are labels or regression values, ``y_score`` probabilities of the
    positive class ``(n,)`` or of every class ``(n, k)``.
    """

    def __init__(self, y_pred: Any = None, y_score: Any = None) -> None:
        if y_pred is None and y_score is None:
            raise ValueError("Predictions needs y_pred, y_score or both")
        self.y_pred = None if y_pred is None else _column("y_pred", y_pred)
        self.y_score = None if y_score is None else np.asarray(y_score)
        if self.y_pred is not None and self.y_score is not None:
            if len(self.y_pred) != len(self.y_score):
                raise ValueError(
                    f"y_pred has {len(self.y_pred)} rows but y_score has {len(self.y_score)}"
                )

    def __len__(self) -> int:
        return len(self.y_pred if self.y_pred is not None else self.y_score)

    def __repr__(self) -> str:
        given = [name for name in ("y_pred", "y_score") if getattr(self, name) is not None]
        return f"Predictions(n={len(self)}, {', '.join(given)})"


def _column(role: str, values: Any) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{role} must be one value per row, got shape {array.shape}")
    return array


def _hash_into(digest: Any, part: Any) -> None:
    if hasattr(part, "iloc"):  # a DataFrame: hash values and column names, not memory layout
        import pandas as pd

        digest.update(",".join(map(str, part.columns)).encode())
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        return
    array = np.ascontiguousarray(part)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    if array.dtype == object:
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(array.tobytes())
