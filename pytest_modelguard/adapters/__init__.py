"""Running a model of any framework on a :class:`Dataset`, once.

An :class:`Adapter` turns one framework's model into raw outputs for a batch of rows;
the base class batches, validates and caches, so every gate of a session on the same
model and dataset shares one inference pass. :func:`adapt` picks the adapter; a third
party adds one through the ``pytest_modelguard_adapt`` hook (or :func:`add_resolver`
outside pytest) instead of patching this package.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pytest_modelguard.dataset import Dataset, Predictions
from pytest_modelguard.verdict import GateError

OutputKind = Literal["probabilities", "logits", "labels", "values", "auto"]
OUTPUT_KINDS = ("probabilities", "logits", "labels", "values", "auto")
DEFAULT_BATCH_SIZE = 1024


@dataclass(frozen=True)
class ModelOutput:
    """Raw outputs of one model on one dataset, with what they are.

    ``kind`` is ``probabilities`` or ``logits`` (scores of shape ``(n,)`` for the positive
    class or ``(n, k)`` for every class), ``labels``, or ``values`` (regression).
    ``classes`` names the class of each score column (or of ``0``/``1`` for ``(n,)``).
    """

    array: np.ndarray
    kind: str
    classes: np.ndarray | None = None
    labels: np.ndarray | None = None  # the model's own labels, when it gives them too
    #: what gates derive from the outputs (probabilities, labels, group counts), computed once
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


class Adapter:
    """Base class: subclasses implement :meth:`predict_batch` (and may set ``output``).

    Call :meth:`outputs` to get the cached :class:`ModelOutput` for a dataset.
    """

    #: what ``predict_batch`` returns; ``auto`` infers it from the values (and says so).
    output: OutputKind = "auto"
    #: the class labels of the score columns, when the framework knows them.
    classes: np.ndarray | None = None

    def __init__(self, model: Any, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.rows_predicted = 0
        self._cache: dict[str, ModelOutput] = {}
        self._fingerprint: str | None = None

    def predict_batch(self, rows: Any) -> Any:
        """Raw model output for a batch of rows (array-like with one entry per row)."""
        raise NotImplementedError

    def prepare(self, dataset: Dataset) -> Any:
        """The dataset's features in the form this model takes (default: unchanged)."""
        return dataset.features

    def size_bytes(self) -> int:
        """Size of the model's parameters, for the ``model_size_mb`` metric."""
        raise GateError(
            f"cannot measure the size of a {type(self.model).__name__}: "
            "model_size_mb supports Keras/TensorFlow and scikit-learn models"
        )

    @property
    def name(self) -> str:
        return type(self.model).__name__

    def content(self) -> bytes:
        """Bytes that identify the model's behaviour (weights, pickled state), hashed once
        for the report's model fingerprint; the default is the model's qualified type."""
        cls = type(self.model)
        return f"{cls.__module__}.{cls.__qualname__}:{self.name}".encode()

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = hashlib.sha256(self.content()).hexdigest()
        return self._fingerprint

    def outputs(self, dataset: Dataset) -> ModelOutput:
        """Every row's output, computed in batches on first use and cached."""
        key = dataset.fingerprint
        if key not in self._cache:
            self._cache[key] = self.predict(dataset)
        return self._cache[key]

    def time_batches(self, dataset: Dataset, *, batch_size: int, repeats: int) -> list[float]:
        """Seconds per model call on batches of ``batch_size`` rows (not cached)."""
        inputs = self.prepare(dataset)
        batch = _slice(inputs, 0, min(batch_size, len(dataset)))
        self._call(batch, 0)  # warm-up: tracing and allocation are not latency
        timings = []
        for _ in range(repeats):
            start = time.perf_counter()
            self._call(batch, 0)
            timings.append(time.perf_counter() - start)
        return timings

    # -- internals ----------------------------------------------------------------------

    def predict(self, dataset: Dataset) -> ModelOutput:
        """Every row's output in batches, not cached: for data a gate makes up (counterfactual
        rows, one batch of a stream). Gates on the user's dataset use :meth:`outputs`."""
        inputs = self.prepare(dataset)
        n = len(dataset)
        if n == 0:
            raise GateError(f"dataset {dataset.name!r} has no rows")
        parts = [
            self._call(_slice(inputs, start, min(start + self.batch_size, n)), start)
            for start in range(0, n, self.batch_size)
        ]
        array = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return self._interpret(array)

    def _call(self, batch: Any, start: int) -> np.ndarray:
        size = len(batch)
        try:
            raw = self.predict_batch(batch)
        except GateError:
            raise
        except Exception as exc:
            raise GateError(
                f"the model {self.name} raised {type(exc).__name__} on rows "
                f"{start}-{start + size - 1}: {exc}"
            ) from exc
        array = to_numpy(raw)
        if array.ndim == 0 or array.shape[0] != size:
            raise GateError(
                f"the model {self.name} returned shape {array.shape} for a batch of {size} "
                "rows; it must return one output per row"
            )
        if array.ndim > 2 and not all(d == 1 for d in array.shape[2:]):
            raise GateError(
                f"the model {self.name} returned shape {array.shape}: expected one value "
                "or one score per class for each row"
            )
        array = array.reshape(array.shape[:2]) if array.ndim > 2 else array
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(array.reshape(size, -1)), axis=1))[0])
            raise GateError(
                f"the model {self.name} returned NaN or infinite output for row {start + bad}"
            )
        self.rows_predicted += size
        return array

    def _interpret(self, array: np.ndarray) -> ModelOutput:
        kind = self.output
        if kind == "auto":
            kind = infer_output_kind(array)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        return ModelOutput(array=array, kind=kind, classes=self.classes)


def infer_output_kind(array: np.ndarray) -> str:
    """Guess what unlabeled outputs are: integers are labels, [0, 1] are probabilities."""
    if array.dtype.kind in "iubUSO":
        return "labels"
    if array.size and array.min() >= 0.0 and array.max() <= 1.0:
        if array.ndim == 1 or array.shape[1] == 1:
            return "probabilities"
        if np.allclose(array.sum(axis=1), 1.0, atol=1e-3):
            return "probabilities"
    return "logits"


Resolver = Callable[[Any], "Adapter | None"]
_resolvers: list[Resolver] = []
_adapters: dict[int, Adapter] = {}


def add_resolver(resolver: Resolver) -> None:
    """Let ``resolver(model)`` return an Adapter for models it knows (None otherwise)."""
    _resolvers.append(resolver)


def remove_resolver(resolver: Resolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def adapt(model: Any, *, output: OutputKind = "auto", batch_size: int | None = None) -> Adapter:
    """The adapter for ``model``: the same instance (and cache) for the same model object.

    Return ``adapt(model, output="logits")`` from a fixture to state what a model's
    outputs are instead of letting the plugin infer it.
    """
    if output not in OUTPUT_KINDS:
        raise ValueError(f"output={output!r} is not one of {', '.join(OUTPUT_KINDS)}")
    if isinstance(model, Adapter):
        return model
    cached = _adapters.get(id(model))
    if cached is not None and cached.model is model and output == "auto" and batch_size is None:
        return cached
    adapter = _make(model)
    if output != "auto":
        adapter.output = output
    if batch_size is not None:
        adapter.batch_size = batch_size
    try:
        weakref.finalize(model, _adapters.pop, id(model), None)
    except TypeError:
        return adapter  # not weak-referenceable: cannot be cached safely by id
    _adapters[id(model)] = adapter
    return adapter


def _make(model: Any) -> Adapter:
    for resolver in reversed(_resolvers):
        adapter = resolver(model)
        if adapter is not None:
            return adapter
    if isinstance(model, Predictions):
        from pytest_modelguard.adapters.stored import PredictionsAdapter

        return PredictionsAdapter(model)
    modules = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if "keras" in modules or "tf_keras" in modules:
        from pytest_modelguard.adapters.keras import KerasAdapter
        from pytest_modelguard.adapters.text import KerasTextAdapter, takes_strings

        if takes_strings(model):
            return KerasTextAdapter(model)

        return KerasAdapter(model)
    if "tensorflow" in modules:
        from pytest_modelguard.adapters.tensorflow import TensorFlowAdapter

        return TensorFlowAdapter(model)
    if "sklearn" in modules or (hasattr(model, "fit") and hasattr(model, "predict")):
        from pytest_modelguard.adapters.sklearn import SklearnAdapter

        return SklearnAdapter(model)
    if callable(model):
        from pytest_modelguard.adapters.plain import CallableAdapter

        return CallableAdapter(model)
    raise GateError(
        f"pytest-modelguard does not know how to run a {type(model).__module__}."
        f"{type(model).__qualname__}: return a Keras, TensorFlow or scikit-learn model, "
        "a callable, Predictions, or an Adapter from the fixture, or implement the "
        "pytest_modelguard_adapt hook"
    )


def _slice(inputs: Any, start: int, stop: int) -> Any:
    return inputs.iloc[start:stop] if hasattr(inputs, "iloc") else inputs[start:stop]


def to_numpy(raw: Any) -> np.ndarray:
    """A framework's output (tensor, dict of one output, list) as a numpy array."""
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise GateError(
                f"the model returned a dict with outputs {sorted(raw)}; wrap it so that it "
                "returns one array"
            )
        raw = next(iter(raw.values()))
    if hasattr(raw, "numpy"):
        raw = raw.numpy()
    return np.asarray(raw)
