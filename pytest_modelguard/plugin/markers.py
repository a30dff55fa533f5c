"""Gate markers: the factories users decorate tests with, and marker -> spec.

``@performance(metric="f1", min=0.8)`` is ``pytest.mark.modelguard_performance(...)``
with the arguments checked against the check's keyword-only signature. Nothing here
repeats a check: every factory, its ``pytest --markers`` help, the keywords it accepts,
the subjects a gate needs and the metric it reports are generated from the declaration
of :func:`pytest_modelguard.checks.<requirement>` (read by :mod:`pytest_modelguard.core.spec`
without importing it). The marks live in the plugin's own namespace
(``modelguard_<requirement>``): a suite's own ``pytest.mark.performance`` or
``pytest.mark.security`` is never the plugin's to act on. A mistake in the arguments (a
wrong keyword, a positional value, ``@performance`` without parentheses) does not break
collection of the module: it makes that one test an ERROR that names it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_modelguard.core import spec
from pytest_modelguard.core.spec import CONTEXT_KEYWORDS, Need
from pytest_modelguard.core.verdict import GateError

UMBRELLA = "modelguard"
#: every gate's mark is named ``modelguard_<requirement>`` (``-m modelguard_fairness``)
MARK_PREFIX = f"{UMBRELLA}_"
#: keywords every gate marker takes that the plugin, not the check, acts on
PLUGIN_KEYWORDS = ("model", "data", "max_regression")

__all__ = ["CONTEXT_KEYWORDS", "GATES", "PLUGIN_KEYWORDS", "GateSpec", "Need"]


def mark_name(requirement: str) -> str:
    """The name of the mark a requirement's gates carry: ``modelguard_<requirement>``."""
    return f"{MARK_PREFIX}{requirement}"


def requirement_of(mark: pytest.Mark) -> str | None:
    """The requirement a mark is a gate of, or None for any mark the plugin did not make."""
    if not mark.name.startswith(MARK_PREFIX):
        return None
    requirement = mark.name[len(MARK_PREFIX) :]
    return requirement if requirement in GATES else None


def gate_marks(item: pytest.Item) -> list[pytest.Mark]:
    """The test's gate marks, closest first; any other mark is the suite's own."""
    return [mark for mark in item.iter_markers() if requirement_of(mark) is not None]


def make_factory(requirement: spec.Requirement) -> Callable[..., Any]:
    """The marker factory of a requirement, with the check's keywords, defaults and doc.

    The mark carries only the keywords that differ from the defaults (the check owns
    defaults) plus unknown ones, which the test reports as an ERROR when it runs. Used
    wrongly (``@performance`` without parentheses, a positional value) it still returns a
    mark, whose test is then an ERROR saying what to write: one mistake never stops the
    collection of a whole module.
    """
    name = requirement.name
    default = {**requirement.defaults(), **dict.fromkeys(PLUGIN_KEYWORDS)}

    def factory(*args: Any, **kwargs: Any) -> Any:
        decorator = getattr(pytest.mark, mark_name(name))
        if len(args) == 1 and not kwargs and _is_test(args[0]):  # bare @performance
            return decorator.with_args(_Bare(name))(args[0])
        if args:
            return decorator(*args, **kwargs)
        given = {
            k: v
            for k, v in kwargs.items()
            if k in PROFILE_SCALED or k not in default or not _same(v, default[k])
        }
        return decorator(**given)

    factory.__name__ = factory.__qualname__ = name
    factory.__module__ = __name__
    factory.__doc__ = requirement.doc
    factory.__signature__ = _signature(requirement)  # type: ignore[attr-defined]
    return factory


def _signature(requirement: spec.Requirement) -> inspect.Signature:
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(k.name, keyword, default=k.default, annotation=k.annotation)
        for k in requirement.keywords.values()
    ]
    parameters += [
        inspect.Parameter(name, keyword, default=None, annotation="str | None")
        for name in ("model", "data")
    ]
    parameters.append(
        inspect.Parameter("max_regression", keyword, default=None, annotation="float | None")
    )
    parameters.append(inspect.Parameter("unknown", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters, return_annotation="pytest.MarkDecorator")


@dataclass(frozen=True)
class _Bare:
    """The positional argument of a gate used without parentheses."""

    requirement: str

    def __repr__(self) -> str:
        return f"<@{self.requirement} without parentheses>"


def _is_test(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value)


#: keywords the profile scales when a gate does not give them (``plugin/runner.py``): a
#: given one is kept even at its default, so the decorator and a policy entry agree
PROFILE_SCALED = ("n_resamples", "examples")


def _same(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


#: every requirement's marker factory, by name (``@performance``, ``@robust``, ...)
GATES: dict[str, Callable[..., pytest.MarkDecorator]] = {
    name: make_factory(requirement) for name, requirement in spec.requirements().items()
}
globals().update(GATES)  # markers.performance, ...: the names pytest_modelguard exports


def _requirement(name: str) -> spec.Requirement:
    return spec.requirements()[name]


def subject_needs(requirement: str, keywords: dict[str, Any]) -> dict[str, Need]:
    """Which subjects a gate uses: ``model``, ``data`` and fixture-valued keywords, as the
    check declares them (``Needs`` on a keyword; see :mod:`pytest_modelguard.core.spec`).

    A required subject that no fixture provides is an ERROR; an optional one is passed as
    None (for ``artifact=``, a value that names no fixture is a path).
    """
    return _requirement(requirement).subject_needs(keywords)


def fixture_keywords(requirement: str) -> dict[str, str | None]:
    """The requirement's keywords whose value names a fixture, with each one's default."""
    return _requirement(requirement).fixture_keywords()


def path_keywords(requirement: str) -> tuple[str, ...]:
    """Keywords that take a file path; a relative one is relative to pytest's rootdir."""
    return _requirement(requirement).path_keywords()


def metric_of(requirement: str, keywords: dict[str, Any]) -> str:
    """The metric a gate is about, for naming its verdict when the check could not run."""
    if requirement not in GATES:
        return str(keywords.get("metric", requirement))
    return _requirement(requirement).metric_of(keywords)


#: the JSON types of the plugin's own keywords
_PLUGIN_TYPES = {"model": ("string",), "data": ("string",), "max_regression": ("number",)}


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file's ``[[requirement]]`` entry, generated from the
    checks' signatures: ``kind`` names a requirement, and each kind takes its keywords."""
    variants = []
    for name, requirement in spec.requirements().items():
        properties: dict[str, Any] = {"kind": {"const": name}, "name": {"type": "string"}}
        for keyword in requirement.keywords.values():
            types = spec.json_types(keyword)
            properties[keyword.name] = {"type": list(types)} if types else {}
            properties[keyword.name]["description"] = f"default {keyword.default!r}"
        properties.update({k: {"type": list(t)} for k, t in _PLUGIN_TYPES.items()})
        variants.append(
            {
                "title": f"@{name}",
                "description": requirement.summary,
                "type": "object",
                "properties": properties,
                "required": ["kind"],
                "additionalProperties": False,
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "a [[requirement]] of modelguard.toml",
        "oneOf": variants,
    }


def entry_problem(requirement: str, entry: dict[str, Any]) -> str | None:
    """What is wrong with the types of a policy entry's keywords (None: nothing). Unknown
    keywords are reported like a marker's, when the item runs."""
    keywords = _requirement(requirement).keywords
    for name, value in entry.items():
        types = _PLUGIN_TYPES.get(name) or (
            spec.json_types(keywords[name]) if name in keywords else None
        )
        if (
            types
            and _json_type(value) not in types
            and not (_json_type(value) == "integer" and "number" in types)
        ):
            annotation = keywords[name].annotation if name in keywords else " or ".join(types)
            return (
                f"{name} = {value!r} is a TOML {_json_type(value)}; @{requirement} takes "
                f"{name}: {annotation}"
            )
        key_type = _numeric_keys(keywords[name]) if name in keywords else None
        if key_type is not None and isinstance(value, dict):
            wrong = [key for key in value if _number(key, key_type) is None]
            if wrong:
                return (
                    f"{name} = {value!r}: key {wrong[0]!r} is not a number; @{requirement} "
                    f"takes {name}: {keywords[name].annotation} (TOML keys are strings: write "
                    'the number in quotes, e.g. "0.001" = 0.01)'
                )
    return None


_NUMERIC_KEYS = re.compile(r"\b(?:dict|Mapping)\[(float|int),")


def _numeric_keys(keyword: spec.Keyword) -> type | None:
    """``float``/``int`` when the keyword is a dict keyed by numbers (TOML keys are strings)."""
    found = _NUMERIC_KEYS.search(keyword.annotation)
    return None if found is None else {"float": float, "int": int}[found.group(1)]


def _number(key: Any, kind: type) -> Any:
    """``key`` as a number of ``kind`` (a number already, or a string that spells one)."""
    if isinstance(key, int | float) and not isinstance(key, bool):
        return key
    try:
        return kind(key) if isinstance(key, str) else None
    except ValueError:
        return None


def with_numeric_keys(requirement: str, keywords: dict[str, Any]) -> dict[str, Any]:
    """Numeric strings as keys of a number-keyed dict become numbers (how a policy file,
    whose TOML keys are strings, writes ``max_tpr_at_fpr = { "0.001" = 0.01 }``): the one
    conversion for markers, policy entries and ``modelguard.check`` calls."""
    declared = _requirement(requirement).keywords
    converted = dict(keywords)
    for name, value in keywords.items():
        key_type = _numeric_keys(declared[name]) if name in declared else None
        if key_type is None or not isinstance(value, dict):
            continue
        numbers = {_number(key, key_type): item for key, item in value.items()}
        if None not in numbers and len(numbers) == len(value):
            converted[name] = numbers
    return converted


def _json_type(value: Any) -> str:
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
             (list, "array"), (dict, "object"))  # fmt: skip
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def defaults(requirement: str) -> dict[str, Any]:
    """The marker's keywords and their defaults: the check's, then the plugin's."""
    return {**_requirement(requirement).defaults(), **dict.fromkeys(PLUGIN_KEYWORDS)}


@dataclass(frozen=True)
class GateSpec:
    """One gate of a test: the requirement, its subject fixtures and check keywords."""

    requirement: str
    model_fixture: str
    data_fixture: str
    keywords: dict[str, Any]
    max_regression: float | None = None


def accepted_keywords(requirement: str) -> list[str]:
    return list(defaults(requirement))


def reject_unknown(requirement: str, keywords: dict[str, Any]) -> None:
    """A keyword the check does not take is a GateError naming the ones it does (the
    context keywords, ``seed=`` and ``profile=``, are the plugin's)."""
    accepted = list(_requirement(requirement).keywords)
    unknown = sorted(set(keywords) - set(accepted))
    if unknown:
        raise GateError(f"unknown keyword(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")


def spec_from_mark(mark: pytest.Mark, *, model_fixture: str, data_fixture: str) -> GateSpec:
    """Validate a gate marker's arguments; a mistake is a :class:`GateError` saying what to fix."""
    requirement = requirement_of(mark)
    if requirement is None:
        raise GateError(f"{mark.name!r} is not a modelguard gate mark")
    accepted = accepted_keywords(requirement)
    if len(mark.args) == 1 and isinstance(mark.args[0], _Bare):
        raise GateError(
            f"@{requirement} is used without parentheses: a gate states its requirement, "
            f"e.g. @{requirement}({_requirement(requirement).example}); accepted keywords: "
            f"{', '.join(accepted)}"
        )
    if mark.args:
        raise GateError(
            f"takes keyword arguments only, got positional {mark.args!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    unknown = sorted(set(mark.kwargs) - set(accepted))
    if unknown:
        raise GateError(f"unknown keyword(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    keywords = with_numeric_keys(requirement, dict(mark.kwargs))
    model = keywords.pop("model", None) or model_fixture
    data = keywords.pop("data", None) or data_fixture
    max_regression = keywords.pop("max_regression", None)
    if max_regression is not None and (
        isinstance(max_regression, bool)
        or not isinstance(max_regression, int | float)
        or not max_regression >= 0
    ):
        raise GateError(f"max_regression={max_regression!r}: give a number >= 0 (absolute)")
    return GateSpec(requirement, model, data, keywords, max_regression)


def marker_lines() -> list[str]:
    """``pytest --markers`` lines: every gate with its full signature."""
    lines = []
    for name in GATES:
        signature = ", ".join(f"{k}={v!r}" for k, v in defaults(name).items())
        summary = _requirement(name).summary
        lines.append(
            f"{mark_name(name)}(*, {signature}): modelguard gate written @{name}(...); "
            f"select with -m {mark_name(name)}. {summary}"
        )
    lines.append(
        f"{UMBRELLA}: carried by every modelguard gate test; select them with -m {UMBRELLA}."
    )
    return lines
