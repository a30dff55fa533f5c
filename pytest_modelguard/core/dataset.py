"""The data a requirement is measured on, and stored predictions to audit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np

from pytest_modelguard.core.verdict import GateError

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
    array is passed as is (Keras adapters cast it to float32). ``sample_weight`` (one
    non-negative weight per row) weighs the rows in the group metrics of fairness gates.
    """

    #: whether the rows come in batches (see :meth:`from_batches`) rather than in memory.
    is_streaming = False

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
        sample_weight: Any = None,
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
        self.sample_weight = None if sample_weight is None else _weights(sample_weight, n)
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
        sample_weight: Any = None,
    ) -> Dataset:
        """Arrays aligned row for row; a single ``sensitive`` array is named ``sensitive``."""
        features = np.asarray(features)
        if features.ndim == 0:
            raise ValueError("features must be an array of rows, got a scalar")
        if sensitive is not None and not isinstance(sensitive, Mapping):
            sensitive = {"sensitive": sensitive}
        if (
            feature_names is not None
            and features.ndim == 2
            and len(feature_names) != features.shape[1]
        ):
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
            sample_weight=sample_weight,
        )

    @classmethod
    def from_texts(
        cls,
        texts: Any,
        target: Any,
        *,
        sensitive: Mapping[str, Any] | Any | None = None,
        name: str | None = None,
        sample_weight: Any = None,
    ) -> Dataset:
        """One string per row (kind ``text``): what a text classifier or encoder takes.

        A non-string text (``None``, NaN, bytes) is an error naming its row.
        """
        texts = text_column(texts, role="texts")
        if sensitive is not None and not isinstance(sensitive, Mapping):
            sensitive = {"sensitive": sensitive}
        return cls(
            texts,
            target,
            sensitive=sensitive,
            kind="text",
            name=name or "texts",
            sample_weight=sample_weight,
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
        sample_weight: str | Any = None,
        text: str | None = None,
    ) -> Dataset:
        """Columns of a DataFrame; ``features`` defaults to every other column.

        ``sample_weight`` is a column name (not a feature then) or an array. ``text=``
        names a column of strings: the dataset is then text (see :meth:`from_texts`).
        """
        sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        if text is not None:
            if features is not None:
                raise ValueError("give text= (one column of strings) or features=, not both")
            features = [text]
        columns = [str(c) for c in df.columns]
        weight_column = [sample_weight] if isinstance(sample_weight, str) else []
        for role, wanted in [
            ("target", [target]),
            ("sensitive", sensitive),
            ("features", features or []),
            ("sample_weight", weight_column),
        ]:
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise ValueError(
                    f"{role} column(s) {', '.join(map(repr, missing))} not in the data; "
                    f"available columns: {', '.join(columns)}"
                )
        if features is None:
            features = [
                c for c in columns if c != target and c not in sensitive and c not in weight_column
            ]
        if weight_column:
            sample_weight = df[weight_column[0]].to_numpy()
        if text is not None:
            dataset = cls.from_texts(
                text_column(df[text], role=f"text column {text!r}"),
                df[target].to_numpy(),
                sensitive={c: df[c].to_numpy() for c in sensitive},
                name=name,
                sample_weight=sample_weight,
            )
            dataset.feature_names = [text]  # gates that name columns (PII) name this one
            return dataset
        return cls(
            df[list(features)],
            df[target].to_numpy(),
            sensitive={c: df[c].to_numpy() for c in sensitive},
            feature_names=list(features),
            bounds=bounds,
            kind=kind,
            name=name,
            sample_weight=sample_weight,
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
        sample_weight: str | None = None,
        text: str | None = None,
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
            sample_weight=sample_weight,
            text=text,
        )

    @classmethod
    def from_batches(cls, batches: Any, **options: Any) -> StreamingDataset:
        """Rows in batches, read one batch at a time and never held whole.

        ``batches`` is a ``tf.data.Dataset`` (batched), a list of batches, a function
        returning a fresh iterable, or a one-shot iterator (then only one gate can read
        it). A batch is ``(features, target)``, ``(features, target, {column: values})``,
        ``(features, target, {column: values}, sample_weight)``, or a mapping with keys
        ``features``/``x``, ``target``/``y``, ``sample_weight`` and the ``sensitive``
        columns (top-level or under ``sensitive``). Fairness gates accept a stream;
        gates that need every row at once raise a :class:`GateError`. ``options`` are
        :class:`StreamingDataset`'s keywords: ``sensitive``, ``feature_names``, ``bounds``,
        ``kind``, ``name``.
        """
        return StreamingDataset(batches, **options)

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
            if self.sample_weight is not None:
                _hash_into(digest, self.sample_weight)
            for column in self.sensitive:
                digest.update(column.encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint


@dataclass(frozen=True)
class Batch:
    """One batch of a streamed dataset: rows aligned like a small :class:`Dataset`."""

    features: Any
    target: np.ndarray
    sensitive: dict[str, np.ndarray]
    sample_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.target)

    def as_dataset(self, name: str) -> Dataset:
        """This batch as an in-memory dataset (for running the model on it)."""
        return Dataset(
            self.features,
            self.target,
            sensitive=self.sensitive,
            name=name,
            sample_weight=self.sample_weight,
        )


class StreamingDataset(Dataset):
    """A dataset given as batches (see :meth:`Dataset.from_batches`).

    Its rows are never in memory together: ``features``, ``target``, ``len()`` and the
    fingerprint raise :class:`GateError`, so a gate that needs every row at once is an
    ERROR that says so; :meth:`batches` yields the rows batch by batch.
    """

    is_streaming = True

    def __init__(
        self,
        batches: Any,
        *,
        sensitive: str | Sequence[str] = (),
        feature_names: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        kind: Kind = "tabular",
        name: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
        if isinstance(batches, Dataset) or batches is None:
            raise ValueError("from_batches takes batches: a tf.data.Dataset, list or iterable")
        self._source = batches
        self._consumed = False
        self.sensitive_columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.bounds = bounds
        self.kind = kind
        self.name = name or "stream"

    def __repr__(self) -> str:
        return f"StreamingDataset(name={self.name!r}, sensitive={self.sensitive_columns})"

    def __len__(self) -> int:
        self._not_in_memory("its length")
        return 0

    @property
    def features(self) -> Any:  # type: ignore[override]
        self._not_in_memory("its features")

    @property
    def target(self) -> np.ndarray:  # type: ignore[override]
        self._not_in_memory("its target")

    @property
    def sensitive(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        self._not_in_memory("its sensitive columns")

    @property
    def sample_weight(self) -> np.ndarray | None:  # type: ignore[override]
        self._not_in_memory("its sample weights")

    @property
    def fingerprint(self) -> str:  # type: ignore[override]
        self._not_in_memory("a fingerprint")

    def batches(self) -> Iterator[Batch]:
        """The batches, validated one at a time."""
        source = self._source
        if callable(source) and not hasattr(source, "as_numpy_iterator"):
            source = source()
        if hasattr(source, "as_numpy_iterator"):  # tf.data.Dataset
            source = source.as_numpy_iterator()
        iterator = iter(source)
        if iterator is source:  # a one-shot iterator: a second pass would see no rows
            if self._consumed:
                raise GateError(
                    f"the batches of {self.name!r} were already read by an earlier gate: pass "
                    "a list, a tf.data.Dataset or a function returning a fresh iterator"
                )
            self._consumed = True
        for index, element in enumerate(iterator):
            try:
                yield _batch(element, self.sensitive_columns, index)
            except ValueError as exc:
                raise GateError(f"batch {index} of {self.name!r}: {exc}") from None

    def _not_in_memory(self, what: str) -> NoReturn:
        raise GateError(
            f"dataset {self.name!r} is streamed in batches, so {what} is not in memory; this "
            "gate needs an in-memory Dataset (from_arrays, from_pandas, from_csv), fairness "
            "gates accept a stream"
        )


def _batch(element: Any, sensitive: list[str], index: int) -> Batch:
    where = f"batch {index}"
    if isinstance(element, Mapping):
        features = _pick(element, ("features", "x"), where)
        target = _pick(element, ("target", "y"), where)
        columns = element.get("sensitive", element)
        weight = element.get("sample_weight")
    elif isinstance(element, tuple | list) and 2 <= len(element) <= 4:
        features, target, columns, weight = (*element, *({}, None)[len(element) - 2 :])
    else:
        raise GateError(
            f"{where} is a {type(element).__name__}: a batch is (features, target, "
            "{column: values}[, sample_weight]) or a mapping with features/target keys"
        )
    target = np.asarray(target)
    if target.ndim == 0:
        raise GateError(f"{where}: the target is one value; batch the rows (tf.data: .batch(n))")
    target = _text(_column("target", target))
    n = len(target)
    absent = [c for c in sensitive if c not in columns]
    if absent:
        raise GateError(
            f"{where} lacks the sensitive column(s) {absent}; it has {sorted(map(str, columns))}"
        )
    values = {c: _text(_column(f"sensitive column {c!r}", columns[c])) for c in sensitive}
    for role, array in [("features", features), *((f"column {c!r}", v) for c, v in values.items())]:
        if len(array) != n:
            raise GateError(f"{where}: {role} have {len(array)} rows but the target has {n}")
    return Batch(features, target, values, None if weight is None else _weights(weight, n))


def _text(array: np.ndarray) -> np.ndarray:
    """Strings as ``str``: tf.data yields string tensors as bytes, in-memory data has ``str``."""
    try:
        if array.dtype.kind == "S":
            return np.char.decode(array, "utf-8")
        if array.dtype == object and len(array) and isinstance(array[0], bytes):
            # element by element, so a None stays missing rather than becoming "None"
            return np.array([v.decode() if isinstance(v, bytes) else v for v in array], object)
    except UnicodeError:
        pass  # not UTF-8 text: keep the bytes, which still group and compare consistently
    return array


def _pick(element: Mapping[str, Any], names: tuple[str, ...], where: str) -> Any:
    for name in names:
        if name in element:
            return element[name]
    raise GateError(f"{where} has no {' or '.join(names)} key; it has {sorted(map(str, element))}")


def _weights(values: Any, n: int) -> np.ndarray:
    weights = _column("sample_weight", values).astype(float)
    if len(weights) != n:
        raise ValueError(f"sample_weight has {len(weights)} rows but target has {n}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return weights


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
        if (
            self.y_pred is not None
            and self.y_score is not None
            and len(self.y_pred) != len(self.y_score)
        ):
            raise ValueError(
                f"y_pred has {len(self.y_pred)} rows but y_score has {len(self.y_score)}"
            )

    def __len__(self) -> int:
        return len(self.y_pred if self.y_pred is not None else self.y_score)

    def __repr__(self) -> str:
        given = [name for name in ("y_pred", "y_score") if getattr(self, name) is not None]
        return f"Predictions(n={len(self)}, {', '.join(given)})"


def text_column(values: Any, *, role: str = "texts") -> np.ndarray:
    """One ``str`` per row as an object array, or an error naming the first row that is not."""
    if isinstance(values, str | bytes):
        raise ValueError(f"{role} must be one string per row, got a single string")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    values = list(values)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(
                f"{role}: row {i} is {type(value).__name__} {value!r}, not a string; a text "
                "column holds one str per row (fill or drop missing texts, decode bytes)"
            )
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


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
