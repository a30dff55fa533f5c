"""Prediction-log benchmarks: gates computed in DuckDB (and Spark) over Parquet logs.

Run: ``python benchmarks/bench_logs.py`` (writes a 100M-row log of about 0.6 GB to a
temporary directory first; ``--rows`` for another size, ``--no-spark`` to skip Spark).

1. 100,000,000 rows: ``checks.fairness`` (equalized odds by sex x race, 95% interval from
   10,000 count-bootstrap resamples) on ``PredictionLog.from_parquet`` against DuckDB's
   own ``GROUP BY`` of the same columns (target: at most 2x), each in a fresh process
   whose peak RSS is recorded (target for the gate: under 1 GiB). Medians of 3 rounds,
   alternating.
2. 1,000,000 rows: the same gate on the log against ``pandas.read_parquet`` + an
   in-memory ``Dataset``/``Predictions`` gate (target: the log at least 5x faster).
   Medians of 5 rounds, alternating, in this process.
3. Spark (informational): a ``local[2]`` session's start-up, and the same gate on the
   1M-row log read with ``spark.read.parquet``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GATE = dict(
    metric="equalized_odds_difference",
    max_disparity=0.1,
    sensitive=["sex", "race"],
    intersectional=True,
    confidence=0.95,
)
COLUMNS = dict(y_true="y", y_score="score", sensitive=["sex", "race"])


def write_log(path: Path, rows: int) -> None:
    """Synthetic decisions written by DuckDB itself (seeded), in 8 files."""
    import duckdb

    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    path.mkdir(parents=True, exist_ok=True)
    per_file = -(-rows // 8)
    for part in range(8):
        n = min(per_file, rows - part * per_file)
        con.execute(
            f"""COPY (
              SELECT CASE WHEN r1 < 0.5 THEN 'female' ELSE 'male' END AS sex,
                     CASE WHEN r2 < 0.6 THEN 'a' WHEN r2 < 0.85 THEN 'b' ELSE 'c' END AS race,
                     y,
                     round(least(greatest(0.3 * y + 0.7 * r3
                            - CASE WHEN r1 < 0.5 THEN 0.03 ELSE 0 END, 0), 1), 3) AS score
              FROM (SELECT random() AS r1, random() AS r2, random() AS r3,
                           CAST(random() < 0.4 AS TINYINT) AS y FROM range({n}))
            ) TO '{path}/part-{part}.parquet' (FORMAT parquet)"""
        )


def measure_in_child(kind: str, path: Path) -> dict[str, float]:
    """Wall time, CPU time and peak RSS of one measurement in a fresh interpreter."""
    code = f"""
import json, resource, time, os
import duckdb
path = {str(path)!r}
if {kind!r} == "gate":  # imports are the interpreter's cost, not the gate's
    import numpy, scipy.stats
    from pytest_modelguard import PredictionLog, checks
    import pytest_modelguard.checks.fairness
started, cpu = time.perf_counter(), os.times()
if {kind!r} == "groupby":
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(
        "SELECT sex, race, y, CASE WHEN score >= 0.5 THEN 1 ELSE 0 END AS pred, COUNT(*) "
        f"FROM read_parquet('{{path}}/*.parquet') GROUP BY ALL"
    ).fetchall()
else:
    log = PredictionLog.from_parquet(path, **{COLUMNS!r})
    verdict = checks.fairness(None, log, seed=1, **{GATE!r})
    assert verdict.ci is not None
after = os.times()
print(json.dumps({{
    "wall": time.perf_counter() - started,
    "cpu": (after.user + after.system) - (cpu.user + cpu.system),
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def large(path: Path, rounds: int = 3) -> None:
    groupby, gate = [], []
    for i in range(rounds):
        order = [("groupby", groupby), ("gate", gate)]
        for kind, into in order if i % 2 == 0 else order[::-1]:
            into.append(measure_in_child(kind, path))
    for name, runs in (("DuckDB GROUP BY", groupby), ("fairness gate (95% CI)", gate)):
        print(
            f"  {name:24s} wall {statistics.median(r['wall'] for r in runs):7.2f} s   "
            f"cpu {statistics.median(r['cpu'] for r in runs):7.2f} s   "
            f"peak RSS {max(r['rss_mib'] for r in runs):7.1f} MiB"
        )
    ratio = statistics.median(g["wall"] for g in gate) / statistics.median(
        b["wall"] for b in groupby
    )
    rss = max(r["rss_mib"] for r in gate)
    print(f"  ratio gate / GROUP BY (wall): {ratio:.2f}  (target <= 2)")
    print(f"  gate peak RSS: {rss:.0f} MiB  (target < 1024)")
    return ratio <= 2.0 and rss < 1024


def small(path: Path, rounds: int = 5) -> bool:
    import pandas as pd

    from pytest_modelguard import Dataset, PredictionLog, Predictions, checks

    def on_log() -> float:
        return checks.fairness(None, PredictionLog.from_parquet(path, **COLUMNS), seed=1, **GATE)

    def in_memory() -> float:
        frame = pd.read_parquet(path)
        dataset = Dataset.from_pandas(
            frame, target="y", sensitive=["sex", "race"], features=["score"]
        )
        return checks.fairness(Predictions(y_score=frame.score.to_numpy()), dataset, seed=1, **GATE)

    times: dict[str, list[float]] = {"log": [], "pandas": []}
    values = {}
    for i in range(rounds):
        order = [("log", on_log), ("pandas", in_memory)]
        for name, run in order if i % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            values[name] = run()
            times[name].append(time.perf_counter() - started)
    assert abs(values["log"].value - values["pandas"].value) < 1e-9
    log, pandas = statistics.median(times["log"]), statistics.median(times["pandas"])
    print(f"  DuckDB log gate         {log * 1e3:8.1f} ms")
    print(f"  pandas load + in-memory {pandas * 1e3:8.1f} ms")
    print(f"  speed-up: {pandas / log:.1f}x  (target >= 5)")
    return pandas / log >= 5


def spark(path: Path) -> None:
    from pytest_modelguard import PredictionLog, checks
    from pytest_modelguard.logs.spark import local_session

    started = time.perf_counter()
    session = local_session("local[2]")
    print(f"  local[2] session start   {time.perf_counter() - started:8.1f} s")
    for label in ("first gate (cold JVM)", "second gate"):
        started = time.perf_counter()
        log = PredictionLog.from_spark(session.read.parquet(str(path)), **COLUMNS)
        checks.fairness(None, log, seed=1, **GATE)
        print(f"  {label:24s} {time.perf_counter() - started:8.1f} s")
    session.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--dir", help="keep the generated logs here (reused when present)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        big, one_million = root / f"rows-{args.rows}", root / "rows-1000000"
        started = time.perf_counter()
        for path, rows in ((big, args.rows), (one_million, 1_000_000)):
            if not list(path.glob("*.parquet")):  # --dir keeps the logs between runs
                write_log(path, rows)
        print(f"wrote {args.rows:,} + 1,000,000 rows in {time.perf_counter() - started:.1f} s")
        print(f"1. {args.rows:,} rows")
        ok &= large(big)
        print("2. 1,000,000 rows")
        ok &= small(one_million)
        if not args.no_spark:
            print("3. Spark, 1,000,000 rows (informational)")
            spark(one_million)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
