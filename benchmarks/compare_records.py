"""Compare two ``modelguard.json`` session records, ignoring what differs between any two runs.

Used to show that a change of structure changed no behaviour (issue 11): run the example
project before and after, then::

    python benchmarks/compare_records.py before/modelguard.json after/modelguard.json

Verdicts are matched by node id, requirement, metric and occurrence. Ignored: keys that hold
times, dates or durations (``started``, ``finished``, ``duration``, ``seconds``, ...), the
git commit in ``environment``, and inside strings, absolute paths, ISO dates and times, and
``<number> s`` durations. A latency gate measures time, so of its verdict only the
requirement, threshold, operator, status, ``n`` and formula are compared. ``--ignore KEY``
ignores more keys (by name, at any depth). Exit status 1 when anything else differs, with
one line per difference.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

TIME_KEY = re.compile(
    r"(^|_)(started|finished|duration|durations|seconds|elapsed|time|times|timing|date|today|"
    r"timestamp|wall)($|_)"
)
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?")
DURATION = re.compile(r"\b\d+(\.\d+)?\s?(s|ms|seconds|sec)\b")
TIMED_METRIC = re.compile(r"latency")
TIMED_FIELDS = (
    "nodeid",
    "requirement",
    "metric",
    "threshold",
    "operator",
    "status",
    "n",
    "formula",
)
PATH = re.compile(r"(?<![\w.])(/[\w.@+-]+)+/?")


def normalise(value: Any, ignore: frozenset[str]) -> Any:
    """The record without what any two runs differ in."""
    if isinstance(value, dict):
        return {
            k: normalise(v, ignore)
            for k, v in value.items()
            if not TIME_KEY.search(str(k)) and k not in ignore
        }
    if isinstance(value, list):
        return [normalise(v, ignore) for v in value]
    if isinstance(value, str):
        text = ISO_TIME.sub("<date>", value)
        text = DURATION.sub("<duration>", text)
        return PATH.sub("<path>", text)
    return value


def keyed_verdicts(record: dict[str, Any]) -> dict[str, Any]:
    """Verdicts by ``nodeid | requirement.metric [#occurrence]``."""
    seen: Counter[str] = Counter()
    keyed = {}
    for verdict in record.get("verdicts", []):
        key = f"{verdict.get('nodeid')} | {verdict.get('requirement')}.{verdict.get('metric')}"
        seen[key] += 1
        if TIMED_METRIC.search(str(verdict.get("metric"))):  # a measured time: its numbers vary
            verdict = {k: v for k, v in verdict.items() if k in TIMED_FIELDS}
        keyed[key if seen[key] == 1 else f"{key} #{seen[key]}"] = verdict
    return keyed


def differences(before: Any, after: Any, where: str) -> list[str]:
    """One line per leaf that differs (floats compare exactly: seeds make runs repeat)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                found.append(f"{where}.{key}: only before ({short(before[key])})")
            elif key not in before:
                found.append(f"{where}.{key}: only after ({short(after[key])})")
            else:
                found += differences(before[key], after[key], f"{where}.{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            found += differences(b, a, f"{where}[{i}]")
        return found
    if same(before, after):
        return []
    return [f"{where}: {short(before)} -> {short(after)}"]


def same(before: Any, after: Any) -> bool:
    if isinstance(before, float) and isinstance(after, float):
        return before == after or (math.isnan(before) and math.isnan(after))
    return before == after


def short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(before: dict[str, Any], after: dict[str, Any], ignore: frozenset[str]) -> list[str]:
    """Every difference between two records that is not a time, a date, a duration or a path."""
    before, after = normalise(before, ignore), normalise(after, ignore)
    for record in (before, after):
        record.get("environment", {}).pop("git", None)  # the commit differs by design
    top_before = {k: v for k, v in before.items() if k != "verdicts"}
    top_after = {k: v for k, v in after.items() if k != "verdicts"}
    found = differences(top_before, top_after, "record")
    found += differences(keyed_verdicts(before), keyed_verdicts(after), "verdicts")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--ignore", action="append", default=[], help="a key to ignore")
    options = parser.parse_args(argv)
    records = [json.loads(path.read_text()) for path in (options.before, options.after)]
    found = compare(*records, frozenset(options.ignore))
    for line in found:
        print(line)
    count = len(records[0].get("verdicts", []))
    print(
        f"{len(found)} differences in {count} verdicts"
        + (" (times, dates, durations and paths ignored)" if not found else "")
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
