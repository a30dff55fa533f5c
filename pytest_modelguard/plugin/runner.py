"""Fixtures: the gates of a marked test, and the imperative ``modelguard`` API.

Gates are evaluated while the test is set up, so a gate that cannot be evaluated is an
ERROR; a gate that falls short fails the test in its call phase (see ``plugin.py``).
"""

from __future__ import annotations

import inspect
import os
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from pytest_modelguard.core.profiles import PROFILES
from pytest_modelguard.core.seeding import derive_seed
from pytest_modelguard.core.verdict import GateError, Verdict
from pytest_modelguard.plugin import exchange, markers, options, policy
from pytest_modelguard.plugin.gating import Gating

session_seed_key = pytest.StashKey[int]()
profile_key = pytest.StashKey[str]()
item_verdicts_key = pytest.StashKey[list[Verdict]]()
marker_verdicts_key = pytest.StashKey[list[Verdict]]()
_resolver_key = pytest.StashKey[object]()
gating_key = pytest.StashKey[Gating]()


def recorded_verdicts(item: pytest.Item) -> list[Verdict]:
    return item.stash.setdefault(item_verdicts_key, [])


def _record(item: pytest.Item, verdict: Verdict) -> None:
    recorded_verdicts(item).append(verdict)
    item.config.hook.pytest_modelguard_verdict(verdict=verdict, nodeid=item.nodeid)


def _run_check(
    item: pytest.Item,
    requirement: str,
    model: Any,
    dataset: Any,
    keywords: dict[str, Any],
    index: int,
    max_regression: float | None = None,
) -> Verdict:
    """Run one check and record its verdict; one that cannot be evaluated is an error verdict."""
    _install_adapter_hook(item.config)
    from pytest_modelguard.checks import REQUIREMENTS
    from pytest_modelguard.core.dataset import Dataset

    check = REQUIREMENTS[requirement]
    profile = PROFILES[item.config.stash[profile_key]]
    context = {
        "seed": derive_seed(item.config.stash[session_seed_key], item.nodeid, index),
        "profile": profile,
    }
    accepted = inspect.signature(check).parameters
    context = {name: value for name, value in context.items() if name in accepted}
    resamples = accepted.get("n_resamples")
    if resamples is not None and "n_resamples" not in keywords:  # the profile scales the default
        context["n_resamples"] = resamples.default * profile.resamples
    try:
        markers.reject_unknown(requirement, keywords)  # a call's, as a marker's are
        if "session_verdicts" in accepted:
            context["session_verdicts"] = _session_verdicts(item)
        if getattr(dataset, "is_prediction_log", False):
            if requirement not in ("performance", "fairness", "drift"):
                raise GateError(
                    f"the data for {requirement} is a PredictionLog; prediction logs serve "
                    "performance, fairness and drift gates: give this gate a Dataset"
                )
        elif dataset is not None and not isinstance(dataset, Dataset):
            raise GateError(
                f"the data for {requirement} is a {type(dataset).__name__}; return a "
                "pytest_modelguard.Dataset (Dataset.from_arrays / from_pandas / from_csv)"
            )
        verdict = check(model, dataset, **context, **keywords)
    except GateError as exc:
        verdict = Verdict.error(requirement, _metric_name(requirement, keywords), str(exc))
    except Exception as exc:  # a bug, here or in an adapter: still a verdict, never lost
        verdict = unexpected_error(requirement, _metric_name(requirement, keywords), exc)
    # after the check decided, nothing may replace its verdict: identifying the subjects
    # cannot fail (fingerprints fall back), and the verdict is recorded before observers run
    verdict.evidence.setdefault("subjects", _identify(model, dataset))
    item.config.stash[gating_key].apply(
        item.nodeid, verdict, max_regression, previous=recorded_verdicts(item)
    )
    _record(item, verdict)
    return verdict


exchange_key = pytest.StashKey[Path]()
#: the collector plugin's name: it holds the verdicts this process has seen reported
COLLECTOR = "modelguard-verdicts"


def is_compliance(item: pytest.Item) -> bool:
    return item.get_closest_marker(markers.mark_name("compliance")) is not None


def _session_verdicts(item: pytest.Item) -> list[tuple[str, Verdict]]:
    """Every other selected test's verdicts: the compliance gate judges the whole run."""
    expected = {other.nodeid for other in item.session.items if not is_compliance(other)}
    directory = item.config.stash.get(exchange_key, None)
    if directory is None:  # one process: every earlier test has been reported here
        collector = item.config.pluginmanager.get_plugin(COLLECTOR)
        missing = sorted(expected - collector.finished)
        if missing:
            raise GateError(
                f"the compliance gate ran before {len(missing)} other test(s), e.g. "
                f"{missing[0]}; pytest-modelguard runs it last, so a later plugin reordered "
                "the tests (pytest-randomly? run with -p no:randomly)"
            )
        return list(collector.verdicts)
    timeout = float(item.config.getini(options.COMPLIANCE_TIMEOUT_INI))
    deadline = time.monotonic() + timeout
    while True:
        finished = exchange.read(directory)
        missing = sorted(expected - set(finished))
        if not missing:
            break
        if time.monotonic() > deadline:
            raise GateError(
                f"waited {timeout:g} s for {len(missing)} test(s) on other workers, e.g. "
                f"{missing[0]}, to finish; raise the ini option "
                f"{options.COMPLIANCE_TIMEOUT_INI} or run the compliance gate without -n"
            )
        time.sleep(0.2)
    return [(nodeid, Verdict.from_json(v)) for nodeid, data in finished.items() for v in data]


def _identify(model: Any, dataset: Any) -> dict[str, Any]:
    """Fingerprints of what was gated, for the report: which model, which data.

    Never raises: it runs after the check decided, and must not cost the verdict.
    ``fingerprint_kind`` says what a fingerprint hashes (see ``Adapter.identity``).
    """
    from pytest_modelguard.adapters import adapt
    from pytest_modelguard.core.dataset import Dataset
    from pytest_modelguard.generative.subject import is_generator

    subjects: dict[str, Any] = {}
    if is_generator(model):
        subjects["model"] = model.describe()
    elif model is not None:
        try:
            adapter = adapt(model)
            subjects["model"] = {"name": adapter.name, **adapter.identity()}
        except Exception as exc:  # not adaptable: the check said so, the report names it
            subjects["model"] = {
                "name": type(model).__name__,
                "fingerprint": None,
                "fingerprint_kind": None,
                "fingerprint_error": f"{type(exc).__name__}: {exc}",
            }
    if isinstance(dataset, Dataset) and not dataset.is_streaming:
        try:
            fingerprint, kind, problem = dataset.fingerprint, "content-sha256", None
        except Exception as exc:
            fingerprint, kind, problem = None, None, f"{type(exc).__name__}: {exc}"
        subjects["dataset"] = {
            "name": dataset.name,
            "fingerprint": fingerprint,
            "fingerprint_kind": kind,
        }
        if problem:
            subjects["dataset"]["fingerprint_error"] = problem
    return subjects


_PLUGIN_DIR = str(Path(__file__).parent.parent)  # the package: this module is in plugin/


def unexpected_error(requirement: str, metric: str, exc: Exception) -> Verdict:
    """An exception no check anticipated, as an ERROR verdict that says where it arose;
    the whole traceback is kept in its evidence for the report and the failure output."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {_short_path(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    reason = (
        f"unexpected {type(exc).__name__} in the {requirement} check{where}: {exc}. "
        "A gate that cannot be evaluated is an error; if neither the model nor the data "
        "explains it, please report it with the traceback below"
    )
    verdict = Verdict.error(requirement, metric, reason)
    verdict.evidence["traceback"] = "".join(traceback.format_exception(exc)).rstrip()
    return verdict


def _short_path(filename: str) -> str:
    """``pytest_modelguard/checks/x.py`` for the plugin's files, else relative to the cwd."""
    marker = f"{Path(_PLUGIN_DIR).name}/"
    if marker in filename and filename.startswith(_PLUGIN_DIR):
        return filename[filename.rfind(marker) :]
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative


def _raised_in_user_code(exc: BaseException) -> str:
    """The innermost frame of a fixture's exception outside pytest, this plugin and
    installed packages: the line in the user's conftest to look at."""
    frames = traceback.extract_tb(exc.__traceback__)
    library = (_PLUGIN_DIR, "site-packages", "dist-packages", "/_pytest/", "/pluggy/")
    mine = [f for f in frames if not any(part in f.filename for part in library)]
    frame = mine[-1] if mine else (frames[-1] if frames else None)
    return f" at {_short_path(frame.filename)}:{frame.lineno}" if frame else ""


def _metric_name(requirement: str, keywords: dict[str, Any]) -> str:
    return markers.metric_of(requirement, keywords)


def _install_adapter_hook(config: pytest.Config) -> None:
    """Let ``pytest_modelguard_adapt`` implementations adapt models (once per session)."""
    if _resolver_key in config.stash:
        return
    from pytest_modelguard import adapters

    def resolver(model: Any) -> Any:
        return config.hook.pytest_modelguard_adapt(model=model)

    adapters.add_resolver(resolver)
    config.stash[_resolver_key] = resolver
    config.add_cleanup(lambda: adapters.remove_resolver(resolver))


_HOW_TO_NAME = {
    "model": f"model='...' on the marker or the ini option {options.MODEL_FIXTURE_INI}",
    "data": f"data='...' on the marker or the ini option {options.DATA_FIXTURE_INI}",
}
_ROLE = {"model": "the model", "data": "the dataset", "members": "the training members"}


def _subjects(
    request: pytest.FixtureRequest, spec: markers.GateSpec
) -> tuple[Any, Any, dict[str, Any]]:
    """The model, the dataset and fixture-valued keywords a gate needs, from fixtures."""
    keywords = dict(spec.keywords)
    needs = markers.subject_needs(spec.requirement, keywords)
    names = {"model": spec.model_fixture, "data": spec.data_fixture}
    for keyword, default in markers.fixture_keywords(spec.requirement).items():
        if keyword in needs:
            names[keyword] = keywords.get(keyword) or default
    values: dict[str, Any] = {}
    data_kind = _data_kind(request, names["data"]) if needs.get("data") != "unused" else None
    if needs.get("model") == "required" and data_kind == "log":
        needs = {**needs, "model": "unused"}  # a prediction log is its own subject
    # a data fixture that raised goes first: a log that cannot be read is the error to
    # report, not the model fixture a log does not need
    order = sorted(needs.items(), key=lambda item: item[0] != "data" or data_kind != "raised")
    for role, need in order:
        if need == "unused":
            values[role] = None
            continue
        if not isinstance(names[role], str):  # given as a value (a list of prompts), or none
            values[role] = keywords.get(role)
            continue
        try:
            values[role] = request.getfixturevalue(names[role])
        except pytest.FixtureLookupError as exc:
            if exc.argname != names[role]:  # the fixture itself requests a missing one
                raise GateError(
                    f"the fixture {names[role]!r} ({_ROLE.get(role, role)}) requests "
                    f"{exc.argname!r}, which no fixture provides"
                ) from None
            if need == "optional":
                values[role] = keywords.get(role)  # e.g. artifact= given as a path
                continue
            how = _HOW_TO_NAME.get(role, f"{role}='...' on the marker")
            raise GateError(
                f"no fixture named {names[role]!r} provides {_ROLE.get(role, role)}: define "
                f"one in conftest.py, e.g. @pytest.fixture(scope='session') def "
                f"{names[role]}(): ..., or name another fixture with {how}"
            ) from None
        except pytest.skip.Exception as exc:  # a skip is not a verdict: fail closed
            raise GateError(
                f"the fixture {names[role]!r} ({_ROLE.get(role, role)}) skipped "
                f"({exc.msg}): a gate without its subject cannot be evaluated; install what "
                "it needs, or deselect the gate (-m 'not modelguard')"
            ) from None
        except Exception as exc:  # e.g. an invalid Dataset: its message, not our frames
            raise GateError(
                f"the fixture {names[role]!r} ({_ROLE.get(role, role)}) raised "
                f"{type(exc).__name__}{_raised_in_user_code(exc)}: {exc}"
            ) from None
    model, data = values.pop("model"), values.pop("data")
    keywords.update(values)
    root = request.config.rootpath
    for keyword in markers.path_keywords(spec.requirement):
        if isinstance(keywords.get(keyword), str):
            keywords[keyword] = str(root / keywords[keyword])  # an absolute path stays as is
    return model, data, keywords


def _data_kind(request: pytest.FixtureRequest, name: str) -> str | None:
    """``"log"`` for a PredictionLog, ``"raised"`` when the fixture raised or skipped (the
    subject loop reports it), None otherwise (a missing fixture is reported there too)."""
    try:
        data = request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None
    except (Exception, pytest.skip.Exception):
        return "raised"
    return "log" if getattr(data, "is_prediction_log", False) else None


def _entry_named(item: pytest.Item) -> tuple[str, str]:
    """The requirement and metric a broken policy entry is recorded under: its own (an
    unknown kind has none: ``policy.requirement``)."""
    for mark in markers.gate_marks(item):
        requirement = markers.requirement_of(mark)
        if requirement is not None:
            try:
                return requirement, _metric_name(requirement, mark.kwargs)
            except Exception:  # a value of the wrong type may not name a metric
                return requirement, "requirement"
    return "policy", "requirement"


@pytest.fixture(autouse=True)
def _modelguard_gates(request: pytest.FixtureRequest) -> None:
    """Evaluate every gate marker of the test; any that cannot be evaluated is an ERROR."""
    item = request.node
    problem = item.stash.get(policy.problem_key, None)
    if problem is not None:
        _record(item, Verdict.error(*_entry_named(item), problem))
        pytest.fail(problem, pytrace=False)
    marks = markers.gate_marks(item)
    if not marks:
        return
    config = item.config
    origin = item.stash.get(policy.origin_key, None)
    errors = []
    for index, mark in enumerate(marks):
        requirement = markers.requirement_of(mark) or mark.name
        try:
            spec = markers.spec_from_mark(
                mark,
                model_fixture=config.getini(options.MODEL_FIXTURE_INI),
                data_fixture=config.getini(options.DATA_FIXTURE_INI),
            )
            model, data, keywords = _subjects(request, spec)
        except GateError as exc:
            verdict = Verdict.error(requirement, _metric_name(requirement, mark.kwargs), str(exc))
            _record(item, verdict)
        else:
            verdict = _run_check(
                item, spec.requirement, model, data, keywords, index, spec.max_regression
            )
        item.stash.setdefault(marker_verdicts_key, []).append(verdict)
        if verdict.status == "error":
            where = f"{origin}: {requirement}" if origin else f"@{requirement}"
            errors.append(f"{where}: {verdict.evidence['error']}")
            if "traceback" in verdict.evidence:
                errors.append(verdict.evidence["traceback"])
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


class ModelGuard:
    """The imperative form, bound to the current test: verdicts are recorded and reported
    like a marker's, and a shortfall fails the test (``GateFailure``)."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item
        self._calls = 0

    def check(self, requirement: str, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """Evaluate ``requirement`` and return the verdict without failing the test."""
        if requirement not in markers.GATES:
            raise GateError(
                f"unknown requirement {requirement!r}; choose one of {', '.join(markers.GATES)}"
            )
        self._calls += 1
        keywords = markers.with_numeric_keys(requirement, spec)  # as a policy entry's are
        return _run_check(self._item, requirement, model, dataset, keywords, 1000 + self._calls)

    def performance(self, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """``checks.performance`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("performance", model, dataset, **spec).raise_for_status()

    def fairness(self, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """``checks.fairness`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("fairness", model, dataset, **spec).raise_for_status()

    def robust(self, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """``checks.robust`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("robust", model, dataset, **spec).raise_for_status()

    def privacy(self, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """``checks.privacy`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("privacy", model, dataset, **spec).raise_for_status()

    def explainability(self, model: Any, dataset: Any, **spec: Any) -> Verdict:
        """``checks.explainability`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("explainability", model, dataset, **spec).raise_for_status()

    def transparency(self, model: Any = None, dataset: Any = None, **spec: Any) -> Verdict:
        """``checks.transparency`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("transparency", model, dataset, **spec).raise_for_status()

    def security(self, model: Any = None, dataset: Any = None, **spec: Any) -> Verdict:
        """``checks.security`` for this test; raises ``GateFailure`` on a shortfall."""
        return self.check("security", model, dataset, **spec).raise_for_status()

    @property
    def verdicts(self) -> list[Verdict]:
        return list(recorded_verdicts(self._item))


@pytest.fixture
def modelguard(request: pytest.FixtureRequest) -> ModelGuard:
    """Gates from the test body: ``modelguard.performance(model, data, metric="f1", min=0.8)``."""
    return ModelGuard(request.node)


@pytest.fixture(scope="session")
def modelguard_seed(pytestconfig: pytest.Config) -> int:
    """The session seed every gate's randomness derives from (``--modelguard-seed``)."""
    return pytestconfig.stash[session_seed_key]


@pytest.fixture
def modelguard_rng(request: pytest.FixtureRequest, modelguard_seed: int) -> Any:
    """A ``numpy.random.Generator`` seeded from the session seed and this test's id."""
    import numpy as np

    return np.random.default_rng(derive_seed(modelguard_seed, request.node.nodeid, "rng"))
