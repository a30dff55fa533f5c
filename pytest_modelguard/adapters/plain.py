"""Plain Python callables that take a batch of rows and return labels or scores."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.adapters import Adapter


class CallableAdapter(Adapter):
    """``model(rows)`` for a batch; what the outputs are is inferred unless stated with
    ``adapt(model, output=...)``."""

    def predict_batch(self, rows: Any) -> Any:
        return self.model(rows)

    @property
    def name(self) -> str:
        return getattr(self.model, "__name__", type(self.model).__name__)
