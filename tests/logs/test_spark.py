"""The same gates on a local Spark session (``local[2]``): verdicts equal DuckDB's.

Spark's start-up is slow, so one session serves the module and the tests are few.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pytest_modelguard import PredictionLog, checks
from tests.logs.test_logs import credit_frame

pytest.importorskip("pyspark")
pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def spark():
    from pytest_modelguard.logs.spark import local_session

    session = local_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory) -> str:
    frame = credit_frame(n=3000, seed=4)
    directory = tmp_path_factory.mktemp("spark-log")
    for month, part in frame.groupby(frame.ts.dt.month):
        (directory / f"month={month:02d}").mkdir()
        part.to_parquet(directory / f"month={month:02d}" / "part.parquet")
    return str(directory)


ROLES = dict(
    y_true="y",
    y_score="score",
    sensitive=["sex", "race"],
    time="ts",
    weight="w",
    features=["income", "region"],
)


def test_spark_verdicts_equal_duckdb(spark, partitioned):
    dataframe = spark.read.parquet(partitioned).cache()
    gates = {
        None: [
            (checks.performance, dict(metric="roc_auc", min=0.75)),
            (checks.performance, dict(metric="ece", max=0.2)),
            (checks.performance, dict(metric="log_loss", max=0.6)),
            (checks.performance, dict(metric="brier", max=0.3)),
            (checks.fairness, dict(metric="equalized_odds_difference", max_disparity=0.2)),
        ],
        "1mo": [
            (checks.performance, dict(metric="f1", min=0.6, confidence=0.95)),
            (
                checks.fairness,
                dict(
                    metric="demographic_parity_difference",
                    max_disparity=0.2,
                    sensitive="sex",
                    confidence=0.95,
                ),
            ),
        ],
    }
    for window, specs in gates.items():
        on_spark = PredictionLog.from_spark(dataframe, window=window, **ROLES)
        on_duckdb = PredictionLog.from_parquet(partitioned, window=window, **ROLES)
        for check, spec in specs:
            a = check(None, on_duckdb, seed=3, **spec)
            b = check(None, on_spark, seed=3, **spec)
            assert b.status == a.status, (window, spec)
            assert b.value == pytest.approx(a.value, abs=1e-9)
            assert (b.ci is None) == (a.ci is None)
            if a.ci is not None:
                assert b.ci == pytest.approx(a.ci, abs=1e-9)
            if window:
                assert b.evidence["worst_window"] == a.evidence["worst_window"]
                assert [w["window"] for w in b.evidence["windows"]] == [
                    w["window"] for w in a.evidence["windows"]
                ]
        if window:  # the regressed quarter is found on Spark as on DuckDB
            assert b.status == "fail" and b.evidence["worst_window"] in {
                "2025-07",
                "2025-08",
                "2025-09",
            }
    on_spark = PredictionLog.from_spark(dataframe, **ROLES)
    on_duckdb = PredictionLog.from_parquet(partitioned, **ROLES)
    spec = dict(max_psi=0.2, features=["income"], scores=False)
    drifted = checks.drift(
        None,
        on_spark.restrict(since="2025-10-01"),
        reference=on_spark.restrict(until="2025-07-01"),
        **spec,
    )
    same = checks.drift(
        None,
        on_duckdb.restrict(since="2025-10-01"),
        reference=on_duckdb.restrict(until="2025-07-01"),
        **spec,
    )
    assert drifted.evidence["drifted"] == same.evidence["drifted"] == ["income"]
    assert drifted.value == pytest.approx(same.value, abs=1e-12)


def test_spark_without_java_is_an_error_saying_how_to_install_it(tmp_path):
    code = (
        "from pytest_modelguard.logs.spark import local_session\n"
        "from pytest_modelguard import GateError\n"
        "try:\n    local_session()\nexcept GateError as e:\n    print('GATE', e)\n"
    )
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "PATH": "/usr/bin/false"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "GATE Spark could not start" in done.stdout, done.stdout + done.stderr
    assert "apt-get install -y default-jre-headless" in done.stdout


def test_spark_windows_and_time_ranges_are_utc_in_a_tokyo_session(spark):
    import datetime as dt

    key = "spark.sql.session.timeZone"
    start = dt.datetime(2025, 1, 31, 16, tzinfo=dt.UTC)  # February already in Tokyo
    rows = [(start + dt.timedelta(minutes=i), i % 2, i % 2) for i in range(480)]
    spark.conf.set(key, "Asia/Tokyo")
    try:
        frame = spark.createDataFrame(rows, "ts timestamp, y int, decision int")
        roles = dict(y_true="y", y_pred="decision", time="ts")
        log = PredictionLog.from_spark(frame, window="1mo", **roles)
        verdict = checks.performance(None, log, metric="accuracy", min=0.5)
        assert verdict.evidence["worst_window"] == "2025-01"
        january = PredictionLog.from_spark(frame, until="2025-02-01", **roles)
        assert checks.performance(None, january, metric="accuracy", min=0.5).n == 480
        assert spark.conf.get(key) == "Asia/Tokyo"  # the session's own zone, restored
    finally:
        spark.conf.set(key, "UTC")
