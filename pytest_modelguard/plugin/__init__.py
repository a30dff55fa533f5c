"""The pytest11 entry point ``modelguard``: thin hooks that delegate.

Nothing here imports an ML library (nor numpy): pytest loads this module in every run
of every project that has the plugin installed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard.core.profiles import default_profile
from pytest_modelguard.core.seeding import DEFAULT_SEED, parse_seed
from pytest_modelguard.plugin import exchange, gating, hookspecs, junit, markers, options
from pytest_modelguard.plugin import runner as fixtures
from pytest_modelguard.plugin.runner import (  # noqa: F401  (fixtures registered by this plugin)
    _modelguard_gates,
    modelguard,
    modelguard_rng,
    modelguard_seed,
    profile_key,
    session_seed_key,
)
from pytest_modelguard.plugin.session import (
    VerdictCollector,
    check_writable,
    collected_key,
    output_path,
)

_SEED_CACHE = "modelguard/seed"


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
            check_writable(report_dir)
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
    from pytest_modelguard.plugin import policy

    if policy.is_policy_file(file_path):
        return policy.PolicyFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every gate test carries the umbrella marker, so ``-m modelguard`` selects it, and
    compliance gates run last: they judge the others' verdicts."""
    for item in items:
        if markers.gate_marks(item):
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
