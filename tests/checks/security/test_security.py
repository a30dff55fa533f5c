"""checks.security on real files and real models: integrity, safe loading, fuzzing, attacks."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, checks
from pytest_modelguard.core.verdict import GateError


class CreatesFile:
    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def blob(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"reviewed weights")
    return path, hashlib.sha256(b"reviewed weights").hexdigest()


# -- choosing the gate ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "a security gate checks one thing: give sha256= \\(sha256\\); safe_load="),
        (
            {"sha256": "0" * 64, "safe_load": True, "artifact": "x"},
            "got sha256 \\(sha256=\\) and safe_load \\(safe_load=\\)",
        ),
        (
            {"fuzz": True, "eps": 0.1},
            "eps= does not apply to a fuzz gate \\(eps= is for attack success gates\\)",
        ),
        ({"sha256": "0" * 64}, "is about a file: name it with artifact="),
        ({"safe_load": True}, "is about a file: name it with artifact="),
        ({"safe_load": "yes", "artifact": "x"}, "safe_load= takes True"),
    ],
)
def test_exactly_one_gate_with_its_own_keywords(spec, message):
    with pytest.raises(GateError, match=message):
        checks.security(**spec)


# -- integrity ------------------------------------------------------------------------------


def test_sha256_matches_case_insensitively(blob):
    path, digest = blob
    verdict = checks.security(artifact=str(path), sha256=digest.upper())
    assert verdict.status == "pass" and verdict.metric == "sha256" and verdict.value == 1.0
    assert verdict.evidence["actual"] == digest


def test_a_changed_artifact_fails_with_both_digests(blob):
    path, digest = blob
    path.write_bytes(b"tampered weights")
    verdict = checks.security(artifact=path, sha256=digest)
    assert verdict.status == "fail" and verdict.value == 0.0
    actual = hashlib.sha256(b"tampered weights").hexdigest()
    assert verdict.counterexample["expected"] == digest
    assert verdict.counterexample["actual"] == actual
    assert actual in verdict.message


@pytest.mark.parametrize("digest", ["abc", "g" * 64, 123, "0" * 63])
def test_a_malformed_digest_is_an_error(blob, digest):
    with pytest.raises(GateError, match="is not a SHA-256 digest"):
        checks.security(artifact=blob[0], sha256=digest)


def test_an_artifact_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(GateError, match=r"artifact 'models/credit\.keras' does not exist"):
        checks.security(artifact="models/credit.keras", sha256="0" * 64)
    with pytest.raises(GateError, match="does not exist"):
        checks.security(artifact=tmp_path / "missing.pkl", safe_load=True)


def test_a_directory_has_no_sha256_and_a_non_path_is_an_error(tmp_path):
    with pytest.raises(GateError, match="is a directory"):
        checks.security(artifact=tmp_path, sha256="0" * 64)
    with pytest.raises(GateError, match="must be a path"):
        checks.security(artifact=42, sha256="0" * 64)


# -- safe loading ---------------------------------------------------------------------------


def test_a_hostile_pickle_fails_safe_load_and_creates_nothing(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(CreatesFile(target)))
    verdict = checks.security(artifact=path, safe_load=True)
    assert verdict.status == "fail" and verdict.metric == "unsafe_globals"
    assert verdict.value == 1.0
    assert verdict.evidence["unsafe"][0]["name"] == "io.open"
    assert "io.open in model.pkl" in verdict.message
    assert not target.exists()


def test_a_real_sklearn_joblib_file_passes(tmp_path, tabular):
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression().fit(tabular["x_train"], tabular["y_train"]), path, compress=3)
    verdict = checks.security(artifact=path, safe_load=True)
    assert verdict.status == "pass", verdict.message
    assert "sklearn.linear_model._logistic.LogisticRegression" in verdict.evidence["references"]


def test_keras_files_load_in_safe_mode(keras_binary_path):
    verdict = checks.security(artifact=keras_binary_path, safe_load=True)
    assert verdict.status == "pass", verdict.message
    assert verdict.evidence["keras_safe_mode"] == "loaded"


def test_a_keras_lambda_fails_without_being_loaded(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    verdict = checks.security(artifact=path, safe_load=True)
    assert verdict.status == "fail"
    assert {u["name"] for u in verdict.evidence["unsafe"]} == {"keras.layers.Lambda", "__lambda__"}
    assert verdict.evidence["keras_safe_mode"].startswith("not attempted")


def test_a_keras_safe_mode_refusal_is_a_failure_with_its_reason(tmp_path, keras_binary_path):
    # config names a layer no one registered: the static scan sees only Keras modules,
    # loading with safe_mode=True refuses
    path = tmp_path / "renamed.keras"
    with zipfile.ZipFile(keras_binary_path) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["class_name"] = "NoSuchLayer"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    verdict = checks.security(artifact=path, safe_load=True)
    assert verdict.status == "fail"
    assert "NoSuchLayer" in verdict.evidence["keras_safe_mode"]
    assert "keras safe_mode" in verdict.message


def test_allow_extends_the_allow_list(tmp_path):
    path = tmp_path / "own.pkl"
    path.write_bytes(pickle.dumps(Dataset))  # a class of this project: a plain reference
    assert checks.security(artifact=path, safe_load=True).status == "fail"
    allowed = checks.security(artifact=path, safe_load=True, allow=["pytest_modelguard.*"])
    assert allowed.status == "pass"
    with pytest.raises(GateError, match="cannot be allowed"):
        checks.security(artifact=path, safe_load=True, allow=["builtins.eval"])


# -- fuzzing --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_propagates_nan():
    """A logistic unit written with elementwise ops: a NaN feature reaches the output on every
    machine. (Dense layers run on oneDNN on x86, whose fused ReLU turns NaN into 0.)"""
    keras = pytest.importorskip("keras")

    class Logistic(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="glorot_uniform")

        def call(self, x):
            return keras.ops.sigmoid(keras.ops.sum(x * self.w, axis=-1, keepdims=True))

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), Logistic()])
    nan_row = np.full((1, 6), np.nan, dtype=np.float32)
    assert np.isnan(model.predict_on_batch(nan_row)).all()  # the premise of the tests below
    return model


def test_a_model_that_returns_nan_for_nan_input_fails_the_fuzz_gate(
    keras_propagates_nan, binary_dataset
):
    verdict = checks.security(keras_propagates_nan, binary_dataset, fuzz=True, examples=20)
    assert verdict.status == "fail" and verdict.metric == "fuzz_failures"
    assert "nan" in verdict.evidence["failing_kinds"]
    shrunk = verdict.counterexample
    assert shrunk["kind"] == "nan" and shrunk["found_by"].startswith("hypothesis, shrunk")
    assert shrunk["input"]["shape"] == [1, 6] and "nan" in shrunk["input"]["first_values"]
    assert shrunk["problem"].startswith("returned nan")
    assert "counterexample" in verdict.message


def test_the_same_model_behind_input_validation_passes(keras_propagates_nan, binary_dataset):
    def validated(rows):
        rows = np.asarray(rows)
        if rows.dtype.kind not in "biuf" or rows.ndim != 2 or rows.shape[1] != 6:
            raise ValueError(
                f"expected a float array of shape (n, 6), got {rows.dtype} {rows.shape}"
            )
        if not np.isfinite(rows).all() or np.abs(rows).max(initial=0) > 1e6:
            raise ValueError("inputs must be finite numbers of magnitude below 1e6")
        return keras_propagates_nan.predict_on_batch(rows.astype(np.float32))

    verdict = checks.security(validated, binary_dataset, fuzz=True, examples=20)
    assert verdict.status == "pass", verdict.message
    assert verdict.n >= 20 + 14  # the fixed probes plus the search


def test_a_validating_sklearn_model_passes_and_keras_fuzzes_without_data(
    tabular, binary_dataset, keras_propagates_nan
):
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    assert checks.security(model, binary_dataset, fuzz=True, examples=15).status == "pass"
    no_data = checks.security(keras_propagates_nan, None, fuzz=True, examples=15)
    assert no_data.status == "fail" and no_data.evidence["dataset"] is None


def crashes(rows):
    raise SystemError("bad argument to internal function")


def says_nothing(rows):
    raise ValueError()


def three_outputs(rows):
    return np.zeros(3)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (crashes, "crashed with SystemError"),
        (says_nothing, "raised ValueError with no message"),
        (three_outputs, "returned shape (3,)"),
    ],
)
def test_crashes_silent_errors_and_malformed_outputs_fail(binary_dataset, model, problem):
    verdict = checks.security(model, binary_dataset, fuzz=True, examples=5)
    assert verdict.status == "fail"
    assert problem in verdict.counterexample["problem"]


def test_fuzzing_is_deterministic_for_a_seed(keras_propagates_nan, binary_dataset):
    runs = [
        checks.security(keras_propagates_nan, binary_dataset, fuzz=True, examples=10, seed=5)
        for _ in range(2)
    ]
    assert runs[0].counterexample == runs[1].counterexample
    assert runs[0].n == runs[1].n


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"examples": 0}, "examples=0: give a positive integer"),
        ({"examples": True}, "examples=True"),
    ],
)
def test_fuzz_arguments_are_checked(binary_dataset, keras_propagates_nan, spec, message):
    with pytest.raises(GateError, match=message):
        checks.security(keras_propagates_nan, binary_dataset, fuzz=True, **spec)


def test_fuzz_needs_a_model_and_a_row_shape(binary_dataset):
    with pytest.raises(GateError, match="define a model fixture"):
        checks.security(None, binary_dataset, fuzz=True)
    with pytest.raises(GateError, match="needs the shape of one input row"):
        checks.security(lambda rows: rows[:, 0], None, fuzz=True)


# -- adversarial success --------------------------------------------------------------------


def test_attack_success_is_measured_on_correctly_classified_rows(keras_binary, binary_dataset):
    pytest.importorskip("foolbox")
    small = checks.security(
        keras_binary, binary_dataset, max_attack_success=0.5, eps=0.01, samples=100
    )
    large = checks.security(
        keras_binary, binary_dataset, max_attack_success=0.1, eps=0.5, samples=100
    )
    assert small.metric == large.metric == "attack_success"
    assert small.status == "pass" and small.value < 0.5
    assert large.status == "fail" and large.value > small.value
    assert large.n == 100 and large.evidence["correct_rows"] >= 100
    assert large.counterexample["attack"] == "pgd"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"max_attack_success": 1.5, "eps": 0.1}, r"a share of attacked rows lies in \[0, 1\]"),
        ({"max_attack_success": "low", "eps": 0.1}, "must be a number"),
        ({"max_attack_success": 0.1}, "needs eps="),
        ({"max_attack_success": 0.1, "eps": 0.1, "attack": "nope"}, "unknown attack 'nope'"),
    ],
)
def test_attack_arguments_are_checked(keras_binary, binary_dataset, spec, message):
    with pytest.raises(GateError, match=message):
        checks.security(keras_binary, binary_dataset, **spec)
