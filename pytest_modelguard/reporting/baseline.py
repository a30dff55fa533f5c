"""Moved to :mod:`pytest_modelguard.gating.baseline` (it changes a verdict's status; reporting
only renders). This old path stays importable for scripts that used it, as the same module.
"""

import sys

from pytest_modelguard.gating import baseline

sys.modules[__name__] = baseline
