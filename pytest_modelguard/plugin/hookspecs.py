"""Hook specifications for extending pytest-modelguard.

Implement them in a ``conftest.py`` or a plugin, like any pytest hook::

    from pytest_modelguard.adapters import Adapter

    class TorchAdapter(Adapter):
        def predict_batch(self, rows):
            return self.model(torch.as_tensor(rows)).detach().numpy()

    def pytest_modelguard_adapt(model):
        if isinstance(model, torch.nn.Module):
            return TorchAdapter(model)
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_modelguard_adapt(model: Any) -> Any:
    """Return an ``Adapter`` for a model of your framework, or None to let others try."""


@pytest.hookspec
def pytest_modelguard_verdict(verdict: Any, nodeid: str) -> None:
    """Observe each ``Verdict`` as soon as a gate of test ``nodeid`` decides it."""
