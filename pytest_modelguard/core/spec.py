"""One declaration per requirement: the check function's signature is the spec.

A check is declared once, where it is written::

    @requirement(needs=Needs(model="required", data="required"))
    def privacy(
        model, dataset, *,
        max_mia_auc: Annotated[float | None, Reports("mia_auc"), Needs(members="required")] = None,
        members: Annotated[Dataset | None, Fixture("train_dataset")] = None,
        ...
    ) -> Verdict:
        \"\"\"Gate one privacy requirement ...\"\"\"

Its keyword-only parameters are the marker's keywords and defaults, its docstring the
``pytest --markers`` help, and the ``Annotated`` metadata beside a parameter says what the
plugin needs to know about that keyword: the metric it names (:class:`Reports`), the
subjects a gate that uses it needs (:class:`Needs`), and whether its value names a
fixture (:class:`Fixture`) or a file (:class:`FilePath`). The marker factories, the keyword
validation, the subject needs and the policy-file schema are all generated from it
(:mod:`pytest_modelguard.plugin.markers`), so adding a requirement or a keyword touches one module.

The plugin must not import the checks (they load numpy and the ML libraries), so
:func:`requirements` reads the declarations from the check modules' source with
:mod:`ast`, once per process. An install without the sources (``.pyc`` only, or a zip)
has nothing to read: then the check modules are imported and the same declarations are
read from the functions (``@requirement`` records its arguments on them); in a mixed
install only the modules left without a source are imported. Finding no
requirement at all is an error: an empty table would make every gate mark a plain mark,
a test that passes. This module is the core's: the checks import its declarations, and
it imports only ``verdict``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_modelguard.core.verdict import GateError

Need = Literal["required", "optional", "unused"]
#: keywords a check may take that the plugin supplies, never the marker
CONTEXT_KEYWORDS = ("seed", "profile", "session_verdicts")
_CHECKS_DIR = Path(__file__).parent.parent / "checks"
_CHECKS_PACKAGE = "pytest_modelguard.checks"

# -- the declarations, written beside the check ---------------------------------------------


class Reports:
    """The metric a gate reports when this keyword is given: a name, or a format of the
    keyword's value (``Reports("{value}")`` for ``metric=``). When several given keywords
    name one, the last in the signature wins."""

    def __init__(self, name: str) -> None:
        self.name = name


class Needs:
    """The subjects (``model``, ``data``, or a fixture-valued keyword) a gate needs when this
    keyword is given, each ``"required"``, ``"optional"`` or ``"unused"``; ``when=`` limits
    it to one value (or a tuple of values). On :func:`requirement`, the needs of every gate
    of the requirement before any keyword changes them. Later keywords in the signature
    override earlier ones."""

    def __init__(self, *, when: Any = None, **subjects: Need) -> None:
        self.when = when
        self.subjects = subjects


class Fixture:
    """The keyword's string value names a fixture (``default`` when a gate needs the
    subject and the keyword was not given); any other value is passed as it is."""

    def __init__(self, default: str | None = None, *, path: bool = False) -> None:
        self.default = default
        self.path = path


class FilePath:
    """The keyword is a file path; a relative one is relative to pytest's rootdir."""


def requirement(
    *,
    needs: Needs | None = None,
    metric: str | None = None,
    example: str = "...",
    rank: int = 100,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a check function as a requirement (``@requirement()``): its name is the
    marker's, ``needs`` the subjects its gates need by default (model and data required),
    ``metric`` the one an error verdict is named by when no keyword names one, ``example``
    the keywords a gate used without them is told to write, ``rank`` its place in
    listings. The function is returned unchanged: the plugin reads this from the source,
    not at run time."""

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        # read only where the sources are missing (see requirements())
        function.__requirement__ = {  # type: ignore[attr-defined]
            "needs": needs, "metric": metric, "example": example, "rank": rank,
        }  # fmt: skip
        return function

    return declare


# -- "one kind of gate per call", the rule every requirement with kinds follows ------------


@dataclass(frozen=True)
class Kind:
    """One kind of gate of a requirement: the keywords that choose it, the others it takes,
    and the function that evaluates it, called as ``run(model, dataset, **keywords,
    **context)`` (a ``"module:function"`` string is imported when the kind is used)."""

    name: str
    triggers: tuple[str, ...]
    options: tuple[str, ...] = ()
    run: Callable[..., Any] | str = ""
    context: tuple[str, ...] = ("seed", "profile")

    @property
    def keywords(self) -> tuple[str, ...]:
        return (*self.triggers, *self.options)

    def function(self) -> Callable[..., Any]:
        if not isinstance(self.run, str):
            return self.run
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)


def dispatch(
    requirement: str,
    kinds: Sequence[Kind],
    model: Any,
    dataset: Any,
    keywords: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    fallback: Kind | None = None,
) -> Any:
    """Run the one kind of gate ``keywords`` ask for (see :func:`one_kind`) with its own
    keywords and context: the body of a requirement whose gates come in kinds."""
    kind = one_kind(requirement, kinds, keywords, fallback=fallback)
    arguments = {name: keywords[name] for name in kind.keywords if name in keywords}
    arguments.update({name: context[name] for name in kind.context})
    return kind.function()(model, dataset, **arguments)


def one_kind(
    requirement: str,
    kinds: Sequence[Kind],
    keywords: Mapping[str, Any],
    *,
    fallback: Kind | None = None,
) -> Kind:
    """The one kind of gate the given keywords (those set to a value other than their
    default) ask for: the kinds one of whose triggers is given, less any whose given
    triggers another chosen kind also takes. None (without a ``fallback``), two, or a
    keyword only another kind takes is a GateError that says what to write: a keyword
    silently ignored would be a gate that cannot fail."""
    declared = requirements().get(requirement)
    given = given_keywords(keywords, declared.defaults() if declared else {})
    chosen = [kind for kind in kinds if _given(kind.triggers, given)]
    chosen = [
        kind
        for kind in chosen
        if not any(
            other is not kind and set(_given(kind.triggers, given)) <= set(other.keywords)
            for other in chosen
        )
    ] or chosen
    if not chosen and fallback is not None:
        chosen = [fallback]
    if not chosen:
        how = "; ".join(f"{_keywords(k.triggers, ' or ')} ({k.name})" for k in kinds)
        raise GateError(f"a {requirement} gate checks one thing: give {how}")
    if len(chosen) > 1:
        names = " and ".join(f"{k.name} ({_keywords(_given(k.triggers, given), ', ')})"
                             for k in chosen)  # fmt: skip
        raise GateError(
            f"a {requirement} gate checks one thing, got {names}: write one "
            f"@{requirement} marker (or call) per kind"
        )
    (kind,) = chosen
    foreign = [name for name in given if name not in kind.keywords]
    if foreign:
        where = "; ".join(
            f"{name}= is for {' or '.join(k.name for k in kinds if name in k.keywords)} gates"
            for name in foreign
        )
        raise GateError(
            f"{_keywords(foreign, ', ')} {'does' if len(foreign) == 1 else 'do'} not apply to "
            f"{_article(kind.name)} {kind.name} gate ({where}): remove it, or write a second "
            f"@{requirement} marker"
        )
    return kind


def given_keywords(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords set to something other than their default (None when there is none)."""
    return {name: value for name, value in values.items() if not _same(value, defaults.get(name))}


def _same(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


def _given(names: Iterable[str], given: Mapping[str, Any]) -> list[str]:
    return [name for name in names if name in given]


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeio" else "a"


def _keywords(names: Iterable[str], joiner: str) -> str:
    return joiner.join(f"{name}=" for name in names)


# -- what the plugin reads from the declarations --------------------------------------------


@dataclass(frozen=True)
class Keyword:
    """One keyword-only parameter of a check, as declared."""

    name: str
    default: Any
    annotation: str
    metric: str | None = None
    needs: tuple[tuple[Any, dict[str, Need]], ...] = ()
    fixture: bool = False
    fixture_default: str | None = None
    path: bool = False

    def applies(self, value: Any, when: Any) -> bool:
        if value is None or value is False:
            return False
        return when is None or value == when or (isinstance(when, tuple) and value in when)


@dataclass(frozen=True)
class Requirement:
    """A requirement as its check declares it."""

    name: str
    module: str
    doc: str
    keywords: dict[str, Keyword]
    needs: dict[str, Need] = field(default_factory=dict)
    metric: str | None = None
    example: str = "..."
    rank: int = 100

    @property
    def summary(self) -> str:
        """The docstring's first paragraph on one line, for ``pytest --markers``."""
        paragraph = self.doc.strip().split("\n\n")[0]
        return " ".join(paragraph.replace("``", "").split())

    def defaults(self) -> dict[str, Any]:
        return {name: keyword.default for name, keyword in self.keywords.items()}

    def metric_of(self, given: Mapping[str, Any]) -> str:
        """The metric a gate with these keywords reports (for naming an error verdict)."""
        metric = None
        for keyword in self.keywords.values():
            if keyword.metric is not None and keyword.applies(given.get(keyword.name), None):
                metric = keyword.metric.format(value=given[keyword.name])
        if metric is not None:
            return metric
        for keyword in self.keywords.values():  # metric="accuracy": the default value's
            if keyword.metric is not None and "{value}" in keyword.metric and keyword.default:
                return keyword.metric.format(value=keyword.default)
        return self.metric or self.name

    def subject_needs(self, given: Mapping[str, Any]) -> dict[str, Need]:
        """Which subjects a gate with these keywords uses: the requirement's needs, then each
        given keyword's in signature order; a given fixture-valued keyword is at least optional."""
        needs: dict[str, Need] = {"model": "required", "data": "required", **self.needs}
        for keyword in self.keywords.values():
            value = given.get(keyword.name)
            if keyword.fixture and keyword.applies(value, None):
                needs.setdefault(keyword.name, "optional")
            for when, subjects in keyword.needs:
                if keyword.applies(value, when):
                    needs.update(subjects)
        return needs

    def fixture_keywords(self) -> dict[str, str | None]:
        """Keywords whose string value names a fixture, with the fixture each names by default."""
        return {k.name: k.fixture_default for k in self.keywords.values() if k.fixture}

    def path_keywords(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keywords.values() if k.path)


#: the JSON types an annotation's names allow (anything else: no constraint)
_JSON_TYPES = {
    "float": ("number",), "int": ("integer",), "str": ("string",), "bool": ("boolean",),
    "list": ("array",), "tuple": ("array",), "Sequence": ("array",),
    "dict": ("object",), "Mapping": ("object",), "None": (),
}  # fmt: skip


def json_types(keyword: Keyword) -> tuple[str, ...] | None:
    """The JSON types a policy file may give ``keyword`` (None: any), from its annotation;
    a fixture-valued keyword also takes a string, the fixture's name."""
    try:
        expression = ast.parse(keyword.annotation, mode="eval").body
    except SyntaxError:
        return None
    names: list[str] = []
    for part in _union(expression):
        base = part.value if isinstance(part, ast.Subscript) else part
        name = _name(base) if not isinstance(base, ast.Constant) else "None"
        if name not in _JSON_TYPES:
            return None
        names.extend(_JSON_TYPES[name])
    if keyword.fixture or keyword.path:
        names.append("string")
    return tuple(dict.fromkeys(names))


def _union(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_union(node.left), *_union(node.right)]
    return [node]


@functools.cache
def requirements() -> dict[str, Requirement]:
    """Every requirement declared in the checks, by name, in listing order (read once):
    from the sources, or from the imported modules when there are none."""
    found: list[Requirement] = []
    sources = sorted(_CHECKS_DIR.rglob("*.py")) if _CHECKS_DIR.is_dir() else []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        found.extend(read_declarations(text, _module_of(path)))
    # a module installed as .pyc only beside sources (a mixed install) has nothing to read:
    # imported, as in a sourceless install, so none of its gates goes missing
    compiled = _CHECKS_DIR.rglob("*.pyc") if _CHECKS_DIR.is_dir() else []
    read = {path.with_suffix("") for path in sources}
    alone = [_module_of(p) for p in sorted(compiled) if p.with_suffix("") not in read
             and p.parent.name != "__pycache__"]  # fmt: skip
    if alone:
        found.extend(_sourceless_beside_sources(alone, {r.name for r in found}))
    if not found:
        found = _imported_declarations()
    if not found:
        raise RuntimeError(
            f"pytest-modelguard found no requirement in {_CHECKS_PACKAGE} (neither in its "
            "sources nor in its modules): the installation is incomplete; reinstall it"
        )
    found.sort(key=lambda r: (r.rank, r.name))
    return {r.name: r for r in found}


def _sourceless_beside_sources(names: list[str], known: set[str]) -> list[Requirement]:
    """The declarations of ``.pyc``-only check modules in an install with sources. Such a
    file may be a leftover (``compileall -b``, another Python): one that fails to import is
    skipped with a warning naming it, and it never replaces a requirement read from source.
    """
    import warnings

    found = []
    for name in names:
        try:
            declared = _imported_declarations([name])
        except Exception as exc:  # a stale file must not stop every pytest run here
            warnings.warn(
                f"pytest-modelguard: skipped {name}, a check module without source that "
                f"fails to import ({type(exc).__name__}: {exc}); delete its .pyc if it is a "
                "leftover, or reinstall the package",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        for requirement in declared:
            if requirement.name in known:
                warnings.warn(
                    f"pytest-modelguard: {name} (no source) declares {requirement.name!r}, "
                    "which a module with source declares too: the source's is used; delete "
                    "the leftover .pyc",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            found.append(requirement)
    return found


def _module_of(path: Path) -> str:
    """The dotted name of a check module's file (``.py`` or sourceless ``.pyc``)."""
    parts = path.relative_to(_CHECKS_DIR).with_suffix("").parts
    return ".".join((_CHECKS_PACKAGE, *parts)).removesuffix(".__init__")


def _imported_declarations(names: list[str] | None = None) -> list[Requirement]:
    """The requirements of the modules ``names``, or of every check module in a sourceless
    install (``.pyc`` only, a zip): each module is imported and its ``@requirement``
    functions are read from their signatures (the annotations are strings: every check
    module has ``from __future__ import annotations``)."""
    import importlib.util
    import inspect

    if names is None:
        package = importlib.util.find_spec(_CHECKS_PACKAGE)
        if package is None or not package.submodule_search_locations:
            return []
        names = _module_names(list(package.submodule_search_locations), _CHECKS_PACKAGE)
    found = []
    for name in names:
        module = importlib.import_module(name)
        for value in vars(module).values():
            declared = getattr(value, "__requirement__", None)
            function = inspect.unwrap(value) if declared is not None else None
            if function is not None and function.__module__ == name:
                found.append(_declared_function(function, name, declared))
    return found


def _module_names(paths: list[str], prefix: str) -> list[str]:
    """The modules under ``paths`` (a package's directories), without importing them."""
    import os
    import pkgutil

    names = [prefix]
    for info in pkgutil.iter_modules(paths, prefix + "."):
        if info.ispkg:
            short = info.name.rpartition(".")[2]
            names.extend(_module_names([os.path.join(p, short) for p in paths], info.name))
        else:
            names.append(info.name)
    return names


def _declared_function(
    function: Callable[..., Any], module: str, options: dict[str, Any]
) -> Requirement:
    """A requirement from a check function (no source): its signature, written out again
    from its string annotations and literal defaults, is read like a source one."""
    code = function.__code__
    names = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    annotations, defaults = function.__annotations__, function.__kwdefaults__ or {}
    keywords = ", ".join(
        f"{name}: {annotations.get(name, 'Any')}"
        + (f" = {defaults[name]!r}" if name in defaults else "")
        for name in names
    )
    source = f"def {function.__name__}(model, dataset, *, {keywords}):\n"
    source += f"    {(function.__doc__ or '')!r}\n"
    node = ast.parse(source).body[0]
    return _requirement(node, module, source, options)  # type: ignore[arg-type]


_DECORATOR = re.compile(r"^@requirement\(", re.MULTILINE)


def read_declarations(source: str, module: str) -> list[Requirement]:
    """The requirements declared in one module's source. Only the decorated functions are
    parsed (a whole check module takes ten times longer), unless that fails."""
    declared = []
    for match in _DECORATOR.finditer(source):
        try:
            text = _top_level_statement(source[match.start() :])
            tree = ast.parse(text)
        except SyntaxError:
            text = source
            tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _decorator(node) is not None:
                declared.append(_requirement(node, module, text))
                break
    return declared


def _top_level_statement(source: str) -> str:
    """The decorated function at the start of ``source``: its signature and docstring (a
    body is not needed, and compiling it would triple the time)."""
    lines = source.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("def ")), 0)
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if line.startswith(")") and line.rstrip().endswith(":"):  # the signature's end
            return "\n".join([*lines[: number + 1], *_docstring(lines[number + 1 :])])
        if line and not line[0].isspace() and not line.startswith(")"):
            return "\n".join(lines[:number])
    return source


def _docstring(body: list[str]) -> list[str]:
    """The docstring's lines at the start of a function body, then ``...`` for the rest."""
    first = body[0].strip() if body else ""
    quote = first[:3]
    if quote not in ('"""', "'''"):
        return ["    ..."]
    if first.count(quote) >= 2 and len(first) > 3:
        return [body[0]]
    end = next((n for n, line in enumerate(body[1:], start=1) if quote in line), None)
    return body[: end + 1] if end is not None else ["    ..."]


def _decorator(node: ast.FunctionDef) -> ast.Call | None:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and _name(decorator.func) == "requirement":
            return decorator
    return None


def _requirement(
    node: ast.FunctionDef, module: str, source: str, options: dict[str, Any] | None = None
) -> Requirement:
    if options is None:
        options = _call_kwargs(_decorator(node))  # type: ignore[arg-type]
    lines = source.encode().splitlines()
    keywords = {}
    for argument, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
        if argument.arg in CONTEXT_KEYWORDS:
            continue
        if default is None:
            raise TypeError(f"{module}.{node.name}: keyword {argument.arg}= needs a default")
        keywords[argument.arg] = _keyword(argument, ast.literal_eval(default), lines)
    needs = options.get("needs")
    return Requirement(
        name=node.name,
        module=module,
        doc=ast.get_docstring(node) or "",
        keywords=keywords,
        needs=dict(needs.subjects) if needs is not None else {},
        metric=options.get("metric"),
        example=options.get("example", "..."),
        rank=options.get("rank", 100),
    )


def _keyword(argument: ast.arg, default: Any, lines: list[bytes]) -> Keyword:
    annotation = argument.annotation
    declared: list[Any] = []
    if isinstance(annotation, ast.Subscript) and _name(annotation.value) == "Annotated":
        first, *metadata = annotation.slice.elts  # type: ignore[attr-defined]
        declared = [_declaration(item) for item in metadata]
        annotation = first
    fixture = next((d for d in declared if isinstance(d, Fixture)), None)
    metric = next((d.name for d in declared if isinstance(d, Reports)), None)
    return Keyword(
        name=argument.arg,
        default=default,
        annotation=_text(annotation, lines),
        metric=metric,
        needs=tuple((d.when, dict(d.subjects)) for d in declared if isinstance(d, Needs)),
        fixture=fixture is not None,
        fixture_default=fixture.default if fixture else None,
        path=(fixture is not None and fixture.path)
        or any(isinstance(d, FilePath) for d in declared),
    )


_DECLARATIONS: dict[str, Callable[..., Any]] = {
    "Reports": Reports, "Needs": Needs, "Fixture": Fixture, "FilePath": FilePath,
}  # fmt: skip


def _declaration(node: ast.expr) -> Any:
    if not isinstance(node, ast.Call) or _name(node.func) not in _DECLARATIONS:
        raise TypeError(f"unknown declaration {ast.unparse(node)!r} in a check's signature")
    arguments = [ast.literal_eval(a) for a in node.args]
    return _DECLARATIONS[_name(node.func)](*arguments, **_call_kwargs(node))


def _call_kwargs(node: ast.Call) -> dict[str, Any]:
    return {
        k.arg: _declaration(k.value) if isinstance(k.value, ast.Call) else ast.literal_eval(k.value)
        for k in node.keywords
        if k.arg is not None
    }


def _text(node: ast.expr | None, lines: list[bytes]) -> str:
    """The annotation as written, on one line (offsets are of the UTF-8 source)."""
    if node is None:
        return "Any"
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[operator]
    if first == last:
        text = lines[first][node.col_offset : node.end_col_offset].decode()
    else:
        parts = [lines[first][node.col_offset :], *lines[first + 1 : last]]
        text = b" ".join([*parts, lines[last][: node.end_col_offset]]).decode()
    return " ".join(text.split()).replace("[ ", "[").replace(" ]", "]").replace(",]", "]")


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
