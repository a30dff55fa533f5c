"""Fairness gates of the credit model, by sex and by race, on the 8000-row holdout.

The labels carry a known bias against women among thin-file applicants (see
``credit_data.py``); the model does not take sex or race as inputs and must stay within
these limits with 95 % confidence. Each comment gives the value measured on the
committed model: the point estimate and the bound the gate decides on.
"""

from __future__ import annotations

from pytest_modelguard import fairness


# Measured 0.010 (upper 95 % bound 0.031); the biased variant measures 0.166.
@fairness(max_disparity=0.1, sensitive="sex", confidence=0.95)
def test_approval_rates_by_sex(): ...


# Measured 0.050 by sex, 0.038 by race (worst upper bound 0.096, race): both columns, worst decides.
@fairness(metric="equalized_odds_difference", max_disparity=0.12, confidence=0.95)
def test_error_rates_by_sex_and_race(): ...


# The four-fifths rule: measured 0.935 (lower 95 % bound 0.868).
@fairness(metric="demographic_parity_ratio", min_ratio=0.8, sensitive="race", confidence=0.95)
def test_four_fifths_rule_by_race(): ...


# Every sex x race subgroup (smallest about 480 rows): measured 0.732 (lower bound 0.699).
@fairness(
    metric="accuracy_group_min",
    min=0.68,
    sensitive=["sex", "race"],
    intersectional=True,
    confidence=0.95,
)
def test_accuracy_in_every_subgroup(): ...
