"""``index.html`` of the sign-off report: one self-contained page, readable offline.

Rendered from the JSON form of the record (what ``modelguard.json`` holds), so a saved
``modelguard.json`` can be rendered again. Inline CSS and SVG only: no script, no URL.
Plots come from the evidence a verdict carries, read by the keys its declared type
names (:mod:`pytest_modelguard.core.evidence`); evidence that breaks its type, or that has
its type and still cannot be drawn (lists of unequal length, a number that is not finite,
nothing to draw), gets a caption saying what is wrong instead of a plot. A verdict without
plottable evidence gets its table row only. Any other error in a plot is a defect: its
caption and a ``RuntimeWarning`` name the exception, and the rest of the report is kept.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from functools import partial
from html import escape
from typing import Any

from pytest_modelguard.core import evidence as contract
from pytest_modelguard.reporting.svg import Bars, Line, bar_chart, fmt, line_chart

STATUSES = ("pass", "fail", "error", "waived")
#: requirement kinds in the order a reviewer reads them, with their section titles
KINDS = {
    "performance": "Performance",
    "fairness": "Fairness",
    "robust": "Robustness",
    "privacy": "Privacy",
    "security": "Security",
    "explainability": "Explainability",
    "transparency": "Transparency",
    "compliance": "Compliance",
}
RATES = {
    "selection_rate": "selection rate",
    "tpr": "TPR",
    "fpr": "FPR",
    "fnr": "FNR",
    "tnr": "TNR",
    "precision": "precision",
    "accuracy": "accuracy",
}
#: a chart to draw once its id is known, and its caption
Chart = tuple[Callable[..., str], str]
MAX_FEATURES = 20  # attribution bars shown (the strongest)
MAX_EVIDENCE = 4000  # characters of evidence JSON shown per verdict; the rest is in the JSON


def render(data: dict[str, Any]) -> str:
    """The whole page for a record in its JSON form."""
    verdicts = [dict(v, index=i) for i, v in enumerate(data.get("verdicts", []))]
    kinds = sorted({v["requirement"] for v in verdicts}, key=_kind_order)
    body = [_header(data, verdicts), _summary(verdicts, kinds)]
    rows: dict[str, int] = {}  # test id -> its first verdict row, for links
    for v in verdicts:
        rows.setdefault(str(v.get("nodeid", "")), v["index"])
    body += [
        _section(kind, [v for v in verdicts if v["requirement"] == kind], rows) for kind in kinds
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>modelguard sign-off report</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def overall(statuses: list[str]) -> str:
    """One status for many: any failure fails, then any error, then any waiver."""
    return next((s for s in ("fail", "error", "waived") if s in statuses), "pass")


# -- page parts ---------------------------------------------------------------------------


def _header(data: dict[str, Any], verdicts: list[dict[str, Any]]) -> str:
    env = data.get("environment") or {}
    git = env.get("git")
    commit = "not a git repository (or git unavailable)"
    if isinstance(git, dict) and git.get("commit"):
        commit = f"{git['commit']}{' (uncommitted changes)' if git.get('dirty') else ''}"
    facts = {
        "seed": data.get("seed"),
        "profile": data.get("profile"),
        "git commit": commit,
        "started": data.get("started"),
        "finished": data.get("finished") or "–",
        "python": env.get("python", "–"),
        "platform": env.get("platform", "–"),
    }
    packages = "".join(
        f"<tr><td>{escape(str(name))}</td><td>{escape(str(version))}</td></tr>"
        for name, version in sorted((env.get("packages") or {}).items())
    )
    return (
        "<header><h1>Model sign-off report</h1>"
        f'<dl class="facts">{"".join(_fact(k, v) for k, v in facts.items())}</dl>'
        f'<details class="packages"><summary>package versions</summary><table>{packages}'
        "</table></details></header>"
    )


def _fact(name: str, value: Any) -> str:
    return (
        f'<div><dt>{escape(name)}</dt><dd id="fact-{name.replace(" ", "-")}">'
        f"{escape(str(value))}</dd></div>"
    )


def _summary(verdicts: list[dict[str, Any]], kinds: list[str]) -> str:
    statuses = [v.get("status", "error") for v in verdicts]
    counts = "".join(
        f'<div class="count status-{s}"><span class="number" id="count-{s}">'
        f"{statuses.count(s)}</span> {s}</div>"
        for s in STATUSES
    )
    if not verdicts:
        verdict = '<p class="banner" id="overall">No gates ran in this session.</p>'
    else:
        status = overall(statuses)
        words = {
            "pass": "every gate holds",
            "waived": "every gate holds or is waived",
            "fail": "a gate falls short",
            "error": "a gate could not be evaluated",
        }
        verdict = (
            f'<div class="banner status-{status}" id="overall" data-status="{status}">'
            f"<p>{status.upper()}: {words[status]} ({len(verdicts)} gates)</p>"
            f"{_named(verdicts)}</div>"
        )
    rows = []
    for kind in kinds:
        mine = [v.get("status", "error") for v in verdicts if v["requirement"] == kind]
        cells = "".join(f'<td class="num">{mine.count(s)}</td>' for s in STATUSES)
        status = overall(mine)
        rows.append(
            f'<tr class="kind" data-requirement="{escape(kind)}"><td><a href="#req-{escape(kind)}">'
            f"{escape(_title(kind))}</a></td>"
            f'<td><span class="badge status-{status}">{status}</span></td>{cells}</tr>'
        )
    head = "".join(f'<th class="num">{s}</th>' for s in STATUSES)
    table = (
        f'<table class="kinds"><thead><tr><th>requirement</th><th>verdict</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    compared = [
        b for v in verdicts if isinstance(b := (v.get("evidence") or {}).get("baseline"), dict)
    ]
    if compared:
        regressed = sum(bool(b.get("regressed")) for b in compared)
        table += (
            f'<p id="baseline-summary">{len(compared)} gate{"s" if len(compared) != 1 else ""} '
            f"compared with the baseline run, {regressed} regressed beyond its tolerance "
            '(column "vs baseline": the baseline value and the change since).</p>'
        )
    return (
        f'<section id="summary"><h2>Summary</h2>{verdict}<div class="counts">{counts}</div>'
        f"{table}</section>"
    )


#: gates named in the banner; the rest are counted, and every one has its row below
MAX_NAMED = 12


def _named(verdicts: list[dict[str, Any]]) -> str:
    """The gates that failed, errored or were waived, linked to their rows: a reviewer
    reads what falls short before anything else."""
    lines = []
    for status, word in (("fail", "falls short"), ("error", "not evaluated"), ("waived", "waived")):
        mine = [v for v in verdicts if v.get("status") == status]
        if not mine:
            continue
        links = [
            f'<a href="#verdict-{v["index"]}">{escape(str(v.get("nodeid", "")))}</a> '
            f"<code>{escape(str(v.get('requirement')))}.{escape(str(v.get('metric')))}</code>"
            for v in mine[:MAX_NAMED]
        ]
        more = f"<li>… and {len(mine) - MAX_NAMED} more</li>" if len(mine) > MAX_NAMED else ""
        items = "".join(f"<li>{link}</li>" for link in links)
        lines.append(
            f'<p class="named" data-status="{status}">{len(mine)} {word}:</p>'
            f'<ul class="named status-{status}">{items}{more}</ul>'
        )
    return "".join(lines)


def _section(kind: str, verdicts: list[dict[str, Any]], rows: dict[str, int]) -> str:
    figures = [figure for v in verdicts for figure in _plots(v)]
    plots = f'<div class="plots">{"".join(figures)}</div>' if figures else ""
    plots += "".join(_matrix(v, rows) for v in verdicts)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "test",
            "metric",
            "value",
            "interval",
            "required",
            "vs baseline",
            "status",
            "n",
            "time",
            "model / data",
            "details",
        )
    )
    rows = "".join(_row(v) for v in verdicts)
    return (
        f'<section class="requirement" id="req-{escape(kind)}" data-requirement="{escape(kind)}">'
        f"<h2>{escape(_title(kind))}</h2>{plots}"
        f'<table class="verdicts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )


def _row(v: dict[str, Any]) -> str:
    status = v.get("status", "error")
    ci = v.get("ci")
    interval = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if isinstance(ci, list) and len(ci) == 2 else "–"
    if interval != "–" and isinstance(v.get("confidence"), int | float):
        interval = f"{v['confidence']:.0%} {interval}"
        side = (v.get("evidence") or {}).get("decided_on")
        if side in ("upper", "lower"):  # the bound that decided, as a one-sided bound
            level = round(100 * (1 + v["confidence"]) / 2, 3)
            bound = f"{side} {level:g}% bound {fmt(ci[1] if side == 'upper' else ci[0])}"
            one_sided = (v.get("evidence") or {}).get("one_sided_only")
            interval = bound if one_sided else f"{bound}<br>{interval}"
    required = "–" if v.get("operator") is None else f"{v['operator']} {fmt(v.get('threshold'))}"
    duration = v.get("duration")
    time = f"{duration:.2f} s" if isinstance(duration, int | float) else "–"
    return (
        f'<tr class="verdict status-{escape(status)}" id="verdict-{v["index"]}" '
        f'data-requirement="{escape(v["requirement"])}" data-status="{escape(status)}">'
        f'<td class="nodeid">{escape(str(v.get("nodeid", "")))}</td>'
        f"<td>{_wrappable(str(v.get('metric', '')))}</td>"
        f'<td class="num">{fmt(v.get("value"))}</td><td class="num">{interval}</td>'
        f'<td class="num">{escape(required)}</td><td class="num">{_baseline(v)}</td>'
        f'<td><span class="badge status-{escape(status)}">{escape(status)}</span>{_waiver(v)}</td>'
        f'<td class="num">{fmt(v.get("n"))}</td><td class="num">{time}</td>'
        f"<td>{_subjects(v)}</td><td>{_details(v)}</td></tr>"
    )


def _subjects(v: dict[str, Any]) -> str:
    subjects = (v.get("evidence") or {}).get("subjects")
    if not isinstance(subjects, dict):
        return "–"
    parts = []
    for role in ("model", "dataset"):
        subject = subjects.get(role)
        if isinstance(subject, dict):
            fingerprint = subject.get("fingerprint")
            short = (
                f' <code title="{escape(str(fingerprint))}">{escape(str(fingerprint)[:12])}</code>'
                if fingerprint
                else ""
            )
            parts.append(f"{escape(str(subject.get('name', role)))}{short}")
    return "<br>".join(parts) or "–"


def _baseline(v: dict[str, Any]) -> str:
    """``0.839 (−0.012)`` against the baseline run; flagged when it regressed."""
    compared = (v.get("evidence") or {}).get("baseline")
    if not isinstance(compared, dict) or _number(compared.get("value")) is None:
        return "–"
    delta = _number(compared.get("delta"))
    text = fmt(compared["value"]) + (f" ({delta:+.4g})" if delta is not None else "")
    tolerance = _number(compared.get("tolerance"))
    allowed = f"max regression {fmt(tolerance)}" if tolerance is not None else "no tolerance set"
    if compared.get("regressed"):
        return (
            f'<span class="baseline regressed" title="{escape(allowed)}">{escape(text)}<br>'
            '<span class="badge status-fail">regressed</span></span>'
        )
    return f'<span class="baseline" title="{escape(allowed)}">{escape(text)}</span>'


def _waiver(v: dict[str, Any]) -> str:
    """Who accepted the shortfall, why, and until when."""
    waiver = (v.get("evidence") or {}).get("waiver")
    if not isinstance(waiver, dict):
        return ""
    return (
        f'<div class="waiver">by {escape(str(waiver.get("owner", "?")))} until '
        f"{escape(str(waiver.get('expires', '?')))}: {escape(str(waiver.get('reason', '')))}"
        + (f"<br><small>{escape(str(waiver['source']))}</small>" if waiver.get("source") else "")
        + "</div>"
    )


def _matrix(v: dict[str, Any], rows: dict[str, int]) -> str:
    """The compliance matrix: clause -> the requirement kinds and tests that evidence it."""
    matrix = (v.get("evidence") or {}).get("matrix")
    if not isinstance(matrix, list) or not all(isinstance(c, dict) for c in matrix):
        return ""
    lines = []
    for clause in matrix:
        tests = clause.get("tests") if isinstance(clause.get("tests"), dict) else {}
        kinds = []
        for kind in clause.get("needs") or tests:
            ids = [str(t) for t in tests.get(kind) or []]
            links = "".join(
                f'<li><a href="#verdict-{rows[t]}">{escape(t)}</a></li>'
                if t in rows
                else f"<li>{escape(t)}</li>"
                for t in ids
            )
            count = f"{len(ids)} test{'s' if len(ids) != 1 else ''}" if ids else "no test"
            listed = f"<details><summary>{count}</summary><ul>{links}</ul></details>"
            kinds.append(f"<div><b>{escape(str(kind))}</b>: {listed if ids else count}</div>")
        status = str(clause.get("status", "error"))
        why = escape(str(clause.get("reason") or ""))
        if status != "pass" and clause.get("example"):
            why += f"<br>evidence it with <code>{escape(str(clause['example']))}</code>"
        lines.append(
            f'<tr class="clause status-{escape(status)}" data-clause="'
            f'{escape(str(clause.get("clause", "")))}"><td>{escape(str(clause.get("title", "")))}'
            f'</td><td>{"".join(kinds)}</td><td><span class="badge status-{escape(status)}">'
            f"{escape(status)}</span></td><td>{why}</td></tr>"
        )
    framework = escape(str((v.get("evidence") or {}).get("framework", v.get("metric", ""))))
    return (
        f'<table class="matrix" data-verdict="verdict-{v["index"]}"><caption>{framework}: '
        f'clauses and their evidence (<a href="#verdict-{v["index"]}">'
        f"{escape(str(v.get('nodeid', '')))}</a>)</caption><thead><tr><th>clause</th>"
        "<th>evidenced by</th><th>status</th><th>missing</th></tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _details(v: dict[str, Any]) -> str:
    parts = [f"<pre>{escape(str(v.get('message', '')))}</pre>"]
    if v.get("counterexample") is not None:
        parts.append(f"<h4>counterexample</h4><pre>{escape(_json(v['counterexample']))}</pre>")
    evidence = {k: val for k, val in (v.get("evidence") or {}).items() if k != "subjects"}
    if evidence:
        parts.append(f"<h4>evidence</h4><pre>{escape(_json(evidence))}</pre>")
    return f"<details><summary>details</summary>{''.join(parts)}</details>"


def _json(value: Any) -> str:
    text = json.dumps(value, indent=1, ensure_ascii=False, default=str)
    if len(text) > MAX_EVIDENCE:
        text = text[:MAX_EVIDENCE] + "\n… (cut here; the whole of it is in modelguard.json)"
    return text


# -- plots: one function per shape of evidence ----------------------------------------------


class Unplottable(Exception):
    """Evidence that has its declared type and still cannot be drawn (lists of unequal
    length, a number that is not finite, nothing to draw): the page says why."""


def _plots(v: dict[str, Any]) -> list[str]:
    evidence = v.get("evidence")
    if not isinstance(evidence, dict):
        return []
    declared = contract.evidence_type(
        str(v.get("requirement")), str(v.get("metric")), str(v.get("status"))
    )
    broken = contract.problems(evidence, declared)
    if broken:  # said on the page, not a blank: the check and the report disagree
        return [
            _unplotted(
                v,
                f"the evidence does not match {declared.__name__} "
                f"(pytest_modelguard/core/evidence.py): {'; '.join(broken[:3])}",
            )
        ]
    figures: list[str] = []
    for key, plot in PLOTS.items():
        if key not in evidence:
            continue
        try:
            if not contract.is_declared((key,), declared):  # the shape its plot reads
                _require_shape(evidence[key], contract.declared_shape(key), f"evidence.{key}")
            drawn = [
                (draw(chart_id=f"plot-{v['index']}-{len(figures) + k}"), caption)
                for k, (draw, caption) in enumerate(plot(v, evidence))
            ]
        except Unplottable as malformed:
            figures.append(_unplotted(v, str(malformed)))
            continue
        except Exception as bug:  # a defect here must not cost the rest of the report
            reason = f"drawing it raised {type(bug).__name__}: {bug}"
            warnings.warn(
                f"pytest-modelguard's report: the {key!r} plot of {v.get('nodeid', '')} "
                f"{reason}; a defect in pytest-modelguard, please report it",
                RuntimeWarning,
                stacklevel=2,
            )
            figures.append(_unplotted(v, f"{reason} (a defect in pytest-modelguard)"))
            continue
        figures += [
            f'<figure class="plot" data-verdict="verdict-{v["index"]}">'
            f"{svg}<figcaption>{escape(caption)} "
            f'<a href="#verdict-{v["index"]}">{escape(str(v.get("nodeid", "")))}</a>'
            "</figcaption></figure>"
            for svg, caption in drawn
        ]
    return figures


def _unplotted(v: dict[str, Any], reason: str) -> str:
    """The caption that stands where a plot could not be drawn, saying why."""
    return (
        f'<figure class="plot unplotted" data-verdict="verdict-{v["index"]}"><figcaption>'
        f"No plot: {escape(reason)}. "
        f'<a href="#verdict-{v["index"]}">{escape(str(v.get("nodeid", "")))}</a>'
        "</figcaption></figure>"
    )


def _require_shape(value: Any, shape: Any, where: str) -> None:
    broken = contract.problems(value, shape, where)
    if broken:
        raise Unplottable("; ".join(broken[:3]))


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Unplottable(reason)


def _finite(values: list[Any], where: str) -> list[float]:
    """Every value as a float; one that is not a finite number is :class:`Unplottable`
    (``where`` names the value, ``{}`` standing for its index)."""
    numbers = []
    for i, value in enumerate(values):
        number = _number(value)
        if number is None:
            raise Unplottable(f"{where.format(i)} is {value!r}, not a finite number")
        numbers.append(number)
    return numbers


def _aligned(where: str, **columns: list[Any]) -> None:
    """Lists drawn against each other must be as long as each other."""
    lengths = [f"{name} {len(values)}" for name, values in columns.items()]
    if len({len(values) for values in columns.values()}) > 1:
        first, *rest = lengths
        raise Unplottable(f"{where}: {first.replace(' ', ' has ', 1)} items, {', '.join(rest)}")


def _threshold_text(v: dict[str, Any]) -> str:
    return f"{v.get('operator') or ''} {fmt(v.get('threshold'))}".strip()


def _fairness(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    tables = evidence["by_sensitive"]
    _require(bool(tables), "evidence.by_sensitive is empty")
    charts = []
    metric = str(v.get("metric", ""))
    group_min = metric.endswith("_group_min")
    for column, table in tables.items():
        groups = table["groups"]
        _require(bool(groups), f"evidence.by_sensitive.{column}.groups is empty")
        names = list(groups)
        rates = [r for r in groups[names[0]] if r not in ("n", "weight")]
        series = [Bars(RATES.get(r, r), [_number(groups[g].get(r)) for g in names]) for r in rates]
        charts.append(
            (
                partial(
                    bar_chart,
                    title=f"{metric}: rates per group of {column}",
                    categories=[f"{g} (n={groups[g].get('n', '?')})" for g in names],
                    series=series,
                    axis_label="rate per group",
                    domain=(0.0, 1.0),
                    threshold=_number(v.get("threshold")) if group_min else None,
                    threshold_label=_threshold_text(v),
                    kind="groups",
                ),
                f"Rates per group of {column!r} ({metric}).",
            )
        )
    columns = list(tables)
    intervals = [_pair(tables[c].get("ci")) for c in columns]
    charts.append(
        (
            partial(
                bar_chart,
                title=f"{metric} per sensitive column",
                categories=columns,
                series=[
                    Bars(metric, [_number(tables[c].get("value")) for c in columns], intervals)
                ],
                axis_label=metric,
                threshold=_number(v.get("threshold")),
                threshold_label=_threshold_text(v),
                kind="disparity",
            ),
            f"{metric} per sensitive column, with its interval where one was computed, "
            "and the threshold.",
        )
    )
    return charts


def _per_class(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    per_class = evidence["per_class"]
    _require(bool(per_class), "evidence.per_class is empty")
    classes = [str(c) for c in per_class]
    metric = str(v.get("metric", ""))
    svg = partial(
        bar_chart,
        title=f"{metric} per class",
        categories=classes,
        series=[Bars(metric, [_number(value) for value in per_class.values()])],
        axis_label=metric,
        threshold=_number(v.get("threshold")),
        threshold_label=_threshold_text(v),
        kind="per-class",
    )
    return [(svg, f"{metric} per class (one against the rest) and the threshold.")]


def _robustness(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    curve = evidence["curve"]
    epsilons = _finite([p["eps"] for p in curve], "evidence.curve[{}].eps")
    points = [(e, _number(p.get("robust_accuracy"))) for e, p in zip(epsilons, curve, strict=True)]
    intervals = [_pair(p.get("ci")) for p in curve]
    _require(
        any(y is not None for _, y in points),
        "no point of evidence.curve has a finite robust_accuracy",
    )
    clean = _number(evidence.get("clean_accuracy"))
    if clean is not None and all(eps != 0 for eps, _ in points):
        points, intervals = [(0.0, clean), *points], [None, *intervals]
    threshold, label = None, ""
    if v.get("metric") == "robust_accuracy":
        threshold, label = _number(v.get("threshold")), f"min accuracy {fmt(v.get('threshold'))}"
    elif v.get("metric") == "accuracy_drop" and clean is not None:
        drop = _number(v.get("threshold"))
        if drop is not None:
            threshold, label = clean - drop, f"clean − max drop ({fmt(drop)})"
    attack = " ".join(str(evidence[k]) for k in ("attack", "norm") if evidence.get(k))
    svg = partial(
        line_chart,
        title="robust accuracy against eps",
        lines=[Line(f"robust accuracy{f' ({attack})' if attack else ''}", points, intervals)],
        x_label=f"eps{f' ({attack})' if attack else ''}",
        y_label="robust accuracy",
        threshold=threshold,
        threshold_label=label,
        kind="robustness",
    )
    return [(svg, "Accuracy under attack at each eps (eps 0: clean), with Wilson intervals.")]


def _attack_success(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    rows = evidence["per_eps"]
    epsilons = _finite([p["eps"] for p in rows], "evidence.per_eps[{}].eps")
    points = [(e, _number(p.get("attack_success"))) for e, p in zip(epsilons, rows, strict=True)]
    intervals = [_pair(p.get("ci")) for p in rows]
    _require(
        any(y is not None for _, y in points),
        "no point of evidence.per_eps has a finite attack_success",
    )
    if all(eps != 0 for eps, _ in points):  # no perturbation flips nothing
        points, intervals = [(0.0, 0.0), *points], [None, *intervals]
    attack = " ".join(str(evidence[k]) for k in ("attack", "norm") if evidence.get(k))
    svg = partial(
        line_chart,
        title="attack success against eps",
        lines=[Line("attack success", points, intervals)],
        x_label=f"eps{f' ({attack})' if attack else ''}",
        y_label="attack success rate",
        y_domain=None,
        threshold=_number(v.get("threshold")),
        threshold_label=_threshold_text(v),
        kind="attack-success",
    )
    return [(svg, "Share of correctly classified rows the attack flips, per eps (eps 0: none).")]


def _roc(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    _require(bool(evidence["attacks"]), "evidence.attacks is empty")
    if evidence.get("roc_scale") == "log":
        return _roc_log(evidence)
    lines = []
    for name, attack in evidence["attacks"].items():
        points = _roc_points(name, attack["roc"])
        lines.append(Line(f"{name} (AUC {fmt(_number(attack.get('auc')))})", points))
    svg = partial(
        line_chart,
        title="membership inference ROC",
        lines=lines,
        x_label="false positive rate (non-members called members)",
        y_label="true positive rate",
        x_domain=(0.0, 1.0),
        diagonal=True,
        kind="roc",
    )
    return [(svg, "ROC of the membership inference attacks; the diagonal is guessing.")]


LOG_FPR_FLOOR = 1e-4  # the left end of a log-scale ROC


def _roc_log(evidence: dict[str, Any]) -> list[Chart]:
    """TPR against log10 FPR: what matters is the low-FPR end (LiRA, Carlini et al. 2022)."""
    lines = []
    for name, attack in evidence["attacks"].items():
        points = [
            (math.log10(f), t) for f, t in _roc_points(name, attack["roc"]) if f >= LOG_FPR_FLOOR
        ]
        tpr = _number(attack.get("tpr_at_fpr_0.001"))
        lines.append(Line(f"{name} (TPR at 0.1% FPR {fmt(tpr)})", points))
    grid = [-4 + i / 10 for i in range(41)]
    lines.append(Line("chance (TPR = FPR)", [(x, 10**x) for x in grid]))
    svg = partial(
        line_chart,
        title="membership inference ROC, log FPR",
        lines=lines,
        x_label="log10 false positive rate (-3: 0.1% of non-members called members)",
        y_label="true positive rate",
        x_domain=(math.log10(LOG_FPR_FLOOR), 0.0),
        kind="roc",
    )
    return [
        (
            svg,
            "ROC of the membership inference attacks on a log FPR scale: the left end is an "
            "attacker who is almost never wrong.",
        )
    ]


def _roc_points(name: str, roc: dict[str, Any]) -> list[tuple[float, float]]:
    """An attack's ROC as (FPR, TPR) points: lists of one length, of finite numbers."""
    where = f"evidence.attacks.{name}.roc"
    _aligned(where, fpr=roc["fpr"], tpr=roc["tpr"])
    _require(bool(roc["fpr"]), f"{where} has no points")
    fpr, tpr = _finite(roc["fpr"], where + ".fpr[{}]"), _finite(roc["tpr"], where + ".tpr[{}]")
    return list(zip(fpr, tpr, strict=True))


def _attribution(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    ranking = [r for r in evidence["ranking"] if _number(r.get("importance")) is not None]
    ranking = sorted(ranking, key=lambda r: -abs(float(r["importance"])))[:MAX_FEATURES]
    _require(bool(ranking), "no feature of evidence.ranking has a finite importance")
    values = [float(r["importance"]) for r in ranking]
    method = evidence.get("method")
    label = {
        "permutation": "permutation importance",
        "integrated_gradients": "mean |integrated gradients|",
    }.get(method, "importance")
    svg = partial(
        bar_chart,
        title="feature attribution",
        categories=[str(r["feature"]) for r in ranking],
        series=[Bars(label, values, highlight=[bool(r.get("protected")) for r in ranking])],
        axis_label=label,
        domain=(min(0.0, *values), max(0.0, *values)),  # importances are not rates
        kind="attribution",
    )
    shown = f"the {len(ranking)} strongest" if len(evidence["ranking"]) > len(ranking) else "all"
    text = f"Attribution per feature ({shown})"
    if evidence.get("attributed"):
        text += f": {evidence['attributed']}"
    protected = evidence.get("protected_features")
    if protected:
        text += f". Protected features ({', '.join(map(str, protected))}) in red"
    elif protected is not None:
        text += ". No protected attribute or named proxy is a feature of the model"
    k = f". The gate's top k is {evidence['k']}" if "k" in evidence else ""
    return [(svg, f"{text}{k}.")]


def _claims(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    claims = [c for c in evidence["claims"] if isinstance(c, dict)]
    _require(bool(claims), "evidence.claims is empty")
    svg = partial(
        bar_chart,
        title="model card claims against measurements",
        categories=[str(c.get("claim", c.get("metric", "?"))) for c in claims],
        series=[
            Bars("claimed", [_number(c.get("claimed")) for c in claims]),
            Bars("measured", [_number(c.get("measured")) for c in claims]),
        ],
        axis_label="value",
        kind="claims",
    )
    return [(svg, "What the model card claims next to what the gate measured.")]


def _token_shading(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    """Texts with each token shaded by its attribution: red raises the predicted class's
    score, blue lowers it; the strongest token of all shown is fully opaque."""
    shown = [t for t in evidence["token_attributions"] if isinstance(t, dict)]
    for i, t in enumerate(shown):
        where = f"evidence.token_attributions[{i}]"
        _aligned(where, tokens=t["tokens"], attributions=t["attributions"])
        _finite(t["attributions"], where + ".attributions[{}]")
    scale = max((abs(float(a)) for t in shown for a in t["attributions"]), default=0.0)
    _require(scale > 0, "evidence.token_attributions holds no attribution other than 0")

    def token(word: str, value: float) -> str:
        alpha = min(1.0, abs(value) / scale)
        rgb = "220,50,47" if value > 0 else "38,139,210"
        return (
            f'<span style="background:rgba({rgb},{alpha:.2f})" '
            f'title="{value:+.4f}">{escape(str(word))}</span>'
        )

    lines = "".join(
        '<p class="tokens">'
        + " ".join(token(w, float(a)) for w, a in zip(t["tokens"], t["attributions"], strict=True))
        + "</p>"
        for t in shown
    )
    return [(lambda chart_id: f'<div id="{chart_id}">{lines}</div>', "Token attributions.")]


#: the evidence key each plot draws from
PLOTS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[Chart]]] = {
    "by_sensitive": _fairness,
    "per_class": _per_class,
    "curve": _robustness,
    "per_eps": _attack_success,
    "attacks": _roc,
    "ranking": _attribution,
    "claims": _claims,
    "token_attributions": _token_shading,
}


# -- prediction logs: the metric over time windows, drift histograms -------------------------

KINDS["drift"] = "Drift"
MAX_DRIFT_FEATURES = 8  # histograms drawn per drift gate (drifted features first)


def _windows(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    windows = evidence["windows"]
    _require(bool(windows), "evidence.windows is empty")
    labels = [str(w["window"]) for w in windows]
    points = [(float(i + 1), _number(w.get("value"))) for i, w in enumerate(windows)]
    intervals = [_pair(w.get("ci")) for w in windows]
    metric = str(v.get("metric", ""))
    svg = partial(
        line_chart,
        title=f"{metric} per window ({evidence.get('window', '')})",
        lines=[Line(metric, points, intervals)],
        x_label=f"window: 1 = {labels[0]} … {len(labels)} = {labels[-1]}",
        y_label=metric,
        y_domain=None,
        x_domain=(1.0, float(max(len(labels), 2))),
        threshold=_number(v.get("threshold")),
        threshold_label=_threshold_text(v),
        kind="windows",
    )
    worst = evidence.get("worst_window", "")
    return [
        (
            svg,
            f"{metric} in each window over time, its interval and the threshold; the "
            f"worst window ({worst}) decides. Windows: {', '.join(labels)}.",
        )
    ]


def _drift(v: dict[str, Any], evidence: dict[str, Any]) -> list[Chart]:
    features = evidence["features"]
    _require(bool(features), "evidence.features is empty")
    ordered = sorted(features, key=lambda f: not features[f].get("drifted"))
    charts = []
    for name in ordered[:MAX_DRIFT_FEATURES]:
        feature = features[name]
        reference, current = feature["reference"], feature["current"]
        _aligned(f"evidence.features.{name}", bins=feature["bins"], reference=reference,
                 current=current)  # fmt: skip
        total_r, total_c = sum(reference) or 1, sum(current) or 1
        series = [
            Bars("reference", [n / total_r for n in reference]),
            Bars("current", [n / total_c for n in current]),
        ]
        status = "drifted" if feature.get("drifted") else "stable"
        summary = f"PSI {fmt(feature.get('psi'))}, JS {fmt(feature.get('js_distance'))}"
        charts.append(
            (
                partial(
                    bar_chart,
                    title=f"{name}: reference against current ({status}; {summary})",
                    categories=[str(b) for b in feature["bins"]],
                    series=series,
                    axis_label="share of rows",
                    kind="drift",
                ),
                f"Share of rows per bin of {name!r} ({feature.get('kind', '')}): the reference "
                f"against the current data; {status}, {summary}, adjusted p "
                f"{fmt(feature.get('p_adjusted'))}.",
            )
        )
    return charts


PLOTS["windows"] = _windows
PLOTS["features"] = _drift


# -- small helpers ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return low, high
    return None


def _wrappable(name: str) -> str:
    """A long snake_case name that may wrap after its underscores, so tables fit."""
    return escape(name).replace("_", "_<wbr>") if len(name) > 16 else escape(name)


def _title(kind: str) -> str:
    return KINDS.get(kind, kind.replace("_", " ").capitalize())


def _kind_order(kind: str) -> tuple[int, str]:
    order = list(KINDS)
    return (order.index(kind) if kind in order else len(order), kind)


CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--error:#8250df;
--error-bg:#fbefff;--waived:#9a6700;--waived-bg:#fff8c5;--ink:#1f2328;--muted:#59636e;
--line:#d1d9e0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);
background:#f6f8fa}
main{max-width:1280px;margin:0 auto;padding:24px}
section{overflow-x:auto}
header,section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin-bottom:16px}
h1{margin:0 0 12px;font-size:22px}h2{margin:0 0 12px;font-size:18px}h4{margin:8px 0 2px}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0}
.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-family:ui-monospace,monospace}
.packages{margin-top:10px;color:var(--muted)}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:0 0 12px}
.banner p{margin:0}.banner ul.named{margin:4px 0 6px;font-weight:400}
.banner p.named{margin-top:6px;font-weight:600}
.counts{display:flex;gap:12px;margin-bottom:12px}
.count{padding:6px 14px;border-radius:6px}.count .number{font-size:20px;font-weight:700}
.status-pass{background:var(--pass-bg);color:var(--pass)}
.status-fail{background:var(--fail-bg);color:var(--fail)}
.status-error{background:var(--error-bg);color:var(--error)}
.status-waived{background:var(--waived-bg);color:var(--waived)}
tr.verdict{background:none;color:var(--ink)}
tr.verdict.status-fail{box-shadow:inset 4px 0 var(--fail)}
tr.verdict.status-error{box-shadow:inset 4px 0 var(--error)}
tr.verdict.status-waived{box-shadow:inset 4px 0 var(--waived)}
tr.verdict.status-pass{box-shadow:inset 4px 0 var(--pass)}
.badge{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.kinds{width:auto}
.nodeid{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all;min-width:180px;
max-width:280px}
code{font-size:11px;color:var(--muted)}
details pre{white-space:pre-wrap;word-break:break-word;max-width:520px;font-size:12px;
background:#f6f8fa;padding:6px;border-radius:4px}
.plots{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:12px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px;max-width:100%}
figcaption{font-size:12px;color:var(--muted);max-width:560px}
svg.chart{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:var(--ink)}
svg .tick,svg .missing{fill:var(--muted)}
svg .axis-label{font-size:12px;fill:var(--muted)}
svg .grid{stroke:#eaeef2}svg .axis{stroke:#8c959f}
svg .series-0{--c:#4e79a7}svg .series-1{--c:#f28e2b}svg .series-2{--c:#59a14f}
svg .series-3{--c:#b07aa1}
svg .bar,svg .swatch,svg .point{fill:var(--c)}svg .bar.highlight{fill:var(--fail)}
svg .line{fill:none;stroke-width:2;stroke:var(--c)}
svg .interval{stroke:#24292f;stroke-width:1.2;fill:none}
svg .threshold{stroke:var(--fail);stroke-width:1.5;stroke-dasharray:5 3}
svg .threshold-label{fill:var(--fail)}
svg .diagonal{stroke:#8c959f;stroke-dasharray:3 3}
.waiver{font-size:12px;color:var(--waived);margin-top:4px;max-width:220px}
.baseline.regressed{color:var(--fail);font-weight:600}
table.matrix{margin-bottom:14px}table.matrix caption{text-align:left;font-weight:600;
padding:4px 0}table.matrix ul{margin:2px 0;padding-left:18px;font-size:12px}
tr.clause.status-pass,tr.clause.status-fail{background:none;color:var(--ink)}
@media print{body{background:#fff}details{display:none}}
"""
