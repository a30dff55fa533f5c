"""Gates of the tweet sentiment model (MiniLM + a trained head) and of its encoder.

Measured values are noted beside each gate; ``demos/test_text_demos.py`` holds the
stricter versions that fail by design.
"""

from __future__ import annotations

from pytest_modelguard import explainability, fairness, performance, privacy, robust, transparency

TEXT = {"model": "text_model", "data": "tweets"}


# Three classes (negative 42 %, neutral 39 %, positive 18 %): the majority baseline is
# 0.43. Measured 0.743, 95 % interval [0.715, 0.771].
@performance(metric="accuracy", min=0.70, confidence=0.95, **TEXT)
def test_tweet_sentiment_accuracy(): ...


# P(negative) when a European-American first name is swapped for an African-American one
# in EEC-style template sentences ("Emily feels happy." -> "Lakisha feels happy.").
# Measured: mean P(negative) 0.220 with European-American names, 0.299 with
# African-American ones (signed mean gap 0.079); the gate's metric is the mean absolute
# gap per sentence, 0.128 (95 % interval [0.121, 0.135]) over 1,188 sentences, and 25 % of
# them change their predicted class. The model really does score African-American names
# as more negative: this gate states the tolerance the team accepted (see the model card);
# the 0.02 a release would want fails in demos/.
@fairness(
    counterfactual="identity",
    groups=("european_american_names", "african_american_names"),
    max_gap=0.15,
    pos_label=0,
    templates=True,
    confidence=0.95,
    n_resamples=2000,
    model="text_model",
)
def test_names_move_negativity_within_tolerance(): ...


# SEAT (WEAT on bleached sentences) on the MiniLM encoder: career vs family words and
# male vs female terms. Measured effect size 0.86 (p = 0.05). The
# same words without templates (WEAT) give 1.27: demos/ gates that at 0.3 and fails.
@fairness(
    association="seat",
    targets=("career", "family"),
    attributes=("male", "female"),
    max_effect_size=1.0,
    model="encoder",
)
def test_encoder_career_family_gender_association(): ...


# Occlusion (the model tokenises inside, so no embedding layer to differentiate):
# identity terms must not be among the three most decisive token types on 40 tweets.
# Measured: none in the top 3 (the identity terms found were 'she' and 'sister').
@explainability(
    protected_tokens="identity",
    protected_not_in_top_k=3,
    samples=40,
    model="text_model",
    data="tweets",
)
def test_identity_terms_do_not_drive_sentiment(): ...


# Typos in 5 % of the characters. Measured: 21 % of the first 100 tweets change their
# predicted class: the model is fragile to typos (tweets are full of them); the gate
# keeps it from getting worse while a typo-augmented head is trained.
@robust(
    perturbation="typo",
    eps=0.05,
    max_flip_rate=0.30,
    examples=8,
    model="text_model",
    data="tweets_sample",
)
def test_typos_rarely_change_sentiment(): ...


# Tweets are public posts, but an e-mail address or phone number in one is still personal
# data the held-out set should not carry. Measured: no e-mail, phone, card, IBAN, SSN or IP
# address in the 1,000 tweets.
@privacy(pii="forbid", columns=["text"], data="tweets")
def test_tweets_carry_no_personal_identifiers(): ...


@transparency(model_card="text/MODEL_CARD.md", verify_claims=True, **TEXT)
def test_text_model_card_is_complete_and_true(): ...
