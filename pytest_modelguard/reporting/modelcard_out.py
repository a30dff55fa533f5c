"""``MODEL_CARD.md`` of the sign-off report: a model card drafted from the verdicts.

Written in the format :mod:`pytest_modelguard.modelcard` reads (YAML front matter with
its :data:`~pytest_modelguard.modelcard.FIELDS`), so the transparency gate can check it.
What the gates measured fills fields; what they cannot know (owners, intended use,
license, ...) is left as a ``<TODO: ...>`` placeholder, which that gate counts as
missing: a drafted card is not complete until people finish it. ``metrics`` holds only
claims the transparency gate can verify, each the most conservative value measured.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_modelguard import modelcard
from pytest_modelguard.reporting.svg import fmt
from pytest_modelguard.verdict import GateError

CLAIMED = ("performance", "fairness")  # requirements whose metrics the card can claim


def render(data: dict[str, Any]) -> str:
    """The card for a record in its JSON form."""
    verdicts = data.get("verdicts", [])
    models = _subjects(verdicts, "model")
    datasets = _subjects(verdicts, "dataset")
    facts: dict[str, Any] = {
        "name": ", ".join(dict.fromkeys(name for name, _ in models)) or None,
        "version": ", ".join(fp for _, fp in models if fp) or None,
        "training_data": _training_data(verdicts),
        "evaluation_data": [
            {"name": name, "fingerprint": fp} if fp else {"name": name} for name, fp in datasets
        ]
        or None,
        "metrics": _claims(verdicts) or None,
        "limitations": _limitations(verdicts) or None,
        "ethical_considerations": _ethics(verdicts) or None,
    }
    fields = {
        name: facts[name] if facts.get(name) else f"<TODO: {meaning}>"
        for name, meaning in modelcard.FIELDS.items()
    }
    card = modelcard.ModelCard(fields, body=_body(data, fields))
    try:
        return card.to_markdown()
    except GateError:  # no PyYAML: JSON is YAML too, and the card still loads
        front = json.dumps(fields, indent=2, ensure_ascii=False)
        return f"---\n{front}\n---\n{card.body}"


def _subjects(verdicts: list[dict[str, Any]], role: str) -> dict[tuple[str, str | None], None]:
    """Every distinct (name, fingerprint) of the models (or datasets) gated, in order."""
    found: dict[tuple[str, str | None], None] = {}
    for v in verdicts:
        subject = ((v.get("evidence") or {}).get("subjects") or {}).get(role)
        if isinstance(subject, dict) and subject.get("name"):
            found[str(subject["name"]), subject.get("fingerprint")] = None
    return found


def _training_data(verdicts: list[dict[str, Any]]) -> list[str]:
    names = {
        str(v["evidence"]["members"])
        for v in verdicts
        if v.get("requirement") == "privacy" and (v.get("evidence") or {}).get("members")
    }
    return [f"{name} (the training rows the membership-inference gate used)" for name in names]


def _claims(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """``metric -> value`` (fairness: ``metric -> {column: value}``) as the transparency
    gate reads them; of several measurements the least flattering, so none overstates."""
    claims: dict[str, Any] = {}
    thresholds: dict[str, set[float]] = {}

    def keep(container: dict[str, Any], key: str, value: float, higher: bool) -> None:
        old = container.get(key)
        container[key] = value if old is None else (min if higher else max)(old, value)

    for v in verdicts:
        evidence = v.get("evidence") or {}
        higher = v.get("operator") == ">="
        if v.get("requirement") not in CLAIMED or v.get("status") == "error":
            continue
        if v["requirement"] == "performance":
            value = _performance_claim(v.get("value"), evidence)
            if value is not None:
                keep(claims, v["metric"], value, higher)
                thresholds.setdefault(v["metric"], set()).add(
                    evidence.get("decision_threshold", 0.5)
                )
            continue
        for column, table in (evidence.get("by_sensitive") or {}).items():
            if isinstance(table, dict) and isinstance(table.get("value"), int | float):
                keep(claims.setdefault(v["metric"], {}), column, float(table["value"]), higher)
    for metric, used in thresholds.items():
        if len(used) > 1:  # measured at several decision thresholds: no one number to claim
            del claims[metric]
        elif used != {0.5}:  # how it was measured travels with the claim
            claims[metric] = {"value": claims[metric], "decision_threshold": used.pop()}
    return claims


def _performance_claim(value: Any, evidence: dict[str, Any]) -> float | None:
    """A performance value the transparency gate can measure again the same way: not a
    worst class (per_class) and not one about a positive label it cannot name."""
    if not isinstance(value, int | float) or "per_class" in evidence:
        return None
    if evidence.get("pos_label", "1") not in ("1", "True"):
        return None
    return float(value)


def _limitations(verdicts: list[dict[str, Any]]) -> list[str]:
    """Every requirement not met, and what the attacks did to accuracy."""
    found = []
    for v in verdicts:
        status = v.get("status")
        if status == "fail":
            found.append(f"{_said(v)}, not {v.get('operator')} {fmt(v.get('threshold'))}")
        elif status == "error":
            found.append(f"{v['requirement']}.{v['metric']} could not be evaluated")
        elif status == "waived":
            found.append(f"{_said(v)}: short of {fmt(v.get('threshold'))}, waived")
        curve = (v.get("evidence") or {}).get("curve")
        if status != "error" and isinstance(curve, list) and curve:
            last = curve[-1] if isinstance(curve[-1], dict) else {}
            clean = (v.get("evidence") or {}).get("clean_accuracy")
            found.append(
                f"under {v['evidence'].get('attack', 'attack')} at eps={fmt(last.get('eps'))} "
                f"accuracy falls from {fmt(clean)} to {fmt(last.get('robust_accuracy'))}"
            )
    return list(dict.fromkeys(found))


def _ethics(verdicts: list[dict[str, Any]]) -> list[str]:
    """What the fairness and privacy gates found, one line each."""
    lines = []
    for v in verdicts:
        if v.get("requirement") in ("fairness", "privacy") and v.get("status") != "error":
            evidence = v.get("evidence") or {}
            about = evidence.get("sensitive") or evidence.get("attribute")
            if isinstance(about, list):
                about = ", ".join(map(str, about))
            where = f" across {about}" if about else ""
            lines.append(f"{_said(v)}{where} ({v.get('status')})")
    return lines


def _said(v: dict[str, Any]) -> str:
    return f"{v['requirement']}.{v['metric']} = {fmt(v.get('value'))}"


def _body(data: dict[str, Any], fields: dict[str, Any]) -> str:
    """The human-readable part: what this card is and the gate results it rests on."""
    git = (data.get("environment") or {}).get("git") or {}
    commit = git.get("commit", "no git commit")
    lines = [
        f"\n# Model card: {fields['name']}\n",
        f"Drafted by pytest-modelguard from {len(data.get('verdicts', []))} gate verdicts "
        f"(seed {data.get('seed')}, profile {data.get('profile')}, {commit}, "
        f"{data.get('finished') or data.get('started')}). Fields marked `<TODO: ...>` are "
        "not known to the gates: fill them in before sign-off.\n",
        "## Gate results\n",
        "| requirement | metric | value | required | status | n | data |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in data.get("verdicts", []):
        subjects = (v.get("evidence") or {}).get("subjects") or {}
        dataset = (subjects.get("dataset") or {}).get("name", "–")
        required = f"{v.get('operator') or ''} {fmt(v.get('threshold'))}".strip()
        cells = [
            v["requirement"],
            v["metric"],
            fmt(v.get("value")),
            required,
            v.get("status"),
            fmt(v.get("n")),
            dataset,
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
