"""Synthetic credit applications with one known, documented bias in the labels.

Why synthetic: the example must run offline, and a fairness gate is only worth
demonstrating on data whose bias is known exactly.

How ``generate(n, seed)`` makes a row:

* The applicant's features (age, income, debt, credit history, employment, requested
  loan, open accounts) are drawn **independently of sex and race**, so no feature is a
  proxy for a sensitive attribute. ``sex`` is 50/50 female/male; ``race`` is white
  50 %, hispanic 20 %, black 18 %, asian 12 %.
* A scorecard turns the features into a standardised credit score (mean 0, standard
  deviation 1; :func:`credit_score`).
* Scored applications (``credit_history_years >= 3``) are approved when
  ``score + noise > 0``, with Gaussian noise of standard deviation ``NOISE`` = 0.6:
  the part of repayment ability the features miss. Sex and race play no part.
* ``purpose`` is the free text the applicant typed for what the loan is for ("car",
  "home renovation", ...). It is drawn last, independently of everything, so it is not
  a model input and adding it changed no other column; the privacy gates scan it for
  personal identifiers that applicants sometimes type into free-text fields.

**The bias.** Thin-file applications (``credit_history_years < 3``, about 23 % of
applicants) cannot be scored reliably and were decided by underwriters, who approved
with probability ``sigmoid(0.25 * (score + 0.5) + 0.5)`` for men and
``sigmoid(0.25 * (score + 0.5) - 0.5)`` for women: a log-odds penalty of
``REVIEW_SEX_GAP`` = 1.0 for being female, about 24 percentage points fewer
approvals (62 % vs 38 % at the median thin-file score). Nothing else depends on sex,
and nothing at all depends on race. Consequences (numbers in ``README.md``):

* a model that does not see ``sex`` stays close to fair: demographic parity and
  equalized odds differences below 0.08 by sex and by race on the holdout;
* a model that takes ``sex`` learns the underwriters' rule and approves markedly fewer
  women: a demographic parity difference by sex of about 0.17.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = [
    "age",
    "income",
    "debt",
    "credit_history_years",
    "employment_years",
    "loan_amount",
    "num_open_accounts",
]
SENSITIVE = ["sex", "race"]
TARGET = "approved"
#: the biased model's encoding of ``sex`` as an input: 1 for male, 0 for female.
SEX_COLUMN = "sex_male"
BIASED_FEATURES = [*FEATURES, SEX_COLUMN]

RACES = ("white", "hispanic", "black", "asian")
RACE_SHARES = (0.5, 0.2, 0.18, 0.12)
#: the applicant's own words for the loan's purpose (free text, not a model input)
PURPOSES = (
    "car",
    "home renovation",
    "debt consolidation",
    "education",
    "medical bills",
    "wedding",
    "holiday",
    "small business",
)
PURPOSE_SHARES = (0.24, 0.2, 0.26, 0.1, 0.05, 0.05, 0.05, 0.05)

CUTOFF = 0.0
NOISE = 0.6
THIN_FILE_YEARS = 3.0
# Underwriters' log-odds of approving a thin file: REVIEW_SLOPE * (score - REVIEW_CENTER)
# plus REVIEW_SEX_GAP / 2 for men and minus it for women: the documented bias.
REVIEW_SLOPE = 0.25
REVIEW_CENTER = -0.5
REVIEW_SEX_GAP = 1.0

# Standardisation of the raw scorecard, fixed from a 1,000,000-row sample (seed 0).
_SCORE_MEAN = 0.25
_SCORE_STD = 1.59


def credit_score(df: pd.DataFrame) -> np.ndarray:
    """The scorecard behind the labels: higher is more creditworthy (about N(0, 1))."""
    income = df["income"].to_numpy(dtype=float)
    debt_to_income = df["debt"].to_numpy(dtype=float) / income
    loan_to_income = df["loan_amount"].to_numpy(dtype=float) / income
    history = df["credit_history_years"].to_numpy(dtype=float)
    employment = df["employment_years"].to_numpy(dtype=float)
    accounts = df["num_open_accounts"].to_numpy(dtype=float)
    age = df["age"].to_numpy(dtype=float)
    raw = (
        1.2 * np.log(income / 50_000)
        - 2.5 * debt_to_income
        - 2.0 * loan_to_income
        + 0.45 * np.sqrt(history)
        + 0.6 * np.log1p(np.minimum(employment, 15))
        - 0.06 * (accounts - 4) ** 2
        - 0.0004 * (age - 45) ** 2
    )
    return (raw - _SCORE_MEAN) / _SCORE_STD


def generate(n: int, seed: int) -> pd.DataFrame:
    """``n`` credit applications with sensitive attributes and the (biased) label."""
    rng = np.random.default_rng(seed)
    age = np.clip(np.round(21 + rng.gamma(3.0, 7.0, n)), 21, 80).astype(int)
    adult_years = age - 18
    employment = np.minimum(rng.gamma(1.6, 4.0, n), adult_years - rng.uniform(0, 2, n))
    history = adult_years * rng.beta(1.1, 1.8, n)
    income = np.exp(rng.normal(np.log(42_000) + 0.015 * np.minimum(employment, 20), 0.45, n))
    debt = income * rng.gamma(1.5, 0.18, n)
    loan = np.exp(rng.normal(np.log(14_000), 0.7, n))
    accounts = rng.poisson(1.5 + 0.12 * history)
    df = pd.DataFrame(
        {
            "age": age,
            "income": _round_to(income, 100),
            "debt": _round_to(debt, 100),
            "credit_history_years": np.round(np.maximum(history, 0), 1),
            "employment_years": np.round(np.maximum(employment, 0), 1),
            "loan_amount": _round_to(np.maximum(loan, 1_000), 500),
            "num_open_accounts": accounts.astype(int),
            "sex": rng.choice(["female", "male"], n),
            "race": rng.choice(RACES, n, p=RACE_SHARES),
        }
    )
    score = credit_score(df)
    scored = score + rng.normal(0.0, NOISE, n) > CUTOFF
    thin_file = df["credit_history_years"].to_numpy() < THIN_FILE_YEARS
    female = df["sex"].to_numpy() == "female"
    sex_effect = np.where(female, -REVIEW_SEX_GAP, REVIEW_SEX_GAP) / 2  # the bias
    logit = REVIEW_SLOPE * (score - REVIEW_CENTER) + sex_effect
    reviewed = rng.random(n) < 1 / (1 + np.exp(-logit))
    df[TARGET] = np.where(thin_file, reviewed, scored).astype(int)
    # drawn after everything else, so the columns above are those of earlier versions
    df["purpose"] = rng.choice(PURPOSES, n, p=PURPOSE_SHARES)
    return df


def with_sex_column(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus the ``sex_male`` input column the biased model takes."""
    return df.assign(**{SEX_COLUMN: (df["sex"] == "male").astype(int)})


def _round_to(values: np.ndarray, step: int) -> np.ndarray:
    return (np.round(values / step) * step).astype(int)
