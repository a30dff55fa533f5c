"""The artifact scanner behind ``@security(safe_load=True)``: what loading a file would import
and call, read from its bytes without ever loading it.

- :mod:`.policy` decides which ``module.name`` may be imported, stored or called;
- :mod:`.opcodes` reads pickle streams the way ``_pickle``'s unpickler does;
- :mod:`.containers` finds every payload a common loader could unpickle in a file,
  directory or archive, by content;
- :mod:`.tensorflow` reads the ops of a SavedModel graph.

The public names of all four are importable from here (and from the old path
``pickles``, see ``pytest_modelguard._moved``).
"""

from __future__ import annotations

from pytest_modelguard.checks.security.scanning.containers import (
    MAX_DECOMPRESSED,
    PICKLE_SUFFIXES,
    scan_bytes,
    scan_config,
    scan_path,
)
from pytest_modelguard.checks.security.scanning.opcodes import scan_pickle
from pytest_modelguard.checks.security.scanning.policy import (
    DEFAULT_ALLOW,
    DENY,
    allowed,
    check_allow,
    classify,
)
from pytest_modelguard.checks.security.scanning.results import Finding, Scan

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
