"""The pytest11 entry point ``modelguard``: thin hooks that delegate.

Nothing here imports an ML library (nor numpy): pytest loads this module in every run
of every project that has the plugin installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard import exchange, fixtures, gating, hookspecs, markers, options
from pytest_modelguard.fixtures import (  # noqa: F401  (fixtures registered by this plugin)
    _modelguard_gates,
    modelguard,
    modelguard_rng,
    modelguard_seed,
    profile_key,
    session_seed_key,
)
from pytest_modelguard.profiles import default_profile
from pytest_modelguard.reporting import junit, terminal
from pytest_modelguard.seeding import DEFAULT_SEED, parse_seed
from pytest_modelguard.verdict import Verdict

_SEED_CACHE = "modelguard/seed"
collected_key = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for line in markers.marker_lines():
        config.addinivalue_line("markers", line)
    config.stash[session_seed_key] = _session_seed(config)
    config.stash[profile_key] = _profile(config)
    workerinput = getattr(config, "workerinput", {})
    today = workerinput.get("modelguard_today") or date.today().isoformat()
    config.stash[fixtures.gating_key] = gating.load(config, date.fromisoformat(today))
    if "modelguard_exchange" in workerinput:
        config.stash[fixtures.exchange_key] = Path(workerinput["modelguard_exchange"])
    if not hasattr(config, "workerinput"):
        report_dir = output_path(config, "modelguard_report")
        if report_dir is not None:
            _check_writable(report_dir)
        config.pluginmanager.register(VerdictCollector(config), fixtures.COLLECTOR)


def _session_seed(config: pytest.Config) -> int:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "modelguard_seed" in workerinput:
        return int(workerinput["modelguard_seed"])
    value = (
        config.getoption("modelguard_seed") or config.getini(options.SEED_INI) or str(DEFAULT_SEED)
    )
    cache = getattr(config, "cache", None)
    try:
        seed = parse_seed(str(value), cache.get(_SEED_CACHE, None) if cache else None)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if cache is not None:
        cache.set(_SEED_CACHE, seed)
    return seed


def _profile(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "modelguard_profile" in workerinput:
        return str(workerinput["modelguard_profile"])
    return config.getoption("modelguard_profile") or default_profile()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker draws from the controller's seed and uses its profile."""
    node.workerinput["modelguard_seed"] = node.config.stash[session_seed_key]
    node.workerinput["modelguard_profile"] = node.config.stash[profile_key]
    node.workerinput["modelguard_today"] = node.config.stash[fixtures.gating_key].today.isoformat()
    node.workerinput["modelguard_exchange"] = str(_exchange_directory(node.config))


def _exchange_directory(config: pytest.Config) -> Path:
    """Made once by the controller, shared by its workers, removed at the end."""
    if fixtures.exchange_key not in config.stash:
        directory = Path(tempfile.mkdtemp(prefix="modelguard-verdicts-"))
        config.stash[fixtures.exchange_key] = directory
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    return config.stash[fixtures.exchange_key]


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[session_seed_key]
    return (
        f"modelguard: seed {seed} (rerun with --modelguard-seed={seed}), "
        f"profile {config.stash[profile_key]}"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """``modelguard.toml`` and ``[tool.modelguard]`` requirements become test items."""
    if file_path.name not in ("modelguard.toml", "pyproject.toml"):
        return None
    from pytest_modelguard import policy

    if policy.is_policy_file(file_path):
        return policy.PolicyFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every gate test carries the umbrella marker, so ``-m modelguard`` selects it, and
    compliance gates run last: they judge the others' verdicts."""
    for item in items:
        if any(item.get_closest_marker(name) for name in markers.GATES):
            item.add_marker(markers.UMBRELLA)
    items.sort(key=fixtures.is_compliance)  # stable: everything else keeps its order
    # before -m/-k deselect (this hook runs first): a waiver may name a deselected test
    config.stash[collected_key] = [item.nodeid for item in items]
    if hasattr(config, "workeroutput"):
        config.workeroutput["modelguard_collected"] = config.stash[collected_key]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the body ran, a gate marker that fell short fails the test."""
    result = yield
    failed = [v for v in item.stash.get(fixtures.marker_verdicts_key, []) if v.status == "fail"]
    if failed:
        pytest.fail("\n\n".join(v.message for v in failed), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Verdicts travel on the teardown report (also from xdist workers to the controller)."""
    report = yield
    verdicts = item.stash.get(fixtures.item_verdicts_key, None)
    if report.when != "teardown":
        return report
    if verdicts:
        report.modelguard_verdicts = [v.to_json() for v in verdicts]  # type: ignore[attr-defined]
        if junit.properties_in_testcase(item.config):
            junit.add_to_testcase(report, verdicts)
    directory = item.config.stash.get(fixtures.exchange_key, None)
    workerinput = getattr(item.config, "workerinput", None)
    if directory is not None and workerinput is not None:
        exchange.append(
            directory, workerinput["workerid"], item.nodeid, [v.to_json() for v in verdicts or []]
        )
    return report


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
            from pytest_modelguard.reporting import waivers

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
            from pytest_modelguard.reporting import baseline

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


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"--modelguard-report={directory}: cannot create it: {exc}"
        ) from None
    if not os.access(directory, os.W_OK):
        raise pytest.UsageError(f"--modelguard-report={directory}: the directory is not writable")
