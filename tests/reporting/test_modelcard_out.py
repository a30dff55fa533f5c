"""What the reports say reads true: the summary line states what was required, the HTML
banner names the gates that fall short, and a drafted model card speaks for one model."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from pytest_modelguard.checks.transparency import modelcard
from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.reporting import html, modelcard_out
from pytest_modelguard.reporting.record import SessionRecord
from pytest_modelguard.reporting.signoff import plain, write_report

LOGREG = {
    "name": "LogisticRegression",
    "fingerprint": "a" * 64,
    "fingerprint_kind": "pickle-sha256",
}
FOREST = {
    "name": "RandomForestClassifier",
    "fingerprint": "b" * 64,
    "fingerprint_kind": "pickle-sha256",
}
HOLDOUT = {"name": "holdout", "fingerprint": "c" * 64, "fingerprint_kind": "content-sha256"}


def gate(metric, value, threshold, operator, status, model=None, **evidence):
    verdict = Verdict(
        "performance", metric, value, threshold, operator, status, n=500, evidence=evidence
    )
    if model is not None:
        verdict.evidence["subjects"] = {"model": model, "dataset": HOLDOUT}
    return verdict


def record(*gates: tuple[str, Verdict]) -> dict:
    return plain(SessionRecord(seed=7, profile="ci", gates=list(gates)).to_json())


# -- the summary line ------------------------------------------------------------------------


def test_a_summary_line_says_what_was_required_not_a_false_comparison():
    short = gate("recall", 0.78125, 0.8, ">=", "fail", LOGREG)
    assert short.summary() == "performance.recall = 0.7812, required >= 0.8 (n=500)"
    interval = gate("accuracy", 0.9, 0.8, ">=", "pass")
    interval.ci, interval.confidence = (0.85, 0.93), 0.95
    assert (
        interval.summary() == "performance.accuracy = 0.9 [CI 0.85, 0.93], required >= 0.8 (n=500)"
    )
    assert short.comparison() == "0.7812, required >= 0.8"


# -- the HTML banner -------------------------------------------------------------------------


class Banner(HTMLParser):
    """The text and links inside the banner element."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.text, self.links = 0, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "overall" or self.depth:
            self.depth += 1
        if self.depth and tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def test_the_banner_names_every_gate_that_falls_short_and_links_its_row():
    data = record(
        ("tests/test_a.py::test_auc", gate("roc_auc", 0.9, 0.85, ">=", "pass", LOGREG)),
        ("tests/test_a.py::test_recall", gate("recall", 0.7, 0.8, ">=", "fail", LOGREG)),
        ("tests/test_b.py::test_latency", Verdict.error("performance", "latency", "no rows")),
        ("tests/test_c.py::test_f1", gate("f1", 0.7, 0.8, ">=", "waived", LOGREG)),
    )
    page = html.render(data)
    banner = Banner()
    banner.feed(page)
    text = " ".join(" ".join(banner.text).split())
    assert text.startswith("FAIL: a gate falls short (4 gates)")
    assert "1 falls short: tests/test_a.py::test_recall performance.recall" in text
    assert "1 not evaluated: tests/test_b.py::test_latency performance.latency" in text
    assert "1 waived: tests/test_c.py::test_f1" in text
    assert "test_auc" not in text
    for link in banner.links:
        assert f'id="{link[1:]}"' in page


def test_a_passing_banner_names_nobody():
    page = html.render(record(("t.py::test_ok", gate("f1", 0.9, 0.8, ">=", "pass", LOGREG))))
    banner = Banner()
    banner.feed(page)
    assert " ".join(" ".join(banner.text).split()) == "PASS: every gate holds (1 gates)"


# -- one model card per model, kept from the hand-written one --------------------------------


def test_two_models_get_two_cards_and_no_number_crosses_over(tmp_path):
    data = record(
        ("t.py::test_logreg", gate("accuracy", 0.81, 0.8, ">=", "pass", LOGREG)),
        ("t.py::test_forest", gate("accuracy", 0.93, 0.8, ">=", "pass", FOREST)),
        ("t.py::test_forest_recall", gate("recall", 0.6, 0.8, ">=", "fail", FOREST)),
    )
    written = {path.name: path for path in write_report(tmp_path, _record(data))}
    assert sorted(written) == [
        "MODEL_CARD.LogisticRegression.md",
        "MODEL_CARD.RandomForestClassifier.md",
        "index.html",
        "modelguard.json",
    ]
    logreg = modelcard.load(written["MODEL_CARD.LogisticRegression.md"])
    forest = modelcard.load(written["MODEL_CARD.RandomForestClassifier.md"])
    assert logreg.get("name") == "LogisticRegression" and logreg.get("version") == "a" * 64
    assert logreg.get("metrics") == {"accuracy": 0.81}
    assert forest.get("metrics") == {"accuracy": 0.93, "recall": 0.6}
    assert "recall" not in str(logreg.get("limitations"))
    assert "RandomForest" not in written["MODEL_CARD.LogisticRegression.md"].read_text()
    with pytest.raises(ValueError, match="2 models were gated"):
        modelcard_out.render(data)


def test_one_model_keeps_the_single_card_name():
    data = record(("t.py::test_a", gate("accuracy", 0.81, 0.8, ">=", "pass", LOGREG)))
    assert list(modelcard_out.cards(data)) == ["MODEL_CARD.md"]


HAND_WRITTEN = {
    "name": "credit-risk",
    "version": "1.10",
    "owners": "risk-ml@example.com",
    "intended_use": "pre-screening of consumer credit applications",
    "out_of_scope_uses": "<TODO>",
    "metrics": {"accuracy": 0.8},
    "license": "proprietary",
    "contact": "on-call rota",
}


def test_a_drafted_card_keeps_the_fields_of_the_hand_written_card():
    transparency = Verdict(
        "transparency", "claim_error", 0.0, 0.01, "<=", "pass",
        evidence={"model_card": "MODEL_CARD.md", "card_fields": HAND_WRITTEN,
                  "subjects": {"model": LOGREG, "dataset": HOLDOUT}},
    )  # fmt: skip
    data = record(
        ("t.py::test_card", transparency),
        ("t.py::test_accuracy", gate("accuracy", 0.84, 0.8, ">=", "pass", LOGREG)),
        ("t.py::test_forest", gate("accuracy", 0.93, 0.8, ">=", "pass", FOREST)),
    )
    cards = modelcard_out.cards(data)
    text = cards["MODEL_CARD.LogisticRegression.md"]
    card = modelcard.ModelCard(modelcard_out_fields(text))
    for field in ("name", "version", "owners", "intended_use", "metrics", "license", "contact"):
        assert card.get(field) == HAND_WRITTEN[field], field
    # what it left empty the gates fill, or stays to do
    assert card.get("evaluation_data") == [{"name": "holdout", "fingerprint": "c" * 64}]
    assert card.get("out_of_scope_uses").startswith("<TODO:")
    assert "Drafted from the hand-written card `MODEL_CARD.md`" in text
    # the other model's card does not inherit this one's hand-written fields
    other = modelcard_out_fields(cards["MODEL_CARD.RandomForestClassifier.md"])
    assert other["name"] == "RandomForestClassifier" and "contact" not in other


def modelcard_out_fields(text: str) -> dict:
    import yaml

    return yaml.safe_load(text.split("---\n")[1])


def _record(data: dict) -> SessionRecord:
    gates = [(v.pop("nodeid"), Verdict.from_json(v)) for v in (dict(v) for v in data["verdicts"])]
    return SessionRecord(seed=data["seed"], profile=data["profile"], gates=gates)


def test_the_transparency_gate_carries_the_card_it_read_into_the_draft(tmp_path):
    from pytest_modelguard import checks

    path = tmp_path / "MODEL_CARD.md"
    path.write_text(modelcard.ModelCard(HAND_WRITTEN, body="# Credit risk\n").to_markdown())
    transparency = checks.transparency(model_card=str(path))  # no model: one model gated
    assert transparency.status == "fail"  # out_of_scope_uses is a placeholder
    data = record(
        ("t.py::test_card", transparency),
        ("t.py::test_accuracy", gate("accuracy", 0.84, 0.8, ">=", "pass", LOGREG)),
    )
    ((name, text),) = modelcard_out.cards(data).items()
    fields = modelcard_out_fields(text)
    assert name == "MODEL_CARD.md"
    assert {key: fields[key] for key in HAND_WRITTEN if key != "out_of_scope_uses"} == {
        key: value for key, value in HAND_WRITTEN.items() if key != "out_of_scope_uses"
    }
    assert f"Drafted from the hand-written card `{path}`" in text


def test_metrics_the_transparency_gate_found_overstated_are_not_copied():
    claims = [{"claim": "accuracy", "claimed": 0.8, "measured": 0.7, "ok": False}]
    transparency = Verdict(
        "transparency", "claim_error", 0.1, 0.01, "<=", "fail",
        evidence={"model_card": "MODEL_CARD.md", "card_fields": HAND_WRITTEN, "claims": claims,
                  "subjects": {"model": LOGREG, "dataset": HOLDOUT}},
    )  # fmt: skip
    data = record(
        ("t.py::test_card", transparency),
        ("t.py::test_accuracy", gate("accuracy", 0.7, 0.6, ">=", "pass", LOGREG)),
    )
    text = modelcard_out.cards(data)["MODEL_CARD.md"]
    fields = modelcard_out_fields(text)
    assert fields["metrics"] == {"accuracy": 0.7} and fields["owners"] == HAND_WRITTEN["owners"]
    assert "Its `metrics` overstate the model (accuracy" in text
