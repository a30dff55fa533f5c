"""Baselines: saving and loading records, regressions by operator and tolerance, gate sets."""

from __future__ import annotations

import json
import os
import sys

import pytest

from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.gating import baseline
from pytest_modelguard.gating.baseline import BaselineError
from pytest_modelguard.reporting.record import SCHEMA_VERSION, SessionRecord

AUC = "tests/test_model.py::test_auc"
LOSS = "tests/test_model.py::test_log_loss"
TWICE = "tests/test_model.py::test_f1_twice"


def verdict(metric: str, value: float | None, threshold: float, operator: str) -> Verdict:
    ok = value is not None and (value >= threshold if operator == ">=" else value <= threshold)
    return Verdict("performance", metric, value, threshold, operator, "pass" if ok else "fail")


def run(auc: float = 0.84, loss: float = 0.48) -> list[tuple[str, Verdict]]:
    return [
        (AUC, verdict("roc_auc", auc, 0.80, ">=")),
        (LOSS, verdict("log_loss", loss, 0.55, "<=")),
        (TWICE, verdict("f1", 0.77, 0.72, ">=")),
        (TWICE, verdict("f1", 0.70, 0.65, ">=")),
    ]


def saved(tmp_path, gates=None, **changes) -> str:
    record = SessionRecord(seed=1, profile="ci", gates=run() if gates is None else gates)
    data = {**record.to_json(), **changes}
    path = tmp_path / "baseline.json"
    baseline.save(path, data)
    return str(path)


# -- save and load ------------------------------------------------------------------------


def test_a_saved_record_loads_as_a_baseline_keyed_like_the_junit_properties(tmp_path):
    loaded = baseline.load(saved(tmp_path))

    assert loaded.record["schema_version"] == SCHEMA_VERSION
    assert sorted(loaded.gates) == [
        (AUC, "performance", "roc_auc"),
        (TWICE, "performance", "f1"),
        (TWICE, "performance", "f1[2]"),
        (LOSS, "performance", "log_loss"),
    ]
    assert loaded.gates[TWICE, "performance", "f1[2]"].value == 0.70


def test_save_creates_the_directory_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "baselines" / "main.json"
    baseline.save(path, {"schema_version": SCHEMA_VERSION, "verdicts": []})

    assert json.loads(path.read_text())["verdicts"] == []
    assert [p.name for p in path.parent.iterdir()] == ["main.json"]


def test_save_replaces_an_existing_baseline_whole(tmp_path):
    path = tmp_path / "main.json"
    path.write_text("old " * 1000)
    baseline.save(path, {"schema_version": SCHEMA_VERSION, "verdicts": []})

    assert json.loads(path.read_text()) == {"schema_version": SCHEMA_VERSION, "verdicts": []}


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_save_into_a_read_only_directory_names_the_file_and_the_option(tmp_path):
    directory = tmp_path / "locked"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(BaselineError) as caught:
            baseline.save(directory / "main.json", {"verdicts": []})
    finally:
        directory.chmod(0o700)
    assert str(caught.value) == (
        f"cannot write baseline {directory / 'main.json'}: Permission denied; choose a "
        "writable path with --modelguard-save-baseline=FILE"
    )
    assert list(directory.iterdir()) == []


def test_save_under_a_file_names_the_file_in_the_way(tmp_path):
    (tmp_path / "reports").write_text("a file, not a directory")
    with pytest.raises(BaselineError) as caught:
        baseline.save(tmp_path / "reports" / "main.json", {"verdicts": []})
    assert str(caught.value) == (
        f"cannot write baseline {tmp_path / 'reports' / 'main.json'}: File exists: "
        f"{tmp_path / 'reports'}; choose a writable path with --modelguard-save-baseline=FILE"
    )


def test_a_record_that_is_not_plain_json_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "main.json"
    with pytest.raises(BaselineError) as caught:
        baseline.save(path, {"verdicts": [{"value": float("nan")}]})
    assert str(caught.value) == (
        f"cannot write baseline {path}: the record is not plain JSON (Out of range float "
        "values are not JSON compliant: nan); pass signoff.plain(record.to_json())"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_missing_baseline_says_how_to_make_one(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == (
        f"cannot read baseline {path}: No such file or directory; give the path of a "
        "modelguard.json saved with --modelguard-save-baseline or --modelguard-report"
    )


def test_a_baseline_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "schema_version": 1,\n  "verdicts": [\n')
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == (
        f"baseline {path} is not JSON (line 4, column 1: Expecting value); give a "
        "modelguard.json saved with --modelguard-save-baseline"
    )


@pytest.mark.parametrize("content", ['{"verdicts": []}', "[]"])
def test_a_file_without_a_schema_version_is_not_a_baseline(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == (
        f"baseline {path} has no schema_version: it is not a modelguard.json; save one "
        "with --modelguard-save-baseline"
    )


def test_another_schema_version_is_incompatible(tmp_path):
    path = saved(tmp_path, schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == (
        f"baseline {path} has schema version {SCHEMA_VERSION + 1}; this pytest-modelguard "
        f"reads version {SCHEMA_VERSION}: save the baseline again with "
        "--modelguard-save-baseline using this version"
    )


def test_a_record_without_verdicts_is_refused(tmp_path):
    path = saved(tmp_path, verdicts={"a": 1})
    with pytest.raises(BaselineError, match=r"has no 'verdicts' list; save it again$"):
        baseline.load(path)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("not a verdict", "verdict 2 is not an object; save the baseline again"),
        (
            {"nodeid": AUC, "requirement": "performance"},
            f"verdict 2 ({AUC}): the field 'metric' is missing or not a string; save the "
            "baseline again",
        ),
        (
            {"nodeid": AUC, "requirement": "performance", "metric": "auc", "value": "0.8"},
            f"verdict 2 ({AUC}): value '0.8' is not a number; save the baseline again",
        ),
        (
            {"nodeid": AUC, "requirement": "performance", "metric": "auc", "operator": ">"},
            f"verdict 2 ({AUC}): operator '>' is neither '>=' nor '<='; save the baseline again",
        ),
    ],
)
def test_a_broken_verdict_names_the_file_and_the_entry(tmp_path, entry, problem):
    good = {"nodeid": LOSS, "requirement": "performance", "metric": "log_loss", "value": 0.5}
    path = saved(tmp_path, verdicts=[good, entry])
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    assert str(caught.value) == f"baseline {path}, {problem}"


# -- comparing gates ----------------------------------------------------------------------


@pytest.fixture
def base(tmp_path) -> baseline.Baseline:
    return baseline.load(saved(tmp_path))


def test_higher_is_worse_for_an_upper_limit_and_lower_for_a_lower_one(base):
    auc = base.compare(AUC, verdict("roc_auc", 0.82, 0.80, ">="), 0.01)
    loss = base.compare(LOSS, verdict("log_loss", 0.50, 0.55, "<="), 0.01)

    assert auc is not None and loss is not None
    assert auc.delta == pytest.approx(-0.02) and auc.worse_by == pytest.approx(0.02)
    assert loss.delta == pytest.approx(0.02) and loss.worse_by == pytest.approx(0.02)
    assert auc.regressed and loss.regressed


def test_improvements_never_regress(base):
    auc = base.compare(AUC, verdict("roc_auc", 0.90, 0.80, ">="), 0.0)
    loss = base.compare(LOSS, verdict("log_loss", 0.40, 0.55, "<="), 0.0)

    assert auc is not None and not auc.regressed and auc.worse_by < 0
    assert loss is not None and not loss.regressed and loss.worse_by < 0


def test_exactly_the_tolerance_is_not_more_than_it_despite_float_rounding(base):
    # 0.84 - 0.83 == 0.010000000000000009 in floating point
    at_limit = base.compare(AUC, verdict("roc_auc", 0.83, 0.80, ">="), 0.01)
    beyond = base.compare(AUC, verdict("roc_auc", 0.8299, 0.80, ">="), 0.01)

    assert at_limit is not None and not at_limit.regressed
    assert beyond is not None and beyond.regressed


def test_without_a_tolerance_deltas_are_measured_but_nothing_regresses(base):
    comparison = base.compare(AUC, verdict("roc_auc", 0.50, 0.80, ">="), None)

    assert comparison is not None
    assert comparison.delta == pytest.approx(-0.34)
    assert not comparison.regressed


def test_a_repeated_metric_is_compared_with_the_same_occurrence(base):
    first = verdict("f1", 0.77, 0.72, ">=")
    second = verdict("f1", 0.69, 0.65, ">=")

    assert base.compare(TWICE, first, 0.0).baseline == 0.77
    assert base.compare(TWICE, second, 0.0, previous=[first]).baseline == 0.70


def test_gates_without_a_value_on_either_side_are_not_compared(tmp_path):
    broken = Verdict.error("performance", "roc_auc", "the model raised")
    base = baseline.load(saved(tmp_path, gates=[(AUC, broken)]))

    assert base.compare(AUC, verdict("roc_auc", 0.84, 0.80, ">="), 0.0) is None
    assert base.compare(AUC, Verdict.error("performance", "roc_auc", "again"), 0.0) is None
    assert base.compare("tests/test_new.py::test_x", verdict("roc_auc", 0.8, 0.8, ">="), 0) is None


def test_a_regression_fails_a_passing_gate_with_was_and_now(base):
    current = verdict("roc_auc", 0.82, 0.80, ">=")
    base.apply(AUC, current, 0.01)

    assert current.status == "fail"
    assert current.message.splitlines()[0] == "FAIL performance: roc_auc must be >= 0.8"
    assert current.message.splitlines()[-1] == (
        "  regressed roc_auc was 0.84 at baseline, now 0.82 (-0.02): worse by more than "
        "max_regression=0.01"
    )
    assert current.evidence["baseline"] == {
        "value": 0.84,
        "delta": pytest.approx(-0.02),
        "tolerance": 0.01,
        "regressed": True,
    }
    assert baseline.delta_text(current) == "vs baseline 0.84 (-0.02) REGRESSED"


def test_a_change_within_tolerance_keeps_the_verdict_and_records_the_delta(base):
    current = verdict("log_loss", 0.485, 0.55, "<=")
    message = current.message
    base.apply(LOSS, current, 0.01)

    assert current.status == "pass"
    assert current.message == message
    assert baseline.delta_text(current) == "vs baseline 0.48 (+0.005)"
    assert json.loads(json.dumps(current.to_json()))["evidence"]["baseline"]["regressed"] is False


def test_a_gate_the_baseline_lacks_is_left_alone(base):
    current = verdict("roc_auc", 0.5, 0.8, ">=")
    base.apply("tests/test_new.py::test_auc", current, 0.0)

    assert "baseline" not in current.evidence
    assert baseline.delta_text(current) == ""


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("0.02", 0.02), (0, 0.0)]
)
def test_tolerances_from_the_ini_or_a_marker(value, expected):
    assert baseline.parse_tolerance(value, "modelguard_max_regression") == expected


@pytest.mark.parametrize("value", ["-0.1", "a lot", "nan", True])
def test_a_tolerance_that_is_not_a_non_negative_number_is_refused(value):
    with pytest.raises(BaselineError) as caught:
        baseline.parse_tolerance(value, "modelguard_max_regression")
    assert str(caught.value) == (
        "modelguard_max_regression must be a number >= 0 (how much worse than the baseline "
        f"the metric may get, in the metric's own units), got {value!r}"
    )


# -- gate sets ----------------------------------------------------------------------------


def test_the_same_gates_make_no_difference(base):
    assert base.gate_set_difference(run(auc=0.5)) == ([], [])


def test_new_and_gone_gates_are_named(base):
    gates = [
        *run()[:2],
        (TWICE, verdict("f1", 0.77, 0.72, ">=")),  # the second f1 is gone
        ("tests/test_new.py::test_recall", verdict("recall", 0.9, 0.8, ">=")),
    ]
    new, gone = base.gate_set_difference(gates)

    assert new == [("tests/test_new.py::test_recall", "performance", "recall")]
    assert gone == [(TWICE, "performance", "f1[2]")]
    assert base.describe_difference(new, gone) == (
        f"baseline {base.path} does not have the gates of this run:\n"
        "  new  tests/test_new.py::test_recall performance.recall  (not in the baseline)\n"
        f"  gone {TWICE} performance.f1[2]  (in the baseline, not measured now)\n"
        "  save a new baseline with --modelguard-save-baseline=FILE when the change is "
        "intended, or restore the gates that are gone"
    )


def test_deselected_tests_and_files_not_collected_are_out_of_scope(base):
    only_auc = run()[:1]
    collected = [AUC, LOSS]  # test_log_loss deselected; test_f1_twice no longer exists

    assert base.gate_set_difference(only_auc, completed=[AUC], collected=collected) == (
        [],
        [(TWICE, "performance", "f1"), (TWICE, "performance", "f1[2]")],
    )
    elsewhere = ["tests/test_other.py::test_x"]  # a path argument left tests/test_model.py out
    assert base.gate_set_difference([], completed=elsewhere, collected=elsewhere) == ([], [])


def test_a_test_that_completed_without_its_gates_has_them_gone(base):
    tests = [AUC, LOSS, TWICE]  # test_log_loss and test_f1_twice passed without their markers

    new, gone = base.gate_set_difference([(AUC, run()[0][1])], completed=tests, collected=tests)

    assert new == []
    assert [key[0] for key in gone] == [TWICE, TWICE, LOSS]


def test_a_test_that_stopped_early_or_was_skipped_has_nothing_gone(base):
    first_f1_failed = [(TWICE, verdict("f1", 0.5, 0.72, ">="))]  # raised before the second
    tests = [AUC, LOSS, TWICE]

    new, gone = base.gate_set_difference(first_f1_failed, completed=[], collected=tests)

    assert (new, gone) == ([], [])
