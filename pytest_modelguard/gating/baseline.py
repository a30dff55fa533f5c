"""Baselines: a saved run that a later run is compared with, gate by gate.

A baseline file is a saved session record (``modelguard.json``, see ``reporting/record.py``), so a
sign-off report can serve as the baseline of the next release. A gate is identified by
``(node id, requirement, metric)``; a metric that one test measures twice is numbered the
way the JUnit properties are (``f1``, ``f1[2]``, ...).

A metric *regressed* when it moved in the bad direction of its operator (lower for ``>=``,
higher for ``<=``) by more than its tolerance, an absolute amount of the metric. Without
a tolerance a baseline only reports deltas: one number for every metric (AUC and
milliseconds alike) would fail noisy gates on every run, so gating is opted into.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.reporting.record import SCHEMA_VERSION

Key = tuple[str, str, str]
"""(node id, requirement, metric name as in JUnit: ``f1``, ``f1[2]``)."""

_SLACK = 1e-9  # float rounding: 0.85 - 0.84 is 0.010000000000000009, not more than 0.01


class BaselineError(ValueError):
    """A baseline that cannot be read or does not fit this run; the message says what to fix."""


@dataclass(frozen=True)
class Comparison:
    """One gate's value against its baseline value."""

    metric: str
    baseline: float
    current: float
    tolerance: float | None
    worse_by: float
    """How far the metric moved in the bad direction of the operator (negative: improved)."""

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def regressed(self) -> bool:
        if self.tolerance is None:
            return False
        return self.worse_by > self.tolerance + _SLACK * max(1.0, abs(self.baseline))

    @property
    def message(self) -> str:
        text = (
            f"{self.metric} was {_fmt(self.baseline)} at baseline, now {_fmt(self.current)} "
            f"({self.delta:+.4g})"
        )
        if self.regressed:
            text += f": worse by more than max_regression={self.tolerance:g}"
        return text


@dataclass(frozen=True)
class BaselineGate:
    value: float | None
    operator: str | None
    status: str


class Baseline:
    """The gates of a saved run, keyed like the JUnit properties."""

    def __init__(self, path: str, record: dict[str, Any], gates: dict[Key, BaselineGate]) -> None:
        self.path = path
        self.record = record
        self.gates = gates

    def compare(
        self,
        nodeid: str,
        verdict: Verdict,
        max_regression: float | None,
        *,
        previous: Sequence[Verdict] = (),
    ) -> Comparison | None:
        """The comparison of ``verdict`` with its baseline, or None when either has no value.

        ``previous``: the verdicts the same test recorded before this one (to number a
        repeated metric). ``max_regression=None``: compare, but never regress.
        """
        key = gate_key(nodeid, verdict, previous)
        gate = self.gates.get(key)
        if gate is None or not _finite(gate.value) or not _finite(verdict.value):
            return None
        assert gate.value is not None and verdict.value is not None
        if verdict.operator == ">=":
            worse_by = gate.value - verdict.value
        elif verdict.operator == "<=":
            worse_by = verdict.value - gate.value
        else:
            return None
        return Comparison(key[2], gate.value, verdict.value, max_regression, worse_by)

    def apply(
        self,
        nodeid: str,
        verdict: Verdict,
        max_regression: float | None,
        *,
        previous: Sequence[Verdict] = (),
    ) -> Verdict:
        """Record the comparison in ``verdict.evidence["baseline"]``; a regression fails it."""
        comparison = self.compare(nodeid, verdict, max_regression, previous=previous)
        if comparison is None:
            return verdict
        verdict.evidence["baseline"] = {
            "value": comparison.baseline,
            "delta": comparison.delta,
            "tolerance": comparison.tolerance,
            "regressed": comparison.regressed,
        }
        if comparison.regressed:
            verdict.status = "fail"
            verdict.message = f"{verdict.describe()}\n  regressed {comparison.message}"
        return verdict

    def gate_set_difference(
        self,
        gates: Iterable[tuple[str, Verdict]],
        *,
        completed: Collection[str] | None = None,
        collected: Collection[str] | None = None,
    ) -> tuple[list[Key], list[Key]]:
        """(new, gone): gates this run has that the baseline lacks, and the reverse.

        ``gates`` are this run's (node id, verdict) pairs in recorded order. Given
        ``completed`` (tests that passed: they ran to the end) and ``collected`` (every
        collected test, deselected ones included), a baseline gate is gone only when its
        test completed without it, or is no longer collected although its file is (removed
        or renamed). Tests that failed or were skipped or deselected may not have measured
        every gate, and files this run did not collect are not its business.
        """
        current = set(gate_keys((nodeid, v.requirement, v.metric) for nodeid, v in gates))
        new = sorted(current - self.gates.keys())
        missing = self.gates.keys() - current
        if completed is not None and collected is not None:
            files = {_file(nodeid) for nodeid in collected}
            missing = {
                key
                for key in missing
                if key[0] in completed or (key[0] not in collected and _file(key[0]) in files)
            }
        return new, sorted(missing)

    def describe_difference(self, new: Sequence[Key], gone: Sequence[Key]) -> str:
        """The message that fails a run whose gates differ from the baseline's."""
        lines = [f"baseline {self.path} does not have the gates of this run:"]
        lines += [f"  new  {_name(key)}  (not in the baseline)" for key in new]
        lines += [f"  gone {_name(key)}  (in the baseline, not measured now)" for key in gone]
        lines.append(
            "  save a new baseline with --modelguard-save-baseline=FILE when the change is "
            "intended, or restore the gates that are gone"
        )
        return "\n".join(lines)


def gate_key(nodeid: str, verdict: Verdict, previous: Iterable[Verdict] = ()) -> Key:
    """The key of ``verdict``, numbered after the same test's ``previous`` verdicts."""
    return gate_keys((nodeid, v.requirement, v.metric) for v in [*previous, verdict])[-1]


def gate_keys(gates: Iterable[tuple[str, str, str]]) -> list[Key]:
    """Keys of (node id, requirement, metric) triples in recorded order."""
    seen: Counter[tuple[str, str, str]] = Counter()
    keys = []
    for nodeid, requirement, metric in gates:
        seen[nodeid, requirement, metric] += 1
        count = seen[nodeid, requirement, metric]
        keys.append((nodeid, requirement, metric if count == 1 else f"{metric}[{count}]"))
    return keys


def delta_text(verdict: Verdict) -> str:
    """For the terminal line: ``vs baseline 0.839 (-0.012)``, or "" when not compared."""
    compared = verdict.evidence.get("baseline")
    if not isinstance(compared, dict):
        return ""
    text = f"vs baseline {_fmt(compared['value'])} ({compared['delta']:+.4g})"
    return f"{text} REGRESSED" if compared["regressed"] else text


def parse_tolerance(value: Any, where: str) -> float | None:
    """A ``max_regression`` from a marker or the ini (``""`` or None: not set)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        tolerance = float(value)
    except (TypeError, ValueError):
        tolerance = math.nan
    if isinstance(value, bool) or not (math.isfinite(tolerance) and tolerance >= 0):
        raise BaselineError(
            f"{where} must be a number >= 0 (how much worse than the baseline the metric may "
            f"get, in the metric's own units), got {value!r}"
        )
    return tolerance


def load(path: str | os.PathLike[str]) -> Baseline:
    """Read a saved record; any problem is a :class:`BaselineError` naming the file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BaselineError(
            f"cannot read baseline {name}: {reason}; give the path of a modelguard.json saved "
            "with --modelguard-save-baseline or --modelguard-report"
        ) from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline {name} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "give a modelguard.json saved with --modelguard-save-baseline"
        ) from None
    if not isinstance(record, dict) or "schema_version" not in record:
        raise BaselineError(
            f"baseline {name} has no schema_version: it is not a modelguard.json; save one "
            "with --modelguard-save-baseline"
        )
    version = record["schema_version"]
    if version != SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {name} has schema version {version!r}; this pytest-modelguard reads "
            f"version {SCHEMA_VERSION}: save the baseline again with --modelguard-save-baseline "
            "using this version"
        )
    entries = record.get("verdicts")
    if not isinstance(entries, list):
        raise BaselineError(f"baseline {name} has no 'verdicts' list; save it again")
    triples, values = [], []
    for index, entry in enumerate(entries, 1):
        triples.append(_triple(name, index, entry))
        values.append(_gate(name, index, entry))
    return Baseline(name, record, dict(zip(gate_keys(triples), values, strict=True)))


def save(path: str | os.PathLike[str], record_json: dict[str, Any]) -> None:
    """Write the record (strict JSON, like ``modelguard.json``) atomically, so a baseline
    is never left half written."""
    target = Path(path)
    try:
        text = json.dumps(record_json, indent=1, allow_nan=False, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise BaselineError(
            f"cannot write baseline {target}: the record is not plain JSON ({exc}); pass "
            "signoff.plain(record.to_json())"
        ) from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from other users and CI
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename).parent != target.parent:  # not our temporary
            reason += f": {exc.filename}"
        raise BaselineError(
            f"cannot write baseline {target}: {reason}; choose a writable path "
            "with --modelguard-save-baseline=FILE"
        ) from None


def _triple(name: str, index: int, entry: Any) -> tuple[str, str, str]:
    where = f"baseline {name}, verdict {index}"
    if not isinstance(entry, dict):
        raise BaselineError(f"{where} is not an object; save the baseline again")
    if isinstance(entry.get("nodeid"), str):
        where += f" ({entry['nodeid']})"
    for field in ("nodeid", "requirement", "metric"):
        if not isinstance(entry.get(field), str):
            raise BaselineError(
                f"{where}: the field {field!r} is missing or not a string; save the baseline again"
            )
    return entry["nodeid"], entry["requirement"], entry["metric"]


def _gate(name: str, index: int, entry: dict[str, Any]) -> BaselineGate:
    where = f"baseline {name}, verdict {index} ({entry['nodeid']})"
    value = entry.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise BaselineError(f"{where}: value {value!r} is not a number; save the baseline again")
    operator = entry.get("operator")
    if operator not in (">=", "<=", None):
        raise BaselineError(
            f"{where}: operator {operator!r} is neither '>=' nor '<='; save the baseline again"
        )
    return BaselineGate(value, operator, str(entry.get("status", "")))


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _name(key: Key) -> str:
    nodeid, requirement, metric = key
    return f"{nodeid} {requirement}.{metric}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _fmt(value: float) -> str:
    return f"{value:.4g}"
