"""Command-line options and ini keys."""

from __future__ import annotations

import pytest

from pytest_modelguard.core.profiles import PROFILES

MODEL_FIXTURE_INI = "modelguard_model_fixture"
DATA_FIXTURE_INI = "modelguard_data_fixture"
SEED_INI = "modelguard_seed"
COMPLIANCE_TIMEOUT_INI = "modelguard_compliance_timeout"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("modelguard", "model requirements as tests (pytest-modelguard)")
    group.addoption(
        "--modelguard-seed",
        dest="modelguard_seed",
        default=None,
        metavar="SEED",
        help="session seed for every random choice of the gates: an integer, 'random', or "
        "'last' (the previous run's). Default: the ini value modelguard_seed, else fixed.",
    )
    group.addoption(
        "--modelguard-profile",
        dest="modelguard_profile",
        default=None,
        choices=sorted(PROFILES),
        help="how hard searched properties look: dev (quick), ci (derandomized; the default "
        "when the CI environment variable is set) or release (longest search).",
    )
    group.addoption(
        "--modelguard-report",
        dest="modelguard_report",
        default=None,
        metavar="DIR",
        help="write the sign-off report to DIR: modelguard.json, index.html, MODEL_CARD.md.",
    )
    group.addoption(
        "--modelguard-baseline",
        dest="modelguard_baseline",
        default=None,
        metavar="FILE",
        help="compare every gate with a saved run (a modelguard.json); a gate that regressed "
        "by more than its tolerance fails (max_regression= or modelguard_max_regression).",
    )
    group.addoption(
        "--modelguard-save-baseline",
        dest="modelguard_save_baseline",
        default=None,
        metavar="FILE",
        help="save this run's verdicts as a baseline for --modelguard-baseline.",
    )
    parser.addini(
        "modelguard_max_regression",
        default="",
        help="absolute tolerance for a regression against the baseline, for gates without "
        "max_regression= (default: none, deltas are shown but not gated)",
    )
    parser.addini(
        "modelguard_waivers",
        default="",
        help="TOML file of waivers (test, reason, owner, expires), relative to the ini file",
    )
    parser.addini(
        MODEL_FIXTURE_INI,
        default="model",
        help="name of the fixture that provides the model under test (default: model)",
    )
    parser.addini(
        DATA_FIXTURE_INI,
        default="dataset",
        help="name of the fixture that provides the Dataset (default: dataset)",
    )
    parser.addini(SEED_INI, default="", help="default session seed (see --modelguard-seed)")
    parser.addini(
        COMPLIANCE_TIMEOUT_INI,
        default="600",
        help="seconds a compliance gate under pytest-xdist waits for the other workers' "
        "tests to finish (default: 600)",
    )
