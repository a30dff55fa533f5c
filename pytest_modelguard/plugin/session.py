"""The session's verdicts where reports arrive (the controller under xdist), and what is
made of them at the end: terminal summary, JUnit suite properties, the sign-off report,
the baseline file, and the checks of waivers and baseline gate sets."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard.core.verdict import Verdict
from pytest_modelguard.plugin import gating, junit, terminal
from pytest_modelguard.plugin import runner as fixtures
from pytest_modelguard.plugin.runner import profile_key, session_seed_key

collected_key = pytest.StashKey[list[str]]()


class VerdictCollector:
    """Gathers verdicts where reports arrive (the controller under xdist) and reports them:
    terminal summary, JUnit, and at the end the sign-off report and the baseline file."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.verdicts: list[tuple[str, Verdict]] = []
        self.finished: set[str] = set()
        self.completed: set[str] = set()  # tests whose body and gates all ran and passed
        self.collected: set[str] = set()
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.written: list[Path] = []
        self.problems: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.completed.add(report.nodeid)
        if report.when != "teardown":
            return
        self.finished.add(report.nodeid)
        data = getattr(report, "modelguard_verdicts", None)
        if not data:
            return
        verdicts = [Verdict.from_json(d) for d in data]
        self.verdicts.extend((report.nodeid, v) for v in verdicts)
        if not junit.properties_in_testcase(self.config):
            junit.add_to_testsuite(self.config, report.nodeid, verdicts)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: what each worker collected (the controller collects nothing itself)."""
        self.collected.update(getattr(node, "workeroutput", {}).get("modelguard_collected", []))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.collected.update(self.config.stash.get(collected_key, []))
        self._check_waivers_and_baseline()
        save = output_path(self.config, gating.SAVE_BASELINE_OPTION)
        report_dir = output_path(self.config, "modelguard_report")
        if save is not None or report_dir is not None:
            self._write(save, report_dir)
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _check_waivers_and_baseline(self) -> None:
        state = self.config.stash[fixtures.gating_key]
        if state.waivers:
            from pytest_modelguard.gating import waivers

            self.problems += waivers.problems(
                state.waivers, self.verdicts, collected=self.collected, today=state.today
            )
        if state.baseline is not None:
            new, gone = state.baseline.gate_set_difference(
                self.verdicts, completed=self.completed, collected=self.collected
            )
            if new or gone:
                self.problems.append(state.baseline.describe_difference(new, gone))

    def _write(self, save: Path | None, report_dir: Path | None) -> None:
        from pytest_modelguard.reporting.record import SessionRecord, environment, now

        record = SessionRecord(
            seed=self.config.stash[session_seed_key],
            profile=self.config.stash[profile_key],
            started=self.started,
            finished=now(),
            gates=self.verdicts,
            environment=environment(self.config.rootpath),
        )
        if save is not None:
            from pytest_modelguard.gating import baseline

            try:
                baseline.save(save, record.to_json())
                self.written.append(save)
            except baseline.BaselineError as exc:
                self.problems.append(str(exc))
        if report_dir is not None:
            from pytest_modelguard.reporting.signoff import ReportError, write_report

            try:
                self.written += write_report(report_dir, record)
            except (ReportError, OSError) as exc:
                self.problems.append(f"the sign-off report could not be written: {exc}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminal.write_summary(terminalreporter, self.config.stash[session_seed_key], self.verdicts)
        for path in self.written:
            terminalreporter.write_line(f"modelguard report: {path}")
        for problem in self.problems:
            terminalreporter.write_line(f"modelguard: {problem}", red=True)


def output_path(config: pytest.Config, option: str) -> Path | None:
    """A path option, relative to where pytest was invoked (as --junitxml is)."""
    value = config.getoption(option)
    return None if value is None else config.invocation_params.dir / value


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"--modelguard-report={directory}: cannot create it: {exc}"
        ) from None
    if not os.access(directory, os.W_OK):
        raise pytest.UsageError(f"--modelguard-report={directory}: the directory is not writable")
