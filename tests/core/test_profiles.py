"""Profiles: the plugin's Hypothesis settings never inherit the user's active profile."""

from __future__ import annotations

import pytest
from hypothesis import Phase, Verbosity, settings

from pytest_modelguard.core.profiles import PROFILES, default_profile


@pytest.fixture
def hostile_user_profile():
    """What a user may have loaded for their own tests: few examples, no shrinking, chatty."""
    settings.register_profile(
        "modelguard-test-hostile",
        max_examples=2,
        phases=[Phase.generate],
        verbosity=Verbosity.verbose,
        report_multiple_bugs=True,
        derandomize=False,
    )
    previous = settings.get_current_profile_name()
    settings.load_profile("modelguard-test-hostile")
    yield
    settings.load_profile(previous)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_setting_that_changes_a_verdict_is_the_plugins(hostile_user_profile, name):
    profile = PROFILES[name]
    own = profile.hypothesis_settings()
    assert own.max_examples == profile.examples
    assert own.derandomize == profile.derandomize
    assert tuple(own.phases) == (Phase.generate, Phase.shrink)
    assert own.verbosity == Verbosity.quiet
    assert own.report_multiple_bugs is False
    assert own.database is None and own.deadline is None
    assert profile.hypothesis_settings(max_examples=7).max_examples == 7


def test_ci_is_the_default_under_ci():
    assert default_profile({"CI": "true"}) == "ci"
    assert default_profile({}) == "dev"
    assert PROFILES["release"].resamples == 5 and PROFILES["ci"].resamples == 1
