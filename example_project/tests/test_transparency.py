"""Transparency: the credit model's card is complete and tells the truth."""

from __future__ import annotations

from pytest_modelguard import transparency


# MODEL_CARD.md sits next to pytest.ini (the rootdir, which relative paths start from).
# Every claim is measured again on the holdout: measured 0 overstatement (tolerance 0.01);
# every claim is conservative, e.g. accuracy claimed 0.74, measured 0.747.
@transparency(model_card="MODEL_CARD.md", verify_claims=True)
def test_model_card_is_complete_and_true(): ...
