"""The sign-off report: modelguard.json against its schema, index.html, MODEL_CARD.md.

The records are built from real verdicts of every requirement kind (real checks on a
small scikit-learn model), so the schema and the plots meet the evidence gates produce.
"""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pytest_modelguard import Dataset, checks
from pytest_modelguard.checks.transparency import modelcard
from pytest_modelguard.core.verdict import GateError, Verdict
from pytest_modelguard.plugin.runner import _identify
from pytest_modelguard.reporting import html, modelcard_out
from pytest_modelguard.reporting.record import SessionRecord, environment
from pytest_modelguard.reporting.signoff import SCHEMA, ReportError, plain, write_report
from pytest_modelguard.reporting.svg import nice_ticks

jsonschema = pytest.importorskip("jsonschema")

RAW_EMAIL = "jane.doe@example.com"
RAW_CARD = "4111 1111 1111 1111"  # passes Luhn: a real finding


def _subjects(verdict: Verdict, model, dataset) -> Verdict:
    """What the plugin adds to every verdict: which model and data it gated."""
    verdict.evidence.setdefault("subjects", _identify(model, dataset))
    return verdict


@pytest.fixture(scope="module")
def verdicts(tabular, tmp_path_factory) -> list[tuple[str, Verdict]]:
    """(test id, verdict) for every requirement kind, from real checks where they run fast."""
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
        name="holdout-2",
    )
    notes = Dataset.from_pandas(
        pd.DataFrame(
            {
                "note": ["fine", f"mail {RAW_EMAIL}", f"paid {RAW_CARD}", "ok"] * 10,
                "y": [0, 1] * 20,
            }
        ),
        target="y",
        name="notes",
    )
    people = Dataset.from_pandas(
        pd.DataFrame({"zip": ["10115", "10117", "20095"] * 10 + ["80331"], "y": [0] * 31}),
        target="y",
        name="people",
    )
    artifact = tmp_path_factory.mktemp("artifact") / "model.bin"
    artifact.write_bytes(b"weights")
    card = tmp_path_factory.mktemp("card") / "card.json"
    card.write_text(json.dumps({"name": "credit", "metrics": {"accuracy": 0.99}}))

    runs = [
        (
            "perf",
            model,
            holdout,
            lambda: checks.performance(model, holdout, metric="accuracy", min=0.7, per_class=True),
        ),
        (
            "auc",
            model,
            holdout,
            lambda: checks.performance(model, holdout, metric="roc_auc", min=0.8),
        ),
        (
            "fair",
            model,
            holdout,
            lambda: checks.fairness(
                model,
                holdout,
                metric="demographic_parity_difference",
                max_disparity=0.2,
                confidence=0.9,
                n_resamples=500,
                seed=1,
            ),
        ),
        (
            "acc_min",
            model,
            holdout,
            lambda: checks.fairness(model, holdout, metric="accuracy_group_min", min=0.99),
        ),
        (
            "robust",
            model,
            holdout,
            lambda: checks.robust(model, holdout, eps=[0.1, 0.5, 1.0], attack="noise", samples=60),
        ),
        (
            "mia",
            model,
            holdout,
            lambda: checks.privacy(model, holdout, members=train, max_mia_auc=0.6),
        ),
        ("pii", None, notes, lambda: checks.privacy(None, notes, pii="forbid")),
        (
            "kanon",
            None,
            people,
            lambda: checks.privacy(None, people, k_anonymity=5, quasi_identifiers=["zip"]),
        ),
        (
            "attack",
            model,
            holdout,
            lambda: checks.security(
                model, holdout, eps=[0.3, 1.0], attack="noise", max_attack_success=0.5, samples=50
            ),
        ),
        ("sha", None, None, lambda: checks.security(artifact=str(artifact), sha256="0" * 64)),
        (
            "expl",
            narrow,
            with_group,
            lambda: checks.explainability(
                narrow,
                with_group,
                protected_not_in_top_k=1,
                proxies=["f0"],
                method="permutation",
                samples=600,
            ),
        ),
        (
            "card",
            model,
            holdout,
            lambda: checks.transparency(model, holdout, model_card=str(card), verify_claims=True),
        ),
    ]
    gates = [
        (f"test_gates.py::test_{name}", _subjects(run(), model, data))
        for name, model, data, run in runs
    ]
    waived = checks.performance(model, holdout, metric="f1", min=0.99)
    waived.status = "waived"
    waived.evidence["waiver"] = {
        "test": "test_gates.py::test_waived",
        "reason": "known gap, retraining planned",
        "owner": "ml-team",
        "expires": "2099-12-31",
        "source": "waivers.toml:1",
    }
    error = Verdict.error("fairness", "equalized_odds_difference", "group 'c' has 3 rows")
    nan = Verdict("performance", "r2", float("nan"), 0.5, ">=", "fail", n=0, ci=(math.inf, 0.1))
    return [
        *gates,
        ("test_gates.py::test_waived", _subjects(waived, model, holdout)),
        ("test_gates.py::test_error", error),
        ("test_gates.py::test_nan", nan),
    ]


@pytest.fixture(scope="module")
def record(verdicts) -> SessionRecord:
    return SessionRecord(
        seed=1234,
        profile="ci",
        finished="2026-01-01T00:00:00+00:00",
        gates=verdicts,
        environment=environment(Path(__file__).parent),
    )


@pytest.fixture(scope="module")
def report(record, tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("report") / "nested" / "signoff"
    return {path.name: path for path in write_report(directory, record)}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def validator(schema: dict):
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def strict_json(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# -- modelguard.json --------------------------------------------------------------------------


def test_the_files_are_written_with_one_card_per_model(report, verdicts):
    models = {v.evidence["subjects"]["model"]["fingerprint"] for _, v in verdicts
              if (v.evidence.get("subjects") or {}).get("model")}  # fmt: skip
    assert len(models) == 2  # the wide model and the narrow one
    cards = sorted(name for name in report if name.startswith("MODEL_CARD."))
    assert [name.split("-")[0] for name in cards] == ["MODEL_CARD.LogisticRegression"] * 2
    assert sorted(set(report) - set(cards)) == ["index.html", "modelguard.json"]
    assert all(path.stat().st_size > 0 for path in report.values())
    assert not [p for p in report["index.html"].parent.iterdir() if p.name.startswith(".")]


def test_every_kind_of_verdict_ran_for_real(verdicts):
    kinds = {verdict.requirement for _, verdict in verdicts}
    assert kinds >= {
        "performance",
        "fairness",
        "robust",
        "privacy",
        "security",
        "explainability",
        "transparency",
    }
    statuses = {verdict.status for _, verdict in verdicts}
    assert statuses == {"pass", "fail", "error", "waived"}


def test_json_is_the_record_and_valid_against_the_shipped_schema(report, record, schema):
    data = strict_json(report["modelguard.json"])
    validator(schema).validate(data)
    assert data["schema_version"] == 1
    assert (data["seed"], data["profile"]) == (1234, "ci")
    assert len(data["verdicts"]) == len(record.gates)
    assert data == plain(record.to_json())
    fields = {
        "requirement",
        "metric",
        "value",
        "threshold",
        "operator",
        "ci",
        "status",
        "n",
        "evidence",
        "counterexample",
        "duration",
        "nodeid",
    }
    assert all(fields <= set(v) for v in data["verdicts"])
    git = data["environment"]["git"]
    assert git is None or (len(git["commit"]) == 40 and isinstance(git["dirty"], bool))
    assert data["environment"]["packages"]["numpy"] == np.__version__


def test_fingerprints_of_model_and_data_are_in_the_json(report, tabular):
    data = strict_json(report["modelguard.json"])
    fair = next(v for v in data["verdicts"] if v["nodeid"].endswith("test_fair"))
    holdout = Dataset.from_arrays(
        tabular["x"], tabular["y"], sensitive={"group": tabular["group"]}, name="holdout"
    )
    assert fair["evidence"]["subjects"]["dataset"] == {
        "name": "holdout",
        "fingerprint": holdout.fingerprint,
        "fingerprint_kind": "content-sha256",
    }
    assert fair["evidence"]["subjects"]["model"]["fingerprint"]
    assert fair["evidence"]["subjects"]["model"]["fingerprint_kind"] == "pickle-sha256"


def test_nan_and_infinity_are_written_as_null(report):
    data = strict_json(report["modelguard.json"])
    nan = next(v for v in data["verdicts"] if v["nodeid"].endswith("test_nan"))
    assert nan["value"] is None and nan["ci"] == [None, 0.1]


def test_the_schema_rejects_what_is_not_a_report(report, schema):
    check = validator(schema)
    good = strict_json(report["modelguard.json"])
    broken = [
        {k: v for k, v in good.items() if k != "seed"},
        {**good, "schema_version": 2},
        {**good, "started": "yesterday"},
        {**good, "verdicts": [{**good["verdicts"][0], "status": "ok"}]},
        {**good, "verdicts": [{**good["verdicts"][0], "value": "0.9"}]},
        {**good, "verdicts": [{**good["verdicts"][0], "ci": [0.1]}]},
        {**good, "verdicts": [{**good["verdicts"][0], "operator": None}]},
        {**good, "verdicts": [{**good["verdicts"][0], "surprise": 1}]},
        {**good, "environment": {**good["environment"], "git": {"commit": "abc", "dirty": 0}}},
    ]
    for data in broken:
        assert not check.is_valid(data), data.keys()


def test_plain_makes_strict_json_of_numpy_and_tuples():
    value = {1: (np.float32(0.5), np.int64(3)), "a": np.array([np.nan, 1.0]), "b": {2}}
    assert plain(value) == {"1": [0.5, 3], "a": [None, 1.0], "b": [2]}
    json.dumps(plain(value), allow_nan=False)


# -- index.html -------------------------------------------------------------------------------


class Page(HTMLParser):
    """The elements of the page that the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.svgs: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.marks: list[int] = []  # rects, lines and points drawn in each svg

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and "verdict" in (found.get("class") or "").split():
            self.rows.append(found)
        if tag == "svg":
            self.svgs.append(found)
            self.marks.append(0)
        if tag in ("rect", "polyline", "circle"):
            self.marks[-1] += 1
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action")]


@pytest.fixture(scope="module")
def page(report) -> tuple[str, Page]:
    text = report["index.html"].read_text(encoding="utf-8")
    parser = Page()
    parser.feed(text)
    return text, parser


def test_one_table_row_per_verdict_with_its_status(page, record):
    _, parsed = page
    assert len(parsed.rows) == len(record.gates)
    expected = sorted(v.status for _, v in record.gates)
    assert sorted(row["data-status"] for row in parsed.rows) == expected


def test_summary_counts(page, record):
    text, _ = page
    for status in ("pass", "fail", "error", "waived"):
        count = sum(v.status == status for _, v in record.gates)
        assert f'id="count-{status}">{count}</span>' in text
    assert 'id="overall" data-status="fail"' in text
    assert '<dd id="fact-seed">1234</dd>' in text and '<dd id="fact-profile">ci</dd>' in text


def test_a_plot_for_each_kind_of_evidence(page):
    _, parsed = page
    kinds = [svg["class"] for svg in parsed.svgs]
    for kind in (
        "groups",
        "disparity",
        "per-class",
        "robustness",
        "roc",
        "attack-success",
        "attribution",
        "claims",
    ):
        assert f"chart chart-{kind}" in kinds, kind
    ids = [svg["id"] for svg in parsed.svgs]
    assert len(ids) == len(set(ids))
    assert all(marks >= 1 for marks in parsed.marks)


def test_fairness_plot_draws_the_threshold_and_the_interval(verdicts):
    fair = next(v for n, v in verdicts if n.endswith("test_fair"))
    figures = html._plots({**plain(fair.to_json()), "index": 0, "nodeid": "t"})
    disparity = next(f for f in figures if "chart-disparity" in f)
    assert 'class="threshold"' in disparity and 'class="interval"' in disparity
    assert "&lt;= 0.2" in disparity
    groups = next(f for f in figures if "chart-groups" in f)
    assert all(f"{g} (n=" in groups for g in ("a", "b", "c"))


def test_robustness_curve_starts_at_clean_accuracy(verdicts):
    robust = next(v for n, v in verdicts if n.endswith("test_robust"))
    (figure,) = html._plots({**plain(robust.to_json()), "index": 0, "nodeid": "t"})
    assert figure.count('<circle class="point') == len(robust.evidence["curve"]) + 1
    assert "clean − max drop" in figure


def test_the_page_loads_nothing_from_anywhere(page):
    text, parsed = page
    assert all(url.startswith("#") for url in parsed.urls), parsed.urls
    assert not {"script", "link", "img", "iframe", "object", "embed"} & parsed.tags
    assert "url(" not in text and "@import" not in text
    assert "http://" not in text and "https://" not in text


def test_pii_stays_redacted_in_every_file(report, verdicts):
    pii = next(v for n, v in verdicts if n.endswith("test_pii"))
    assert pii.status == "fail" and pii.value == 20
    for path in report.values():
        text = path.read_text(encoding="utf-8")
        assert RAW_EMAIL not in text and RAW_CARD not in text, path.name
        assert RAW_CARD.replace(" ", "") not in text, path.name
    assert "**** **** **** 1111" in report["index.html"].read_text(encoding="utf-8")


def test_text_is_escaped(tmp_path):
    nasty = Verdict("performance", "<b>metric</b>", 0.5, 0.6, ">=", "fail", n=3)
    nasty.evidence["subjects"] = {"model": {"name": "<script>alert(1)</script>"}}
    record = SessionRecord(seed=1, profile="<i>x</i>", gates=[("t.py::<img src=x>", nasty)])
    text = html.render(plain(record.to_json()))
    assert "<script" not in text and "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;" in text


def test_unexpected_evidence_gets_a_row_and_no_plot(tmp_path):
    shapes = [
        {"by_sensitive": "not a table"},
        {"by_sensitive": {"sex": {"groups": {}}}},
        {"curve": [{"eps": "big"}, {"robust_accuracy": 0.3}]},
        {"curve": [{"eps": 0.1, "robust_accuracy": 0.5}, {"eps": 0.2}], "per_eps": []},
        {"per_class": [1, 2]},
        {"attacks": {"loss": {"roc": {"fpr": [0, 1], "tpr": [0]}}}},
        {"ranking": [{"feature": "x"}], "claims": None, "per_eps": 3},
    ]
    gates = [
        (f"t.py::test_{i}", Verdict("robust", "m", 0.1, 0.2, "<=", "pass", evidence=evidence))
        for i, evidence in enumerate(shapes)
    ]
    paths = write_report(tmp_path, SessionRecord(seed=1, profile="ci", gates=gates))
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    parser = Page()
    parser.feed(text)
    assert len(parser.rows) == len(shapes)
    # none is drawn from a part of it (a curve of one good point of two was, before the
    # report said why instead): each key a plot reads gets a caption naming its problem
    assert parser.svgs == []
    for i in range(len(shapes)):
        assert f'class="plot unplotted" data-verdict="verdict-{i}"' in text, i
    assert text.count("No plot: ") == 10  # shape 3: curve and per_eps; 6: all three keys
    assert "No plot: evidence.curve[1]: no &#x27;robust_accuracy&#x27;" in text
    assert "No plot: evidence.attacks.loss.roc: fpr has 2 items, tpr 1" in text
    assert len(paths) == 3


def test_an_empty_session_still_gets_a_report(tmp_path):
    write_report(tmp_path, SessionRecord(seed=0, profile="ci"))
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "No gates ran in this session." in text
    assert strict_json(tmp_path / "modelguard.json")["verdicts"] == []


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 0.031) == [0.0, 0.01, 0.02, 0.03, 0.04]
    assert nice_ticks(0.5, 0.5)[0] <= 0.5 <= nice_ticks(0.5, 0.5)[-1]


# -- failing closed ---------------------------------------------------------------------------


def test_a_directory_that_cannot_be_written_is_a_report_error(tmp_path, record):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for directory in (blocker, blocker / "report"):
        with pytest.raises(ReportError, match=r"cannot write the modelguard report to .*file"):
            write_report(directory, record)
    assert blocker.read_text() == ""


def test_a_failed_write_leaves_no_half_file(tmp_path, record, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pytest_modelguard.reporting.signoff.os.replace", broken)
    with pytest.raises(ReportError, match="No space left on device"):
        write_report(tmp_path, record)
    assert list(tmp_path.iterdir()) == []


# -- MODEL_CARD.md ----------------------------------------------------------------------------


def _fingerprint(verdicts, nodeid: str) -> str:
    verdict = next(v for name, v in verdicts if name == nodeid)
    return verdict.evidence["subjects"]["model"]["fingerprint"]


@pytest.fixture(scope="module")
def card_path(report, verdicts) -> Path:
    """The wide model's card (the narrow model of the explainability gate has its own)."""
    fingerprint = _fingerprint(verdicts, "test_gates.py::test_perf")
    (path,) = [p for name, p in report.items() if name.startswith("MODEL_CARD.") and
               modelcard.load(p).get("version") == fingerprint]  # fmt: skip
    return path


@pytest.fixture(scope="module")
def card(card_path) -> modelcard.ModelCard:
    return modelcard.load(card_path)


def test_the_card_has_every_field_and_leaves_the_unknown_ones_to_people(card):
    assert list(card.fields) == list(modelcard.FIELDS)
    assert card.missing() == ["owners", "intended_use", "out_of_scope_uses", "license"]
    assert card.get("name") == "credit"  # from the hand-written card its transparency gate read
    assert {d["name"] for d in card.get("evaluation_data")} >= {"holdout", "notes", "people"}
    assert all(d.get("fingerprint") for d in card.get("evaluation_data"))
    assert any("train" in line for line in card.get("training_data"))


def test_the_card_names_what_fell_short(card, verdicts):
    limitations = "\n".join(card.get("limitations"))
    narrow = _fingerprint(verdicts, "test_gates.py::test_expl")
    for name, verdict in verdicts:
        model = (verdict.evidence.get("subjects") or {}).get("model") or {}
        if verdict.status in ("fail", "error") and model.get("fingerprint") != narrow:
            assert f"{verdict.requirement}.{verdict.metric}" in limitations, name
    assert "explainability" not in limitations  # the narrow model's shortfall is in its card
    assert "waived" in limitations
    assert "under noise" in limitations or "under " in limitations


def test_the_card_claims_only_what_the_transparency_gate_confirms(card, card_path, tabular):
    metrics = card.get("metrics")
    assert "roc_auc" in metrics and "accuracy" not in metrics  # accuracy was per class only
    assert set(metrics["demographic_parity_difference"]) == {"group"}
    model = LogisticRegression().fit(tabular["x_train"], tabular["y_train"])
    holdout = Dataset.from_arrays(
        tabular["x"], tabular["y"], sensitive={"group": tabular["group"]}, name="holdout"
    )
    verdict = checks.transparency(model, holdout, model_card=str(card_path), verify_claims=True)
    assert verdict.metric == "missing_fields" and verdict.value == 4  # the TODO fields
    claims = verdict.evidence["claims"]
    measured = {"roc_auc", "f1", "demographic_parity_difference", "accuracy_group_min"}
    assert {c["metric"] for c in claims} == measured
    assert all(c["ok"] and abs(c["difference"]) < 1e-9 for c in claims), claims


# -- through the plugin -----------------------------------------------------------------------


def test_modelguard_report_option_writes_a_valid_report(pytester, holdout_path, schema):
    pytester.makeconftest(
        f"""
        import numpy as np
        import pytest
        from sklearn.linear_model import LogisticRegression
        from pytest_modelguard import Dataset

        DATA = np.load({str(holdout_path)!r})

        @pytest.fixture(scope="session")
        def model():
            return LogisticRegression().fit(DATA["x"][:300], DATA["y"][:300])

        @pytest.fixture(scope="session")
        def dataset():
            return Dataset.from_arrays(
                DATA["x"][300:], DATA["y"][300:], sensitive={{"group": DATA["group"][300:]}},
                name="holdout",
            )
        """
    )
    pytester.makepyfile(
        test_gates="""
        from pytest_modelguard import fairness, performance

        @performance(metric="accuracy", min=0.7)
        def test_accuracy(): ...

        @fairness(metric="demographic_parity_difference", max_disparity=0.001)
        def test_parity(): ...
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--modelguard-report=out")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*modelguard report: *index.html"])
    data = strict_json(pytester.path / "out" / "modelguard.json")
    validator(schema).validate(data)
    assert [(v["metric"], v["status"]) for v in data["verdicts"]] == [
        ("accuracy", "pass"),
        ("demographic_parity_difference", "fail"),
    ]
    assert all(v["evidence"]["subjects"]["dataset"]["fingerprint"] for v in data["verdicts"])
    text = (pytester.path / "out" / "index.html").read_text(encoding="utf-8")
    assert text.count('<tr class="verdict') == 2 and "chart chart-disparity" in text
    assert modelcard.load(pytester.path / "out" / "MODEL_CARD.md").get("name")


def test_without_pyyaml_the_card_front_matter_is_json(record, monkeypatch):
    def no_yaml():
        raise GateError("no PyYAML")

    monkeypatch.setattr(modelcard, "_yaml", no_yaml)
    for text in modelcard_out.cards(plain(record.to_json())).values():
        front = text.split("---\n")[1]
        assert list(json.loads(front)) == list(modelcard.FIELDS)
