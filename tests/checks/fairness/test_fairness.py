"""checks.fairness: equal to fairlearn, honest intervals, streaming, and every error path."""

from __future__ import annotations

import json

import fairlearn.metrics as fm
import numpy as np
import pytest
from sklearn import metrics as skm

from pytest_modelguard import Dataset, GateError, Predictions, checks
from pytest_modelguard.core import stats
from pytest_modelguard.core.groups import MISSING, GroupCounts


@pytest.fixture(scope="session")
def audit() -> dict[str, np.ndarray]:
    """Binary labels and predictions whose rates differ by group, two sensitive columns."""
    rng = np.random.default_rng(11)
    n = 4000
    sex = rng.choice(np.array(["f", "m"]), size=n, p=[0.45, 0.55])
    region = rng.choice(np.array([1, 2, 3]), size=n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(sex == "f", 0.35, 0.5)).astype(np.int64)
    hit = rng.random(n) < np.where(region == 3, 0.7, 0.85)
    y_pred = np.where(hit, y, 1 - y)
    weight = rng.uniform(0.2, 3.0, size=n)
    return {"sex": sex, "region": region, "y": y, "y_pred": y_pred, "weight": weight}


def dataset_of(audit, *, weighted=False, **kwargs) -> Dataset:
    return Dataset.from_arrays(
        np.zeros((len(audit["y"]), 1), np.float32),
        audit["y"],
        sensitive={"sex": audit["sex"], "region": audit["region"]},
        sample_weight=audit["weight"] if weighted else None,
        **kwargs,
    )


def gate(audit, metric, *, weighted=False, **spec):
    from pytest_modelguard.checks.fairness import METRICS, THRESHOLD

    name = THRESHOLD[METRICS[metric].kind]
    spec.setdefault(name, 0.99 if name == "max_disparity" else 0.01)
    return checks.fairness(
        Predictions(y_pred=audit["y_pred"]),
        dataset_of(audit, weighted=weighted),
        metric=metric,
        **spec,
    )


def frame_metric(base, transform):
    """A fairlearn fairness function built from MetricFrame (for metrics without one)."""

    def metric(y_true, y_pred, *, sensitive_features, sample_weight=None, method="between_groups"):
        frame = fm.MetricFrame(
            metrics=base,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=sensitive_features,
            sample_params={"sample_weight": sample_weight},
        )
        return (
            getattr(frame, transform)(method=method)
            if transform != "group_min"
            else frame.group_min()
        )

    return metric


REFERENCES = {
    "demographic_parity_difference": fm.demographic_parity_difference,
    "demographic_parity_ratio": fm.demographic_parity_ratio,
    "equalized_odds_difference": fm.equalized_odds_difference,
    "equalized_odds_ratio": fm.equalized_odds_ratio,
    "equal_opportunity_difference": fm.equal_opportunity_difference,
    "equal_opportunity_ratio": fm.equal_opportunity_ratio,
    "false_positive_rate_difference": fm.false_positive_rate_difference,
    "false_negative_rate_difference": fm.false_negative_rate_difference,
    "true_positive_rate_difference": fm.true_positive_rate_difference,
    "true_negative_rate_difference": fm.true_negative_rate_difference,
    "selection_rate_difference": fm.selection_rate_difference,
    "accuracy_difference": fm.accuracy_score_difference,
    "precision_difference": frame_metric(skm.precision_score, "difference"),
    "accuracy_group_min": frame_metric(skm.accuracy_score, "group_min"),
}


def reference(metric, audit, sensitive_features, *, method, weighted):
    kwargs = {"sample_weight": audit["weight"] if weighted else None}
    if metric != "accuracy_group_min":
        kwargs["method"] = method
    value = REFERENCES[metric](
        audit["y"], audit["y_pred"], sensitive_features=sensitive_features, **kwargs
    )
    return float(value)


# -- 2. equal to fairlearn ----------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("metric", "method"),
    [
        (metric, method)
        for metric in sorted(REFERENCES)
        for method in ("between_groups", "to_overall")
        if not (metric == "accuracy_group_min" and method == "to_overall")  # has no method
    ],
)
def test_every_metric_equals_fairlearn(audit, metric, method, weighted):
    for column in ("sex", "region"):
        verdict = gate(audit, metric, weighted=weighted, sensitive=column, method=method)
        expected = reference(metric, audit, audit[column], method=method, weighted=weighted)
        assert verdict.value == pytest.approx(expected, abs=1e-12)
        assert verdict.evidence["by_sensitive"][column]["value"] == pytest.approx(
            expected, abs=1e-12
        )

    both = gate(
        audit,
        metric,
        weighted=weighted,
        sensitive=["sex", "region"],
        intersectional=True,
        method=method,
    )
    combined = np.column_stack([audit["sex"], audit["region"].astype(str)])
    expected = reference(metric, audit, combined, method=method, weighted=weighted)
    assert both.value == pytest.approx(expected, abs=1e-12)
    assert set(both.evidence["by_sensitive"]["sex & region"]["groups"]) == {
        f"{s} & {r}" for s in ("f", "m") for r in (1, 2, 3)
    }


def test_several_columns_are_gated_separately_and_the_worst_decides(audit):
    per_column = {
        c: fm.equalized_odds_difference(audit["y"], audit["y_pred"], sensitive_features=audit[c])
        for c in ("sex", "region")
    }
    worst = max(per_column, key=per_column.get)
    verdict = gate(audit, "equalized_odds_difference")  # sensitive omitted: every column
    assert verdict.evidence["sensitive"] == ["sex", "region"]
    assert verdict.evidence["worst"] == worst
    assert verdict.value == pytest.approx(per_column[worst], abs=1e-12)
    for column, value in per_column.items():
        assert verdict.evidence["by_sensitive"][column]["value"] == pytest.approx(value, abs=1e-12)
    tight = gate(audit, "equalized_odds_difference", max_disparity=min(per_column.values()) + 1e-9)
    assert tight.status == "fail"


def test_keras_model_equals_fairlearn_and_carries_the_group_table(keras_binary, binary_dataset):
    verdict = checks.fairness(
        keras_binary,
        binary_dataset,
        metric="equalized_odds_difference",
        max_disparity=0.5,
        sensitive="group",
        decision_threshold=0.4,
    )
    scores = keras_binary.predict(binary_dataset.features, verbose=0)[:, 0]
    y_pred = (scores >= 0.4).astype(int)
    group = binary_dataset.sensitive["group"]
    expected = fm.equalized_odds_difference(binary_dataset.target, y_pred, sensitive_features=group)
    assert verdict.value == pytest.approx(expected, abs=1e-12)
    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "tpr": fm.true_positive_rate,
            "fpr": fm.false_positive_rate,
            "n": fm.count,
        },
        y_true=binary_dataset.target,
        y_pred=y_pred,
        sensitive_features=group,
    )
    table = verdict.evidence["by_sensitive"]["group"]["groups"]
    for name in ("a", "b", "c"):
        for column in ("selection_rate", "tpr", "fpr", "n"):
            assert table[name][column] == pytest.approx(frame.by_group.loc[name, column], abs=1e-12)
    assert verdict.evidence["decision_threshold"] == 0.4
    assert verdict.evidence["output"] == "probabilities"
    json.dumps(verdict.to_json(), allow_nan=False)  # travels between xdist processes


def test_multiclass_accuracy_metrics_equal_fairlearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 900)
    y_pred = np.where(rng.random(900) < 0.7, y, rng.integers(0, 4, 900))
    group = rng.choice(np.array(["u", "v", "w"]), 900)
    data = Dataset.from_arrays(np.zeros((900, 1)), y, sensitive={"g": group})
    model = Predictions(y_pred=y_pred)
    low = checks.fairness(model, data, metric="accuracy_group_min", min=0.5)
    assert low.value == pytest.approx(
        fm.accuracy_score_group_min(y, y_pred, sensitive_features=group), abs=1e-12
    )
    assert low.operator == ">=" and low.status == "pass"
    gap = checks.fairness(model, data, metric="accuracy_difference", max_disparity=0.2)
    assert gap.value == pytest.approx(
        fm.accuracy_score_difference(y, y_pred, sensitive_features=group), abs=1e-12
    )


def test_string_labels_with_pos_label_equal_fairlearn(audit):
    y = np.where(audit["y"] == 1, "approved", "denied")
    y_pred = np.where(audit["y_pred"] == 1, "approved", "denied")
    data = Dataset.from_arrays(np.zeros((len(y), 1)), y, sensitive={"sex": audit["sex"]})
    verdict = checks.fairness(
        Predictions(y_pred=y_pred),
        data,
        metric="true_positive_rate_difference",
        max_disparity=0.5,
        pos_label="approved",
    )

    def tpr(y_true, y_pred):
        return fm.true_positive_rate(y_true, y_pred, pos_label="approved")

    frame = fm.MetricFrame(metrics=tpr, y_true=y, y_pred=y_pred, sensitive_features=audit["sex"])
    assert verdict.value == pytest.approx(frame.difference(), abs=1e-12)
    assert verdict.evidence["pos_label"] == "approved"


# -- 3. intervals ---------------------------------------------------------------------------


def test_confidence_decides_on_the_upper_bound(audit):
    point = gate(audit, "demographic_parity_difference", sensitive="sex")
    limit = point.value + 0.01  # the point estimate passes...
    plain = gate(audit, "demographic_parity_difference", sensitive="sex", max_disparity=limit)
    sure = gate(
        audit,
        "demographic_parity_difference",
        sensitive="sex",
        max_disparity=limit,
        confidence=0.95,
        n_resamples=2000,
        seed=3,
    )
    assert plain.status == "pass"
    low, high = sure.ci
    assert low < sure.value < high and high > limit  # ...but not with 95% confidence
    assert sure.status == "fail" and sure.evidence["decided_on"] == "upper"
    ratio = gate(
        audit,
        "demographic_parity_ratio",
        sensitive="sex",
        confidence=0.95,
        n_resamples=2000,
        min_ratio=0.5,
    )
    assert ratio.evidence["decided_on"] == "lower" and ratio.ci[0] < ratio.value


def test_interval_is_closed_form_and_ignores_the_seed(audit):
    spec = {"sensitive": "region", "confidence": 0.9, "n_resamples": 500}
    first = gate(audit, "equalized_odds_difference", seed=1, **spec)
    other = gate(audit, "equalized_odds_difference", seed=2, **spec)
    assert first.ci == other.ci and first.evidence["interval"].startswith("Newcombe")
    assert "n_resamples" not in first.evidence  # nothing is resampled


def test_two_group_interval_is_newcombes_from_scipys_wilson_intervals(audit):
    """Two groups: the interval of |p_a - p_b| is Newcombe's hybrid score interval of the
    signed difference (from scipy's Wilson intervals), folded at 0."""
    from scipy.stats import binomtest

    verdict = gate(audit, "demographic_parity_difference", sensitive="sex", confidence=0.95)
    groups = verdict.evidence["by_sensitive"]["sex"]["groups"]
    first, second = groups.values()
    p = [g["selection_rate"] for g in (first, second)]
    k = [round(g["selection_rate"] * g["n"]) for g in (first, second)]
    cis = [
        binomtest(k[i], g["n"]).proportion_ci(0.95, "wilson") for i, g in enumerate((first, second))
    ]
    d = p[0] - p[1]
    low = d - np.hypot(p[0] - cis[0].low, cis[1].high - p[1])
    high = d + np.hypot(cis[0].high - p[0], p[1] - cis[1].low)
    folded = (0.0, max(-low, high)) if low <= 0 <= high else tuple(sorted((abs(low), abs(high))))
    assert verdict.ci == pytest.approx(folded, abs=1e-12)


def test_newcombe_and_mover_match_published_and_solved_values():
    z = stats.two_sided_z(0.95)
    # Newcombe (1998), Stat Med 17:873, table II example (a): 56/70 - 48/80, method 10
    p1, p2 = 56 / 70, 48 / 80
    low, high = stats.newcombe_difference(p1, stats.wilson(p1, 70, z), p2, stats.wilson(p2, 80, z))
    assert (round(float(low), 4), round(float(high), 4)) == (0.0524, 0.3339)
    # MOVER-R: the ratio bounds are the r at which the MOVER interval of p1 - r p2 reaches 0
    for k1, n1, k2, n2 in [(56, 70, 48, 80), (3, 30, 12, 30), (0, 40, 5, 40), (30, 30, 20, 31)]:
        p1, p2 = k1 / n1, k2 / n2
        bounds1, bounds2 = stats.wilson(p1, n1, z), stats.wilson(p2, n2, z)
        low, high = stats.mover_ratio(p1, bounds1, p2, bounds2)
        expected_low, expected_high = ratio_by_root_finding(p1, bounds1, p2, bounds2)
        assert float(low) == pytest.approx(expected_low, abs=1e-9)
        assert float(high) == pytest.approx(expected_high, abs=1e-9)


def ratio_by_root_finding(p1, bounds1, p2, bounds2):
    """The r where the MOVER interval of ``p1 - r p2`` first and last contains 0."""
    from scipy.optimize import brentq

    (l1, u1), (l2, u2) = (tuple(map(float, b)) for b in (bounds1, bounds2))

    def lower_end(r):  # falls through 0 at the ratio's lower bound
        return p1 - r * p2 - np.hypot(p1 - l1, r * (u2 - p2))

    def upper_end(r):  # falls through 0 at the ratio's upper bound
        return p1 - r * p2 + np.hypot(u1 - p1, r * (p2 - l2))

    low = 0.0 if lower_end(0.0) <= 0 else brentq(lower_end, 0.0, p1 / p2, xtol=1e-14)
    return low, brentq(upper_end, p1 / p2, 1e3, xtol=1e-14)


def test_equal_weights_give_the_unweighted_interval(audit):
    data = dataset_of(audit)
    doubled = Dataset.from_arrays(
        np.zeros((len(data), 1)),
        audit["y"],
        sensitive={"sex": audit["sex"]},
        sample_weight=np.full(len(data), 2.0),
    )
    model = Predictions(y_pred=audit["y_pred"])
    spec = {
        "sensitive": "sex",
        "max_disparity": 0.5,
        "confidence": 0.95,
        "n_resamples": 1000,
        "seed": 4,
    }
    assert checks.fairness(model, doubled, **spec).ci == pytest.approx(
        checks.fairness(model, data, **spec).ci, abs=1e-12
    )


def test_nominal_95_interval_covers_the_population_disparity():
    """Coverage by simulation: 400 datasets of 3,000 rows with a known disparity of 0.12."""
    rates = np.array([0.30, 0.42, 0.36])
    truth = rates.max() - rates.min()
    rng = np.random.default_rng(2024)
    covered = 0
    simulations = 400
    for i in range(simulations):
        group = rng.integers(0, 3, 3000)
        y_pred = (rng.random(3000) < rates[group]).astype(np.int64)
        data = Dataset.from_arrays(np.zeros((3000, 1)), y_pred, sensitive={"g": group})
        verdict = checks.fairness(
            Predictions(y_pred=y_pred),
            data,
            max_disparity=0.5,
            confidence=0.95,
            n_resamples=1000,
            seed=i,
        )
        covered += verdict.ci[0] <= truth <= verdict.ci[1]
    assert covered / simulations >= 0.93


# -- 4. streaming -----------------------------------------------------------------------------


def batches_of(dataset: Dataset, size: int, weighted: bool = False):
    for start in range(0, len(dataset), size):
        rows = slice(start, start + size)
        batch = (
            dataset.features[rows],
            dataset.target[rows],
            {c: v[rows] for c, v in dataset.sensitive.items()},
        )
        yield (*batch, dataset.sample_weight[rows]) if weighted else batch


def test_streamed_batches_give_the_in_memory_verdict_exactly(keras_binary, binary_dataset):
    spec = {
        "metric": "equalized_odds_difference",
        "max_disparity": 0.3,
        "confidence": 0.95,
        "n_resamples": 1000,
        "seed": 7,
    }
    in_memory = checks.fairness(keras_binary, binary_dataset, **spec)
    listed = Dataset.from_batches(list(batches_of(binary_dataset, 128)), sensitive=["group"])
    streamed = checks.fairness(keras_binary, listed, **spec)
    assert streamed.value == in_memory.value and streamed.ci == in_memory.ci
    assert streamed.n == in_memory.n == len(binary_dataset)
    assert streamed.evidence["by_sensitive"] == in_memory.evidence["by_sensitive"]


def test_a_tf_data_dataset_is_gated_batch_by_batch(keras_binary, binary_dataset):
    tf = pytest.importorskip("tensorflow")
    source = tf.data.Dataset.from_tensor_slices(
        {
            "x": binary_dataset.features,
            "y": binary_dataset.target,
            "group": binary_dataset.sensitive["group"],
        }
    ).batch(100)
    streamed = checks.fairness(
        keras_binary, Dataset.from_batches(source, sensitive="group"), max_disparity=0.5
    )
    in_memory = checks.fairness(keras_binary, binary_dataset, max_disparity=0.5)
    assert streamed.value == in_memory.value
    unbatched = Dataset.from_batches(source.unbatch(), sensitive="group")
    with pytest.raises(GateError, match=r"batch\(n\)"):
        checks.fairness(keras_binary, unbatched, max_disparity=0.5)


def test_weighted_stream_equals_in_memory(audit):
    data = dataset_of(audit, weighted=True)
    model = lambda x: audit["y_pred"][x[:, 0].astype(int)]  # noqa: E731 - a row-index "model"
    indexed = Dataset.from_arrays(
        np.arange(len(data))[:, None],
        data.target,
        sensitive=data.sensitive,
        sample_weight=data.sample_weight,
    )
    stream = Dataset.from_batches(
        list(batches_of(indexed, 333, weighted=True)), sensitive=["sex", "region"]
    )
    spec = {"metric": "equal_opportunity_ratio", "min_ratio": 0.5}
    assert checks.fairness(model, stream, **spec).value == pytest.approx(
        checks.fairness(model, indexed, **spec).value, abs=1e-12
    )


def test_a_one_shot_iterator_can_be_read_once(keras_binary, binary_dataset):
    stream = Dataset.from_batches(batches_of(binary_dataset, 200), sensitive=["group"])
    checks.fairness(keras_binary, stream, max_disparity=0.5)
    with pytest.raises(GateError, match="already read"):
        checks.fairness(keras_binary, stream, max_disparity=0.5)


def test_a_stream_gives_a_clear_error_to_gates_that_need_every_row(keras_binary, binary_dataset):
    stream = Dataset.from_batches(list(batches_of(binary_dataset, 200)), sensitive=["group"])
    with pytest.raises(GateError, match="streamed in batches"):
        checks.performance(keras_binary, stream, min=0.5)


def test_bad_batches_are_errors(keras_binary, binary_dataset):
    x, y = binary_dataset.features, binary_dataset.target
    group = binary_dataset.sensitive["group"]
    cases = [
        ([(x[:10], y[:10], {"other": group[:10]})], "lacks the sensitive column"),
        ([(x[:10], y[:9], {"group": group[:10]})], "rows"),
        ([x[:10]], "a batch is"),
        ([{"features": x[:10], "group": group[:10]}], "no target or y key"),
    ]
    for batches, message in cases:
        with pytest.raises(GateError, match=message):
            checks.fairness(
                keras_binary,
                Dataset.from_batches(batches, sensitive="group"),
                max_disparity=0.5,
                min_group_size=1,
            )


def test_group_counts_merge_across_batches(audit):
    whole = GroupCounts(["sex"]).add({"sex": audit["sex"]}, audit["y"], audit["y_pred"])
    half = len(audit["y"]) // 2
    first = GroupCounts(["sex"]).add(
        {"sex": audit["sex"][:half]}, audit["y"][:half], audit["y_pred"][:half]
    )
    second = GroupCounts(["sex"]).add(
        {"sex": audit["sex"][half:]}, audit["y"][half:], audit["y_pred"][half:]
    )
    merged = first.merge(second)
    assert len(merged) == len(whole) == len(audit["y"])
    for a, b in zip(merged.table(), whole.table(), strict=True):
        np.testing.assert_array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))


# -- errors: never a pass -------------------------------------------------------------------


def test_unknown_sensitive_column_lists_the_available_ones(audit):
    with pytest.raises(GateError, match=r"'race' not in dataset .*: sex, region"):
        gate(audit, "demographic_parity_difference", sensitive="race")


def test_a_single_group_is_an_error(audit):
    data = Dataset.from_arrays(np.zeros((100, 1)), audit["y"][:100], sensitive={"s": ["x"] * 100})
    with pytest.raises(GateError, match=r"1 group \['x'\].*at least two groups"):
        checks.fairness(Predictions(y_pred=audit["y_pred"][:100]), data, max_disparity=0.1)


def test_a_rate_undefined_for_a_group_names_it():
    y = np.array([1, 0] * 40 + [0] * 40)
    group = np.array(["a"] * 80 + ["b"] * 40)
    data = Dataset.from_arrays(np.zeros((120, 1)), y, sensitive={"g": group})
    model = Predictions(y_pred=y)
    with pytest.raises(
        GateError, match=r"TPR of group 'b' of sensitive 'g' is undefined: .*positive"
    ):
        checks.fairness(model, data, metric="equal_opportunity_difference", max_disparity=0.1)
    with pytest.raises(GateError, match=r"precision of group 'b'.*predicts no positives"):
        checks.fairness(model, data, metric="precision_difference", max_disparity=0.1)


def test_a_ratio_of_zero_rates_is_an_error():
    data = Dataset.from_arrays(np.zeros((80, 1)), np.zeros(80, int), sensitive={"g": [0, 1] * 40})
    with pytest.raises(GateError, match="every group's rate is 0"):
        checks.fairness(
            Predictions(y_pred=np.zeros(80, int)),
            data,
            metric="demographic_parity_ratio",
            min_ratio=0.8,
        )


def test_missing_sensitive_values_are_an_error_or_their_own_group(audit):
    sex = audit["sex"].astype(object)
    sex[::50] = None
    region = audit["region"].astype(float)
    region[1::40] = np.nan
    data = Dataset.from_arrays(
        np.zeros((len(sex), 1)), audit["y"], sensitive={"sex": sex, "region": region}
    )
    model = Predictions(y_pred=audit["y_pred"])
    with pytest.raises(GateError, match=r"sensitive column 'sex' has 80 missing.*missing='group'"):
        checks.fairness(model, data, max_disparity=0.5)
    verdict = checks.fairness(model, data, max_disparity=0.5, missing="group", sensitive="sex")
    filled = np.where(sex == None, MISSING, sex)  # noqa: E711
    assert verdict.value == pytest.approx(
        fm.demographic_parity_difference(audit["y"], audit["y_pred"], sensitive_features=filled),
        abs=1e-12,
    )
    assert verdict.evidence["by_sensitive"]["sex"]["groups"][MISSING]["n"] == 80
    with pytest.raises(GateError, match="'region' has 100 missing"):
        checks.fairness(model, data, max_disparity=0.5, sensitive="region")


def test_a_non_binary_target_for_a_binary_metric_is_an_error():
    data = Dataset.from_arrays(np.zeros((90, 1)), np.arange(90) % 3, sensitive={"g": [0, 1] * 45})
    with pytest.raises(GateError, match=r"binary classification.*3 labels.*accuracy_difference"):
        checks.fairness(
            Predictions(y_pred=np.arange(90) % 3),
            data,
            metric="equalized_odds_difference",
            max_disparity=0.1,
        )


def test_string_labels_need_pos_label(audit):
    y = np.where(audit["y"] == 1, "yes", "no")
    data = Dataset.from_arrays(np.zeros((len(y), 1)), y, sensitive={"sex": audit["sex"]})
    with pytest.raises(GateError, match=r"\['no', 'yes'\].*pos_label="):
        checks.fairness(Predictions(y_pred=y), data, max_disparity=0.1)
    with pytest.raises(GateError, match="pos_label='maybe' is not among"):
        checks.fairness(Predictions(y_pred=y), data, max_disparity=0.1, pos_label="maybe")


@pytest.mark.parametrize(
    ("metric", "spec", "message"),
    [
        (
            "demographic_parity_difference",
            {"min_ratio": 0.8},
            "min_ratio= does not apply .*use max_disparity=",
        ),
        (
            "demographic_parity_ratio",
            {"max_disparity": 0.1},
            "max_disparity= does not apply.*use min_ratio=",
        ),
        ("accuracy_group_min", {"max_disparity": 0.1}, "use min="),
        ("demographic_parity_difference", {}, "needs a threshold: give max_disparity="),
        ("demographic_parity_ratio", {}, "give min_ratio="),
        ("demographic_parity_difference", {"max_disparity": 1.5}, "lies in \\[0, 1\\]"),
        ("demographic_parity_ratio", {"min_ratio": 0}, "min_ratio=0.0 cannot fail"),
        (
            "disparate_impact",
            {"max_disparity": 0.1},
            "unknown fairness metric .*accuracy_group_min",
        ),
        (
            "demographic_parity_difference",
            {"max_disparity": 0.1, "method": "pairwise"},
            "to_overall",
        ),
        ("demographic_parity_difference", {"max_disparity": 0.1, "confidence": 0.5}, "confidence="),
        ("demographic_parity_difference", {"max_disparity": 0.1, "small_groups": "drop"}, "ignore"),
        ("demographic_parity_difference", {"max_disparity": 0.1, "min_group_size": 0}, "positive"),
        ("demographic_parity_difference", {"max_disparity": 0.1, "missing": "skip"}, "'group'"),
        ("demographic_parity_difference", {"max_disparity": 0.1, "examples": 5}, "only to metric"),
        ("counterfactual_flip_rate", {"min_ratio": 0.9}, "use max_disparity="),
        ("counterfactual_flip_rate", {"max_disparity": 0.1}, "flips one sensitive column"),
    ],
)
def test_bad_arguments_name_what_to_change(audit, metric, spec, message):
    data = dataset_of(audit)
    with pytest.raises(GateError, match=message):
        checks.fairness(Predictions(y_pred=audit["y_pred"]), data, metric=metric, **spec)


def test_a_small_group_is_an_error_unless_ignored(audit):
    region = audit["region"].copy()
    region[:12] = 9  # a group of 12 rows
    data = Dataset.from_arrays(np.zeros((len(region), 1)), audit["y"], sensitive={"region": region})
    model = Predictions(y_pred=audit["y_pred"])
    with pytest.raises(GateError, match=r"group '9' has 12 rows, fewer than min_group_size=30"):
        checks.fairness(model, data, max_disparity=0.5)
    verdict = checks.fairness(model, data, max_disparity=0.5, small_groups="ignore")
    keep = region != 9
    assert verdict.value == pytest.approx(
        fm.demographic_parity_difference(
            audit["y"][keep], audit["y_pred"][keep], sensitive_features=region[keep]
        ),
        abs=1e-12,
    )
    assert verdict.evidence["ignored_groups"] == {"region": {"9": 12}}
    assert "ignored" in verdict.message and "9 (n=12)" in verdict.message
    assert checks.fairness(model, data, max_disparity=0.5, min_group_size=10).status == "pass"


def test_no_sensitive_columns_is_an_error(audit):
    data = Dataset.from_arrays(np.zeros((100, 1)), audit["y"][:100])
    with pytest.raises(GateError, match="has no sensitive columns"):
        checks.fairness(Predictions(y_pred=audit["y_pred"][:100]), data, max_disparity=0.1)
