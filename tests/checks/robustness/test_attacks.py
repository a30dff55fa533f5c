"""Adversarial robust gates on real Keras and scikit-learn models, cross-checked with foolbox."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pytest_modelguard import Dataset, Predictions
from pytest_modelguard.checks import robust
from pytest_modelguard.checks.robustness import wilson
from pytest_modelguard.checks.robustness.attacks import load_foolbox, stratified_rows
from pytest_modelguard.core.verdict import GateError

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
fb = load_foolbox()


@pytest.fixture(scope="session")
def digit_images(digits) -> Dataset:
    """200 held-out 8x8 digits, pixels in [0, 1]."""
    return Dataset.from_arrays(
        digits["x"][:200], digits["y"][:200], kind="image", bounds=(0, 1), name="digits"
    )


@pytest.fixture(scope="session")
def keras_softmax(digits):
    """Ten classes with a softmax last layer: foolbox must get logits derived from it."""
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(digits["x_train"], digits["y_train"], epochs=10, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def tree(digits):
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=8, random_state=0).fit(
        digits["x_train"], digits["y_train"]
    )


def direct_success(fmodel, attack, x, y, eps, seed):
    """A plain foolbox call, as a user would write it."""
    tf.random.set_seed(seed)
    _, _, success = attack(
        fmodel, tf.constant(x, tf.float32), tf.constant(y, tf.int64), epsilons=eps
    )
    return success.numpy()


def direct_numpy_success(fmodel, attack, x, y, eps, seed):
    """A plain foolbox call on NumPy arrays (eagerpy draws from ``np.random``), as a user
    would write it for a model without gradients."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        _, _, success = attack(fmodel, x.astype(np.float32), y.astype(np.int64), epsilons=eps)
    finally:
        np.random.set_state(state)
    return np.asarray(success)


def curve(verdict) -> list[float]:
    return [point["robust_accuracy"] for point in verdict.evidence["curve"]]


# -- agreement with foolbox -----------------------------------------------------------------


def test_pgd_gate_equals_a_direct_foolbox_linf_pgd_call(keras_multiclass_logits, digit_images):
    eps, seed = [0.03, 0.1], 123
    verdict = robust(
        keras_multiclass_logits,
        digit_images,
        eps=eps,
        attack="pgd",
        steps=10,
        min_accuracy=0.01,
        seed=seed,
    )
    x, y = digit_images.features, digit_images.target
    fmodel = fb.TensorFlowModel(keras_multiclass_logits, bounds=(0, 1), device="/cpu:0")
    success = direct_success(fmodel, fb.attacks.LinfPGD(steps=10), x, y, eps, seed)
    clean = keras_multiclass_logits(x).numpy().argmax(axis=1) == y
    assert curve(verdict) == [float(np.mean(clean & ~s)) for s in success]
    assert curve(verdict) == [float(1 - s.mean()) for s in success]  # foolbox's own formula
    assert verdict.evidence["clean_accuracy"] == float(clean.mean())
    assert 0.0 < curve(verdict)[1] < curve(verdict)[0] < verdict.evidence["clean_accuracy"]
    assert verdict.metric == "robust_accuracy" and verdict.value == curve(verdict)[1]
    assert verdict.n == 200 and verdict.evidence["logits"] == "the model's outputs"
    assert verdict.evidence["worst"] == "eps=0.1"


def test_a_stratified_sample_attacks_the_same_rows_as_foolbox(
    keras_multiclass_logits, digit_images
):
    verdict = robust(
        keras_multiclass_logits, digit_images, eps=0.05, attack="pgd", steps=5, samples=60, seed=9
    )
    rows = stratified_rows(digit_images.target, 60, 9)
    classes, counts = np.unique(digit_images.target[rows], return_counts=True)
    assert len(rows) == 60 and len(classes) == 10 and counts.max() - counts.min() <= 2
    fmodel = fb.TensorFlowModel(keras_multiclass_logits, bounds=(0, 1), device="/cpu:0")
    x, y = digit_images.features[rows], digit_images.target[rows]
    success = direct_success(fmodel, fb.attacks.LinfPGD(steps=5), x, y, [0.05], 9)
    assert curve(verdict) == [float(1 - success.mean())]
    assert verdict.n == 60 and verdict.evidence["stratified"] is True


def test_softmax_model_is_attacked_through_its_pre_activation_logits(keras_softmax, digit_images):
    verdict = robust(
        keras_softmax, digit_images, eps=0.05, attack="pgd", steps=10, min_accuracy=0.01, seed=5
    )
    assert verdict.evidence["logits"].startswith("derived from probabilities")
    logits = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    logits.set_weights(keras_softmax.get_weights())
    fmodel = fb.TensorFlowModel(logits, bounds=(0, 1), device="/cpu:0")
    x, y = digit_images.features, digit_images.target
    success = direct_success(fmodel, fb.attacks.LinfPGD(steps=10), x, y, [0.05], 5)
    assert curve(verdict) == [float(1 - success.mean())]
    assert np.all(keras_softmax.layers[-1].get_config()["activation"] == "softmax")  # untouched


def test_binary_sigmoid_model_gets_two_logits(keras_binary, tabular):
    x, y = tabular["x"][:200], tabular["y"][:200]
    dataset = Dataset.from_arrays(x, y, bounds=(-6, 6))
    verdict = robust(
        keras_binary, dataset, eps=0.3, attack="pgd", steps=10, min_accuracy=0.01, seed=2
    )
    assert verdict.evidence["logits"].startswith("derived from probabilities")
    hidden, head = keras_binary.layers
    z = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    z.set_weights([*hidden.get_weights(), *head.get_weights()])

    def two_logits(t):
        one = z(t)
        return tf.concat([tf.zeros_like(one), one], axis=1)

    fmodel = fb.TensorFlowModel(two_logits, bounds=(-6, 6), device="/cpu:0")
    success = direct_success(fmodel, fb.attacks.LinfPGD(steps=10), x, y, [0.3], 2)[0]
    clean = (keras_binary(x).numpy()[:, 0] >= 0.5) == y
    assert curve(verdict) == [float(np.mean(clean & ~success))]
    # here PGD's random start moves a misclassified row to the right side: foolbox's
    # 1 - success counts it as robust, the gate (correct before and after) does not
    assert curve(verdict)[0] == pytest.approx(1 - success.mean() - 1 / 200)


def test_decision_based_attack_on_a_tree_equals_foolbox_numpy_model(tree, digit_images):
    verdict = robust(
        tree, digit_images, eps=1.5, attack="boundary", steps=50, samples=40, min_accuracy=0.01,
        seed=3,
    )  # fmt: skip
    assert verdict.evidence["attack"] == "boundary" and verdict.evidence["norm"] == "l2"

    def logits(rows):
        return np.log(np.maximum(tree.predict_proba(rows), 1e-30)).astype(np.float32)

    rows = stratified_rows(digit_images.target, 40, 3)
    x, y = digit_images.features[rows], digit_images.target[rows]
    right = tree.predict(x) == y
    fmodel = fb.NumPyModel(logits, bounds=(0, 1))
    # decision-based attacks start from a misclassified input, so the gate attacks the rows
    # the tree gets right (foolbox would start a wrong row at itself and divide 0 by 0)
    attack = fb.attacks.BoundaryAttack(steps=50)
    success = direct_numpy_success(fmodel, attack, x[right], y[right], [1.5], 3)
    assert 0 < right.sum() < len(y)
    assert curve(verdict) == [float(np.sum(~success[0]) / len(y))]
    assert curve(verdict)[0] < verdict.evidence["clean_accuracy"]


# -- determinism, restarts, curves, thresholds ------------------------------------------------


def test_the_same_seed_gives_the_same_verdict_and_another_seed_other_rows(
    keras_multiclass_logits, digit_images
):
    def run(seed):
        verdict = robust(
            keras_multiclass_logits,
            digit_images,
            eps=0.05,
            attack="pgd",
            steps=5,
            samples=80,
            seed=seed,
        )
        data = verdict.to_json()
        data.pop("duration")
        return json.dumps(data, sort_keys=True)

    first = run(11)
    assert run(11) == first
    assert json.loads(first)["evidence"]["attack_seed"] == 11
    assert not np.array_equal(
        stratified_rows(digit_images.target, 80, 11), stratified_rows(digit_images.target, 80, 12)
    )


def test_restarts_only_break_more_rows(keras_multiclass_logits, digit_images):
    one = robust(
        keras_multiclass_logits,
        digit_images,
        eps=0.04,
        attack="pgd",
        steps=3,
        min_accuracy=0.01,
        seed=1,
    )
    three = robust(
        keras_multiclass_logits,
        digit_images,
        eps=0.04,
        attack="pgd",
        steps=3,
        restarts=3,
        min_accuracy=0.01,
        seed=1,
    )
    assert three.value <= one.value and three.evidence["restarts"] == 3


def test_default_threshold_is_a_drop_of_five_points_with_a_wilson_interval(
    keras_multiclass_logits, digit_images
):
    verdict = robust(keras_multiclass_logits, digit_images, eps=0.01, attack="pgd", steps=5, seed=0)
    assert verdict.metric == "accuracy_drop" and verdict.operator == "<="
    assert verdict.threshold == 0.05 and "default" in verdict.evidence["threshold"]
    point = verdict.evidence["curve"][0]
    assert verdict.value == pytest.approx(
        verdict.evidence["clean_accuracy"] - point["robust_accuracy"]
    )
    low, high = verdict.ci
    assert low <= verdict.value <= high
    assert verdict.status == ("pass" if verdict.value <= 0.05 else "fail")
    assert "accuracy" in verdict.message and "clean ->" in verdict.message


def test_a_large_eps_fails_the_gate(keras_multiclass_logits, digit_images):
    verdict = robust(
        keras_multiclass_logits, digit_images, eps=[0.02, 0.2], attack="pgd", steps=5, seed=0
    )
    assert verdict.status == "fail" and verdict.evidence["worst"] == "eps=0.2"
    assert "FAIL robust: accuracy_drop must be <= 0.05" in verdict.message


def test_min_accuracy_passes_when_met(keras_multiclass_logits, digit_images):
    verdict = robust(
        keras_multiclass_logits,
        digit_images,
        eps=0.01,
        attack="pgd",
        steps=5,
        min_accuracy=0.5,
        seed=0,
    )
    assert verdict.status == "pass" and verdict.value >= 0.5


def test_wilson_interval_matches_the_textbook_value():
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


@pytest.mark.parametrize(
    ("attack", "norm", "eps"),
    [("fgsm", "l2", 0.5), ("l2pgd", None, 0.5), ("deepfool", "linf", 0.05), ("cw", None, 0.5)],
)
def test_every_gradient_attack_runs_and_lowers_accuracy(
    keras_multiclass_logits, digit_images, attack, norm, eps
):
    verdict = robust(
        keras_multiclass_logits, digit_images, eps=eps, attack=attack, norm=norm,
        steps=None if attack == "fgsm" else 5, samples=50, min_accuracy=0.01, seed=0,
    )  # fmt: skip
    assert verdict.evidence["attack"] == attack
    assert verdict.value < verdict.evidence["clean_accuracy"]


def test_noise_and_hopskipjump_run_on_models_without_gradients(tree, digit_images):
    noise = robust(tree, digit_images, eps=0.3, attack="noise", steps=20, min_accuracy=0.01)
    hsj = robust(
        tree, digit_images, eps=0.3, attack="hopskipjump", norm="linf", steps=2, samples=30,
        min_accuracy=0.01,
    )  # fmt: skip
    for verdict in (noise, hsj):
        assert verdict.value < verdict.evidence["clean_accuracy"]
        assert verdict.evidence["logits"].startswith("derived from probabilities")


def test_a_callable_returning_labels_is_attacked_on_its_decisions(digits):
    centroids = np.stack(
        [digits["x_train"][digits["y_train"] == k].mean(axis=0) for k in range(10)]
    )

    def nearest_centroid(rows):
        return np.argmin(((rows[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)

    dataset = Dataset.from_arrays(digits["x"][:100], digits["y"][:100], bounds=(0, 1))
    verdict = robust(
        nearest_centroid, dataset, eps=0.4, attack="noise", steps=20, min_accuracy=0.01
    )
    assert verdict.evidence["logits"].startswith("one-hot")
    assert verdict.value < verdict.evidence["clean_accuracy"]


def test_tabular_data_without_bounds_attacks_each_feature_within_its_range(keras_binary, tabular):
    dataset = Dataset.from_arrays(tabular["x"][:150], tabular["y"][:150])
    small = robust(keras_binary, dataset, eps=0.01, attack="pgd", steps=5, min_accuracy=0.01)
    large = robust(keras_binary, dataset, eps=0.2, attack="pgd", steps=5, min_accuracy=0.01)
    assert small.evidence["eps_units"] == "fraction of each feature's range"
    assert large.value < small.value <= small.evidence["clean_accuracy"]


def test_per_feature_bounds_by_name(keras_binary, tabular):
    names = [f"f{i}" for i in range(6)]
    dataset = Dataset.from_arrays(
        tabular["x"][:100], tabular["y"][:100], feature_names=names, bounds={"f0": (-6, 6)}
    )
    verdict = robust(keras_binary, dataset, eps=0.05, attack="pgd", steps=5, min_accuracy=0.01)
    assert verdict.evidence["bounds"] == {"f0": [-6.0, 6.0]}
    with pytest.raises(GateError, match=r"unknown features \['age'\]"):
        robust(keras_binary, dataset, eps=0.05, bounds={"age": (0, 1)})
    unnamed = Dataset.from_arrays(tabular["x"][:100], tabular["y"][:100], bounds={"f0": (-6, 6)})
    with pytest.raises(GateError, match="need named tabular features"):
        robust(keras_binary, unnamed, eps=0.05)


# -- errors that say what to change -----------------------------------------------------------


def test_gradient_attack_on_a_model_without_gradients_suggests_decision_based(tree, digit_images):
    with pytest.raises(
        GateError, match=r"needs gradients.*attack='hopskipjump' or attack='boundary'"
    ):
        robust(tree, digit_images, eps=0.03, attack="pgd")


def test_eps_larger_than_the_input_range(keras_multiclass_logits, digit_images):
    with pytest.raises(GateError, match=r"eps=8 is larger than the input range .*8/255"):
        robust(keras_multiclass_logits, digit_images, eps=8)
    with pytest.raises(
        GateError,
        match=r"eps=9 is larger than the input range \(l2 reach 8, eps in units of 0.0..1.0\)",
    ):
        robust(keras_multiclass_logits, digit_images, eps=9, attack="l2pgd")


def test_image_without_bounds_and_data_outside_bounds(keras_multiclass_logits, digits):
    x, y = digits["x"][:50], digits["y"][:50]
    with pytest.raises(GateError, match=r"image dataset .* has no bounds: give .*bounds=\(0, 1\)"):
        robust(keras_multiclass_logits, Dataset.from_arrays(x, y, kind="image"), eps=0.03)
    with pytest.raises(GateError, match=r"feature values .* lie outside the bounds \(marker\)"):
        robust(keras_multiclass_logits, Dataset.from_arrays(x, y), eps=0.03, bounds=(0, 0.5))
    with pytest.raises(GateError, match=r"bounds=\(1, 0\): give \(low, high\)"):
        robust(keras_multiclass_logits, Dataset.from_arrays(x, y), eps=0.03, bounds=(1, 0))


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({}, r"needs eps=: .*in input units"),
        ({"eps": -0.1}, r"eps=-0.1: every eps must be a positive number"),
        ({"eps": []}, r"eps= is an empty list"),
        ({"eps": 0.1, "attack": "jsma"}, r"unknown attack 'jsma'; choose one of pgd, fgsm"),
        ({"eps": 0.1, "attack": "cw", "norm": "linf"}, r"attack='cw' works in norm='l2'"),
        ({"eps": 0.1, "attack": "fgsm", "steps": 3}, r"single step: drop steps="),
        ({"eps": 0.1, "attack": "deepfool", "restarts": 2}, r"deterministic.*drop restarts="),
        ({"eps": 0.1, "steps": 0}, r"steps=0: give a positive integer"),
        ({"eps": 0.1, "samples": 0}, r"samples=0: give a positive integer \(rows to attack\)"),
        ({"eps": 0.1, "min_accuracy": 0.9, "max_accuracy_drop": 0.1}, r"give exactly one"),
        ({"eps": 0.1, "max_accuracy_drop": 5}, r"a percentage\? write max_accuracy_drop=0.05"),
        (
            {"eps": 0.1, "max_flip_rate": 0.1},
            r"max_flip_rate= does not apply to an adversarial gate \(max_flip_rate= is for perturbation gates\)",
        ),
        (
            {"eps": 0.1, "examples": 10, "immutable": ["a"]},
            r"examples=, immutable= do not apply",
        ),
        (
            {"perturbation": "gaussian", "attack": "pgd"},
            r"attack= does not apply to a perturbation gate",
        ),
        (
            {"perturbation": "gaussian", "samples": 100},
            r"samples= does not apply to a perturbation gate",
        ),
        (
            {"monotonic": {"f0": "increasing"}, "eps": 0.1},
            r"eps= does not apply to a monotonic gate",
        ),
        (
            {"monotonic": {"f0": "increasing"}, "perturbation": "gaussian"},
            r"a robust gate checks one thing, got monotonic \(monotonic=\) and perturbation",
        ),
    ],
)
def test_bad_keywords_are_errors(keras_multiclass_logits, digit_images, keywords, message):
    with pytest.raises(GateError, match=message):
        robust(keras_multiclass_logits, digit_images, **keywords)


def test_models_that_cannot_be_attacked(keras_regressor, regression, digit_images):
    with pytest.raises(GateError, match="Predictions cannot be attacked"):
        robust(Predictions(y_pred=digit_images.target), digit_images, eps=0.1)
    values = Dataset.from_arrays(regression["x"][:50], regression["y"][:50], bounds=(-9, 9))
    with pytest.raises(
        GateError, match=r"regression values \(or the target is continuous\): adversarial gates"
    ):
        robust(keras_regressor, values, eps=0.1)
    text = Dataset.from_arrays(np.zeros((4, 2)), [0, 1, 0, 1], kind="text")
    with pytest.raises(GateError, match="is text"):
        robust(keras_regressor, text, eps=0.1)
    stream = Dataset.from_batches([(np.zeros((2, 64)), np.array([0, 1]))])
    with pytest.raises(GateError, match="streamed in batches"):
        robust(keras_regressor, stream, eps=0.1)


# -- the foolbox traps, handled once ------------------------------------------------------------


def test_eagerpy_mixed_dtypes_work_on_numpy_2():
    import eagerpy as ep

    left = ep.astensor(tf.constant([1, 2], tf.int32))
    right = ep.astensor(tf.constant([1, 3], tf.int64))
    assert (left == right).numpy().tolist() == [True, False]


def test_importing_the_check_loads_no_tensorflow_and_foolbox_warns_nothing():
    code = (
        "import sys, warnings\n"
        "import pytest_modelguard.checks.robustness\n"
        "assert not {'tensorflow', 'foolbox', 'keras'} & set(sys.modules), sys.modules.keys()\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "from pytest_modelguard.checks.robustness.attacks import load_foolbox\n"
        "load_foolbox()\n"
        "import numpy\n"
        "assert numpy.find_common_type([numpy.float32, numpy.int64], []) == numpy.float64\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_perturbation_and_monotonic_keywords_reach_their_gates(tabular):
    from sklearn.linear_model import LogisticRegression

    from pytest_modelguard.core.profiles import PROFILES

    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    names = [f"f{i}" for i in range(6)]
    dataset = Dataset.from_arrays(tabular["x"][:200], tabular["y"][:200], feature_names=names)
    common = {"examples": 5, "seed": 1, "profile": PROFILES["ci"]}
    jitter = robust(
        model, dataset, perturbation="feature_jitter", eps=0.01, max_flip_rate=0.5, **common
    )
    direction = robust(
        model, dataset, monotonic={"f0": "increasing"}, max_violation_rate=0.0, **common
    )
    assert jitter.requirement == direction.requirement == "robust"
    assert jitter.threshold == 0.5 and direction.threshold == 0.0 and direction.passed


def test_a_nested_softmax_sub_model_falls_back_to_log_probabilities(keras_softmax, digit_images):
    """The last layer is a whole model: cloning it without activation changes nothing (the
    softmax is inside), so the "logits" would be probabilities; the gate says log-probabilities."""
    from pytest_modelguard.adapters import adapt
    from pytest_modelguard.checks.robustness.attacks import _tf_logits

    inputs = keras.Input((64,))
    nested = keras.Model(inputs, keras_softmax(inputs))
    x = digit_images.features[:20]
    logits, note = _tf_logits(adapt(nested), "probabilities")
    z = np.asarray(logits(x))
    assert not np.allclose(z.sum(axis=1), 1.0)  # not probabilities under another name
    expected = np.log(np.maximum(np.asarray(nested(x)), 1e-30))
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-4)
    assert "their logarithm" in note
    verdict = robust(nested, digit_images, eps=0.05, attack="pgd", steps=5, min_accuracy=0.01)
    assert "their logarithm" in verdict.evidence["logits"]


def test_a_decision_attack_on_a_model_that_only_runs_eagerly_falls_back_to_eager_calls():
    """Decision attacks call the model through a concrete function; a tf.Module with a NumPy
    step cannot be traced, and the attack calls it eagerly instead (review: an ERROR)."""
    tf = pytest.importorskip("tensorflow")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((200, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) > 0.5).astype(int)
    fitted = LogisticRegression(C=100).fit(x, y)

    class EagerOnly(tf.Module):
        def __call__(self, t):
            rows = np.clip(np.asarray(t), 0, 1)  # NumPy inside: no graph
            return tf.matmul(tf.constant(rows), fitted.coef_.T.astype(np.float32)) + float(
                fitted.intercept_[0]
            )

    rows = Dataset.from_arrays(x, y, bounds=(0, 1))
    spec = dict(eps=0.05, attack="hopskipjump", steps=4, samples=30, seed=3, min_accuracy=0.01)
    verdict = robust(EagerOnly(), rows, **spec)
    assert verdict.status == "pass" and 0 < verdict.value <= verdict.evidence["clean_accuracy"]
    assert verdict.value == pytest.approx(robust(fitted, rows, **spec).value, abs=0.1)
