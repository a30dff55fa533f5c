"""Verdicts in the JUnit XML file, valid for every ``junit_family``.

xunit1/legacy: ``<property>`` elements of the testcase (through ``user_properties``).
xunit2 (pytest's default) forbids those, so the same fields become testsuite-level
properties keyed by the test id, written by the process that writes the file.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_modelguard.verdict import Verdict

TESTCASE_FAMILIES = ("xunit1", "legacy")


def properties_in_testcase(config: pytest.Config) -> bool:
    return config.getini("junit_family") in TESTCASE_FAMILIES


def add_to_testcase(report: pytest.TestReport, verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        report.user_properties.extend(verdict.properties())


def add_to_testsuite(config: pytest.Config, nodeid: str, verdicts: list[Verdict]) -> None:
    xml = _log_xml(config)
    if xml is None:
        return
    for verdict in verdicts:
        for name, value in verdict.properties():
            xml.add_global_property(f"{nodeid}::{name}", value)


def _log_xml(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - guarded against a future pytest moving it
        return None
    return config.stash.get(xml_key, None)
