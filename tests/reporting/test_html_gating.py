"""The sign-off report shows what baselines, waivers and compliance add to a verdict:
the baseline value and delta (regressions flagged), who waived a shortfall until when,
and the compliance matrix as a table; and the plots stay readable.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from pytest_modelguard.checks.compliance import compliance
from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.gating import waivers
from pytest_modelguard.gating.baseline import Baseline, BaselineGate
from pytest_modelguard.reporting import html, svg
from pytest_modelguard.reporting.record import SessionRecord
from pytest_modelguard.reporting.signoff import SCHEMA, plain, write_report

jsonschema = pytest.importorskip("jsonschema")


def _gates() -> list[tuple[str, Verdict]]:
    """A regressed gate, a gate within its tolerance, a waived one and a compliance gate
    with a clause lacking evidence: each made by the code that makes them in a run."""
    auc = Verdict("performance", "roc_auc", 0.80, 0.7, ">=", "pass", n=100)
    f1 = Verdict("performance", "f1", 0.71, 0.7, ">=", "pass", n=100)
    short = Verdict("fairness", "demographic_parity_difference", 0.2, 0.1, "<=", "fail", n=100)
    short.evidence.update(  # what a group gate declares (pytest_modelguard/core/evidence.py)
        sensitive=["group"], method="between_groups",
        by_sensitive={"group": {"value": 0.2, "groups": {"a": {"n": 50, "selection_rate": 0.6},
                                                         "b": {"n": 50, "selection_rate": 0.4}}}},
    )  # fmt: skip
    baseline = Baseline(
        "baseline.json",
        {},
        {
            ("t.py::test_auc", "performance", "roc_auc"): BaselineGate(0.85, ">=", "pass"),
            ("t.py::test_f1", "performance", "f1"): BaselineGate(0.715, ">=", "pass"),
        },
    )
    baseline.apply("t.py::test_auc", auc, 0.01)
    baseline.apply("t.py::test_f1", f1, 0.01)
    waiver = waivers.Waiver(
        test="t.py::test_parity",
        reason="retraining tracked in #123",
        owner="ml-team@example.com",
        expires=date(2099, 12, 31),
        source="waivers.toml, waiver 1 (line 1)",
    )
    waivers.apply([waiver], "t.py::test_parity", short, today=date(2026, 1, 1))
    gates = [("t.py::test_auc", auc), ("t.py::test_f1", f1), ("t.py::test_parity", short)]
    eu = compliance(framework="eu-ai-act", scope=["art10", "art15"], session_verdicts=gates)
    return [*gates, ("t.py::test_eu_ai_act", eu)]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[dict, str]:
    directory = tmp_path_factory.mktemp("gated")
    write_report(directory, SessionRecord(seed=7, profile="ci", gates=_gates()))
    data = json.loads((directory / "modelguard.json").read_text(encoding="utf-8"))
    return data, (directory / "index.html").read_text(encoding="utf-8")


def _row(text: str, nodeid: str) -> str:
    rows = re.findall(r'<tr class="verdict .*?</tr>', text, flags=re.S)
    (row,) = [row for row in rows if f'<td class="nodeid">{nodeid}</td>' in row]
    return row


def test_the_schema_accepts_baseline_and_waiver_evidence(written):
    data, _ = written
    schema = json.loads(SCHEMA.read_text())
    check = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    check.validate(data)
    statuses = {v["nodeid"]: v["status"] for v in data["verdicts"]}
    assert statuses["t.py::test_auc"] == "fail" and statuses["t.py::test_parity"] == "waived"
    auc = next(v for v in data["verdicts"] if v["nodeid"] == "t.py::test_auc")
    assert auc["evidence"]["baseline"]["regressed"] is True
    waived = next(v for v in data["verdicts"] if v["status"] == "waived")
    bad = [
        {**auc, "evidence": {**auc["evidence"], "baseline": {"value": 0.85}}},
        {**auc, "evidence": {**auc["evidence"], "baseline": {**auc["evidence"]["baseline"],
                                                             "regressed": "yes"}}},
        {**waived, "evidence": {k: v for k, v in waived["evidence"].items() if k != "waiver"}},
    ]  # fmt: skip
    for verdict in bad:
        assert not check.is_valid({**data, "verdicts": [verdict]}), verdict["evidence"]


def test_rows_show_the_baseline_value_and_delta_and_flag_a_regression(written):
    _, text = written
    regressed = _row(text, "t.py::test_auc")
    assert "0.85 (-0.05)" in regressed and 'status-fail">regressed</span>' in regressed
    within = _row(text, "t.py::test_f1")
    assert "0.715 (-0.005)" in within and ">regressed</span>" not in within
    assert "–" in _row(text, "t.py::test_parity")  # not compared: a dash, not a number
    assert 'id="baseline-summary">2 gates compared with the baseline run, 1 regressed' in text


def test_a_waived_row_shows_owner_reason_and_expiry_outside_the_details(written):
    _, text = written
    row = _row(text, "t.py::test_parity")
    visible = row.split("<details>")[0]
    assert 'data-status="waived"' in row
    for part in ("ml-team@example.com", "2099-12-31", "retraining tracked in #123"):
        assert part in visible, part


def test_the_compliance_matrix_is_a_table_linking_clauses_to_tests(written):
    _, text = written
    table = re.search(r'<table class="matrix".*?</table>', text).group(0)
    clauses = re.findall(r'<tr class="clause status-(\w+)" data-clause="(\w+)"', table)
    assert clauses == [("fail", "art10"), ("fail", "art15")]
    art10 = re.search(r'data-clause="art10".*?</tr>', table).group(0)
    assert "waived (a waiver is not evidence)" in art10
    art15 = re.search(r'data-clause="art15".*?</tr>', table).group(0)
    assert "no robust gate ran" in art15 and "no security gate ran" in art15
    assert "@robust" in art15  # the marker that would evidence it
    rows = re.findall(r'<tr class="verdict[^>]*id="(verdict-\d+)"', text)
    links = set(re.findall(r'href="#(verdict-\d+)"', table))
    assert links and links <= set(rows)


def test_labels_are_not_cut_off_at_the_left():
    long = "demographic_parity_difference[race]"
    chart = svg.bar_chart("c", "t", [long, "a"], [svg.Bars("x", [0.1, 0.2])], axis_label="value")
    left = float(re.search(r'<text class="category" x="([\d.]+)"', chart).group(1))
    assert left >= len(long) * 6  # room for the label, at about 6 px per character
    assert f">{long}<" in chart  # not shortened either


def test_attribution_axis_fits_the_importances():
    ranking = [
        {"feature": "income", "importance": 0.2, "protected": False},
        {"feature": "sex", "importance": 0.05, "protected": True},
        {"feature": "age", "importance": -0.01, "protected": False},
    ]
    evidence = {"ranking": ranking, "method": "permutation", "protected_features": ["sex"]}
    verdict = {"index": 0, "nodeid": "t", "evidence": evidence, "metric": "protected_share"}
    (figure,) = html._plots(verdict)
    ticks = [float(t) for t in re.findall(r'<text class="tick"[^>]*>([-\d.]+)<', figure)]
    assert max(ticks) < 0.5 and min(ticks) < 0  # not stretched to 1, the negative one shown
    assert "permutation importance" in figure and "Protected features (sex) in red" in figure
    assert figure.count("bar series-0 highlight") == 1


def test_a_small_attack_success_rate_is_readable_and_starts_at_zero():
    evidence = {"per_eps": [{"eps": 0.02, "attack_success": 0.032, "ci": [0.02, 0.05]}]}
    verdict = {"index": 0, "nodeid": "t", "evidence": evidence, "metric": "attack_success",
               "threshold": 0.06, "operator": "<="}  # fmt: skip
    (figure,) = html._plots(verdict)
    ticks = [float(t) for t in re.findall(r'<text class="tick"[^>]*>([-\d.]+)<', figure)]
    assert max(ticks) <= 0.1  # the y axis fits 0.06, not 0..1
    assert figure.count('<circle class="point') == 2  # eps 0 (nothing flipped) and 0.02


def test_the_threshold_label_of_a_curve_stays_clear_of_its_last_point():
    line = svg.Line("robust accuracy", [(0.0, 0.95), (0.03, 0.87)])
    chart = svg.line_chart(
        "c", "t", [line], x_label="eps", y_label="acc", threshold=0.85,
        threshold_label="clean − max drop (0.1)",
    )  # fmt: skip
    label_x = float(re.search(r'class="threshold-label" x="([\d.]+)"', chart).group(1))
    last_x = float(re.findall(r'<circle class="point[^"]*" cx="([\d.]+)"', chart)[-1])
    assert label_x < last_x / 2  # drawn at the left end, not over the last point


def test_the_page_renders_again_from_its_json(written):
    data, text = written
    assert html.render(plain(data)) == text
