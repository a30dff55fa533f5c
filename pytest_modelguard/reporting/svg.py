"""Small hand-written SVG charts for the sign-off report: no plotting library, no network.

Two primitives cover every plot: horizontal bars (optionally several series, interval
whiskers, a threshold line) and lines over a numeric axis (curves, ROC). Every string
is escaped here; callers pass plain text and numbers (None for a missing value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 560
LABEL_WIDTH = (60, 240)  # least and most left margin of bar charts, for category labels
CHAR = 6.5  # width of one character of 11px label text, generously
BAR = 14  # height of one bar
MAX_LABEL = 36  # characters of a label before it is shortened


@dataclass
class Bars:
    """One series of a bar chart: a value (and maybe an interval) per category."""

    name: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None] | None = None
    highlight: Sequence[bool] | None = None  # e.g. protected features, drawn in the alert colour


@dataclass
class Line:
    """One curve: points ``(x, y)``, optional ``(low, high)`` whiskers at each point."""

    name: str
    points: Sequence[tuple[float, float]]
    intervals: Sequence[tuple[float, float] | None] = field(default_factory=list)


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Bars],
    *,
    axis_label: str,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    domain: tuple[float, float] | None = None,
    kind: str = "bars",
) -> str:
    """Horizontal bars, one row per category (series side by side within the row)."""
    finite = [
        v
        for s in series
        for v in [*s.values, *(b for i in (s.intervals or []) if i for b in i)]
        if _finite(v)
    ]
    if threshold is not None:
        finite.append(threshold)
    if domain is None:
        domain = (min([0.0, *finite]), max([1.0, *finite]))
    low, high = domain
    ticks = nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    row = BAR * len(series) + 8
    top, plot_height = 28 + (16 if len(series) > 1 else 0), row * len(categories)
    height = top + plot_height + 40
    right = WIDTH - 20
    longest = max((min(len(c), MAX_LABEL) for c in categories), default=0)
    left = min(max(LABEL_WIDTH[0], round(CHAR * longest) + 12), LABEL_WIDTH[1])
    x = _scale(low, high, left, right)

    parts = [_open(chart_id, title, height, f"chart chart-{kind}")]
    parts += _x_axis(ticks, x, top, top + plot_height, axis_label)
    if len(series) > 1:
        parts.append(_legend([s.name for s in series], left, 16))
    for c, category in enumerate(categories):
        y0 = top + c * row + 4
        parts.append(
            f'<text class="category" x="{left - 6}" y="{y0 + row / 2:.1f}" '
            f'text-anchor="end" dominant-baseline="middle">{_label(category)}</text>'
        )
        for s, one in enumerate(series):
            value = one.values[c] if c < len(one.values) else None
            y = y0 + s * BAR
            hot = bool(one.highlight and c < len(one.highlight) and one.highlight[c])
            css = f"bar series-{s % 4}" + (" highlight" if hot else "")
            if not _finite(value):
                parts.append(
                    f'<text class="missing" x="{left + 4}" y="{y + BAR / 2:.1f}" '
                    'dominant-baseline="middle">no value</text>'
                )
                continue
            start, end = sorted((x(max(low, 0.0) if low < 0 < high else low), x(value)))
            parts.append(
                f'<rect class="{css}" x="{start:.1f}" y="{y + 1:.1f}" '
                f'width="{max(end - start, 1.0):.1f}" height="{BAR - 2}">'
                f"<title>{escape(one.name)} {escape(category)}: {fmt(value)}</title></rect>"
            )
            interval = one.intervals[c] if one.intervals and c < len(one.intervals) else None
            if interval and all(_finite(b) for b in interval):
                parts.append(_whisker_h(x(interval[0]), x(interval[1]), y + BAR / 2))
    if threshold is not None:
        parts.append(_threshold_v(x(threshold), top, top + plot_height, threshold_label))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    chart_id: str,
    title: str,
    lines: Sequence[Line],
    *,
    x_label: str,
    y_label: str,
    y_domain: tuple[float, float] | None = (0.0, 1.0),
    x_domain: tuple[float, float] | None = None,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    diagonal: bool = False,
    kind: str = "curve",
) -> str:
    """Curves over a numeric x axis, with whiskers, a horizontal threshold, a chance diagonal.

    ``y_domain=None`` fits the y axis to the points, whiskers and threshold (from 0): a
    rate of a few percent stays readable.
    """
    xs = [p[0] for line in lines for p in line.points if _finite(p[0])]
    if x_domain is None:
        x_domain = (min([0.0, *xs]), max(xs) if xs and max(xs) > 0 else 1.0)
    if y_domain is None:
        ys = [v for line in lines for p in line.points for v in p[1:] if _finite(v)]
        ys += [b for line in lines for i in line.intervals if i for b in i if _finite(b)]
        ys += [threshold] if threshold is not None else []
        y_domain = (min([0.0, *ys]), max(ys) * 1.15 if ys and max(ys) > 0 else 1.0)
    x_ticks = nice_ticks(*x_domain)
    y_ticks = nice_ticks(*y_domain)
    left, top, bottom, right = 56, 34 if len(lines) > 1 else 18, 260, WIDTH - 20
    x = _scale(x_ticks[0], x_ticks[-1], left, right)
    y = _scale(y_ticks[0], y_ticks[-1], bottom, top)
    parts = [_open(chart_id, title, bottom + 44, f"chart chart-{kind}")]
    parts += _x_axis(x_ticks, x, top, bottom, x_label)
    for tick in y_ticks:
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y(tick):.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{fmt(tick)}</text>'
        )
    parts.append(
        f'<text class="axis-label" transform="translate(14 {(top + bottom) / 2:.0f}) rotate(-90)"'
        f' text-anchor="middle">{escape(y_label)}</text>'
    )
    if diagonal:
        parts.append(
            f'<line class="diagonal" x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" '
            f'y2="{y(1):.1f}"><title>chance</title></line>'
        )
    if threshold is not None:
        # the label sits under the line at the left, where curves rarely are (they start
        # at clean accuracy or at zero attack success); above it when that is the axis
        at = y(threshold)
        below = at + 14 <= bottom - 4
        parts.append(
            f'<line class="threshold" x1="{left}" x2="{right}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="threshold-label" x="{left + 6}" y="{at + 14 if below else at - 5:.1f}"'
            f">{escape(threshold_label)}</text>"
        )
    if len(lines) > 1:
        parts.append(_legend([line.name for line in lines], left, 14))
    for s, line in enumerate(lines):
        points = [(px, py) for px, py in line.points if _finite(px) and _finite(py)]
        css = f"series-{s % 4}"
        for (px, _), interval in zip(line.points, line.intervals, strict=False):
            if interval and _finite(px) and all(_finite(b) for b in interval):
                parts.append(_whisker_v(x(px), y(interval[0]), y(interval[1]), css))
        path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in points)
        parts.append(
            f'<polyline class="line {css}" points="{path}"><title>{escape(line.name)}</title>'
            "</polyline>"
        )
        if len(points) <= 30:
            parts += [
                f'<circle class="point {css}" cx="{x(px):.1f}" cy="{y(py):.1f}" r="3">'
                f"<title>{escape(line.name)}: ({fmt(px)}, {fmt(py)})</title></circle>"
                for px, py in points
            ]
    parts.append("</svg>")
    return "".join(parts)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (1, 2 or 5 times a power of ten apart)."""
    if not (_finite(low) and _finite(high)) or high <= low:
        high = low + 1.0 if _finite(low) else 1.0
        low = low if _finite(low) else 0.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [float(f"{k * step:.12g}") for k in range(first, max(last, first + 1) + 1)]


def fmt(value: float | None) -> str:
    """A number as people read it in a report: 4 significant digits; None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    span = (high - low) or 1.0

    def scale(value: float) -> float:
        return start + (min(max(value, low), high) - low) / span * (end - start)

    return scale


def _open(chart_id: str, title: str, height: float, css: str) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="{css}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" role="img" aria-labelledby="{escape(chart_id)}-t">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
    )


def _x_axis(
    ticks: list[float], x: Callable[[float], float], top: float, bottom: float, label: str
) -> list[str]:
    parts = [
        f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{bottom}"/>'
        f'<text class="tick" x="{x(t):.1f}" y="{bottom + 14}" text-anchor="middle">{fmt(t)}</text>'
        for t in ticks
    ]
    parts.append(
        f'<line class="axis" x1="{x(ticks[0]):.1f}" x2="{x(ticks[-1]):.1f}" '
        f'y1="{bottom}" y2="{bottom}"/>'
    )
    parts.append(
        f'<text class="axis-label" x="{(x(ticks[0]) + x(ticks[-1])) / 2:.1f}" y="{bottom + 32}" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return parts


def _legend(names: list[str], left: float, y: float) -> str:
    items, offset = [], left
    for s, name in enumerate(names):
        items.append(
            f'<rect class="swatch series-{s % 4}" x="{offset:.0f}" y="{y - 9}" width="10" '
            f'height="10"/><text class="legend" x="{offset + 14:.0f}" y="{y}">{_label(name)}</text>'
        )
        offset += 24 + 7 * min(len(name), MAX_LABEL)
    return f'<g class="legend">{"".join(items)}</g>'


def _label(text: str) -> str:
    short = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    title = f"<title>{escape(text)}</title>" if short != text else ""
    return f"{escape(short)}{title}"


def _whisker_h(x1: float, x2: float, y: float) -> str:
    return (
        f'<path class="interval" d="M{x1:.1f},{y - 4:.1f}v8M{x1:.1f},{y:.1f}H{x2:.1f}'
        f'M{x2:.1f},{y - 4:.1f}v8"/>'
    )


def _whisker_v(x: float, y1: float, y2: float, css: str) -> str:
    return (
        f'<path class="interval {css}" d="M{x - 4:.1f},{y1:.1f}h8M{x:.1f},{y1:.1f}V{y2:.1f}'
        f'M{x - 4:.1f},{y2:.1f}h8"/>'
    )


def _threshold_v(x: float, top: float, bottom: float, label: str) -> str:
    return (
        f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{bottom}"/>'
        f'<text class="threshold-label" x="{x:.1f}" y="{top - 9}" text-anchor="middle">'
        f"{escape(label)}</text>"
    )
