"""The fairness gates catching the deliberately biased credit model: run

    pytest example_project/demos

and both gates FAIL (exit code 1). The main job (``pytest example_project``) does not
collect this folder (``testpaths = tests``), so it stays green.
"""

from __future__ import annotations

from pytest_modelguard import fairness


# Measured 0.166 (lower 95 % bound 0.145): women are approved far less often.
@fairness(max_disparity=0.1, sensitive="sex", confidence=0.95, model="biased_model", data="biased_dataset")
def test_biased_model_approval_rates_by_sex(): ...


# The model takes sex as an input: flipping it alone changes decisions.
@fairness(
    metric="counterfactual_flip_rate",
    max_disparity=0.01,
    sensitive="sex_male",
    model="biased_model",
    data="sex_input_dataset",
)
def test_biased_model_decisions_do_not_depend_on_sex(): ...
