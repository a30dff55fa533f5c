"""Running a model of any framework on a :class:`Dataset`, once.

An :class:`Adapter` turns one framework's model into raw outputs for a batch of rows;
the base class batches, validates and caches, so every gate of a session on the same
model and dataset shares one inference pass. :func:`adapt` picks the adapter; a third
party adds one through the ``pytest_modelguard_adapt`` hook (or :func:`add_resolver`
outside pytest) instead of patching this package.
"""

from __future__ import annotations

import hashlib
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.verdict import GateError

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
    #: whether rows a gate builds itself (an attack's) must carry the dataset's column
    #: names: the model feeds its inputs by name (an ONNX graph with one input per column).
    needs_column_names: bool = False

    def __init__(self, model: Any, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.rows_predicted = 0
        self._cache: dict[str, ModelOutput] = {}
        self._identity: dict[str, Any] | None = None

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

    #: what :meth:`content` hashes, named next to the fingerprint in every report
    content_kind: str = "type-sha256"

    def content(self) -> bytes:
        """Bytes that identify the model's behaviour (weights, pickled state), hashed once
        for the report's model fingerprint; the default is the model's qualified type."""
        cls = type(self.model)
        return f"{cls.__module__}.{cls.__qualname__}:{self.name}".encode()

    def identity(self) -> dict[str, Any]:
        """``{"fingerprint", "fingerprint_kind"}`` of the model; never raises.

        It is asked for after a check has decided, so it must not cost the verdict: when
        :meth:`content` fails (an unpicklable estimator) the fingerprint hashes the
        model's ``repr`` instead, and its kind (``repr-sha256``) says it is weaker.
        """
        if self._identity is None:
            try:
                content, kind, note = self.content(), self.content_kind, None
            except Exception as exc:
                content, kind = fallback_content(self.model), "repr-sha256"
                note = f"{self.content_kind} failed ({type(exc).__name__}: {exc})"
            self._identity = {
                "fingerprint": hashlib.sha256(content).hexdigest(),
                "fingerprint_kind": kind,
            }
            if note:
                self._identity["fingerprint_note"] = note
        return dict(self._identity)

    @property
    def fingerprint(self) -> str:
        return self.identity()["fingerprint"]

    def outputs(self, dataset: Dataset) -> ModelOutput:
        """Every row's output, computed in batches on first use, validated and cached."""
        key = dataset.fingerprint
        if key not in self._cache:
            if not dataset.is_streaming and len(dataset) == 0:
                raise GateError(
                    f"dataset {dataset.name!r} has no rows: a gate on nothing measures "
                    "nothing; give it data"
                )
            output = check_output(self.predict(dataset), self.name)
            if not dataset.is_streaming:
                check_target(dataset.target, dataset.name)
                check_columns(output, dataset.target, self.name)
            self._cache[key] = output
        return self._cache[key]

    def time_batches(self, dataset: Dataset, *, batch_size: int, repeats: int) -> list[float]:
        """Seconds per model call on batches of ``batch_size`` rows (not cached)."""
        if len(dataset) == 0:
            raise GateError(
                f"dataset {dataset.name!r} has no rows: there is no batch to time; give the "
                "latency gate data with at least one row"
            )
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
        return check_output(ModelOutput(array=array, kind=kind, classes=self.classes), self.name)


#: how far a probability may stray from [0, 1], and a row of them from summing to 1
#: (float32 softmax over many classes stays well inside)
PROBABILITY_TOLERANCE = 1e-3


def infer_output_kind(array: np.ndarray) -> str:
    """Guess what unlabeled outputs are: integers are labels, [0, 1] are probabilities.

    Several columns in [0, 1] whose rows do not sum to 1 are neither: independent
    sigmoids, or broken probabilities. Softmaxing them as logits would gate something
    else than the model, so that is an error asking to say what they are.
    """
    if array.dtype.kind in "iubUSO":
        return "labels"
    if array.size and array.min() >= 0.0 and array.max() <= 1.0:
        if array.ndim == 1 or array.shape[1] == 1:
            return "probabilities"
        sums = array.sum(axis=1)
        if np.allclose(sums, 1.0, atol=PROBABILITY_TOLERANCE):
            return "probabilities"
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise GateError(
            f"the model's {array.shape[1]} score columns lie in [0, 1] but row {row} sums to "
            f"{sums[row]:.4g}, not 1: they are not class probabilities; if they are logits, "
            "return adapt(model, output='logits') from the model fixture, else make the "
            "model return one probability per class (softmax)"
        )
    return "logits"


def check_output(output: ModelOutput, model: str) -> ModelOutput:
    """The output, once shown to be what it claims: probabilities in [0, 1] whose rows sum
    to 1, and one score column per named class. Every gate reads outputs through this."""
    if output.derived.get("validated"):
        return output
    array, classes = output.array, output.classes
    if output.kind in ("probabilities", "logits") and array.dtype.kind not in "biuf":
        raise GateError(
            f"the model {model} is said to return {output.kind}, but it returns "
            f"{array.dtype} values; return numbers, or adapt(model, output='labels')"
        )
    if output.kind == "probabilities" and array.size:
        tol = PROBABILITY_TOLERANCE
        outside = (array < -tol) | (array > 1.0 + tol)
        if np.any(outside):
            row = int(np.flatnonzero(outside.reshape(len(array), -1).any(axis=1))[0])
            raise GateError(
                f"the model {model} returns probabilities, but row {row} holds "
                f"{np.round(np.atleast_1d(array[row]), 4).tolist()}, outside [0, 1]: if "
                "these are logits or margins, return adapt(model, output='logits')"
            )
        if array.ndim == 2 and array.shape[1] > 1:
            gap = np.abs(array.sum(axis=1) - 1.0)
            if np.any(gap > tol):
                row = int(np.argmax(gap))
                raise GateError(
                    f"the model {model} returns probabilities, but row {row} sums to "
                    f"{array[row].sum():.4g}, not 1 (tolerance {tol:g}): normalise them "
                    "(softmax), or return adapt(model, output='logits') if they are logits"
                )
    if classes is not None and output.kind in ("probabilities", "logits"):
        columns = 2 if array.ndim == 1 else array.shape[1]
        if columns != len(classes):
            raise GateError(
                f"the model {model} returns {columns} score column(s) "
                f"({'one binary score' if array.ndim == 1 else f'shape {array.shape}'}) but "
                f"names {len(classes)} classes {[str(c) for c in classes[:10]]}: each score "
                "column must stand for one class"
            )
    output.derived["validated"] = True
    return output


def check_columns(output: ModelOutput, target: np.ndarray, model: str) -> None:
    """Unnamed score columns stand for the classes 0..k-1 of the target: more columns than
    the target has classes is a model for another task (or a wrong output layer), whose
    extra columns would only lower every metric quietly."""
    array = output.array
    if output.classes is not None or output.kind not in ("probabilities", "logits"):
        return
    if array.ndim != 2 or array.shape[1] <= 2:
        return
    present = np.unique(target[~_missing(target)])
    if len(present) < array.shape[1]:
        raise GateError(
            f"the model {model} returns {array.shape[1]} score columns but the target has "
            f"{len(present)} classes {[str(c) for c in present[:10]]}: the columns do not "
            "match the classes (a model for another task, or a wrong output layer?); if the "
            "model knows classes this data lacks, name every column with "
            "adapt(model, classes=[...]) in the model fixture"
        )


def check_target(target: np.ndarray, name: str) -> None:
    """A missing label (NaN, None, pandas NA) is not a class: it is an error to fix."""
    missing = _missing(target)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise GateError(
            f"the target of dataset {name!r} is missing (NaN/None) on {len(rows)} of "
            f"{len(target)} rows (first: {rows[:5].tolist()}): a missing label is not a "
            "class; drop or label those rows"
        )


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "biuUSM":
        return np.zeros(len(values), bool)
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool).reshape(len(values))


def positive_label(labels: Any, pos_label: Any) -> Any:
    """The positive (favourable) class: ``pos_label`` if given, else 1 when the labels are
    0/1, False/True or -1/1. Any other labels (strings above all) must name it: which of
    "approved"/"denied" is positive is not for alphabetical order to decide. One rule for
    every gate that needs a positive class (performance, fairness)."""
    shown = [v.item() if hasattr(v, "item") else v for v in labels]
    if pos_label is not None:
        if len(shown) >= 2 and pos_label not in shown:
            raise GateError(f"pos_label={pos_label!r} is not among the labels {shown}")
        return pos_label
    numeric = all(
        isinstance(v, bool | int | float | np.bool_ | np.integer | np.floating) for v in shown
    )
    if numeric and (set(shown) <= {0, 1} or set(shown) <= {-1, 1}):
        return True if all(isinstance(v, bool | np.bool_) for v in shown) else 1
    raise GateError(
        f"the labels are {shown[:10]}: say which one is the positive (favourable) class "
        "with pos_label= (only 0/1, False/True and -1/1 labels imply it)"
    )


Resolver = Callable[[Any], "Adapter | None"]
_resolvers: list[Resolver] = []
_adapters: dict[int, Adapter] = {}


def add_resolver(resolver: Resolver) -> None:
    """Let ``resolver(model)`` return an Adapter for models it knows (None otherwise)."""
    _resolvers.append(resolver)


def remove_resolver(resolver: Resolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def adapt(
    model: Any,
    *,
    output: OutputKind = "auto",
    batch_size: int | None = None,
    classes: Any = None,
) -> Adapter:
    """The adapter for ``model``: the same instance (and cache) for the same model object.

    Return ``adapt(model, output="logits")`` from a fixture to state what a model's
    outputs are instead of letting the plugin infer it, and ``classes=[...]`` to name
    the class of each score column (a model that knows classes the data lacks).
    """
    if output not in OUTPUT_KINDS:
        raise ValueError(f"output={output!r} is not one of {', '.join(OUTPUT_KINDS)}")
    if isinstance(model, Adapter):
        return model
    cached = _adapters.get(id(model))
    fresh = output == "auto" and batch_size is None and classes is None
    if cached is not None and cached.model is model and fresh:
        return cached
    adapter = _make(model)
    if output != "auto":
        adapter.output = output
    if batch_size is not None:
        adapter.batch_size = batch_size
    if classes is not None:
        adapter.classes = np.asarray(classes)
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
    if "onnxruntime" in modules:
        from pytest_modelguard.adapters.onnx import OnnxAdapter, is_session

        if is_session(model):
            return OnnxAdapter(model)
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
        f"{type(model).__qualname__}: return a Keras, TensorFlow or scikit-learn model, an "
        "onnxruntime.InferenceSession, "
        "a callable, Predictions, or an Adapter from the fixture, or implement the "
        "pytest_modelguard_adapt hook"
    )


def fallback_content(model: Any) -> bytes:
    """The model's type and ``repr`` without memory addresses: always computable, stable
    across runs, but blind to state the ``repr`` does not show (fitted weights)."""
    cls = type(model)
    try:
        text = repr(model)
    except Exception:
        text = ""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return f"{cls.__module__}.{cls.__qualname__}:{text}".encode()


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
