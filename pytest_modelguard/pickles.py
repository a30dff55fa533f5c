"""Which callables a model artifact would call when loaded, read without ever loading it.

The scanner lives in :mod:`pytest_modelguard.scanning`; this module keeps its public names
importable from where they have always been.
"""

from __future__ import annotations

from pytest_modelguard.scanning.containers import (
    MAX_DECOMPRESSED,
    PICKLE_SUFFIXES,
    scan_bytes,
    scan_config,
    scan_path,
)
from pytest_modelguard.scanning.opcodes import scan_pickle
from pytest_modelguard.scanning.policy import (
    DEFAULT_ALLOW,
    DENY,
    allowed,
    check_allow,
    classify,
)
from pytest_modelguard.scanning.results import Finding, Scan

__all__ = [
    "DEFAULT_ALLOW",
    "DENY",
    "MAX_DECOMPRESSED",
    "PICKLE_SUFFIXES",
    "Finding",
    "Scan",
    "allowed",
    "check_allow",
    "classify",
    "scan_bytes",
    "scan_config",
    "scan_path",
    "scan_pickle",
]
