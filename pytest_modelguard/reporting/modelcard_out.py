"""``MODEL_CARD.md`` of the sign-off report: a model card drafted from the verdicts.

One card per model gated (``MODEL_CARD.md`` for one model, ``MODEL_CARD.<name>.md``
each for several): numbers measured on one model are never claimed for another.
Written in the format :mod:`pytest_modelguard.checks.transparency.modelcard` reads (YAML
front matter with its :data:`~pytest_modelguard.checks.transparency.modelcard.FIELDS`), so
the transparency gate can check it.
When a transparency gate read a hand-written card for the model, the draft starts from
it: every field the people filled is kept as written (extra fields too), and the gates
fill only what it left empty. What nobody knows (owners, intended use, license, ...)
is left as a ``<TODO: ...>`` placeholder, which that gate counts as missing: a drafted
card is not complete until people finish it. ``metrics`` holds only claims the
transparency gate can verify, each the most conservative value measured.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_modelguard.checks.transparency import modelcard
from pytest_modelguard.core.verdict import GateError
from pytest_modelguard.reporting.svg import fmt

CLAIMED = ("performance", "fairness")  # requirements whose metrics the card can claim


CARD_NAME = "MODEL_CARD.md"
Model = tuple[str, str | None]  # (name, fingerprint) of a gated model


def cards(data: dict[str, Any]) -> dict[str, str]:
    """File name -> card, one card per model gated (a record in its JSON form)."""
    models = list(_subjects(data.get("verdicts", []), "model"))
    if len(models) <= 1:
        return {CARD_NAME: render(data)}
    return {name: render(data, model=model) for model, name in _file_names(models).items()}


def render(data: dict[str, Any], *, model: Model | None = None) -> str:
    """The card of ``model`` (default: the only model gated) for a record in JSON form.

    Its facts come from that model's verdicts and the verdicts about no model (an
    artifact, a compliance matrix); never from another model's.
    """
    everything = data.get("verdicts", [])
    models = list(_subjects(everything, "model"))
    if model is None:
        if len(models) > 1:
            raise ValueError(f"{len(models)} models were gated: name one, or use cards()")
        model = models[0] if models else None
    verdicts = [v for v in everything if _model_of(v) in (model, None)]
    datasets = _subjects(verdicts, "dataset")
    written, source, overstated = _hand_written(everything, model, models)
    facts: dict[str, Any] = {
        "name": model[0] if model else None,
        "version": model[1] if model else None,
        "training_data": _training_data(verdicts),
        "evaluation_data": [
            {"name": name, "fingerprint": fp} if fp else {"name": name} for name, fp in datasets
        ]
        or None,
        "metrics": _claims(verdicts) or None,
        "limitations": _limitations(verdicts) or None,
        "ethical_considerations": _ethics(verdicts) or None,
    }
    fields = {}
    for name, meaning in modelcard.FIELDS.items():
        if name == "metrics" and overstated:  # shown false: the measured claims instead
            fields[name] = facts[name] if facts.get(name) else f"<TODO: {meaning}>"
        elif modelcard.is_filled(written.get(name)):
            fields[name] = written[name]  # what people wrote wins over what gates drafted
        else:
            fields[name] = facts[name] if facts.get(name) else f"<TODO: {meaning}>"
    fields.update({key: value for key, value in written.items() if key not in fields})
    body = _body(data, fields, verdicts, model, source, overstated)
    card = modelcard.ModelCard(fields, body=body)
    try:
        return card.to_markdown()
    except GateError:  # no PyYAML: JSON is YAML too, and the card still loads
        front = json.dumps(fields, indent=2, ensure_ascii=False)
        return f"---\n{front}\n---\n{card.body}"


def _model_of(v: dict[str, Any]) -> Model | None:
    subject = ((v.get("evidence") or {}).get("subjects") or {}).get("model")
    if isinstance(subject, dict) and subject.get("name"):
        return str(subject["name"]), subject.get("fingerprint")
    return None


def _file_names(models: list[Model]) -> dict[Model, str]:
    """``MODEL_CARD.<name>.md``; a name gated twice (two fits) gets its fingerprint too."""
    slug = {m: re.sub(r"[^A-Za-z0-9_.-]+", "-", m[0]).strip("-.") or "model" for m in models}
    names = {}
    for m in models:
        clash = sum(slug[other].lower() == slug[m].lower() for other in models) > 1
        suffix = f"-{(m[1] or 'unknown')[:12]}" if clash else ""
        names[m] = f"MODEL_CARD.{slug[m]}{suffix}.md"
    return names


def _hand_written(
    verdicts: list[dict[str, Any]], model: Model | None, models: list[Model]
) -> tuple[dict[str, Any], str | None, list[str]]:
    """The fields of the hand-written card a transparency gate read for ``model`` (one
    gate measured its claims on the model, or it is the only model, or the card names
    it), its path, and the claims that gate found overstated."""
    for v in verdicts:
        evidence = v.get("evidence") or {}
        fields = evidence.get("card_fields")
        if v.get("requirement") != "transparency" or not isinstance(fields, dict):
            continue
        owner = _model_of(v)
        if owner is None and len(models) == 1:
            owner = models[0]
        if owner is None and model is not None:
            named = [m for m in models if m[0] == str(fields.get("name"))]
            owner = named[0] if len(named) == 1 else None
        if owner == model and model is not None:
            claims = evidence.get("claims") or []
            overstated = [
                str(c.get("claim")) for c in claims if isinstance(c, dict) and not c.get("ok")
            ]
            return fields, evidence.get("model_card"), overstated
    return {}, None, []


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


def _body(
    data: dict[str, Any],
    fields: dict[str, Any],
    verdicts: list[dict[str, Any]],
    model: Model | None,
    source: str | None,
    overstated: list[str],
) -> str:
    """The human-readable part: what this card is and the gate results it rests on."""
    git = (data.get("environment") or {}).get("git") or {}
    commit = git.get("commit", "no git commit")
    lines = [
        f"\n# Model card: {fields['name']}\n",
        f"Drafted by pytest-modelguard from {len(verdicts)} gate verdicts "
        f"(seed {data.get('seed')}, profile {data.get('profile')}, {commit}, "
        f"{data.get('finished') or data.get('started')}). Fields marked `<TODO: ...>` are "
        "not known to the gates: fill them in before sign-off.\n",
    ]
    if model is not None:
        kinds = {_kind(v) for v in verdicts if _model_of(v) == model} - {None}
        kind = f" ({', '.join(sorted(kinds))})" if kinds else ""
        lines.append(f"Model: `{model[0]}`, fingerprint `{model[1] or 'unknown'}`{kind}.\n")
    if source:
        lines.append(
            f"Drafted from the hand-written card `{source}`: every field it fills is kept as "
            "written; the gates filled only the fields it left empty.\n"
        )
    if overstated:
        lines.append(
            f"Its `metrics` overstate the model ({', '.join(overstated)}: the transparency "
            "gate measured less), so this draft claims what the gates measured instead.\n"
        )
    lines += [
        "## Gate results\n",
        "| requirement | metric | value | required | status | n | data |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
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


def _kind(v: dict[str, Any]) -> str | None:
    subject = ((v.get("evidence") or {}).get("subjects") or {}).get("model") or {}
    return subject.get("fingerprint_kind")
