"""Waivers: the file format and its errors, matching, waiving, and what fails the run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.gating import waivers
from pytest_modelguard.gating.waivers import Waiver, WaiverError

TODAY = date(2026, 6, 1)
AUC = "tests/test_credit_model.py::test_auc"
LATENCY = "tests/test_credit_model.py::test_latency"
PGD = "tests/test_robust.py::test_pgd[0.03-linf]"

GOOD = """\
# accepted shortfalls of the credit model
[[waiver]]
test = "tests/test_credit_model.py::test_auc"
reason = "AUC dips on the new holdout; retraining tracked in #123"
owner = "ml-platform@example.com"
expires = 2026-12-31

[[waiver]]
test = "tests/test_robust.py::test_pgd*"
reason = "adversarial training lands in 2.1"
owner = "Ada"
expires = "2026-06-01"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(text)
    return path


def failed(metric: str = "roc_auc") -> Verdict:
    return Verdict("performance", metric, 0.79, 0.80, ">=", "fail")


def waiver(test: str, expires: date = date(2026, 12, 31), source: str = "") -> Waiver:
    return Waiver(test, "known", "Ada", expires, source or f"waivers.toml, waiver ({test})")


# -- the file -----------------------------------------------------------------------------


def test_a_valid_file_loads_in_order_with_sources(tmp_path):
    path = write(tmp_path, GOOD)

    loaded = waivers.load(path)

    assert loaded == [
        Waiver(
            test=AUC,
            reason="AUC dips on the new holdout; retraining tracked in #123",
            owner="ml-platform@example.com",
            expires=date(2026, 12, 31),
            source=f"{path}, waiver 1 (line 2), test {AUC!r}",
        ),
        Waiver(
            test="tests/test_robust.py::test_pgd*",
            reason="adversarial training lands in 2.1",
            owner="Ada",
            expires=date(2026, 6, 1),
            source=f"{path}, waiver 2 (line 8), test 'tests/test_robust.py::test_pgd*'",
        ),
    ]


@pytest.mark.parametrize("text", ["", "# no waivers today\n"])
def test_an_empty_file_has_no_waivers(tmp_path, text):
    assert waivers.load(write(tmp_path, text)) == []


def test_a_missing_file_names_the_ini_key(tmp_path):
    path = tmp_path / "waivers.toml"
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"cannot read waiver file {path}: No such file or directory; create it or correct "
        "the ini key modelguard_waivers"
    )


def test_invalid_toml_names_the_line(tmp_path):
    path = write(tmp_path, '[[waiver]]\ntest = "a"\nreason = oops\n')
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"waiver file {path} is not valid TOML: Invalid value (at line 3, column 10)"
    )


def test_an_impossible_toml_date_is_caught_by_the_parser_with_its_line(tmp_path):
    path = write(tmp_path, GOOD.replace("2026-12-31", "2026-02-30"))
    with pytest.raises(WaiverError, match=r"is not valid TOML: .*\(at line 6, column \d+\)$"):
        waivers.load(path)


def test_a_single_bracket_table_is_explained(tmp_path):
    path = write(tmp_path, GOOD.replace("[[waiver]]", "[waiver]", 1).split("\n\n")[0])
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"waiver file {path}: 'waiver' must be an array of tables; write [[waiver]] "
        "(double brackets) before each waiver"
    )


def test_a_misspelt_table_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace("[[waiver]]", "[[waivers]]"))
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"waiver file {path}: unknown key 'waivers'; write each waiver as a [[waiver]] table"
    )


@pytest.mark.parametrize(
    ("field", "hint"),
    [
        ("reason", 'say why the shortfall is accepted, e.g. reason = "retraining tracked in #123"'),
        ("owner", 'name who answers for it, e.g. owner = "ml-team@example.com"'),
        ("expires", "write the last day it holds as a date, e.g. expires = 2027-03-31"),
    ],
)
def test_a_missing_field_names_the_file_the_entry_and_its_line(tmp_path, field, hint):
    second = GOOD.split("\n\n")[1]
    path = write(tmp_path, "".join(line for line in second.splitlines(True) if field not in line))
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"{path}, waiver 1 (line 1), test 'tests/test_robust.py::test_pgd*': "
        f"missing field {field!r}; {hint}"
    )


def test_a_missing_test_is_named_by_position(tmp_path):
    path = write(tmp_path, GOOD.replace('test = "tests/test_robust.py::test_pgd*"\n', ""))
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"{path}, waiver 2 (line 8): missing field 'test'; name the test by node id or glob, "
        'e.g. test = "tests/test_model.py::test_auc"'
    )


def test_an_unknown_field_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace('owner = "Ada"', 'owner = "Ada"\nticket = "#123"'))
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"{path}, waiver 2 (line 8), test 'tests/test_robust.py::test_pgd*': unknown field "
        "'ticket'; a waiver has exactly test, reason, owner, expires"
    )


def test_an_empty_reason_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace('"adversarial training lands in 2.1"', '"  "'))
    with pytest.raises(WaiverError, match=r"waiver 2 \(line 8\), .*: reason must be a non-empty"):
        waivers.load(path)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ('"next spring"', "'next spring'"),
        ('"31/03/2027"', "'31/03/2027'"),
        ('"2027-02-30"', "'2027-02-30'"),
        ("2027-03-31T12:00:00", "datetime.datetime(2027, 3, 31, 12, 0)"),
        ("20270331", "20270331"),
    ],
)
def test_an_unparsable_date_names_the_file_and_the_entry(tmp_path, written, shown):
    path = write(tmp_path, GOOD.replace('"2026-06-01"', written))
    with pytest.raises(WaiverError) as caught:
        waivers.load(path)
    assert str(caught.value) == (
        f"{path}, waiver 2 (line 8), test 'tests/test_robust.py::test_pgd*': expires = "
        f"{shown} is not a date; write the last day it holds as a date, e.g. "
        "expires = 2027-03-31"
    )


# -- matching and waiving -----------------------------------------------------------------


def test_brackets_are_literal_so_a_parametrized_id_matches_only_itself():
    assert waiver(PGD).matches(PGD)
    assert not waiver(PGD).matches("tests/test_robust.py::test_pgd0")
    assert waiver("tests/test_robust.py::test_pgd[0.03-*]").matches(PGD)
    assert not waiver("tests/test_robust.py::test_pgd[0.03-*]").matches(PGD.replace("0.03", "0.1"))


def test_star_and_question_mark_are_wildcards_and_case_matters():
    assert waiver("tests/test_robust.py::test_pgd*").matches(PGD)
    assert waiver("*::test_auc").matches(AUC)
    assert waiver("tests/test_credit_model.py::test_au?").matches(AUC)
    assert not waiver("*::TEST_AUC").matches(AUC)
    assert not waiver("tests/test_credit_model.py::test_a").matches(AUC)


def test_the_first_live_waiver_in_file_order_is_found():
    expired = waiver(AUC, expires=date(2026, 5, 31), source="first")
    live = waiver("*::test_auc", source="second")

    assert waivers.find([expired, live], AUC, today=TODAY) is live
    assert waivers.find([expired], AUC, today=TODAY) is None
    assert waivers.find([live], LATENCY, today=TODAY) is None


def test_a_waiver_holds_through_its_expiry_date():
    last_day = waiver(AUC, expires=TODAY)

    assert waivers.find([last_day], AUC, today=TODAY) is last_day
    assert waivers.find([last_day], AUC, today=date(2026, 6, 2)) is None


def test_a_waived_shortfall_says_who_accepted_it_until_when_and_why():
    accepted = Waiver(
        AUC, "retraining tracked in #123", "Ada", date(2026, 12, 31), "w.toml, waiver 1"
    )
    verdict = waivers.apply([accepted], AUC, failed(), today=TODAY)

    assert verdict.status == "waived" and verdict.passed
    assert verdict.message.splitlines()[0] == "WAIVED performance: roc_auc must be >= 0.8"
    assert verdict.message.splitlines()[-1] == (
        "  waived    by Ada until 2026-12-31 (w.toml, waiver 1): retraining tracked in #123"
    )
    assert Verdict.from_json(verdict.to_json()).evidence["waiver"] == {
        "test": AUC,
        "reason": "retraining tracked in #123",
        "owner": "Ada",
        "expires": "2026-12-31",
        "source": "w.toml, waiver 1",
    }


def test_passes_errors_and_expired_waivers_are_not_waived():
    passed = Verdict("performance", "roc_auc", 0.9, 0.8, ">=", "pass")
    error = Verdict.error("performance", "roc_auc", "the model raised")

    assert waivers.apply([waiver(AUC)], AUC, passed, today=TODAY).status == "pass"
    assert waivers.apply([waiver(AUC)], AUC, error, today=TODAY).status == "error"
    old = waiver(AUC, expires=date(2026, 1, 1))
    assert waivers.apply([old], AUC, failed(), today=TODAY).status == "fail"
    assert waivers.apply([waiver(AUC)], LATENCY, failed(), today=TODAY).status == "fail"


# -- what fails the run -------------------------------------------------------------------


def test_used_waivers_and_waivers_of_tests_that_did_not_run_are_fine():
    used, deselected = waiver(AUC), waiver(LATENCY)
    gates = [(AUC, waivers.apply([used], AUC, failed(), today=TODAY))]

    assert waivers.problems([used, deselected], gates, collected=[AUC, LATENCY], today=TODAY) == []


def test_an_expired_waiver_fails_the_run_even_when_its_test_did_not_run():
    old = Waiver(AUC, "known", "Ada", date(2026, 5, 31), "w.toml, waiver 1")

    assert waivers.problems([old], [], collected=[], today=TODAY) == [
        "w.toml, waiver 1: expired on 2026-05-31 (owner Ada); fix the shortfall and delete "
        "the waiver, or agree a later expiry date with its owner"
    ]


def test_a_waiver_of_a_test_that_passed_waived_nothing():
    idle = waiver("tests/test_credit_model.py::*", source="w.toml, waiver 1")
    passed = Verdict("performance", "roc_auc", 0.9, 0.8, ">=", "pass")
    gates = [(AUC, passed), (LATENCY, passed)]

    assert waivers.problems([idle], gates, collected=[AUC, LATENCY], today=TODAY) == [
        f"w.toml, waiver 1: waived nothing, every gate of {AUC}, {LATENCY} passed; delete "
        "the waiver"
    ]


def test_a_waiver_of_a_test_with_an_error_is_not_idle():
    maybe_needed = waiver(AUC)
    gates = [(AUC, Verdict.error("performance", "roc_auc", "the model raised"))]

    assert waivers.problems([maybe_needed], gates, collected=[AUC], today=TODAY) == []


def test_a_waiver_matching_no_collected_test_fails_the_run():
    typo = waiver("tests/test_credit_model.py::test_acu", source="w.toml, waiver 1")

    assert waivers.problems([typo], [], collected=[AUC], today=TODAY) == [
        "w.toml, waiver 1: no collected test matches 'tests/test_credit_model.py::test_acu'; "
        "correct the node id or glob (as pytest prints it, e.g. tests/test_model.py::test_auc), "
        "or delete the waiver if its test is gone"
    ]


def test_a_waiver_of_a_file_this_run_did_not_collect_is_out_of_scope():
    other_file = waiver("tests/test_digits_model.py::test_accuracy")
    any_file = waiver("*::test_removed")

    assert waivers.problems([other_file], [], collected=[AUC], today=TODAY) == []
    assert len(waivers.problems([any_file], [], collected=[AUC], today=TODAY)) == 1
