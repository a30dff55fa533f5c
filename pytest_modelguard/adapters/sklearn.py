"""scikit-learn estimators and pipelines: ``predict_proba``, else ``decision_function``,
else ``predict``."""

from __future__ import annotations

import io
import pickle
import types
from typing import Any

import numpy as np
from sklearn.base import is_regressor

from pytest_modelguard.adapters import Adapter


class SklearnAdapter(Adapter):
    """Probabilities when the estimator has them (with its ``classes_``), margins as
    logits for ``decision_function``, labels or values from ``predict``."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        classes = getattr(model, "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)
        if is_regressor(model):
            self._method, self.output = "predict", "values"
        elif self.classes is None:
            self._method, self.output = "predict", "auto"
        elif hasattr(model, "predict_proba"):
            self._method, self.output = "predict_proba", "probabilities"
        elif hasattr(model, "decision_function"):
            self._method, self.output = "decision_function", "logits"
        else:
            self._method, self.output = "predict", "labels"

    def predict_batch(self, rows: Any) -> Any:
        return getattr(self.model, self._method)(rows)

    content_kind = "pickle-sha256"

    def size_bytes(self) -> int:
        return len(self.content())

    def content(self) -> bytes:
        """The pickled estimator. Functions pickle cannot store by reference (a lambda in a
        ``FunctionTransformer``) are recorded by qualified name instead, and the kind
        (``pickle-names-sha256``) says so: their code is not part of the fingerprint."""
        try:
            return pickle.dumps(self.model, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError):
            buffer = io.BytesIO()
            _NamingPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(self.model)
            self.content_kind = "pickle-names-sha256"
            return buffer.getvalue()


class _NamingPickler(pickle.Pickler):
    """Pickles everything as usual except local functions, which become their names."""

    def persistent_id(self, obj: Any) -> str | None:
        if isinstance(obj, types.FunctionType) and "<" in obj.__qualname__:
            return f"function {obj.__module__}.{obj.__qualname__}"
        return None
