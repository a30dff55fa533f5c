"""The ``modelguard`` section of the terminal summary: one line per gate."""

from __future__ import annotations

import pytest

from pytest_modelguard.core.verdict import Verdict

_MARKUP = {
    "pass": {"green": True},
    "fail": {"red": True},
    "error": {"red": True},
    "waived": {"yellow": True},
}


def write_summary(
    terminalreporter: pytest.TerminalReporter, seed: int, verdicts: list[tuple[str, Verdict]]
) -> None:
    if not verdicts:
        return
    from pytest_modelguard.gating.baseline import delta_text

    terminalreporter.section("modelguard")
    for nodeid, verdict in sorted(verdicts, key=lambda pair: pair[0]):
        status = verdict.status.upper().ljust(6)
        line = f"{status} {nodeid}  {verdict.summary()} {delta_text(verdict)}".rstrip()
        terminalreporter.write_line(line, **_MARKUP[verdict.status])
    counts = {
        s: sum(v.status == s for _, v in verdicts) for s in ("pass", "fail", "error", "waived")
    }
    text = ", ".join(f"{c} {s}" for s, c in counts.items() if c)
    terminalreporter.write_line(f"{len(verdicts)} gates: {text} (seed {seed})")
