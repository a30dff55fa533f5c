"""Waivers: a known shortfall accepted, in writing, by an owner, until a date.

A waiver file is TOML with one ``[[waiver]]`` table per waiver::

    [[waiver]]
    test = "tests/test_credit_model.py::test_auc"   # a node id; * and ? are wildcards
    reason = "AUC dips on the new holdout; retraining tracked in #123"
    owner = "ml-platform@example.com"
    expires = 2027-03-31                             # last day the waiver holds

A waiver turns a failed gate into ``waived``; it never hides an ERROR (a gate that could
not be evaluated). It must keep earning its place: one that expired, matches no collected
test, or waived nothing although its tests ran fails the run (see :func:`problems`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pytest_modelguard.core.verdict import Verdict

FIELDS = ("test", "reason", "owner", "expires")
_HEADER = re.compile(r"^\s*\[\[\s*waiver\s*\]\]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class WaiverError(ValueError):
    """A waiver file that cannot be used; the message names the file and entry and the fix."""


@dataclass(frozen=True)
class Waiver:
    test: str
    reason: str
    owner: str
    expires: date
    source: str
    """Where it is written, for messages: ``waivers.toml, waiver 2 (line 7)``."""

    def matches(self, nodeid: str) -> bool:
        """The node id, with ``*`` and ``?`` as wildcards."""
        return _glob(nodeid, self.test)

    def expired(self, today: date) -> bool:
        return today > self.expires

    def to_json(self) -> dict[str, str]:
        return {
            "test": self.test,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "source": self.source,
        }


def load(path: str | os.PathLike[str]) -> list[Waiver]:
    """Read and validate every waiver; expiry is judged later, against the run's date."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WaiverError(
            f"cannot read waiver file {name}: {reason}; create it or correct the ini key "
            "modelguard_waivers"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"waiver file {name} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise WaiverError(
            f"waiver file {name}: unknown key {unknown[0]!r}; write each waiver as a "
            "[[waiver]] table"
        )
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(
            f"waiver file {name}: 'waiver' must be an array of tables; write [[waiver]] "
            "(double brackets) before each waiver"
        )
    lines = [number for number, line in enumerate(text.splitlines(), 1) if _HEADER.match(line)]
    return [
        _waiver(entry, f"{name}, waiver {index}" + _at_line(lines, index))
        for index, entry in enumerate(entries, 1)
    ]


def find(waivers: Iterable[Waiver], nodeid: str, *, today: date) -> Waiver | None:
    """The first waiver in file order that matches ``nodeid`` and has not expired."""
    return next((w for w in waivers if w.matches(nodeid) and not w.expired(today)), None)


def apply(waivers: Iterable[Waiver], nodeid: str, verdict: Verdict, *, today: date) -> Verdict:
    """Turn a failed ``verdict`` into a waived one when a live waiver matches its test."""
    if verdict.status != "fail":
        return verdict
    waiver = find(waivers, nodeid, today=today)
    if waiver is None:
        return verdict
    verdict.status = "waived"
    verdict.evidence["waiver"] = waiver.to_json()
    verdict.message = (
        f"{verdict.describe()}\n  waived    by {waiver.owner} until {waiver.expires} "
        f"({waiver.source}): {waiver.reason}"
    )
    return verdict


def problems(
    waivers: Iterable[Waiver],
    gates: Iterable[tuple[str, Verdict]],
    *,
    collected: Collection[str],
    today: date,
) -> list[str]:
    """Why the waivers fail this run: expired, matching no collected test, or idle.

    ``gates``: this run's (node id, verdict) pairs; ``collected``: every collected test id,
    deselected ones included. A waiver whose file part (before ``::``) names no collected
    file is out of this run's scope (a path argument left it out), unless it has expired.
    It is idle only when every gate of the tests it matches passed: tests that were
    deselected or skipped did not run, and an ERROR might have hidden a shortfall.
    """
    gates = list(gates)
    used = {v.evidence["waiver"]["source"] for _, v in gates if "waiver" in v.evidence}
    statuses: dict[str, set[str]] = {}
    for nodeid, verdict in gates:
        statuses.setdefault(nodeid, set()).add(verdict.status)
    files = {nodeid.split("::", 1)[0] for nodeid in collected}
    found = []
    for waiver in waivers:
        if waiver.expired(today):
            found.append(
                f"{waiver.source}: expired on {waiver.expires} (owner {waiver.owner}); fix "
                "the shortfall and delete the waiver, or agree a later expiry date with its owner"
            )
            continue
        if waiver.source in used:
            continue
        pattern = waiver.test.split("::", 1)[0]
        if not any(_glob(file, pattern) for file in files):
            continue
        matched = sorted(nodeid for nodeid in statuses if waiver.matches(nodeid))
        if matched and all(statuses[nodeid] == {"pass"} for nodeid in matched):
            found.append(
                f"{waiver.source}: waived nothing, every gate of {', '.join(matched)} "
                "passed; delete the waiver"
            )
        elif matched:
            continue  # a gate that could not be evaluated might have needed it
        elif not any(waiver.matches(nodeid) for nodeid in collected):
            found.append(
                f"{waiver.source}: no collected test matches {waiver.test!r}; correct the "
                "node id or glob (as pytest prints it, e.g. tests/test_model.py::test_auc), "
                "or delete the waiver if its test is gone"
            )
    return found


def _waiver(entry: Any, where: str) -> Waiver:
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}: expected a table of {', '.join(FIELDS)}")
    if isinstance(entry.get("test"), str):
        where += f", test {entry['test']!r}"
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise WaiverError(
            f"{where}: unknown field {unknown[0]!r}; a waiver has exactly {', '.join(FIELDS)}"
        )
    for field in FIELDS:
        if field not in entry:
            raise WaiverError(f"{where}: missing field {field!r}; {_HINT[field]}")
    for field in ("test", "reason", "owner"):
        value = entry[field]
        if not isinstance(value, str) or not value.strip():
            raise WaiverError(f"{where}: {field} must be a non-empty string; {_HINT[field]}")
    return Waiver(
        test=entry["test"].strip(),
        reason=entry["reason"].strip(),
        owner=entry["owner"].strip(),
        expires=_date(entry["expires"], where),
        source=where,
    )


def _date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f"{where}: expires = {value!r} is not a date; {_HINT['expires']}")


def _glob(name: str, pattern: str) -> bool:
    """fnmatch with brackets taken literally: parametrized ids are ``test_x[0.1-pgd]``."""
    return fnmatchcase(name, pattern.replace("[", "[[]"))


def _at_line(lines: list[int], index: int) -> str:
    return f" (line {lines[index - 1]})" if index <= len(lines) else ""


_HINT = {
    "test": 'name the test by node id or glob, e.g. test = "tests/test_model.py::test_auc"',
    "reason": 'say why the shortfall is accepted, e.g. reason = "retraining tracked in #123"',
    "owner": 'name who answers for it, e.g. owner = "ml-team@example.com"',
    "expires": "write the last day it holds as a date, e.g. expires = 2027-03-31",
}
