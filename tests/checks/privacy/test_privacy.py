"""checks.privacy: membership inference on real Keras models (cross-checked with
scikit-learn), PII in data and in model outputs, k-anonymity, and every error path."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score, roc_curve

from pytest_modelguard import Dataset, Predictions, checks
from pytest_modelguard.adapters import adapt
from pytest_modelguard.adapters.keras import KerasAdapter
from pytest_modelguard.core.verdict import GateError

keras = pytest.importorskip("keras")
N_FEATURES = 30


@pytest.fixture(scope="session")
def noisy() -> dict[str, np.ndarray]:
    """Few rows, many features and noisy labels: a big net can memorise the noise."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, N_FEATURES)).astype(np.float32)
    y = ((x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=600)) > 0).astype(np.int64)
    return {"x_train": x[:300], "y_train": y[:300], "x": x[300:], "y": y[300:]}


@pytest.fixture(scope="session")
def members(noisy) -> Dataset:
    return Dataset.from_arrays(noisy["x_train"], noisy["y_train"], name="train")


@pytest.fixture(scope="session")
def holdout(noisy) -> Dataset:
    return Dataset.from_arrays(noisy["x"], noisy["y"], name="holdout")


@pytest.fixture(scope="session")
def overfit(noisy):
    """Wide, unregularised, trained on 300 rows until it memorises them."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(noisy["x_train"], noisy["y_train"], epochs=40, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def regularised(noisy):
    """Same data: a linear model with an L2 penalty, trained briefly."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(
                1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(0.05)
            ),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(noisy["x_train"], noisy["y_train"], epochs=30, batch_size=300, verbose=0)
    return model


@pytest.fixture(scope="session")
def logistic(noisy) -> LogisticRegression:
    return LogisticRegression().fit(noisy["x_train"], noisy["y_train"])


# -- membership inference ---------------------------------------------------------------


def test_overfit_model_fails_and_regularised_model_passes(overfit, regularised, members, holdout):
    leaky = checks.privacy(overfit, holdout, members=members, max_mia_auc=0.6)
    assert leaky.status == "fail" and leaky.value > 0.65
    assert leaky.requirement == "privacy" and leaky.metric == "mia_auc"
    assert leaky.evidence["worst"] == "loss" and leaky.n == 600
    assert "attacks   loss mia_auc=" in leaky.message

    safe = checks.privacy(regularised, holdout, members=members, max_mia_auc=0.6)
    assert safe.status == "pass" and safe.value < 0.56
    assert checks.privacy(overfit, holdout, members=members, max_mia_advantage=0.2).status == "fail"
    assert checks.privacy(regularised, holdout, members=members, max_mia_advantage=0.2).passed


def _sklearn_reference(scores: dict[str, np.ndarray], n: int) -> dict[str, tuple[float, float]]:
    is_member = np.r_[np.ones(n), np.zeros(n)]
    reference = {}
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(is_member, score)
        reference[name] = (roc_auc_score(is_member, score), float(np.max(tpr - fpr)))
    return reference


def _outputs(model, *datasets: Dataset) -> np.ndarray:
    """The model's outputs as the gate saw them (the same cached pass), in float64."""
    return np.concatenate([adapt(model).outputs(d).array for d in datasets]).astype(np.float64)


def test_attack_auc_and_advantage_equal_scikit_learn(overfit, noisy, members, holdout):
    verdict = checks.privacy(overfit, holdout, members=members, max_mia_auc=0.6)
    p = _outputs(overfit, members, holdout)
    y = np.r_[noisy["y_train"], noisy["y"]]
    with np.errstate(divide="ignore"):
        scores = {
            "loss": np.where(y == 1, np.log(p), np.log1p(-p)),  # -(cross-entropy)
            "confidence": np.maximum(p, 1 - p),
        }
    for name, (auc, advantage) in _sklearn_reference(scores, 300).items():
        attack = verdict.evidence["attacks"][name]
        assert attack["auc"] == pytest.approx(auc, abs=1e-12)
        assert attack["advantage"] == pytest.approx(advantage, abs=1e-12)
    assert verdict.value == pytest.approx(
        max(a["auc"] for a in verdict.evidence["attacks"].values())
    )


def test_multiclass_logits_loss_attack_equals_scikit_learn(keras_multiclass_logits, digits):
    n = len(digits["y"])
    train = Dataset.from_arrays(digits["x_train"][:n], digits["y_train"][:n], name="train")
    test = Dataset.from_arrays(digits["x"], digits["y"], name="test")
    verdict = checks.privacy(keras_multiclass_logits, test, members=train, max_mia_auc=0.99)
    assert verdict.evidence["output"] == "logits"
    logits = _outputs(keras_multiclass_logits, train, test)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    truth = np.r_[train.target, test.target]
    scores = {"loss": log_p[np.arange(2 * n), truth], "confidence": log_p.max(axis=1)}
    for name, (auc, advantage) in _sklearn_reference(scores, n).items():
        assert verdict.evidence["attacks"][name]["auc"] == pytest.approx(auc, abs=1e-12)
        assert verdict.evidence["attacks"][name]["advantage"] == pytest.approx(advantage, abs=1e-12)


def test_regression_model_is_attacked_by_its_squared_error(keras_regressor, regression):
    n = len(regression["y"])
    train = Dataset.from_arrays(regression["x_train"][:n], regression["y_train"][:n])
    test = Dataset.from_arrays(regression["x"], regression["y"], name="test")
    with pytest.raises(GateError, match=r"regression model, return adapt\(model, output='values'"):
        checks.privacy(keras_regressor, test, members=train, max_mia_auc=0.9)
    regressor = KerasAdapter(keras_regressor)
    regressor.output = "values"  # what adapt(model, output="values") states
    verdict = checks.privacy(regressor, test, members=train, max_mia_auc=0.9)
    assert list(verdict.evidence["attacks"]) == ["loss"]
    predicted = _outputs(regressor, train, test)
    error = -((np.r_[train.target, test.target] - predicted) ** 2)
    ((auc, _),) = _sklearn_reference({"loss": error}, n).values()
    assert verdict.value == pytest.approx(auc, abs=1e-12)
    with pytest.raises(GateError, match="regression values, which have no confidence"):
        checks.privacy(regressor, test, members=train, max_mia_auc=0.9, attack="confidence")


def test_confidence_decides_on_the_upper_bound(regularised, members, holdout):
    point = checks.privacy(regularised, holdout, members=members, max_mia_auc=0.6)
    bounded = checks.privacy(
        regularised, holdout, members=members, max_mia_auc=0.6, confidence=0.95, seed=3
    )
    low, high = bounded.ci
    assert low < bounded.value == point.value < high
    assert bounded.evidence["decided_on"] == "upper"
    assert bounded.evidence["n_resamples"] == 1000
    between = (bounded.value + high) / 2
    spec = {"members": members, "max_mia_auc": between}
    assert checks.privacy(regularised, holdout, **spec).status == "pass"
    assert checks.privacy(regularised, holdout, confidence=0.95, seed=3, **spec).status == "fail"


def test_one_attack_evidence_and_json(overfit, members, holdout):
    verdict = checks.privacy(
        overfit, holdout, members=members, max_mia_auc=0.6, attack="confidence", confidence=0.9
    )
    assert list(verdict.evidence["attacks"]) == ["confidence"]
    attack = verdict.evidence["attacks"]["confidence"]
    assert attack["mia_auc_ci"] == list(verdict.ci)
    roc = attack["roc"]
    assert 2 < len(roc["fpr"]) == len(roc["tpr"]) <= 101
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["tpr"]) >= 0)
    assert json.loads(json.dumps(verdict.to_json()))["evidence"]["n_members"] == 300


def test_samples_are_seeded(overfit, members, holdout):
    def run(seed: int) -> dict:
        verdict = checks.privacy(
            overfit, holdout, members=members, max_mia_auc=0.6, samples=100, seed=seed
        )
        assert verdict.n == 200 and verdict.evidence["sampled_from"] == [300, 300]
        data = verdict.to_json()
        del data["duration"]
        return data

    assert run(1) == run(1)
    assert run(1)["evidence"]["attacks"] != run(2)["evidence"]["attacks"]


def test_each_dataset_is_predicted_once(overfit, members, holdout):
    adapter = KerasAdapter(overfit)  # a fresh cache
    for spec in ({"max_mia_auc": 0.9}, {"max_mia_advantage": 0.9}, {"max_mia_auc": 0.9}):
        checks.privacy(adapter, holdout, members=members, **spec)
    assert adapter.rows_predicted == len(members) + len(holdout)


def _labels_only(rows: np.ndarray) -> np.ndarray:
    return (rows[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "a privacy gate checks one thing: give max_mia_auc= or max_mia_advantage="),
        (
            {"max_mia_auc": 0.6, "pii": "forbid"},
            "a privacy gate checks one thing, got membership inference \\(max_mia_auc=\\) and pii",
        ),
        ({"max_mia_auc": 0.6, "max_mia_advantage": 0.1}, "give exactly one"),
        (
            {"max_mia_auc": 0.6, "columns": ["a"]},
            "columns= does not apply to a membership inference gate \\(columns= is for pii gates\\)",
        ),
        ({"max_mia_auc": 0.5}, r"use 0.5 < max_mia_auc < 1"),
        ({"max_mia_auc": 1.0}, r"max_mia_auc=1.0 cannot fail: an attack AUC never exceeds 1"),
        ({"max_mia_auc": 60}, r"lies in \[0, 1\]; a percentage\? write max_mia_auc=0.6"),
        ({"max_mia_advantage": 0.0}, r"0 < max_mia_advantage < 1"),
        ({"max_mia_auc": 0.6, "attack": "shadow"}, "attack='shadow': use one of loss, confidence"),
        ({"max_mia_auc": 0.6, "samples": 10}, "samples=10: use an integer of at least 30"),
        ({"max_mia_auc": 0.6, "confidence": 0.5}, "confidence=0.5: use one of"),
    ],
)
def test_bad_arguments(logistic, members, holdout, spec, message):
    spec.setdefault("members", members)
    with pytest.raises(GateError, match=message):
        checks.privacy(logistic, holdout, **spec)


def test_mia_input_errors(logistic, noisy, members, holdout):
    with pytest.raises(GateError, match=r"pass members=<Dataset.*fixture named train_dataset"):
        checks.privacy(logistic, holdout, max_mia_auc=0.6)
    with pytest.raises(
        GateError, match=r"members= is a ndarray: pass a pytest_modelguard\.Dataset"
    ):
        checks.privacy(logistic, holdout, members=noisy["x_train"], max_mia_auc=0.6)
    narrow = Dataset.from_arrays(noisy["x_train"][:, :5], noisy["y_train"])
    with pytest.raises(
        GateError, match=r"member rows have shape \(5,\) but non-member rows \(30,\)"
    ):
        checks.privacy(logistic, holdout, members=narrow, max_mia_auc=0.6)
    frame = Dataset.from_pandas(
        pd.DataFrame(noisy["x_train"]).rename(columns=str).assign(y=noisy["y_train"]), target="y"
    )
    with pytest.raises(GateError, match="one has a DataFrame of features, the other an array"):
        checks.privacy(logistic, holdout, members=frame, max_mia_auc=0.6)
    with pytest.raises(GateError, match="members and non-members are the same data"):
        checks.privacy(logistic, holdout, members=holdout, max_mia_auc=0.6)
    few = Dataset.from_arrays(noisy["x"][:20], noisy["y"][:20])
    with pytest.raises(GateError, match="at least 30 members and 30 non-members; got 300 and 20"):
        checks.privacy(logistic, few, members=members, max_mia_auc=0.6)
    stored = Predictions(y_score=np.full(len(holdout), 0.5))
    with pytest.raises(GateError, match="stored Predictions are aligned with one dataset"):
        checks.privacy(stored, holdout, members=members, max_mia_auc=0.6)
    with pytest.raises(GateError, match="membership inference attacks a model"):
        checks.privacy(None, holdout, members=members, max_mia_auc=0.6)


def test_members_reused_as_non_members_are_an_error_naming_the_overlap(overfit, noisy, members):
    # Shuffled members as "non-members": the attack compares each row with itself, the AUC
    # is 0.5 and the gate used to pass even on the model that memorised its training set.
    order = np.random.default_rng(0).permutation(300)
    shuffled = Dataset.from_arrays(
        noisy["x_train"][order].astype(np.float64), noisy["y_train"][order], name="shuffled"
    )
    with pytest.raises(GateError, match=r"300 of the 300 non-member rows of 'shuffled' are also"):
        checks.privacy(overfit, shuffled, members=members, max_mia_auc=0.6)
    # 75 % overlap: 225 training rows mixed into 75 real holdout rows
    x = np.concatenate([noisy["x_train"][:225], noisy["x"][:75]])
    y = np.concatenate([noisy["y_train"][:225], noisy["y"][:75]])
    mixed = Dataset.from_arrays(x, y, name="mixed")
    with pytest.raises(
        GateError, match=r"225 of the 300 non-member rows .*\(drop the shared rows\)"
    ):
        checks.privacy(overfit, mixed, members=members, max_mia_auc=0.6)
    # the same features under another label are another row (the loss attack reads the label)
    relabelled = Dataset.from_arrays(noisy["x_train"], 1 - noisy["y_train"], name="relabelled")
    verdict = checks.privacy(overfit, relabelled, members=members, max_mia_auc=0.6)
    assert verdict.evidence["n_non_members"] == 300


@pytest.mark.parametrize(
    "nudge",
    [
        pytest.param(lambda x: x.astype(np.float32).astype(np.float64), id="float32 copy"),
        pytest.param(lambda x: x + 1e-12, id="nudged by 1e-12"),
        pytest.param(lambda x: np.round(x, 9), id="rounded"),
    ],
)
def test_near_copies_of_members_are_overlap_too(overfit, noisy, members, nudge):
    """A member row cast to float32, nudged or rounded is still that row: exact hashes
    alone let it pass as a non-member (found in review)."""
    x = np.concatenate([nudge(noisy["x_train"][:150].astype(np.float64)), noisy["x"][:150]])
    y = np.concatenate([noisy["y_train"][:150], noisy["y"][:150]])
    near = Dataset.from_arrays(x, y, name="near")
    with pytest.raises(GateError, match=r"150 of the 300 non-member rows of 'near'"):
        checks.privacy(overfit, near, members=members, max_mia_auc=0.6)


def test_real_non_members_are_not_near_copies(noisy, members, holdout):
    from pytest_modelguard.checks.privacy import near_duplicates

    assert not near_duplicates(holdout, members).any()


def test_row_hashes_ignore_container_and_dtype(noisy):
    from pytest_modelguard.checks.privacy import row_hashes

    as_array = Dataset.from_arrays(noisy["x"], noisy["y"])
    frame = pd.DataFrame(noisy["x"].astype(np.float64)).rename(columns=str)
    as_frame = Dataset.from_pandas(frame.assign(y=noisy["y"]), target="y")
    assert np.array_equal(row_hashes(as_array), row_hashes(as_frame))
    assert len(np.unique(row_hashes(as_array))) == len(as_array)


def test_a_model_without_scores_says_which_attack_needs_what(members, holdout):
    with pytest.raises(GateError) as error:
        checks.privacy(_labels_only, holdout, members=members, max_mia_auc=0.6)
    message = str(error.value)
    assert "need scores, but the model returns labels" in message
    assert "attack='loss' needs class probabilities or logits" in message
    assert "attack='confidence' needs class probabilities or logits" in message


def test_dataframe_members_with_other_columns(noisy):
    frame = pd.DataFrame(noisy["x_train"][:, :3], columns=["a", "b", "c"]).assign(y=1)
    other = frame.rename(columns={"c": "d"})
    model = Ridge().fit(frame[["a", "b", "c"]], frame["y"])
    with pytest.raises(GateError, match=r"feature columns \['a', 'b', 'c'\] but non-members"):
        checks.privacy(
            model,
            Dataset.from_pandas(other, target="y"),
            members=Dataset.from_pandas(frame, target="y"),
            max_mia_auc=0.6,
        )


# -- personal identifiers ---------------------------------------------------------------

RAW = ["jane.roe@example.org", "4111 1111 1111 1111", "078-05-1120", "GB82WEST12345698765432"]


@pytest.fixture(scope="module")
def records() -> Dataset:
    frame = pd.DataFrame(
        {
            "note": [
                "called back",
                f"mail {RAW[0]}",
                f"paid {RAW[1]} and {RAW[3]}",
                None,
                "fine",
                "card 4111 1111 1111 1112 rejected",  # invalid Luhn: not a finding
            ],
            "name": ["A", "B", "C", "D", "E", f"SSN {RAW[2]}"],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "label": [0, 1, 0, 1, 0, 1],
        }
    )
    return Dataset.from_pandas(frame, target="label", name="records")


def test_pii_counts_per_kind_and_column_and_never_shows_a_value(records):
    verdict = checks.privacy(None, records, pii="forbid")
    assert verdict.status == "fail" and verdict.metric == "pii_findings"
    assert (verdict.value, verdict.threshold, verdict.operator, verdict.n) == (4, 0, "<=", 6)
    assert verdict.evidence["columns"] == ["note", "name"]
    assert verdict.evidence["findings"] == {
        "email": {"note": 1},
        "card": {"note": 1},
        "iban": {"note": 1},
        "ssn": {"name": 1},
    }
    assert {"kind": "email", "column": "note", "row": 1, "redacted": "j***@e***.org"} in (
        verdict.evidence["examples"]
    )
    shown = json.dumps(verdict.to_json()) + verdict.message + verdict.summary()
    assert not [raw for raw in RAW if raw in shown]
    assert "email in 'note' (1)" in verdict.message and "**** **** **** 1111" in verdict.message


def test_pii_named_columns_include_numbers(records):
    verdict = checks.privacy(None, records, pii="forbid", columns=["name", "amount"])
    assert verdict.evidence["findings"] == {"ssn": {"name": 1}}
    cards = Dataset.from_arrays(
        np.array([[4111111111111111], [12]]), [0, 1], feature_names=["card_number"]
    )
    found = checks.privacy(None, cards, pii="forbid", columns=["card_number"])
    assert found.value == 1 and found.evidence["findings"] == {"card": {"card_number": 1}}


def test_pii_clean_data_passes():
    data = Dataset.from_pandas(
        pd.DataFrame({"text": ["order 12 shipped", "v1.2.3 released"], "y": [0, 1]}), target="y"
    )
    verdict = checks.privacy(None, data, pii="forbid")
    assert verdict.passed and verdict.value == 0 and verdict.evidence["findings"] == {}


def test_pii_in_text_a_model_produces():
    def chatbot(prompts: np.ndarray) -> np.ndarray:
        return np.array([f"sure, write to help{i}@example.com" for i in range(len(prompts))])

    prompts = Dataset.from_arrays(np.array(["hi", "help", "bye"]), [0, 0, 0], kind="text")
    verdict = checks.privacy(chatbot, prompts, pii="forbid")
    assert verdict.evidence["findings"] == {"email": {"<model output>": 3}}
    assert verdict.evidence["columns"] == ["<features>", "<model output>"]


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
def test_pii_model_that_does_not_produce_text_is_noted(logistic, records):
    verdict = checks.privacy(logistic, records, pii="forbid")
    assert verdict.value == 4  # the data was scanned all the same
    assert verdict.evidence["model_output"].startswith("model output not scanned: the model")
    assert not [raw for raw in RAW if raw in verdict.message + json.dumps(verdict.to_json())]
    scores = checks.privacy(
        logistic,
        Dataset.from_arrays(np.zeros((3, 30)), [0, 1, 0]),
        **{"pii": "forbid", "columns": ["<features>[0]"]},
    )
    assert "it is probabilities, not text" in scores.evidence["model_output"]


def test_pii_gate_over_nothing_is_an_error():
    # An empty dataset used to pass with n=0: a scan of nothing is no evidence.
    empty = Dataset.from_pandas(
        pd.DataFrame({"note": pd.Series([], dtype=str), "y": pd.Series([], dtype=int)}),
        target="y",
        name="empty",
    )
    with pytest.raises(GateError, match=r"dataset 'empty' has no rows: a PII scan of nothing"):
        checks.privacy(None, empty, pii="forbid")
    # Rows, but no text in the scanned columns: only missing values and blanks.
    blank = pd.DataFrame({"note": [None, "", "  ", np.nan, pd.NA], "y": [0, 1, 0, 1, 0]})
    blank["note"] = blank["note"].astype(object)
    with pytest.raises(GateError, match=r"nothing to scan: the column\(s\) 'note' .* 5 rows"):
        checks.privacy(None, Dataset.from_pandas(blank, target="y"), pii="forbid")
    # One non-empty text is something to scan.
    blank.loc[2, "note"] = "all good"
    verdict = checks.privacy(None, Dataset.from_pandas(blank, target="y"), pii="forbid")
    assert verdict.passed and verdict.evidence["texts_scanned"] == {"note": 1}


def test_pii_errors(records, holdout):
    with pytest.raises(GateError, match="pii='allow': the PII gate takes pii='forbid'"):
        checks.privacy(None, records, pii="allow")
    with pytest.raises(GateError, match=r"column\(s\) 'email' not in dataset 'records'; its co"):
        checks.privacy(None, records, pii="forbid", columns=["email"])
    with pytest.raises(GateError, match="has no text columns to scan: name the columns"):
        checks.privacy(None, holdout, pii="forbid")
    with pytest.raises(
        GateError,
        match="members= does not apply to a pii gate \\(members= is for membership inference or",
    ):
        checks.privacy(None, records, pii="forbid", members=holdout)


# -- k-anonymity ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "age": rng.integers(30, 35, 400),
            "zip": rng.choice(["02139", "02140", "02141"], 400),
            "sex": rng.choice(["f", "m"], 400),
            "income": rng.normal(size=400),
            "y": rng.integers(0, 2, 400),
        }
    )


def test_k_anonymity_is_the_smallest_class(people):
    data = Dataset.from_pandas(people, target="y", sensitive="sex", name="people")
    qi = ["age", "zip", "sex"]
    smallest = int(people.groupby(qi).size().min())
    assert checks.privacy(None, data, k_anonymity=smallest, quasi_identifiers=qi).passed
    verdict = checks.privacy(None, data, k_anonymity=smallest + 1, quasi_identifiers=qi)
    assert verdict.status == "fail" and verdict.metric == "k_anonymity"
    assert (verdict.value, verdict.operator, verdict.n) == (smallest, ">=", 400)
    sizes = sorted(people.groupby(qi).size())
    assert verdict.evidence["smallest_classes"] == sizes[:10]
    assert verdict.evidence["classes"] == len(sizes) == 30
    assert verdict.evidence["distinct_values"] == {"age": 5, "zip": 3, "sex": 2}
    assert "02139" not in json.dumps(verdict.to_json()) + verdict.message
    assert "generalise (e.g. 'age' has 5 distinct values)" in verdict.message


def test_k_anonymity_missing_values_form_a_class():
    frame = pd.DataFrame({"zip": ["1", "1", None, None, None], "y": [0] * 5})
    data = Dataset.from_pandas(frame, target="y", features=["zip"])
    verdict = checks.privacy(None, data, k_anonymity=2, quasi_identifiers=["zip"])
    assert verdict.value == 2 and verdict.evidence["smallest_classes"] == [2, 3]


def test_k_anonymity_errors(people):
    data = Dataset.from_pandas(people, target="y", name="people")
    with pytest.raises(GateError, match=r"quasi-identifier column\(s\) 'postcode' not in data"):
        checks.privacy(None, data, k_anonymity=5, quasi_identifiers=["age", "postcode"])
    with pytest.raises(GateError, match="its columns are: age, zip, sex, income"):
        checks.privacy(None, data, k_anonymity=5, quasi_identifiers=["postcode"])
    with pytest.raises(GateError, match="k_anonymity=1: use an integer of at least 2"):
        checks.privacy(None, data, k_anonymity=1, quasi_identifiers=["age"])
    with pytest.raises(GateError, match=r"needs quasi_identifiers=\[...\]"):
        checks.privacy(None, data, k_anonymity=5)
    with pytest.raises(
        GateError,
        match="quasi_identifiers= does not apply to a pii gate \\(quasi_identifiers= is for k-an",
    ):
        checks.privacy(None, data, pii="forbid", quasi_identifiers=["age"])


def test_adapter_cache_is_shared_with_other_gates(overfit, members, holdout):
    checks.privacy(overfit, holdout, members=members, max_mia_auc=0.9)
    before = adapt(overfit).rows_predicted
    checks.performance(overfit, holdout, metric="accuracy", min=0.1)
    assert adapt(overfit).rows_predicted == before


def test_binned_bootstrap_agrees_with_the_row_bootstrap(monkeypatch):
    """Above BINS distinct scores the interval resamples score bins; it must match the
    exact resampling of every row (BINS raised past the row count)."""
    module = sys.modules["pytest_modelguard.checks.privacy"]  # the name is also the function
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6000, 2))
    y = (rng.random(6000) < 0.5).astype(np.int64)

    def leaky(rows: np.ndarray) -> np.ndarray:  # members' true class gets more probability
        p = 1 / (1 + np.exp(-rows[:, 0]))
        return np.column_stack([1 - p, p])

    train = Dataset.from_arrays(x[:3000] + np.where(y[:3000] == 1, 0.3, -0.3)[:, None], y[:3000])
    test = Dataset.from_arrays(x[3000:], y[3000:])
    spec = {"members": train, "max_mia_auc": 0.9, "confidence": 0.95, "seed": 5}
    binned = checks.privacy(leaky, test, **spec)
    monkeypatch.setattr(module, "BINS", 10**6)
    exact = checks.privacy(leaky, test, **spec)
    assert binned.value == exact.value > 0.55
    assert binned.ci == pytest.approx(exact.ci, abs=0.005)


def test_labels_that_are_not_classes(members, holdout):
    def probabilities(rows: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(rows), 0.4), np.full(len(rows), 0.6)])

    named = Dataset.from_arrays(holdout.features, np.where(holdout.target == 1, "yes", "no"))
    with pytest.raises(GateError, match=r"the target has labels \['(yes|no)', '(yes|no)'\]"):
        checks.privacy(probabilities, named, members=members, max_mia_auc=0.6, attack="loss")
