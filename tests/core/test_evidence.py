"""The evidence contract (``pytest_modelguard/core/evidence.py``) holds on both of its sides.

Producers: real checks of every plotted kind run on a small scikit-learn model, and each
verdict's evidence, in its JSON form, is validated against the type declared for its kind.
Readers: the HTML report, the terminal summary and the failure messages are run on those
verdicts with evidence that records every key read, and every key read must be declared.
A key renamed on either side fails here instead of blanking a plot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, PredictionLog, checks
from pytest_modelguard.checks.fairness import METRICS
from pytest_modelguard.checks.transparency.modelcard import FIELDS
from pytest_modelguard.core import evidence
from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.plugin.terminal import write_summary
from pytest_modelguard.reporting import html
from pytest_modelguard.reporting.signoff import SCHEMA, plain


def _fit(subset: Dataset, seed: int = 0) -> LogisticRegression:
    return LogisticRegression().fit(subset.features, subset.target)


@pytest.fixture(scope="module")
def verdicts(tabular, tmp_path_factory) -> dict[str, Verdict]:
    """One verdict of each kind of gate the report draws, from the real checks."""
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    train = Dataset.from_arrays(tabular["x_train"], tabular["y_train"], name="train")
    holdout = Dataset.from_arrays(
        tabular["x"], tabular["y"], sensitive={"group": tabular["group"]}, name="holdout"
    )
    frame = pd.DataFrame({"f0": tabular["x"][:, 0], "f1": tabular["x"][:, 1]})
    narrow = LogisticRegression().fit(frame, tabular["y"])
    with_group = Dataset.from_pandas(
        frame.assign(group=tabular["group"], y=tabular["y"]),
        target="y",
        sensitive=["group"],
        features=["f0", "f1"],
        name="holdout-2",
    )
    shifted = Dataset.from_pandas(
        frame.assign(f0=frame.f0 + 0.5, y=tabular["y"]), target="y", name="shifted"
    )
    card = tmp_path_factory.mktemp("card") / "card.json"
    fields = {name: f"the {name} of the test model" for name in FIELDS}
    card.write_text(json.dumps({**fields, "metrics": {"accuracy": 0.8}}))
    found = {
        "performance": checks.performance(model, holdout, metric="recall", min=0.5, per_class=True),
        "fairness": checks.fairness(
            model, holdout, metric="equalized_odds_difference", max_disparity=0.3, confidence=0.9
        ),
        "robust": checks.robust(model, holdout, eps=[0.1, 0.5], attack="noise", samples=60),
        "attack_success": checks.security(
            model, holdout, eps=[0.3, 1.0], attack="noise", max_attack_success=0.5, samples=50
        ),
        "mia": checks.privacy(model, holdout, members=train, max_mia_auc=0.6),
        "lira": checks.privacy(
            model,
            holdout,
            members=train,
            max_tpr_at_fpr={0.01: 0.5},
            trainer=_fit,
            shadow_models=4,
            samples=200,
        ),
        "explainability": checks.explainability(
            narrow,
            with_group,
            protected_not_in_top_k=1,
            proxies=["f0"],
            method="permutation",
            samples=600,
        ),
        "claims": checks.transparency(model, holdout, model_card=str(card), verify_claims=True),
        "drift": checks.drift(
            None, shifted, reference=with_group, features=["f0", "f1"], max_psi=0.2
        ),
        "error": Verdict.error("fairness", "demographic_parity_difference", "group 'c': 3 rows"),
    }
    found["compliance"] = checks.compliance(
        framework="eu-ai-act", session_verdicts=[(f"t.py::{k}", v) for k, v in found.items()]
    )
    return found


@pytest.fixture(scope="module")
def logged() -> Verdict:
    """A fairness gate on a prediction log in monthly windows (the windows plot)."""
    duckdb = pytest.importorskip("duckdb")
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 90 * 86400, n), unit="s"),
            "sex": rng.choice(["f", "m"], n),
            "y": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
        }
    )
    connection = duckdb.connect()
    connection.register("decisions", frame)
    log = PredictionLog.from_duckdb(
        connection, "decisions", y_true="y", y_pred="decision", sensitive="sex", time="ts",
        window="1mo",
    )  # fmt: skip
    return checks.fairness(None, log, metric="demographic_parity_difference", max_disparity=0.5)


def _json(verdict: Verdict) -> dict[str, Any]:
    """What modelguard.json holds for the verdict, and what the report reads."""
    return json.loads(json.dumps(plain(verdict.to_json()), allow_nan=False))


# -- producers: each kind's evidence is its declared type ----------------------------------------


def test_every_declared_kind_is_produced_by_a_real_check(verdicts, logged):
    produced = {
        evidence.evidence_type(v.requirement, v.metric, v.status) for v in verdicts.values()
    }
    assert produced >= set(evidence.declared_types()) - {evidence.Common}
    assert "windows" in logged.evidence


def test_each_verdicts_evidence_is_its_declared_type(verdicts, logged):
    for name, verdict in [*verdicts.items(), ("logged", logged)]:
        data = _json(verdict)
        declared = evidence.evidence_type(data["requirement"], data["metric"], data["status"])
        assert evidence.problems(data["evidence"], declared) == [], name


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("fairness", "by_sensitive", "by_column"),
        ("robust", "curve", "eps_curve"),
        ("mia", "attacks", "attack"),
        ("explainability", "ranking", "features"),
        ("drift", "features", "columns"),
        ("compliance", "matrix", "clauses"),
    ],
)
def test_a_renamed_key_breaks_the_contract(verdicts, kind, old, new):
    data = _json(verdicts[kind])
    data["evidence"][new] = data["evidence"].pop(old)
    declared = evidence.evidence_type(data["requirement"], data["metric"], data["status"])
    assert f"evidence: no {old!r}" in evidence.problems(data["evidence"], declared)


def test_a_nested_shape_change_breaks_the_contract(verdicts):
    data = _json(verdicts["robust"])
    data["evidence"]["curve"][0]["robust_acc"] = data["evidence"]["curve"][0].pop("robust_accuracy")
    problems = evidence.problems(data["evidence"], evidence.AdversarialEvidence)
    assert problems == ["evidence.curve[0]: no 'robust_accuracy'"]
    data = _json(verdicts["fairness"])
    data["evidence"]["by_sensitive"]["group"]["groups"] = [1, 2]
    assert evidence.problems(data["evidence"], evidence.GroupFairnessEvidence)


def test_the_group_metrics_are_the_fairness_checks_metrics():
    assert set(METRICS) == evidence.GROUP_METRICS


# -- readers: every key the report, the terminal and the messages read is declared -------------


class _Reads(dict):
    """Evidence that records each key read through ``[]`` or ``get`` (with its path)."""

    def __init__(self, data: dict[str, Any], path: tuple[Any, ...], log: set) -> None:
        super().__init__({k: _recording(v, (*path, k), log) for k, v in data.items()})
        self._path, self._log = path, log

    def __getitem__(self, key: Any) -> Any:
        self._log.add((*self._path, key))
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._log.add((*self._path, key))
        return super().get(key, default)


def _recording(value: Any, path: tuple[Any, ...], log: set) -> Any:
    if isinstance(value, dict):
        return _Reads(value, path, log)
    if isinstance(value, list):
        return [_recording(item, (*path, i), log) for i, item in enumerate(value)]
    return value


class _Terminal:
    """Takes what ``write_summary`` writes, as pytest's terminal reporter would."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(title)

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append(line)


def _read_paths(verdicts: list[Verdict]) -> tuple[set, str, list[str]]:
    log: set = set()
    data = [_json(v) for v in verdicts]
    for item in data:
        item["evidence"] = _Reads(item["evidence"], (), log)
        item["nodeid"] = f"t.py::{item['requirement']}"
    page = html.render({"seed": 1, "profile": "ci", "started": "", "verdicts": data})
    terminal = _Terminal()
    readers = [Verdict.from_json({k: v for k, v in d.items() if k != "nodeid"}) for d in data]
    write_summary(terminal, 1, [(d["nodeid"], v) for d, v in zip(data, readers, strict=True)])
    for verdict in readers:
        verdict.describe()
    return log, page, terminal.lines


def test_every_key_the_report_and_terminal_read_is_declared(verdicts, logged):
    log, page, lines = _read_paths([*verdicts.values(), logged])
    undeclared = sorted(map(str, (path for path in log if not evidence.is_declared(path))))
    assert undeclared == []
    # the readers did read the plotted keys through the recording evidence
    assert {("by_sensitive",), ("curve",), ("per_eps",), ("attacks",), ("ranking",)} <= log
    assert {("claims",), ("features",), ("matrix",), ("windows",), ("lacking",)} <= log
    assert page.count('<figure class="plot"') >= 9
    assert any("gates:" in line for line in lines)


def test_a_reader_of_an_undeclared_key_is_caught():
    assert evidence.is_declared(("curve", 0, "robust_accuracy"))
    assert evidence.is_declared(("attacks", "loss", "tpr_at_fpr_0.001"))
    assert evidence.is_declared(("by_sensitive", "any column", "groups", "any group", "tpr"))
    assert not evidence.is_declared(("curve", 0, "robust_acc"))
    assert not evidence.is_declared(("by_column",))
    assert not evidence.is_declared(("ranking", "feature"))  # a list read as an object


def test_every_plot_reads_a_declared_key():
    for key in html.PLOTS:
        assert evidence.is_declared((key,)), key


# -- the JSON schema reads the same declarations ----------------------------------------------


def test_the_report_schema_holds_the_declared_evidence():
    schema = json.loads(SCHEMA.read_text())
    kinds = {k: v for k, v in schema["$defs"]["evidence_kinds"].items() if k != "$comment"}
    assert kinds == evidence.json_schema()
    rules = schema["$defs"]["verdict"]["allOf"]
    assert rules[-len(evidence.KINDS) :] == evidence.schema_rules()


def test_the_report_schema_rejects_a_renamed_key(verdicts):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    verdict = {"nodeid": "t.py::fair", **_json(verdicts["fairness"])}
    check = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/verdict"})
    assert not list(check.iter_errors(verdict))
    verdict["evidence"]["by_column"] = verdict["evidence"].pop("by_sensitive")
    assert any("by_sensitive" in error.message for error in check.iter_errors(verdict))


def test_the_contract_module_stays_light():
    code = (
        "import sys, pytest_modelguard.core.evidence; "
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_report_says_why_a_plot_is_missing(verdicts):
    data = _json(verdicts["robust"])
    data["evidence"]["eps_curve"] = data["evidence"].pop("curve")
    page = html.render({"seed": 1, "profile": "ci", "started": "", "verdicts": [data]})
    assert "No plot: the evidence does not match AdversarialEvidence" in page
    assert "evidence: no &#x27;curve&#x27;" in page
    assert "robust accuracy against eps" not in page
