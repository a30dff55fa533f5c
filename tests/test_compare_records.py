"""benchmarks/compare_records.py: what two runs may differ in is ignored, nothing else."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_records.py"


@pytest.fixture(scope="module")
def compare_records():
    spec = importlib.util.spec_from_file_location("compare_records", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_records"] = module
    spec.loader.exec_module(module)
    return module


def record(**changes):
    verdict = {
        "nodeid": "tests/test_m.py::test_auc",
        "requirement": "performance",
        "metric": "roc_auc",
        "value": 0.8391,
        "threshold": 0.8,
        "operator": ">=",
        "status": "pass",
        "n": 8000,
        "evidence": {"model": {"fingerprint": "ab12"}, "seconds": 1.5, "file": "/tmp/x/m.keras"},
        "duration": 2.0,
        "message": "PASS performance: roc_auc 0.8391 in 1.2 s on 2026-01-01",
    }
    latency = {**verdict, "metric": "latency_p95_ms", "value": 1.1, "evidence": {"median_ms": 0.8}}
    data = {
        "schema_version": 1,
        "seed": 1,
        "started": "2026-01-01T00:00:00+00:00",
        "environment": {"python": "3.11", "git": {"commit": "aaa"}},
        "verdicts": [verdict, latency],
    }
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target["verdicts"][0] if part == "v" else target[part]
        target[last] = value
    return data


def test_times_dates_durations_paths_commits_and_latencies_are_ignored(compare_records):
    after = record(
        started="2027-05-05T10:00:00+00:00",
        **{
            "v.duration": 9.0,
            "v.message": "PASS performance: roc_auc 0.8391 in 3.4 s on 2027-05-05",
        },
    )
    after["verdicts"][0]["evidence"] = {
        "model": {"fingerprint": "ab12"},
        "seconds": 7.0,
        "file": "/other/place/m.keras",
    }
    after["environment"]["git"] = {"commit": "bbb"}
    after["verdicts"][1] = {**after["verdicts"][1], "value": 9.9, "evidence": {"median_ms": 5.0}}
    assert compare_records.compare(record(), after, frozenset()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [("v.value", 0.8390), ("v.status", "fail"), ("seed", 2), ("v.n", 7999)],
)
def test_any_other_difference_is_reported(compare_records, path, value):
    found = compare_records.compare(record(), record(**{path: value}), frozenset())
    assert len(found) == 1 and path.split(".")[-1] in found[0]


def test_a_changed_fingerprint_a_lost_gate_and_a_changed_latency_status_are_reported(
    compare_records,
):
    after = copy.deepcopy(record())
    after["verdicts"][0]["evidence"]["model"]["fingerprint"] = "cd34"
    after["verdicts"][1]["status"] = "fail"
    found = compare_records.compare(record(), after, frozenset())
    assert any("fingerprint" in line for line in found)
    assert any("latency_p95_ms.status" in line for line in found)
    gone = record()
    gone["verdicts"].pop(0)
    assert any(
        "only before" in line for line in compare_records.compare(record(), gone, frozenset())
    )
