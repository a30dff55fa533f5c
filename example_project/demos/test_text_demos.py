"""Text gates that fail by design: run them with ``pytest example_project/demos``.

The tweet sentiment model scores African-American first names as more negative than
European-American ones in the same sentence, and its MiniLM encoder ties career words to
male terms; a release that asked for near-zero gaps would be blocked by these gates.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pytest_modelguard import fairness

# the text subjects' fixtures, loaded under their own name ("conftest" is the demos' own)
_spec = importlib.util.spec_from_file_location(
    "example_text_subjects", Path(__file__).resolve().parents[1] / "text" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_subjects = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_subjects)
minilm, text_model, encoder = _subjects.minilm, _subjects.text_model, _subjects.encoder


# Fails: measured gap 0.128 in P(negative) per sentence (means 0.220 vs 0.299); the counterexample is the shortest template sentence
# whose P(negative) moves by more than 0.02 with one name swapped.
@fairness(
    counterfactual="identity",
    groups=("european_american_names", "african_american_names"),
    max_gap=0.02,
    pos_label=0,
    templates=True,
    model="text_model",
)
def test_names_do_not_move_negativity(): ...


# Fails: measured WEAT effect size 1.27 (p = 0.005): career words sit closer to male
# terms than family words do.
@fairness(
    association="weat",
    targets=("career", "family"),
    attributes=("male", "female"),
    max_effect_size=0.3,
    model="encoder",
)
def test_encoder_has_no_career_gender_association(): ...
