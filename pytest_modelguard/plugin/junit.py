"""Verdicts in the JUnit XML file, valid for every ``junit_family``.

xunit1/legacy: ``<property>`` elements of the testcase (through ``user_properties``).
xunit2 (pytest's default) forbids those, so the same fields become testsuite-level
properties keyed by the test id, written by the process that writes the file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pytest_modelguard.core.verdict import Verdict

TESTCASE_FAMILIES = ("xunit1", "legacy")


def properties_in_testcase(config: pytest.Config) -> bool:
    return config.getini("junit_family") in TESTCASE_FAMILIES


def properties(verdicts: list[Verdict]) -> list[tuple[str, str]]:
    """Every verdict's fields, with repeated metrics of one test told apart."""
    seen: Counter[tuple[str, str]] = Counter()
    pairs = []
    for verdict in verdicts:
        seen[verdict.requirement, verdict.metric] += 1
        pairs += verdict.properties(seen[verdict.requirement, verdict.metric])
    return pairs


def add_to_testcase(report: pytest.TestReport, verdicts: list[Verdict]) -> None:
    report.user_properties.extend(properties(verdicts))


def add_to_testsuite(config: pytest.Config, nodeid: str, verdicts: list[Verdict]) -> None:
    xml = _log_xml(config)
    if xml is None:
        return
    for name, value in properties(verdicts):
        xml.add_global_property(f"{nodeid}::{name}", value)


def _log_xml(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - guarded against a future pytest moving it
        return None
    return config.stash.get(xml_key, None)
