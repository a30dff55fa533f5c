"""Verdicts shared between pytest-xdist workers, for gates that judge the whole session.

A compliance gate runs on one worker but must see every other gate's verdict. Each worker
appends one JSON line per finished test to its own file in a directory the controller
made; the compliance gate reads them all. Plain files: workers share the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append(directory: Path, worker: str, nodeid: str, verdicts: list[dict[str, Any]]) -> None:
    """Record that ``nodeid`` finished, with its verdicts (one whole line per call)."""
    line = json.dumps({"nodeid": nodeid, "verdicts": verdicts}) + "\n"
    with open(directory / f"{worker}.jsonl", "a", encoding="utf-8") as stream:
        stream.write(line)


def read(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Every finished test's verdicts so far; a line still being written is left for later."""
    finished: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.endswith("\n"):
                entry = json.loads(line)
                finished[entry["nodeid"]] = entry["verdicts"]
    return finished
