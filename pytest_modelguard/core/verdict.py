"""The result of one requirement, and the error of one that cannot be evaluated.

Kept free of numpy so that the plugin can import it at load time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "error", "waived"]
Operator = Literal[">=", "<="]


class GateError(Exception):
    """A requirement that cannot be evaluated; the message says what to change.

    A gate that raises this is an ERROR, never a pass.
    """


def require_count(name: str, value: Any, *, at_least: int = 1, what: str = "") -> int:
    """``value`` of keyword ``name`` as a count: an ``int`` (not a bool) of at least
    ``at_least``; anything else is a :class:`GateError` that names the keyword and says
    what to give (``what``, appended, says what is counted). The one rule for counts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < at_least:
        need = (
            "give a positive integer" if at_least == 1 else f"use an integer of at least {at_least}"
        )
        raise GateError(f"{name}={value!r}: {need}{f' {what}' if what else ''}")
    return value


class Counterexample(AssertionError):
    """Raised inside a Hypothesis property: carries the outcome that broke the requirement,
    so the gate reports the shrunk example Hypothesis re-raises."""

    def __init__(self, counterexample: Any) -> None:
        super().__init__(counterexample)
        self.counterexample = counterexample


class GateFailure(AssertionError):
    """Raised by :meth:`Verdict.raise_for_status` when a requirement falls short."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


@dataclass
class Verdict:
    """What was required, what was measured, and whether it held.

    ``value`` is the point estimate; with a confidence level the status is decided
    on the bound of ``ci`` on the side of the threshold (see ``evidence["decided_on"]``).
    """

    requirement: str
    metric: str
    value: float | None
    threshold: float | None
    operator: Operator | None
    status: Status
    n: int | None = None
    ci: tuple[float, float] | None = None
    confidence: float | None = None
    formula: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    counterexample: Any = None
    duration: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        if not self.message:
            self.message = self.describe()

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "waived")

    def raise_for_status(self) -> Verdict:
        """Raise :class:`GateFailure` on a shortfall and :class:`GateError` on an error."""
        if self.status == "fail":
            raise GateFailure(self)
        if self.status == "error":
            raise GateError(self.message)
        return self

    def describe(self) -> str:
        """The one failure-message format every gate uses."""
        if self.status == "error":
            return f"ERROR {self.requirement}.{self.metric}: {self.evidence.get('error', '')}"
        lines = [
            f"{self.status.upper()} {self.requirement}: {self.metric} must be "
            f"{self.operator} {_fmt(self.threshold)}",
            f"  measured  {_fmt(self.value)}",
        ]
        if self.ci is not None:
            decided = self.decided_bound()
            if decided is None or not self.evidence.get("one_sided_only"):
                level = f"{self.confidence:.0%} " if self.confidence else ""
                lines[-1] += f"  ({level}CI [{_fmt(self.ci[0])}, {_fmt(self.ci[1])}])"
            if decided is not None:
                side, level, bound = decided
                holds = (
                    bound <= self.threshold if self.operator == "<=" else bound >= self.threshold
                )
                shown = self.operator if holds else {"<=": ">", ">=": "<"}[self.operator]
                lines.append(
                    f"  decided   {side} {level:g}% bound {_fmt(bound)} {shown} "
                    f"{_fmt(self.threshold)}"
                )
        if self.formula:
            lines.append(f"  formula   {self.formula}")
        if self.n is not None:
            lines.append(f"  n         {self.n}")
        worst = self.evidence.get("worst")
        if worst is not None:
            lines.append(f"  worst     {worst}")
        if isinstance(self.counterexample, list) and all(
            isinstance(item, str) for item in self.counterexample
        ):  # one finding a line (e.g. each clause a compliance gate lacks evidence for)
            lines += [f"  - {item}" for item in self.counterexample]
        elif self.counterexample is not None:
            lines.append(f"  counterexample  {self.counterexample}")
        return "\n".join(lines)

    def decided_bound(self) -> tuple[str, float, float] | None:
        """``(side, one-sided level in %, bound)`` when the status was decided on one bound
        of ``ci``: the upper end of a two-sided ``confidence`` interval is a one-sided
        ``(1 + confidence) / 2`` bound (97.5% at 0.95), and the message says so."""
        side = self.evidence.get("decided_on")
        if side not in ("upper", "lower") or self.ci is None or not self.confidence:
            return None
        if self.threshold is None or self.operator is None:
            return None
        level = round(100 * (1 + self.confidence) / 2, 3)
        return side, level, self.ci[1] if side == "upper" else self.ci[0]

    def summary(self) -> str:
        """One line for the terminal summary: ``performance.recall = 0.7812, required >= 0.8
        (n=360)``."""
        if self.status == "error":
            return f"{self.requirement}.{self.metric}: {self.evidence.get('error', '')}"
        text = f"{self.requirement}.{self.metric} = {self.comparison()}"
        if self.n is not None:
            text += f" (n={self.n})"
        note = self.evidence.get("summary_note")  # e.g. the attack and norm that measured it
        if note:
            text += f" [{note}]"
        lacking = self.evidence.get("lacking")  # e.g. the clauses a compliance gate misses
        if lacking:
            text += f"; lacking: {', '.join(map(str, lacking))}"
        return text

    def comparison(self) -> str:
        """What was measured, set against what was required: ``0.7812, required >= 0.8``.

        The one place that says it, so the summary never reads as a claim the measurement
        does not make (``0.7812 >= 0.8``)."""
        text = _fmt(self.value)
        decided = self.decided_bound()
        if decided is not None and self.evidence.get("one_sided_only"):
            text += f" [{decided[0]} {decided[1]:g}% bound {_fmt(decided[2])}]"
        elif self.ci is not None:
            text += f" [CI {_fmt(self.ci[0])}, {_fmt(self.ci[1])}]"
        if self.operator is not None:
            text += f", required {self.operator} {_fmt(self.threshold)}"
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ci"] = list(self.ci) if self.ci is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        data = dict(data)
        if data.get("ci") is not None:
            data["ci"] = tuple(data["ci"])
        return cls(**data)

    @classmethod
    def error(cls, requirement: str, metric: str, reason: str) -> Verdict:
        return cls(requirement, metric, None, None, None, "error", evidence={"error": reason})

    def properties(self, occurrence: int = 1) -> list[tuple[str, str]]:
        """The JUnit fields of the reporting contract, as (name, value) pairs; the second
        verdict on the same metric in one test is named ``<metric>[2]``, and so on."""
        metric = self.metric if occurrence == 1 else f"{self.metric}[{occurrence}]"
        prefix = f"modelguard.{self.requirement}.{metric}"
        fields: list[tuple[str, Any]] = [
            ("value", self.value),
            ("threshold", self.threshold),
            ("operator", self.operator),
        ]
        if self.ci is not None:
            fields += [("ci_low", self.ci[0]), ("ci_high", self.ci[1])]
        fields += [("status", self.status), ("n", self.n)]
        return [(f"{prefix}.{name}", _plain(value)) for name, value in fields if value is not None]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _plain(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)
