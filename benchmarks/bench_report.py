"""Sign-off report benchmark: writing the report for 200 verdicts (target: under 2 s).

Run: ``python benchmarks/bench_report.py`` (~15 s on 2 cores, most of it running the
checks once). The 200 verdicts are copies of real ones, with their real evidence: per
class performance on digits (10 classes), fairness with a bootstrap interval over two
sensitive columns, membership inference (two 101-point ROC curves), PII, attribution
over 64 pixels, an adversarial robustness curve and attack success over 5 eps. The
timed call is ``write_report`` (JSON, HTML with every plot, model card, written to
disk); wall-clock seconds, median and worst of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 2.0
VERDICTS = 200


def real_verdicts() -> list:
    """One real verdict per kind of evidence the report plots."""
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from pytest_modelguard import Dataset, checks
    from pytest_modelguard.plugin.runner import _identify

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    sex, age = rng.choice(["f", "m"], len(x)), rng.choice(["<30", "30-60", ">60"], len(x))
    model = LogisticRegression(max_iter=300).fit(x[:1200], y[:1200])
    train = Dataset.from_arrays(x[:1200], y[:1200], name="digits-train")
    test = Dataset.from_arrays(x[1200:], y[1200:], name="digits-test")
    binary = (y > 4).astype(int)
    binary_model = LogisticRegression(max_iter=300).fit(x[:1200], binary[:1200])
    people = Dataset.from_arrays(
        x[1200:], binary[1200:], sensitive={"sex": sex[1200:], "age": age[1200:]}, name="people"
    )
    notes = Dataset.from_pandas(
        pd.DataFrame({"note": ["call 555-123-4567", "a@b.org", "ok"] * 20, "y": [0, 1, 0] * 20}),
        target="y",
        name="notes",
    )
    runs = [
        (model, test, lambda: checks.performance(model, test, min=0.9, per_class=True)),
        (binary_model, people, lambda: checks.fairness(
            binary_model, people, max_disparity=0.1, confidence=0.95, n_resamples=1000)),
        (model, test, lambda: checks.privacy(model, test, members=train, max_mia_auc=0.6)),
        (None, notes, lambda: checks.privacy(None, notes, pii="forbid")),
        (model, test, lambda: checks.explainability(
            model, test, max_protected_share=0.1, proxies=["x36"], method="permutation",
            samples=60)),
        (model, test, lambda: checks.robust(
            model, test, eps=[0.05, 0.1, 0.2, 0.3, 0.5], attack="noise", samples=100)),
        (model, test, lambda: checks.security(
            model, test, eps=[0.05, 0.1, 0.2, 0.3, 0.5], attack="noise",
            max_attack_success=0.5, samples=100)),
    ]  # fmt: skip
    verdicts = []
    for subject, data, run in runs:
        verdict = run()
        verdict.evidence.setdefault("subjects", _identify(subject, data))
        verdicts.append(verdict)
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from pytest_modelguard.reporting.record import SessionRecord, environment
    from pytest_modelguard.reporting.signoff import write_report

    templates = real_verdicts()
    gates = [
        (f"tests/test_gates.py::test_gate[{i}]", copy.deepcopy(templates[i % len(templates)]))
        for i in range(VERDICTS)
    ]
    record = SessionRecord(seed=1, profile="ci", gates=gates, environment=environment(Path()))
    with tempfile.TemporaryDirectory() as scratch:
        write_report(Path(scratch) / "warm-up", record)
        times = []
        for i in range(args.repeats):
            start = time.perf_counter()
            written = write_report(Path(scratch) / f"run-{i}", record)
            times.append(time.perf_counter() - start)
        sizes = {path.name: path.stat().st_size for path in written}
    median, worst = statistics.median(times), max(times)
    print(f"{VERDICTS} verdicts ({len(templates)} kinds of real evidence), {args.repeats} runs")
    print("files: " + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sizes.items()))
    print(f"write_report: median {median:.3f} s, worst {worst:.3f} s (target < {TARGET_SECONDS} s)")
    ok = worst < TARGET_SECONDS
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
