"""Plain Python callables that take a batch of rows and return labels or scores.

A batch of texts (a text dataset) is passed as ``list[str]``."""

from __future__ import annotations

from typing import Any

from pytest_modelguard.adapters import Adapter


class CallableAdapter(Adapter):
    """``model(rows)`` for a batch; what the outputs are is inferred unless stated with
    ``adapt(model, output=...)``."""

    def predict_batch(self, rows: Any) -> Any:
        from pytest_modelguard.adapters.text import as_text_list

        return self.model(as_text_list(rows))  # texts arrive as list[str]

    @property
    def name(self) -> str:
        return getattr(self.model, "__name__", type(self.model).__name__)
