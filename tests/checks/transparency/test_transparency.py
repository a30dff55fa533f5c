"""checks.transparency and model cards: completeness, claims measured again on real models,
every way a card can be unreadable, and the gate through pytest."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, GateError, checks
from pytest_modelguard.checks.performance import METRICS
from pytest_modelguard.checks.transparency import modelcard
from pytest_modelguard.checks.transparency.modelcard import REQUIRED_FIELDS, ModelCard

DOCS = Path(__file__).resolve().parents[3] / "docs" / "transparency.md"


def complete_fields(**metrics) -> dict:
    return {
        "name": "credit-approval",
        "version": "2.3.0",
        "owners": ["risk-ml@example.com"],
        "intended_use": "Ranking consumer credit applications for manual review.",
        "out_of_scope_uses": "Automated denial without human review.",
        "training_data": "Applications 2019-2022, 1000 rows.",
        "evaluation_data": "Held-out applications from 2023, 600 rows.",
        "metrics": metrics or {"accuracy": 0.9},
        "limitations": "Not evaluated on applicants under 21.",
        "ethical_considerations": "Sex is a sensitive attribute; disparity is gated.",
        "license": "Apache-2.0",
    }


def write_card(
    directory: Path, fields: dict, suffix: str = ".md", body: str = "", name: str = "MODEL_CARD"
) -> Path:
    path = directory / f"{name}{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(fields))
    elif suffix == ".md":
        path.write_text(f"---\n{yaml.safe_dump(fields, sort_keys=False)}---\n{body}")
    else:
        path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def measured(keras_binary, binary_dataset) -> dict[str, float]:
    """What the real performance and fairness checks report for the Keras model."""
    values = {
        metric: checks.performance(keras_binary, binary_dataset, metric=metric, min=0.01).value
        for metric in ("accuracy", "roc_auc", "f1")
    }
    values["log_loss"] = checks.performance(
        keras_binary, binary_dataset, metric="log_loss", max=10.0
    ).value
    values["dpd"] = checks.fairness(
        keras_binary, binary_dataset, sensitive="group", max_disparity=0.5
    ).value
    return values


def verify(tmp_path, model, dataset, metrics, **spec):
    card = write_card(tmp_path, complete_fields(**metrics))
    return checks.transparency(model, dataset, model_card=card, verify_claims=True, **spec)


# -- completeness ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".md", ".yaml", ".yml", ".json"])
def test_a_complete_card_passes_without_model_or_data(tmp_path, suffix):
    card = write_card(tmp_path, complete_fields(), suffix, body="# Credit approval\n")
    verdict = checks.transparency(model_card=card)
    assert verdict.status == "pass"
    assert (verdict.requirement, verdict.metric, verdict.value) == (
        "transparency",
        "missing_fields",
        0,
    )
    assert verdict.evidence["missing_fields"] == []
    assert verdict.evidence["model_card"] == str(card)


def test_absent_empty_and_placeholder_fields_are_missing(tmp_path):
    fields = complete_fields()
    del fields["license"]
    fields.update(
        owners=[],
        limitations="   ",
        ethical_considerations="TODO",
        out_of_scope_uses="<describe uses the model must not be put to>",
        training_data={"source": None, "rows": ""},
    )
    card = write_card(tmp_path, fields)
    verdict = checks.transparency(model_card=card)
    missing = [
        "owners",
        "out_of_scope_uses",
        "training_data",
        "limitations",
        "ethical_considerations",
        "license",
    ]
    assert verdict.status == "fail" and verdict.value == 6
    assert verdict.evidence["missing_fields"] == missing
    assert f"missing   {', '.join(missing)}" in verdict.message
    assert str(card) in verdict.message


def test_required_adds_fields_and_looks_inside_mappings(tmp_path):
    fields = complete_fields()
    fields["training_data"] = {"source": "applications 2019-2022", "rows": 1000}
    card = write_card(tmp_path, fields)
    verdict = checks.transparency(
        model_card=card, required=["training_data.source", "training_data.consent", "contact"]
    )
    assert verdict.evidence["missing_fields"] == ["training_data.consent", "contact"]
    assert verdict.evidence["required"][: len(REQUIRED_FIELDS)] == list(REQUIRED_FIELDS)
    assert checks.transparency(model_card=card, required=["training_data.rows"]).passed


def test_a_misspelt_key_is_named_with_the_expected_one(tmp_path):
    fields = complete_fields()
    fields["Intended Use"] = fields.pop("intended_use")
    verdict = checks.transparency(model_card=write_card(tmp_path, fields))
    assert verdict.evidence["missing_fields"] == ["intended_use"]
    assert "intended_use (the card has 'Intended Use'; write it intended_use)" in verdict.message


def test_a_modelcard_object_is_checked_as_is():
    assert checks.transparency(model_card=ModelCard(complete_fields())).passed
    verdict = checks.transparency(model_card=ModelCard({"name": "x"}))
    assert verdict.value == len(REQUIRED_FIELDS) - 1 and verdict.evidence["model_card"] is None


def test_a_generated_card_reads_back_the_same(tmp_path):
    fields = complete_fields(accuracy=0.9, demographic_parity_difference={"sex": 0.02})
    path = tmp_path / "generated.md"
    path.write_text(ModelCard(fields, body="# Credit\n\nDetails.").to_markdown())
    card = modelcard.load(path)
    assert card.fields == fields and card.body == "# Credit\n\nDetails.\n"
    assert card.format == "markdown" and card.missing() == []


def test_every_required_field_is_documented_and_the_example_card_is_complete(tmp_path):
    text = DOCS.read_text()
    assert all(f"`{name}`" in text for name in REQUIRED_FIELDS)
    assert list(modelcard.FIELDS) == list(REQUIRED_FIELDS)
    example = text.split("```markdown\n", 1)[1].split("```\n", 1)[0]
    path = tmp_path / "MODEL_CARD.md"
    path.write_text(example)
    assert checks.transparency(model_card=path).passed
    module = importlib.import_module("pytest_modelguard.checks.transparency")
    claims = module._claims(modelcard.load(path))
    assert [c.label for c in claims] == [
        "accuracy",
        "roc_auc",
        "f1",
        "log_loss",
        "demographic_parity_difference[sex]",
        "demographic_parity_difference[race]",
    ]


# -- claims ---------------------------------------------------------------------------------


def test_a_card_claiming_accuracy_005_above_the_measured_fails(
    tmp_path, keras_binary, binary_dataset, measured
):
    claimed = measured["accuracy"] + 0.05
    verdict = verify(tmp_path, keras_binary, binary_dataset, {"accuracy": claimed})
    assert verdict.status == "fail"
    assert verdict.metric == "claim_error"
    assert verdict.value == pytest.approx(0.05, abs=1e-9)
    assert (verdict.operator, verdict.threshold, verdict.n) == ("<=", 0.01, len(binary_dataset))
    (claim,) = verdict.evidence["claims"]
    assert claim["measured"] == measured["accuracy"] and claim["ok"] is False
    assert claim["difference"] == pytest.approx(-0.05, abs=1e-9)
    assert "accuracy: claimed" in verdict.message and "OVERSTATES by 0.05" in verdict.message


def test_true_understated_and_tolerated_claims_pass(
    tmp_path, keras_binary, binary_dataset, measured
):
    claims = {
        "accuracy": measured["accuracy"] + 0.008,  # within the default tolerance
        "roc_auc": measured["roc_auc"] - 0.2,  # conservative: honest
        "f1": measured["f1"],
        "log_loss": measured["log_loss"] + 0.1,  # an error claimed higher: conservative
    }
    verdict = verify(tmp_path, keras_binary, binary_dataset, claims)
    assert verdict.status == "pass", verdict.message
    assert verdict.value == pytest.approx(0.008, abs=1e-9)
    by_name = {c["claim"]: c for c in verdict.evidence["claims"]}
    assert by_name["roc_auc"]["overstatement"] == pytest.approx(-0.2, abs=1e-9)
    assert "understates: ok" in verdict.message and "within tolerance" in verdict.message
    strict = verify(tmp_path, keras_binary, binary_dataset, claims, tolerance=0.005)
    assert strict.status == "fail"


def test_an_error_metric_claimed_too_low_overstates(
    tmp_path, keras_binary, binary_dataset, measured
):
    verdict = verify(
        tmp_path, keras_binary, binary_dataset, {"log_loss": measured["log_loss"] - 0.05}
    )
    assert verdict.status == "fail" and verdict.value == pytest.approx(0.05, abs=1e-9)
    assert verdict.evidence["claims"][0]["better"] == "lower"


def test_a_brier_score_claimed_too_low_overstates(tmp_path, keras_binary, binary_dataset):
    from sklearn.metrics import brier_score_loss

    scores = keras_binary.predict(binary_dataset.features, verbose=0)[:, 0].astype(np.float64)
    brier = brier_score_loss(binary_dataset.target, scores)
    verdict = verify(tmp_path, keras_binary, binary_dataset, {"brier": brier - 0.05})
    assert verdict.status == "fail" and verdict.value == pytest.approx(0.05, abs=1e-9)
    assert verdict.evidence["claims"][0]["better"] == "lower"


def test_a_fairness_claim_is_measured_by_the_fairness_check(
    tmp_path, keras_binary, binary_dataset, measured
):
    dpd = measured["dpd"]
    assert dpd > 0.005
    claim = {"demographic_parity_difference": {"group": dpd / 2}}  # fairer than measured
    verdict = verify(tmp_path, keras_binary, binary_dataset, claim, tolerance=dpd / 4)
    assert verdict.status == "fail" and verdict.value == pytest.approx(dpd / 2, abs=1e-9)
    (entry,) = verdict.evidence["claims"]
    assert (entry["claim"], entry["sensitive"]) == ("demographic_parity_difference[group]", "group")
    assert entry["measured"] == measured["dpd"]
    honest = {"demographic_parity_difference": {"group": dpd + 0.03}}
    assert verify(tmp_path, keras_binary, binary_dataset, honest).passed


def test_a_claim_states_how_it_was_measured(tmp_path, keras_binary, binary_dataset):
    at_02 = checks.performance(
        keras_binary, binary_dataset, metric="recall", min=0.01, decision_threshold=0.2
    ).value
    claim = {"recall": {"value": at_02, "decision_threshold": 0.2}}
    verdict = verify(tmp_path, keras_binary, binary_dataset, claim, tolerance=0.0)
    assert verdict.status == "pass" and verdict.value == 0.0
    assert verdict.evidence["claims"][0]["decision_threshold"] == 0.2


def test_a_sklearn_model_is_held_to_its_card(tmp_path, tabular):
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    dataset = Dataset.from_arrays(tabular["x"], tabular["y"])
    accuracy = float(np.mean(model.predict(tabular["x"]) == tabular["y"]))
    assert verify(tmp_path, model, dataset, {"accuracy": accuracy}).passed
    assert not verify(tmp_path, model, dataset, {"accuracy": accuracy + 0.05}).passed


def test_an_incomplete_card_fails_on_fields_and_still_shows_its_claims(
    tmp_path, keras_binary, binary_dataset, measured
):
    fields = complete_fields(accuracy=measured["accuracy"])
    del fields["license"]
    card = write_card(tmp_path, fields)
    verdict = checks.transparency(keras_binary, binary_dataset, model_card=card, verify_claims=True)
    assert (verdict.status, verdict.metric, verdict.value) == ("fail", "missing_fields", 1)
    assert verdict.evidence["claims"][0]["ok"] is True
    assert "claim     accuracy" in verdict.message
    del fields["metrics"]
    card = write_card(tmp_path, fields)
    verdict = checks.transparency(keras_binary, binary_dataset, model_card=card, verify_claims=True)
    assert verdict.value == 2 and "not verified: the card has no metrics" in verdict.message


def test_every_performance_metric_has_a_direction():
    module = importlib.import_module("pytest_modelguard.checks.transparency")
    higher, lower = module.HIGHER_IS_BETTER, module.LOWER_IS_BETTER
    assert higher | lower == set(METRICS) and not higher & lower


# -- errors: the card cannot be read --------------------------------------------------------


def test_a_missing_card_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_card.yaml").write_text("name: x\n")
    with pytest.raises(GateError) as error:
        checks.transparency(model_card="MODEL_CARD.md")
    message = str(error.value)
    assert f"no model card at {tmp_path / 'MODEL_CARD.md'}" in message
    assert "(that directory has model_card.yaml)" in message
    assert f"model_card='MODEL_CARD.md' is relative to the working directory {tmp_path}" in message
    with pytest.raises(GateError, match="relative to pytest's rootdir"):
        checks.transparency(model_card=str(tmp_path / "absent.md"))
    with pytest.raises(GateError, match=r"the directory .*nowhere does not exist"):
        checks.transparency(model_card=tmp_path / "nowhere" / "card.md")
    (tmp_path / "cards.md").mkdir()
    with pytest.raises(GateError, match=r"cards\.md is a directory, not a model card file"):
        checks.transparency(model_card=tmp_path / "cards.md")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("card.md", "# Model\nname: x\n", "has no YAML front matter: its first line must be '---'"),
        ("card.md", "---\nname: x\n", "front matter opened on line 1 is never closed"),
        ("card.md", "---\nname: x\nowners: [a\n---\n", r"not valid YAML \(line 4, column 1\)"),
        ("card.yaml", "name: x\n  version: 1\n", r"not valid YAML \(line 2, column 10\)"),
        ("card.yaml", "name: x\nname: y\n", "key 'name' on line 2 already appears on line 1"),
        ("card.yaml", "- name\n- version\n", "fields must be a mapping.*got list"),
        ("card.json", '{"name": "x",}', "not valid JSON: .* at line 1, column 14"),
        ("card.json", '{"name": "x", "name": "y"}', "key 'name' appears twice"),
        ("card.txt", "name: x\n", "cannot tell its format from the suffix '.txt'"),
        ("card.md", "\xff\xfe", "cannot read the model card"),
    ],
)
def test_an_unparsable_card_names_the_file_and_the_problem(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(GateError, match=message) as error:
        checks.transparency(model_card=path)
    if not name.endswith(".txt"):
        assert str(path) in str(error.value)


def test_an_empty_yaml_card_misses_every_field(tmp_path):
    path = tmp_path / "card.md"
    path.write_text("---\n---\n# nothing yet\n")
    verdict = checks.transparency(model_card=path)
    assert verdict.value == len(REQUIRED_FIELDS) and verdict.status == "fail"


# -- errors: claims that cannot be verified -------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"bleu": 0.3}, "claims 'bleu', a metric pytest-modelguard cannot measure;"),
        ({"Accuracy": 0.9}, "claims 'Accuracy'.*did you mean 'accuracy'"),
        ({"accuracy": "high"}, "the claim accuracy: 'high' is not a number"),
        ({"accuracy": True}, "the claim accuracy: True is not a number"),
        ({"accuracy": 91}, r"accuracy: 91 lies outside \[0, 1\] \(a percentage\? write 0.91"),
        ({"rmse": -1.0}, r"rmse: -1 lies outside \[0, inf\]"),
        ({"brier": 2.5}, r"brier: 2.5 lies outside \[0, 2\]"),
        ({"accuracy": {"value": 0.9, "threshold": 0.4}}, "takes value: .*got threshold"),
        ({"accuracy": {"decision_threshold": 0.4}}, "value: is missing"),
        ({"demographic_parity_difference": 0.02}, r"needs the sensitive column.*\{sex: 0.02\}"),
        (
            {"equalized_odds_ratio": {"group": 1.5}},
            r"equalized_odds_ratio\[group\]: 1.5 lies outside",
        ),
        (
            {"demographic_parity_difference": {"sex": 0.02}},
            r"cannot measure the card's claim demographic_parity_difference\[sex\]: sensitive "
            "column.*'sex' not in dataset",
        ),
        ({"recall": {"value": 0.8, "decision_threshold": 2}}, "claim recall: decision_threshold=2"),
    ],
)
def test_a_claim_that_cannot_be_measured_names_it(
    tmp_path, keras_binary, binary_dataset, metrics, message
):
    with pytest.raises(GateError, match=message):
        verify(tmp_path, keras_binary, binary_dataset, metrics)


def test_metrics_that_are_not_a_mapping_cannot_be_verified(tmp_path, keras_binary, binary_dataset):
    fields = complete_fields()
    fields["metrics"] = ["accuracy 0.9"]
    card = write_card(tmp_path, fields)
    assert checks.transparency(model_card=card).passed  # filled, so complete
    with pytest.raises(GateError, match=r"metrics must map each claimed metric.*got list"):
        checks.transparency(keras_binary, binary_dataset, model_card=card, verify_claims=True)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model_card": None}, "give model_card= the path of the model card"),
        ({"model_card": 3}, "model_card=3: give a path"),
        ({"required": "contact"}, "required='contact': give a list of field names"),
        ({"required": ["contact", ""]}, "required= holds '': every entry must be a field name"),
        ({"verify_claims": "yes"}, "verify_claims='yes': use True or False"),
        ({"verify_claims": True, "tolerance": -0.1}, "tolerance=-0.1: use a finite number >= 0"),
        ({"verify_claims": True, "tolerance": float("nan")}, "tolerance=nan"),
        ({"verify_claims": True}, "verify_claims=True measures the card's metrics again"),
        ({"tolerance": 0.05}, "tolerance=0.05 applies to claims: add verify_claims=True"),
    ],
)
def test_bad_arguments_say_what_to_change(tmp_path, spec, message):
    spec.setdefault("model_card", write_card(tmp_path, complete_fields()))
    with pytest.raises(GateError, match=message):
        checks.transparency(**spec)


# -- through pytest -------------------------------------------------------------------------


TESTS = """
from pytest_modelguard import transparency

@transparency(model_card="docs/MODEL_CARD.md")
def test_complete(): ...

@transparency(model_card="docs/MODEL_CARD.md", required=["contact"])
def test_needs_contact(): ...

@transparency(model_card="docs/MODEL_CARD.md", verify_claims=True)
def test_honest(): ...

@transparency(model_card="docs/OVERSTATED.md", verify_claims=True)
def test_overstated(): ...

@transparency(model_card="docs/MISSING.md")
def test_missing_card(): ...
"""


def test_transparency_gates_through_pytest(holdout_project, holdout_path, monkeypatch):
    pytester = holdout_project()
    data = np.load(holdout_path)
    model = LogisticRegression().fit(data["x"][:300], data["y"][:300])
    accuracy = float(np.mean(model.predict(data["x"][300:]) == data["y"][300:]))
    docs = pytester.mkdir("docs")
    write_card(docs, complete_fields(accuracy=round(accuracy - 0.004, 3)))
    write_card(docs, complete_fields(accuracy=accuracy + 0.05), name="OVERSTATED")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    tests = pytester.mkdir("tests")
    (tests / "test_card.py").write_text(TESTS)
    monkeypatch.chdir(tests)  # a relative model_card= is relative to the rootdir, not the cwd
    result = pytester.runpytest_inprocess("-rA")
    result.assert_outcomes(passed=2, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*no model card at {pytester.path / 'docs' / 'MISSING.md'}*",
            "*FAIL transparency: missing_fields must be <= 0*",
            "*missing   contact*",
            "*FAIL transparency: claim_error must be <= 0.01*",
            "*claim     accuracy: claimed*OVERSTATES by 0.05*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["PASS*test_honest*transparency.claim_error = 0, required <= 0.01*"]
    )
