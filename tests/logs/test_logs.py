"""PredictionLog on DuckDB: the same verdicts as in memory, windows, drift, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import chi2_contingency, false_discovery_control
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from pytest_modelguard import Dataset, GateError, PredictionLog, Predictions, checks
from pytest_modelguard.checks.drift import adjust, chi_square, js_distance, psi

pytest.importorskip("duckdb")


def credit_frame(n: int = 6000, seed: int = 11) -> pd.DataFrame:
    """A year of decisions; in the third quarter the model turns against one group."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    sex = rng.choice(["f", "m"], n)
    race = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    q3 = (ts.month >= 7) & (ts.month <= 9)
    score = np.where(q3 & (sex == "f"), score * 0.55, score)
    return pd.DataFrame(
        {
            "ts": ts,
            "sex": sex,
            "race": race,
            "income": rng.normal(50, 12, n) + np.where(ts.month >= 10, 9.0, 0.0),
            "region": rng.choice(["north", "south", "east"], n),
            "y": y,
            "score": np.round(score, 3),  # ties, as logged scores have
            "decision": (score >= 0.5).astype(int),
            "w": rng.random(n) + 0.5,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return credit_frame()


@pytest.fixture(scope="module")
def parquet(frame, tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("log")
    for month, part in frame.groupby(frame.ts.dt.month):  # partitioned, as a real log is
        folder = directory / f"month={month:02d}"
        folder.mkdir()
        part.drop(columns=[]).to_parquet(folder / "part.parquet")
    return str(directory)


def scored_log(parquet: str, **extra) -> PredictionLog:
    return PredictionLog.from_parquet(
        parquet,
        y_true="y",
        y_score="score",
        sensitive=["sex", "race"],
        time="ts",
        weight="w",
        features=["income", "region"],
        **extra,
    )


def memory(frame: pd.DataFrame) -> tuple[Predictions, Dataset]:
    dataset = Dataset.from_pandas(
        frame, target="y", sensitive=["sex", "race"], features=["income"], sample_weight="w"
    )
    return Predictions(y_score=frame.score.to_numpy()), dataset


def assert_close(got, expected, path="") -> None:
    """Nested evidence equal: text and counts exactly, floats to 1e-9."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), path
        for key in expected:
            assert_close(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-9), path
    else:
        assert got == expected, path


# -- equal to the in-memory path -------------------------------------------------------------


@pytest.mark.parametrize(
    "metric", ["accuracy", "f1", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ece"]
)
def test_performance_equals_the_in_memory_gate(frame, parquet, metric):
    stored, dataset = memory(frame)
    log = scored_log(parquet)
    for confidence in (None, 0.95):
        spec = dict(metric=metric, min=0.01, confidence=confidence, n_resamples=600, seed=5)
        expected = checks.performance(stored, dataset, **spec)
        got = checks.performance(None, log, **spec)
        assert got.value == pytest.approx(expected.value, abs=1e-9)
        assert got.n == expected.n == len(frame)
        if confidence is not None and metric not in ("log_loss", "brier", "ece"):
            # the same cells, the same draws; AUC: DeLong from the (score, label) cells'
            # counts equals DeLong over the rows
            assert got.ci == pytest.approx(expected.ci, abs=1e-9)
        elif confidence is not None:
            # (score, label) cells instead of rows: the same bootstrap in distribution
            assert got.ci[0] < got.value < got.ci[1]
            assert got.ci == pytest.approx(expected.ci, abs=0.01)


def test_exact_auc_and_log_loss_equal_sklearn_with_ties(frame, parquet):
    log = scored_log(parquet)
    auc = checks.performance(None, log, metric="roc_auc", min=0.5)
    assert frame.score.nunique() < len(frame) / 2  # plenty of ties
    assert auc.value == pytest.approx(roc_auc_score(frame.y, frame.score), abs=1e-12)
    assert auc.evidence["computed_in"].startswith("engine")
    loss = checks.performance(None, log, metric="log_loss", max=1.0)
    assert loss.value == pytest.approx(log_loss(frame.y, frame.score), abs=1e-9)
    brier = checks.performance(None, log, metric="brier", max=0.5)
    assert brier.value == pytest.approx(brier_score_loss(frame.y, frame.score), abs=1e-9)
    assert brier.evidence["computed_in"].startswith("engine")
    with pytest.raises(GateError, match=r"max=1.0 cannot fail: binary brier never exceeds 1"):
        checks.performance(None, log, metric="brier", max=1.0)  # a log's scores are binary


def test_fairness_equals_the_in_memory_gate_weighted_and_intersectional(frame, parquet):
    stored, dataset = memory(frame)
    log = scored_log(parquet)
    for metric, intersectional in [
        ("demographic_parity_difference", False),
        ("equalized_odds_difference", True),
        ("equal_opportunity_ratio", False),
    ]:
        threshold = {"min_ratio": 0.5} if metric.endswith("ratio") else {"max_disparity": 0.5}
        spec = dict(
            metric=metric, intersectional=intersectional, confidence=0.95, seed=9, **threshold
        )
        expected = checks.fairness(stored, dataset, **spec)
        got = checks.fairness(None, log, **spec)
        assert got.value == pytest.approx(expected.value, abs=1e-9)
        assert got.ci == pytest.approx(expected.ci, abs=1e-9)
        assert_close(got.evidence["by_sensitive"], expected.evidence["by_sensitive"])
        assert got.evidence["weighted"] is True


def test_one_query_per_grouping_serves_every_gate(parquet):
    log = scored_log(parquet)
    checks.fairness(None, log, metric="demographic_parity_difference", max_disparity=0.5)
    checks.fairness(
        None, log, metric="equalized_odds_difference", max_disparity=0.5, sensitive="sex"
    )
    cell_queries = [key for key in log._cache if key[0] == "cells"]
    assert len(cell_queries) == 1


def test_logged_decisions_gate_labels(frame, parquet):
    log = PredictionLog.from_parquet(parquet, y_true="y", y_pred="decision", sensitive="sex")
    expected = checks.performance(
        Predictions(y_pred=frame.decision.to_numpy()),
        Dataset.from_pandas(frame, target="y", features=["income"]),
        metric="precision",
        min=0.1,
    )
    assert checks.performance(None, log, metric="precision", min=0.1).value == pytest.approx(
        expected.value, abs=1e-12
    )
    with pytest.raises(GateError, match="needs scores"):
        checks.performance(None, log, metric="roc_auc", min=0.5)


# -- windows -----------------------------------------------------------------------------------


def test_the_worst_month_decides_and_every_month_is_kept(frame, parquet):
    spec = dict(metric="demographic_parity_difference", max_disparity=0.2, sensitive="sex")
    whole = checks.fairness(None, scored_log(parquet), **spec)
    assert whole.status == "pass"  # a year hides the regression...
    monthly = checks.fairness(None, scored_log(parquet, window="1mo"), **spec)
    assert monthly.status == "fail"  # ...one quarter's months do not
    windows = monthly.evidence["windows"]
    assert [w["window"] for w in windows] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert monthly.evidence["worst_window"] in {"2025-07", "2025-08", "2025-09"}
    assert "worst of 12 windows" in monthly.message
    # n is the deciding month's rows, the whole log's kept beside it
    worst_month = int(monthly.evidence["worst_window"][-2:])
    assert monthly.n == (frame.ts.dt.month == worst_month).sum()
    label = monthly.evidence["worst_window"]
    assert f"{label} (n {monthly.n} of {len(frame)} in all windows)" in monthly.message
    assert monthly.evidence["n_total"] == len(frame) == sum(w["n"] for w in windows)
    july = frame[frame.ts.dt.month == 7]
    expected = checks.fairness(
        Predictions(y_score=july.score.to_numpy()),
        Dataset.from_pandas(
            july, target="y", sensitive=["sex"], features=["income"], sample_weight="w"
        ),
        **spec,
    )
    assert windows[6]["value"] == pytest.approx(expected.value, abs=1e-9)


def test_weekly_windows_start_on_mondays_and_batches_by_column(parquet):
    log = scored_log(parquet, window="7d")
    labels = [label for label, _, _ in log.window_rows()]
    assert labels[0] == "2024-12-30" and all(pd.Timestamp(x).day_of_week == 0 for x in labels)
    batches = scored_log(parquet, window="region")
    assert [label for label, _, _ in batches.window_rows()] == ["east", "north", "south"]


def test_small_windows_are_reported_never_silent(parquet):
    log = scored_log(parquet, window="1d")
    spec = dict(metric="demographic_parity_difference", max_disparity=0.9, sensitive="sex")
    with pytest.raises(GateError, match="fewer rows than min_group_size=30"):
        checks.fairness(None, log, **spec)
    # performance takes no small_groups=: its error offers only what it takes
    with pytest.raises(GateError, match="fewer rows than min_group_size") as thin:
        checks.performance(None, log, metric="accuracy", min=0.1)
    assert "coarser window=" in str(thin.value) and "since=/until=" in str(thin.value)
    assert "small_groups" not in str(thin.value)
    with pytest.raises(GateError, match="fewer rows"):  # not honoured behind its back
        checks.performance(None, log, metric="accuracy", min=0.1, small_groups="ignore")
    with pytest.raises(GateError, match="small_groups='ignore'"):
        checks.fairness(None, log, **spec)
    partial = scored_log(parquet, window="1mo", until="2025-06-04")  # June: three days
    with pytest.raises(GateError, match=r"1 window.*2025-06 has"):
        checks.fairness(None, partial, min_group_size=100, **spec)
    kept = checks.fairness(None, partial, small_groups="ignore", min_group_size=100, **spec)
    assert list(kept.evidence["small_windows"]) == ["2025-06"]  # left out, and listed
    assert len(kept.evidence["windows"]) == 5


def test_rows_outside_every_window_are_an_error(tmp_path, frame):
    frame.assign(ts=frame.ts.where(frame.index != 3)).to_parquet(tmp_path / "t.parquet")
    log = PredictionLog.from_parquet(
        tmp_path / "t.parquet",
        y_true="y",
        y_score="score",
        sensitive="sex",
        time="ts",
        window="1mo",
    )
    with pytest.raises(GateError, match=r"1 rows .* have no 'ts' value"):
        checks.fairness(None, log, max_disparity=0.5)


def test_since_until_restrict_the_log(frame, parquet):
    log = scored_log(parquet, since="2025-03-01", until="2025-04-01")
    march = frame[frame.ts.dt.month == 3]
    verdict = checks.performance(None, log, metric="accuracy", min=0.1)
    assert verdict.n == len(march)
    with pytest.raises(GateError, match="empty time range"):
        checks.performance(
            None, scored_log(parquet, since="2030-01-01"), metric="accuracy", min=0.1
        )
    with pytest.raises(GateError, match="not before"):
        scored_log(parquet, since="2025-05-01", until="2025-04-01")


# -- bad input ---------------------------------------------------------------------------------


def test_missing_column_is_named_with_the_columns(parquet):
    with pytest.raises(
        GateError, match=r"sensitive column\(s\) 'gender' not in .*its columns are: ts, sex"
    ):
        PredictionLog.from_parquet(parquet, y_true="y", y_score="score", sensitive=["gender"])


def test_scores_outside_0_1_are_an_error(tmp_path, frame):
    bad = frame.assign(score=frame.score * 4 - 2)  # logits, not probabilities
    bad.to_parquet(tmp_path / "logits.parquet")
    log = PredictionLog.from_parquet(
        tmp_path / "logits.parquet", y_true="y", y_score="score", sensitive="sex"
    )
    with pytest.raises(GateError, match=r"outside \[0, 1\]"):
        checks.performance(None, log, metric="roc_auc", min=0.5)
    with pytest.raises(GateError, match=r"outside \[0, 1\]"):
        checks.fairness(None, log, max_disparity=0.5)


def test_labels_besides_0_1_and_missing_scores_are_an_error(tmp_path, frame):
    frame.assign(y=frame.y.where(frame.index != 5, 2)).to_parquet(tmp_path / "three.parquet")
    log = PredictionLog.from_parquet(
        tmp_path / "three.parquet", y_true="y", y_score="score", sensitive="sex"
    )
    with pytest.raises(GateError, match="1 values besides 0 and 1"):
        checks.fairness(None, log, max_disparity=0.5)
    frame.assign(score=frame.score.where(frame.index != 7)).to_parquet(tmp_path / "gap.parquet")
    log = PredictionLog.from_parquet(
        tmp_path / "gap.parquet", y_true="y", y_score="score", sensitive="sex"
    )
    with pytest.raises(GateError, match="'score' has 1 missing"):  # never a silent 'deny'
        checks.fairness(None, log, max_disparity=0.5)


def test_mixed_label_types_are_an_error(tmp_path, frame):
    frame.assign(decision=frame.decision.map({0: "deny", 1: "approve"})).to_parquet(
        tmp_path / "m.parquet"
    )
    with pytest.raises(GateError, match="mix types"):
        PredictionLog.from_parquet(tmp_path / "m.parquet", y_true="y", y_pred="decision")
    frame.assign(y=frame.y.map({0: "no", 1: "yes"})).to_parquet(tmp_path / "s.parquet")
    with pytest.raises(GateError, match="need 0/1 labels"):
        PredictionLog.from_parquet(tmp_path / "s.parquet", y_true="y", y_score="score")


def test_corrupt_parquet_is_named(tmp_path, frame):
    frame.to_parquet(tmp_path / "good.parquet")
    (tmp_path / "bad.parquet").write_bytes((tmp_path / "good.parquet").read_bytes()[:-100])
    with pytest.raises(GateError, match=r"bad\.parquet' is not a valid Parquet file"):
        PredictionLog.from_parquet(tmp_path, y_true="y", y_score="score")
    with pytest.raises(GateError, match="no Parquet files"):
        PredictionLog.from_parquet(tmp_path / "nothing-*.parquet", y_true="y", y_score="score")


def test_other_gates_refuse_a_log(parquet):
    with pytest.raises(GateError, match="PredictionLog"):
        checks.robust(None, scored_log(parquet), eps=0.1)


# -- drift -------------------------------------------------------------------------------------


def test_drift_statistics_equal_scipy():
    rng = np.random.default_rng(3)
    for _ in range(5):
        r = rng.integers(1, 400, 8).astype(float)
        c = rng.integers(1, 400, 8).astype(float)
        p, q = r / r.sum(), c / c.sum()
        assert psi(r, c) == pytest.approx(float(np.sum(rel_entr(q, p) + rel_entr(p, q))), abs=1e-12)
        assert js_distance(r, c) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
        stat, pvalue, *_ = chi2_contingency(np.stack([r, c]), correction=False)
        assert chi_square(r, c) == pytest.approx((stat, pvalue), rel=1e-9)
    ps = rng.random(7) ** 3
    assert adjust(list(ps), "bh") == pytest.approx(false_discovery_control(ps, method="bh"))
    order = np.argsort(ps)
    holm = np.maximum.accumulate([min(1.0, (7 - i) * ps[j]) for i, j in enumerate(order)])
    assert adjust(list(ps), "holm")[order] == pytest.approx(holm)


def test_drift_names_the_drifted_features(frame, parquet):
    reference = scored_log(parquet, until="2025-07-01")
    current = scored_log(parquet, since="2025-10-01")
    verdict = checks.drift(None, current, reference=reference, max_psi=0.2)
    assert verdict.status == "fail"
    assert verdict.evidence["drifted"] == ["income"]
    assert "drifted   income" in verdict.message
    feature = verdict.evidence["features"]["income"]
    assert sum(feature["reference"]) == (frame.ts < "2025-07-01").sum()
    # an in-memory reference gives the same bins and the same numbers
    first_half = frame[frame.ts < "2025-07-01"]
    dataset = Dataset.from_pandas(first_half, target="y", features=["income", "region"])
    same = checks.drift(None, current, reference=dataset, max_psi=0.2)
    assert same.evidence["features"]["income"]["psi"] == pytest.approx(feature["psi"], abs=1e-12)
    tested = checks.drift(None, current, reference=reference, alpha=0.01, correction="bh")
    assert tested.evidence["drifted"] == ["income"]


def test_no_drift_passes_and_thresholds_that_cannot_fail_are_refused(parquet):
    reference = scored_log(parquet, until="2025-04-01")
    current = scored_log(parquet, since="2025-04-01", until="2025-07-01")
    verdict = checks.drift(None, current, reference=reference, alpha=0.01)
    assert verdict.status == "pass", verdict.message
    assert set(verdict.evidence["features"]) == {"income", "region", "<score>"}
    with pytest.raises(GateError, match="positive bound"):
        checks.drift(None, current, reference=reference, max_psi=0)
    with pytest.raises(GateError, match="needs reference="):
        checks.drift(None, current, reference=None, max_psi=0.2)


def test_from_duckdb_table_and_query_equal_parquet(parquet, tmp_path):
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"CREATE TABLE decisions AS SELECT * FROM read_parquet('{parquet}/*/*.parquet')"
        )
    roles = dict(y_true="y", y_score="score", sensitive=["sex", "race"], weight="w")
    table = PredictionLog.from_duckdb(str(path), "decisions", **roles)
    query = PredictionLog.from_duckdb(
        duckdb.connect(str(path), read_only=True),
        "SELECT * FROM decisions WHERE race <> 'c'",
        **roles,
    )
    spec = dict(metric="equalized_odds_difference", max_disparity=0.5, confidence=0.95, seed=2)
    expected = checks.fairness(None, scored_log(parquet), **spec)
    assert checks.fairness(None, table, **spec).ci == pytest.approx(expected.ci, abs=1e-12)
    without_c = checks.fairness(None, query, **spec)
    assert set(without_c.evidence["by_sensitive"]["race"]["groups"]) == {"a", "b"}
    with pytest.raises(GateError, match="does not exist"):
        PredictionLog.from_duckdb(str(tmp_path / "nothing.duckdb"), "decisions", **roles)


# -- drift on point masses: a binary flag, a constant, a constant score ----------------------


def point_mass_logs(tmp_path) -> tuple[PredictionLog, PredictionLog]:
    """Reference: flag=1 in 5% of rows, c=0, score 0.5; current: flag=1 in 60%, c=5, 0.7."""
    n = 1000
    reference = pd.DataFrame(
        {"flag": (np.arange(n) < 50).astype(int), "c": 0.0, "y": np.arange(n) % 2, "score": 0.5}
    )
    current = pd.DataFrame(
        {"flag": (np.arange(n) < 600).astype(int), "c": 5.0, "y": np.arange(n) % 2, "score": 0.7}
    )
    logs = []
    for name, part in (("reference", reference), ("current", current)):
        path = tmp_path / f"{name}.parquet"
        part.to_parquet(path)
        logs.append(
            PredictionLog.from_parquet(path, y_true="y", y_score="score", features=["flag", "c"])
        )
    return logs[0], logs[1]


def test_drift_of_a_binary_feature_is_seen(tmp_path):
    reference, current = point_mass_logs(tmp_path)
    verdict = checks.drift(None, current, reference=reference, max_psi=0.2, features=["flag"])
    flag = verdict.evidence["features"]["flag"]
    assert verdict.status == "fail" and "flag" in verdict.evidence["drifted"]
    # 0 and 1 are bins of their own: the histograms are the true ones
    occupied = [(r, c) for r, c in zip(flag["reference"], flag["current"], strict=True) if r or c]
    assert occupied == [(950, 400), (50, 600)]
    r, c = np.array([950.0, 50.0]), np.array([400.0, 600.0])
    p, q = r / r.sum(), c / c.sum()
    assert flag["psi"] == pytest.approx(float(np.sum(rel_entr(q, p) + rel_entr(p, q))), abs=1e-12)
    assert flag["psi"] > 1.5  # the reviewer's ≈1.8, not 0
    assert flag["js_distance"] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    stat, pvalue, *_ = chi2_contingency(np.stack([r, c]), correction=False)
    assert (flag["chi2"], flag["p_value"]) == pytest.approx((stat, pvalue), rel=1e-9)
    # an in-memory reference bins the same way
    frame = pd.DataFrame({"flag": (np.arange(1000) < 50).astype(int), "y": 0})
    dataset = Dataset.from_pandas(frame, target="y", features=["flag"])
    same = checks.drift(None, current, reference=dataset, max_psi=0.2, features=["flag"])
    assert same.evidence["features"]["flag"]["psi"] == pytest.approx(flag["psi"], abs=1e-12)


def test_drift_of_a_constant_feature_and_a_constant_score_is_seen(tmp_path):
    reference, current = point_mass_logs(tmp_path)
    verdict = checks.drift(None, current, reference=reference, max_js=0.5, features=["c"])
    assert set(verdict.evidence["drifted"]) == {"c", "<score>"}
    for column in ("c", "<score>"):
        feature = verdict.evidence["features"][column]
        assert "= 0" in feature["bins"] or "= 0.5" in feature["bins"]
        pairs = zip(feature["reference"], feature["current"], strict=True)
        occupied = [(r, c) for r, c in pairs if r or c]
        assert occupied == [(1000, 0), (0, 1000)]
        assert feature["js_distance"] == pytest.approx(jensenshannon([1, 0], [0, 1], base=2))
        stat, pvalue, *_ = chi2_contingency([[1000, 0], [0, 1000]], correction=False)
        assert (feature["chi2"], feature["p_value"]) == pytest.approx((stat, pvalue), rel=1e-9)
        assert feature["p_value"] < 1e-100
    tested = checks.drift(None, current, reference=reference, alpha=0.01, features=["c"])
    assert tested.status == "fail"
    # the same log against itself: no drift
    same = checks.drift(None, reference, reference=reference, max_psi=0.2)
    assert same.status == "pass" and same.value == 0.0


# -- time zones: windows and since=/until= are UTC, whatever the machine's zone ---------------

TOKYO_SCRIPT = """
import os, time, sys
os.environ["TZ"] = "Asia/Tokyo"
time.tzset()
import duckdb, numpy as np, pandas as pd
from pytest_modelguard import GateError, PredictionLog, checks

path = sys.argv[1]
n = 480  # 2025-01-31 16:00 to 23:59 UTC: still January in UTC, February in Tokyo
ts = pd.Timestamp("2025-01-31 16:00", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
pd.DataFrame({"ts": ts, "y": np.arange(n) % 2, "decision": np.arange(n) % 2}).to_parquet(path)
roles = dict(y_true="y", y_pred="decision", time="ts")
log = PredictionLog.from_parquet(path, window="1mo", **roles)
verdict = checks.performance(None, log, metric="accuracy", min=0.5)
print("window", verdict.evidence["worst_window"], verdict.n)
january = PredictionLog.from_parquet(path, until="2025-02-01", **roles)
print("until", checks.performance(None, january, metric="accuracy", min=0.5).n)
try:
    PredictionLog.from_parquet(path, since="2025-02-01", **roles).profile()
except GateError as exc:
    print("since", "no rows" in str(exc))
# a user's own connection: UTC for the gate's queries, its own zone back afterwards
con = duckdb.connect()
con.execute(f"CREATE TEMP TABLE decisions AS SELECT * FROM read_parquet('{path}')")
mine = PredictionLog.from_duckdb(con, "decisions", window="1mo", **roles)
print("user", checks.performance(None, mine, metric="accuracy", min=0.5).evidence["worst_window"])
print("zone", con.execute("SELECT current_setting('TimeZone')").fetchone()[0])
"""


def test_windows_and_time_ranges_are_utc_on_a_machine_in_tokyo(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", TOKYO_SCRIPT, str(tmp_path / "late-january.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [
        "window 2025-01 480",
        "until 480",
        "since True",
        "user 2025-01",
        "zone Asia/Tokyo",
    ]


# -- a y_score column that holds labels ------------------------------------------------------


def test_a_score_column_of_labels_is_an_error_for_score_metrics(frame, tmp_path):
    path = tmp_path / "labels-as-scores.parquet"
    frame.assign(score=frame.decision.astype(float)).to_parquet(path)

    def log() -> PredictionLog:
        return PredictionLog.from_parquet(path, y_true="y", y_score="score", sensitive="sex")

    for metric, bound in (("roc_auc", dict(min=0.6)), ("ece", dict(max=0.1))):
        with pytest.raises(GateError, match=r"y_score column 'score' holds labels.*y_pred="):
            checks.performance(None, log(), metric=metric, **bound)
    # found by the confusion query too (no scan of its own), then refused for log loss
    labels = log()
    accuracy = checks.performance(None, labels, metric="accuracy", min=0.4)
    assert accuracy.value == pytest.approx(float((frame.decision == frame.y).mean()), abs=1e-12)
    with pytest.raises(GateError, match="holds labels"):
        checks.performance(None, labels, metric="log_loss", max=0.7, confidence=0.95)
    # real scores that happen to include 0 and 1 are scores
    mixed = frame.assign(score=np.where(frame.index < 10, frame.decision, frame.score))
    mixed.to_parquet(path)
    assert checks.performance(None, log(), metric="roc_auc", min=0.5).status == "pass"


# -- drift thresholds that cannot fail ---------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        (dict(max_js=1.0), r"max_js=1.0 cannot fail: the Jensen-Shannon distance"),
        (dict(max_js=1.5), r"max_js=1.5: the Jensen-Shannon distance .* lies in \[0, 1\]"),
        (dict(max_psi=20.0), r"max_psi=20.0: the PSI .* lies in \[0, 18.4188\]"),
        (dict(max_psi=0.0), "positive bound"),
        (dict(max_psi=-0.1), "lies in"),
        (dict(max_psi=float("nan")), "finite number"),
        (dict(alpha=0.0), "alpha=0.0 cannot fail"),
        (dict(alpha=1.0), "could never pass"),
        (dict(alpha=5.0), r"a p-value lies in \[0, 1\]; a percentage\? write alpha=0.05"),
    ],
)
def test_drift_thresholds_outside_the_statistic_range_are_errors(tmp_path, bound, message):
    reference, current = point_mass_logs(tmp_path)
    with pytest.raises(GateError, match=message):
        checks.drift(None, current, reference=reference, **bound)


def test_the_largest_psi_is_reached_by_disjoint_bins():
    from pytest_modelguard.checks.drift import PSI_MAX

    assert psi(np.array([100.0, 0.0]), np.array([0.0, 100.0])) == pytest.approx(PSI_MAX)
    assert psi(np.array([50.0, 50.0, 0.0]), np.array([0.0, 0.0, 100.0])) < PSI_MAX
