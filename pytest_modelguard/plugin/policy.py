"""Requirements as data: a ``modelguard.toml`` (or ``[tool.modelguard]`` in a
``pyproject.toml``) whose entries pytest collects as test items.

Owners who do not write Python state requirements in a file; each entry becomes one
test item carrying the same markers as the decorator form, so its verdict, JUnit
properties and ``-m`` selection are the same::

    [[requirement]]
    name = "auc"
    kind = "performance"
    metric = "roc_auc"
    min = 0.85
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard.plugin import markers

POLICY_FILE = "modelguard.toml"
#: where a policy item's entry stands, "file:line", for error messages
origin_key = pytest.StashKey[str]()
#: why a policy item cannot become a gate (an unknown kind, a value of the wrong type: the
#: types come from the check's signature, see ``markers.policy_schema``), reported as its ERROR
problem_key = pytest.StashKey[str]()


def is_policy_file(path: Path) -> bool:
    if path.name == POLICY_FILE:
        return True
    if path.name != "pyproject.toml":
        return False
    try:
        return "modelguard" in tomllib.loads(path.read_text()).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False  # not ours to report: pytest and packaging tools read it too


class PolicyFile(pytest.File):
    """One policy file: an item per ``[[requirement]]`` entry."""

    def collect(self) -> Iterator[pytest.Item]:
        text = self.path.read_text()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise self.CollectError(f"{self.path}: not valid TOML: {exc}") from None
        table = data["tool"]["modelguard"] if self.path.name == "pyproject.toml" else data
        entries = table.get("requirement", [])
        header = (
            "tool.modelguard.requirement" if self.path.name == "pyproject.toml" else "requirement"
        )
        lines = _header_lines(text, header)
        if not isinstance(entries, list) or len(lines) != len(entries):
            raise self.CollectError(
                f"{self.path}: requirements must be an array of tables, each under its own "
                f"[[{header}]] header"
            )
        for index, (entry, line) in enumerate(zip(entries, lines, strict=True), start=1):
            yield self._item(dict(entry), index, f"{self.path.name}:{line}")

    def _item(self, entry: dict[str, Any], index: int, origin: str) -> pytest.Item:
        kind = entry.pop("kind", None)
        name = str(entry.pop("name", f"{kind or 'requirement'}_{index}"))
        item = pytest.Function.from_parent(self, name=name, callobj=_requirement)
        item.stash[origin_key] = origin
        if kind not in markers.GATES:
            item.stash[problem_key] = (
                f"{origin}: unknown requirement kind {kind!r}; choose one of "
                f"{', '.join(markers.GATES)}"
            )
            item.add_marker(markers.UMBRELLA)
        else:
            problem = markers.entry_problem(kind, entry)
            if problem is not None:
                item.stash[problem_key] = f"{origin}: {problem}"
            item.add_marker(getattr(pytest.mark, markers.mark_name(kind))(**entry))
        return item


def _requirement() -> None:
    """The body of a policy item: its gates are the whole test."""


def _header_lines(text: str, header: str) -> list[int]:
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]
