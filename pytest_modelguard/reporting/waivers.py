"""Moved to :mod:`pytest_modelguard.gating.waivers` (it changes a verdict's status; reporting
only renders). This old path stays importable for scripts that used it, as the same module.
"""

import sys

from pytest_modelguard.gating import waivers

sys.modules[__name__] = waivers
