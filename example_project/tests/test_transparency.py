"""Transparency: the credit model's card is complete and tells the truth."""

from __future__ import annotations

from pytest_modelguard import transparency


# MODEL_CARD.md sits next to pytest.ini (the rootdir, which relative paths start from).
# Every claim is measured again on the holdout: measured 0 overstatement (tolerance 0.01);
# every claim is conservative, e.g. accuracy claimed 0.74, measured 0.747.
@transparency(model_card="MODEL_CARD.md", verify_claims=True)
def test_model_card_is_complete_and_true(): ...


# The DP-SGD model's card claims accuracy 0.72 (measured 0.734) and privacy: {epsilon:
# 1.5, delta: 1e-5}. The privacy claim is audited by retraining with 1000 canaries (the
# dp_train_model fixture): measured lower bound 0, so the claim stands (a pass does not
# prove DP; only a refutation is conclusive).
@transparency(
    model_card="DP_MODEL_CARD.md", verify_claims=True, model="dp_model", trainer="dp_train_model"
)
def test_dp_model_card_claims_survive_an_audit(): ...
