"""After a check: the verdict compared with the baseline, and accepted by a waiver.

Loaded once per process from the options and ini keys; every process (xdist workers too)
applies it to the verdicts it decides, so the report and JUnit see the final status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from pytest_modelguard.core.verdict import Verdict

BASELINE_OPTION = "modelguard_baseline"
SAVE_BASELINE_OPTION = "modelguard_save_baseline"
MAX_REGRESSION_INI = "modelguard_max_regression"
WAIVERS_INI = "modelguard_waivers"


@dataclass
class Gating:
    today: date
    baseline: Any = None  # gating.baseline.Baseline
    tolerance: float | None = None  # the ini's; a marker's max_regression= wins
    waivers: list[Any] = field(default_factory=list)  # gating.waivers.Waiver

    def apply(
        self, nodeid: str, verdict: Verdict, max_regression: float | None, previous: list[Verdict]
    ) -> None:
        if self.baseline is not None:
            tolerance = max_regression if max_regression is not None else self.tolerance
            self.baseline.apply(nodeid, verdict, tolerance, previous=previous)
        if self.waivers:
            from pytest_modelguard.gating import waivers

            waivers.apply(self.waivers, nodeid, verdict, today=self.today)


def load(config: pytest.Config, today: date) -> Gating:
    """The baseline and waivers this run uses; a bad file stops the run before any test."""
    gating = Gating(today=today)
    path = config.getoption(BASELINE_OPTION)
    tolerance = config.getini(MAX_REGRESSION_INI)
    waiver_file = config.getini(WAIVERS_INI)
    if not (path or tolerance or waiver_file):
        return gating
    from pytest_modelguard.gating import baseline, waivers

    try:
        if path:
            gating.baseline = baseline.load(config.invocation_params.dir / path)
        gating.tolerance = baseline.parse_tolerance(tolerance, f"the ini key {MAX_REGRESSION_INI}")
        if waiver_file:
            root = config.inipath.parent if config.inipath else config.rootpath
            gating.waivers = waivers.load(root / waiver_file)
    except (baseline.BaselineError, waivers.WaiverError) as exc:
        raise pytest.UsageError(str(exc)) from None
    return gating
