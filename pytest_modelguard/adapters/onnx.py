"""ONNX Runtime sessions: a deployment format with no gradients for the plugin to take.

``adapt(onnxruntime.InferenceSession(...))`` runs tabular and image classifiers (a float
input) and text models: a graph whose input is a string tensor takes the texts as they
are; any other text model needs ``OnnxAdapter(session, tokenize=...)``, a callable from
``list[str]`` to the graph's input array (or a dict of them by input name, for
``input_ids``/``attention_mask`` graphs). A graph with one input per feature column (as
skl2onnx makes for a DataFrame) is fed the dataset's columns by name; a name the dataset
lacks is an error. Rows that gates build themselves (the adversarial rows of a robustness
gate) carry the dataset's column names (``needs_column_names``) and are fed by name, so
the columns may come in any order, from pandas or from arrays with ``feature_names``. The
model bytes are read (and later fingerprinted) when the adapter is made, so a file that
changes after loading does not change the fingerprint. Adversarial gates use
decision-based attacks only: a gradient attack on a session is an error that says so.

The score output is the first of: a ``seq(map)`` of class probabilities (scikit-learn's
ZipMap, whose keys name the classes), a float tensor whose name says ``prob``, any float
tensor, the first output; ``output_name=`` picks one. Class labels are read from the
graph's classifier node when the ``onnx`` package is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_modelguard.adapters import DEFAULT_BATCH_SIZE, Adapter
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.verdict import GateError

_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float16)": np.float16,
}
_CLASS_LABEL_ATTRIBUTES = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")

Tokenize = Callable[[list[str]], Any]


def is_session(model: Any) -> bool:
    """Whether ``model`` is an ONNX Runtime inference session (checked without importing it)."""
    return any(
        cls.__module__.startswith("onnxruntime") and cls.__name__ == "InferenceSession"
        for cls in type(model).__mro__
    )


class OnnxAdapter(Adapter):
    """An ``onnxruntime.InferenceSession`` as a classifier (or regressor) on rows or texts."""

    def __init__(
        self,
        session: Any,
        *,
        tokenize: Tokenize | None = None,
        output_name: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(session, batch_size=batch_size)
        if tokenize is not None and not callable(tokenize):
            raise TypeError(f"tokenize must be callable, got {type(tokenize).__name__}")
        self.tokenize = tokenize
        self.inputs = list(session.get_inputs())
        outputs = {o.name: o for o in session.get_outputs()}
        if output_name is not None and output_name not in outputs:
            raise GateError(
                f"output_name={output_name!r} is not an output of the ONNX graph "
                f"(outputs: {sorted(outputs)})"
            )
        self.output_name = output_name or _score_output(list(outputs.values()))
        self._output_type = outputs[self.output_name].type
        # read once now: a session loaded from a path must be fingerprinted as it was
        # loaded, not as the file reads when the report is written
        try:
            self._bytes: bytes | Exception = _model_bytes(session)
        except (GateError, OSError) as exc:
            self._bytes = exc
        self.classes = _graph_classes(self._bytes)
        #: several inputs and no tokenize=: one input per feature column, fed by name
        self.by_column = self.tokenize is None and len(self.inputs) != 1
        self.needs_column_names = self.by_column

    def _needs_tokenize(self) -> GateError:
        """The error for texts on a graph of several inputs and no ``tokenize=``."""
        return GateError(
            f"the ONNX graph takes {len(self.inputs)} inputs {[i.name for i in self.inputs]}: "
            "for texts give OnnxAdapter(session, tokenize=...) (or Encoder.from_onnx(session, "
            "tokenize=...)) returning a dict of arrays by input name"
        )

    def _column_order(self, dataset: Dataset) -> list[int]:
        """Which feature column feeds each graph input (one input per column, by name)."""
        names = [str(n) for n in (dataset.feature_names or [])]
        inputs = [i.name for i in self.inputs]
        missing = [n for n in inputs if n not in names]
        if missing:
            raise GateError(
                f"the ONNX graph takes {len(inputs)} inputs {inputs}, fed one feature column "
                f"each by name, but dataset {dataset.name!r} has no column {missing} (its "
                f"columns: {names or 'unnamed'}): name the columns as the graph's inputs, or "
                "give OnnxAdapter(session, tokenize=...) returning a dict of arrays by input name"
            )
        wide = [i.name for i in self.inputs if _width(i) not in (None, 1)]
        if wide:
            raise GateError(
                f"the ONNX graph's inputs {wide} take several columns each: give "
                "OnnxAdapter(session, tokenize=...) returning a dict of arrays by input name"
            )
        return [names.index(n) for n in inputs]

    @property
    def name(self) -> str:
        path = getattr(self.model, "_model_path", None)
        return f"ONNX Runtime session {str(path)!r}" if path else "ONNX Runtime session"

    @property
    def takes_strings(self) -> bool:
        return (
            self.tokenize is None and not self.by_column and self.inputs[0].type == "tensor(string)"
        )

    def prepare(self, dataset: Dataset) -> Any:
        if dataset.kind == "text":
            from pytest_modelguard.adapters.text import text_batch

            if self.by_column:
                raise self._needs_tokenize()
            if not self.takes_strings and self.tokenize is None:
                raise GateError(
                    f"dataset {dataset.name!r} holds texts but the ONNX graph's input "
                    f"{self.inputs[0].name!r} is {self.inputs[0].type}: give "
                    "OnnxAdapter(session, tokenize=...) turning list[str] into that input"
                )
            return text_batch(dataset)
        if self.by_column:
            return _columns(dataset, self._column_order(dataset))
        if self.takes_strings:
            raise GateError(
                f"the ONNX graph takes strings but dataset {dataset.name!r} is "
                f"{dataset.kind}: build it with Dataset.from_texts(texts, target)"
            )
        from pytest_modelguard.adapters.keras import as_float32

        return as_float32(dataset)

    def predict_batch(self, rows: Any) -> Any:
        feeds = self._feeds(rows)
        (raw,) = self.model.run([self.output_name], feeds)
        if isinstance(raw, list):  # seq(map): one {class: probability} per row
            return _from_maps(raw, self)
        return raw

    def _feeds(self, rows: Any) -> dict[str, Any]:
        if self.by_column and hasattr(rows, "columns"):
            return self._by_name(rows)
        if hasattr(rows, "to_numpy"):
            rows = rows.to_numpy()
        texts = isinstance(rows, np.ndarray) and rows.dtype == object
        if self.tokenize is not None:
            if not texts:
                raise GateError("OnnxAdapter(tokenize=...) takes texts: give a text dataset")
            return self._tokenized(rows.tolist())
        if self.by_column:
            return {spec.name: _typed(rows[:, k], spec) for k, spec in enumerate(self.inputs)}
        spec = self.inputs[0]
        if texts:
            batch = np.asarray(rows, dtype=object)
            return {spec.name: batch[:, None] if _rank(spec) == 2 else batch}
        dtype = _NUMPY_TYPES.get(spec.type)
        if dtype is None:
            raise GateError(
                f"the ONNX graph's input {spec.name!r} is {spec.type}: pytest-modelguard feeds "
                "float, double, int32/64 and string tensors"
            )
        return {spec.name: np.asarray(rows).astype(dtype, copy=False)}

    def _by_name(self, rows: Any) -> dict[str, Any]:
        """Rows with column names (a DataFrame: a robustness gate's adversarial rows of a
        pandas dataset) feed each graph input its own column, whatever the columns' order."""
        names = [str(c) for c in rows.columns]
        missing = [i.name for i in self.inputs if i.name not in names]
        if missing:
            raise GateError(
                f"the rows have no column {missing} for the ONNX graph's inputs "
                f"{[i.name for i in self.inputs]} (their columns: {names})"
            )
        return {
            spec.name: _typed(rows.iloc[:, names.index(spec.name)].to_numpy(), spec)
            for spec in self.inputs
        }

    def _tokenized(self, texts: list[str]) -> dict[str, Any]:
        assert self.tokenize is not None
        out = self.tokenize(texts)
        if not isinstance(out, dict):
            if len(self.inputs) != 1:
                raise GateError(
                    f"tokenize= returned one array, but the ONNX graph takes "
                    f"{[i.name for i in self.inputs]}: return a dict by input name"
                )
            out = {self.inputs[0].name: out}
        missing = [i.name for i in self.inputs if i.name not in out]
        if missing:
            raise GateError(f"tokenize= returned no array for the ONNX inputs {missing}")
        feeds = {}
        for spec in self.inputs:
            dtype = _NUMPY_TYPES.get(spec.type)
            value = np.asarray(out[spec.name])
            feeds[spec.name] = value if dtype is None else value.astype(dtype, copy=False)
        return feeds

    content_kind = "onnx-sha256"

    def content(self) -> bytes:
        """The serialised graph with its weights, as read when the adapter was made."""
        if isinstance(self._bytes, Exception):
            raise self._bytes
        return self._bytes

    def size_bytes(self) -> int:
        return len(self.content())


def _width(spec: Any) -> Any:
    """The second dimension of an input (None when the input is a vector or it is free)."""
    shape = spec.shape if isinstance(spec.shape, list | tuple) else []
    return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None


def _columns(dataset: Dataset, order: list[int]) -> np.ndarray:
    """The feature columns in the graph's input order, as an object array (mixed types)."""
    features = dataset.features
    if hasattr(features, "iloc"):
        return features.iloc[:, order].to_numpy(dtype=object)
    return np.asarray(features)[:, order]


def _typed(column: np.ndarray, spec: Any) -> np.ndarray:
    """One column as the dtype and rank the graph's input ``spec`` declares."""
    dtype = object if spec.type == "tensor(string)" else _NUMPY_TYPES.get(spec.type)
    if dtype is None:
        raise GateError(
            f"the ONNX graph's input {spec.name!r} is {spec.type}: pytest-modelguard feeds "
            "float, double, int32/64 and string tensors"
        )
    try:
        value = np.asarray(column).astype(dtype)
    except (TypeError, ValueError) as exc:
        raise GateError(
            f"the column for ONNX input {spec.name!r} is not {spec.type}: {exc}"
        ) from exc
    return value[:, None] if _rank(spec) == 2 else value


def _model_bytes(session: Any) -> bytes:
    data = getattr(session, "_model_bytes", None)
    if data:
        return bytes(data)
    path = getattr(session, "_model_path", None)
    if path:
        with open(path, "rb") as handle:
            return handle.read()
    raise GateError("the ONNX session keeps neither its model bytes nor its path")


def _rank(spec: Any) -> int:
    shape = spec.shape
    return len(shape) if isinstance(shape, list | tuple) else 1


def _score_output(outputs: list[Any]) -> str:
    """The output that holds class scores (see the module docstring for the order)."""
    maps = [o for o in outputs if o.type.startswith("seq(map")]
    floats = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
    scored = [o for o in floats if "prob" in o.name.lower()]
    for candidates in (maps, scored, floats, outputs):
        if candidates:
            return candidates[0].name
    raise GateError("the ONNX graph has no outputs")


def _from_maps(rows: list[dict[Any, float]], adapter: OnnxAdapter) -> np.ndarray:
    """ZipMap's ``[{class: p}, ...]`` as an ``(n, k)`` array in the order of its classes."""
    if not rows:
        return np.zeros((0, 0 if adapter.classes is None else len(adapter.classes)))
    keys = list(rows[0])
    if adapter.classes is None:
        adapter.classes = np.asarray(keys)
    order = adapter.classes.tolist()
    return np.array([[row[k] for k in order] for row in rows], dtype=np.float64)


def _graph_classes(data: bytes | Exception) -> np.ndarray | None:
    """The class labels a classifier node of the graph declares (needs ``onnx``)."""
    if isinstance(data, Exception):
        return None
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load_from_string(data).graph
    except Exception:
        return None
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_LABEL_ATTRIBUTES:
                values = onnx.helper.get_attribute_value(attribute)
                if attribute.name == "classlabels_strings":
                    values = [v.decode() for v in values]
                return np.asarray(values)
    return None


def onnx_encoder_function(
    session: Any, *, tokenize: Tokenize | None, output_name: str | None
) -> Callable[[list[str]], np.ndarray]:
    """``list[str] -> (n, d)`` vectors from an ONNX embedding graph (see Encoder.from_onnx)."""
    adapter = OnnxAdapter(session, tokenize=tokenize, output_name=output_name)
    if adapter.by_column:
        raise adapter._needs_tokenize()
    if not adapter.takes_strings and tokenize is None:
        raise GateError(
            f"the ONNX encoder's input {adapter.inputs[0].name!r} is {adapter.inputs[0].type}, "
            "not strings: give Encoder.from_onnx(session, tokenize=...) turning list[str] into it"
        )

    def encode(texts: list[str]) -> np.ndarray:
        batch = np.empty(len(texts), dtype=object)
        batch[:] = texts
        return np.asarray(adapter.predict_batch(batch))

    encode.__name__ = adapter.name
    return encode


__all__ = ["OnnxAdapter", "is_session", "onnx_encoder_function"]
