"""A year of synthetic credit decisions, logged as partitioned Parquet.

    python example_project/production_log.py                 # 5 million rows to logs/
    python example_project/production_log.py --rows 50000000 --out /data/credit-log

Each row is one decision of the deployed credit model: when it was made, the applicant's
features, the sensitive attributes, the model's score, the decision (score >= 0.5) and
whether the loan was repaid (the label, known later). Partitions are ``month=MM/``.

Two things happen during the year, on purpose, so the gates have something to find:

* **Fairness regression, third quarter (July to September).** A faulty feature pipeline
  release scores women 0.12 lower; their approval rate drops while men's does not. It is
  fixed on 1 October.
* **Drift, fourth quarter (October to December).** A marketing campaign brings in
  applicants with about 25% higher incomes and more of them from the east region.

The rest of the year the model treats the groups alike and the population is stable.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

START = np.datetime64("2025-01-01T00:00:00", "s")
SECONDS_PER_YEAR = 365 * 86400
REGIONS = np.array(["north", "south", "east", "west"])
SEX = np.array(["female", "male"])
RACE = np.array(["group_a", "group_b", "group_c"])


def simulate(rows: int, *, seed: int = 2025) -> dict[str, np.ndarray]:
    """The columns of ``rows`` decisions spread uniformly over 2025, sorted by time."""
    rng = np.random.default_rng(seed)
    offset = np.sort(rng.integers(0, SECONDS_PER_YEAR, rows))
    decided_at = START + offset.astype("timedelta64[s]")
    month = (decided_at.astype("datetime64[M]").astype(int) % 12) + 1
    q3, q4 = (month >= 7) & (month <= 9), month >= 10
    sex = SEX[rng.integers(0, 2, rows)]
    race = RACE[rng.choice(3, rows, p=[0.6, 0.25, 0.15])]
    east = np.where(q4, 0.40, 0.20)  # the campaign's region
    u = rng.random(rows)
    region = np.where(
        u < east, "east", REGIONS[[0, 1, 3]][np.minimum((u - east) / (1 - east) * 3, 2).astype(int)]
    )
    income = rng.lognormal(mean=10.8, sigma=0.45, size=rows) * np.where(q4, 1.25, 1.0)
    debt_ratio = rng.beta(2.0, 5.0, rows)
    age = rng.integers(18, 80, rows)
    # creditworthiness: what repayment depends on (income against 2025's usual level)
    latent = 1.1 * (np.log(income) - 10.8) / 0.45 - 2.2 * (debt_ratio - 0.286) / 0.16 + 0.3
    repaid = (latent + rng.logistic(size=rows) * 0.9 > 0).astype(np.int8)
    estimate = latent + rng.normal(scale=0.6, size=rows)  # the model sees most of it
    score = 1.0 / (1.0 + np.exp(-0.9 * estimate))
    score = np.where(q3 & (sex == "female"), score - 0.12, score)  # the faulty release
    score = np.round(np.clip(score, 0.0, 1.0), 4)  # as logged: four decimals
    return {
        "decided_at": decided_at.astype("datetime64[us]"),
        "month": month.astype(np.int8),
        "sex": sex,
        "race": race,
        "region": region,
        "age": age.astype(np.int16),
        "income": np.round(income, 2),
        "debt_ratio": np.round(debt_ratio, 4),
        "score": score,
        "approved": (score >= 0.5).astype(np.int8),
        "repaid": repaid,
    }


#: the columns a PredictionLog reads from the written log
ROLES = dict(
    y_true="repaid",
    y_score="score",
    sensitive=["sex", "race"],
    time="decided_at",
    features=["income", "debt_ratio", "region", "age"],
)


def open_log(directory: Path | str, **restrict: Any) -> Any:
    """The written log as a PredictionLog, restricted by ``window=``/``since=``/``until=``."""
    from pytest_modelguard import PredictionLog

    return PredictionLog.from_parquet(str(directory), **ROLES, **restrict)


def write_log(directory: Path | str, *, rows: int = 5_000_000, seed: int = 2025) -> Path:
    """Write the log as ``month=MM/part-0.parquet`` files under ``directory``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = Path(directory)
    columns = simulate(rows, seed=seed)
    table = pa.table({k: v for k, v in columns.items() if k != "month"})
    months = columns["month"]
    bounds = np.searchsorted(months, np.arange(1, 14))  # rows are sorted by time
    for m in range(1, 13):
        part = directory / f"month={m:02d}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.slice(bounds[m - 1], bounds[m] - bounds[m - 1]), part / "part-0.parquet"
        )
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="decisions (default 5M)")
    parser.add_argument("--out", default="logs", help="output directory (default logs/)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    started = time.perf_counter()
    write_log(args.out, rows=args.rows, seed=args.seed)
    print(f"wrote {args.rows:,} decisions to {args.out}/ in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
