"""Model cards: read one from Markdown front matter, YAML or JSON, and tell what it lacks.

The transparency gate checks cards with this module and the sign-off report writes
them with it, so both agree on one schema: :data:`FIELDS`. Nothing heavy is imported;
PyYAML loads only when a YAML card is read or written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_modelguard.core.verdict import GateError

#: every standard field of a card, in the order a generated card lists them, and what it holds
FIELDS: dict[str, str] = {
    "name": "what the model is called",
    "version": "which release of the model this card describes (quote it: '1.10')",
    "owners": "who answers for the model: people or a team, with a contact",
    "intended_use": "the task, users and setting the model was built and evaluated for",
    "out_of_scope_uses": "uses the model must not be put to, and why",
    "training_data": "what the model learned from: source, period, size, preprocessing",
    "evaluation_data": "what the metrics were measured on, and how it differs from training",
    "metrics": "claimed metric -> value on the evaluation data (see docs/transparency.md)",
    "limitations": "where the model is known to be weak or untested",
    "ethical_considerations": "risks to people, sensitive attributes, mitigations",
    "license": "the terms the model may be used under",
}
#: the fields a card must fill by default; ``required=`` adds to them
REQUIRED_FIELDS: tuple[str, ...] = tuple(FIELDS)
SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
#: strings a template leaves behind: they do not fill a field
PLACEHOLDERS = frozenset({"todo", "tbd", "tba", "fixme", "xxx", "...", "…", "?", "-"})
_TEMPLATE = re.compile(r"^<[^<>]*>$|^\[[^\[\]]*\]$|^\{\{.*\}\}$")


@dataclass(frozen=True)
class ModelCard:
    """The fields of a model card, where it came from, and its Markdown body."""

    fields: dict[str, Any]
    path: Path | None = None
    body: str = ""
    format: str = "json"

    def get(self, name: str) -> Any:
        """A field's value, or None; ``a.b`` looks inside the mapping ``a``."""
        value: Any = self.fields
        for part in name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value

    def missing(self, required: Iterable[str] = REQUIRED_FIELDS) -> list[str]:
        """The required fields that are absent, empty or a template placeholder."""
        return [name for name in dict.fromkeys(required) if not is_filled(self.get(name))]

    def near_misses(self, names: Iterable[str]) -> dict[str, str]:
        """Missing name -> a key of the card that is probably it (``Intended Use``)."""
        keys = {_normalise(str(key)): str(key) for key in self.fields}
        found = {}
        for name in names:
            key = keys.get(_normalise(name.split(".")[0]))
            if key is not None and key != name.split(".")[0]:
                found[name] = key
        return found

    def to_markdown(self) -> str:
        """The card as Markdown with YAML front matter (what :func:`load` reads back)."""
        yaml = _yaml()
        front = yaml.safe_dump(self.fields, sort_keys=False, allow_unicode=True, width=88)
        body = self.body if self.body.endswith("\n") or not self.body else self.body + "\n"
        return f"---\n{front}---\n{body}"


def is_filled(value: Any) -> bool:
    """Whether a value says something: not None, blank, a placeholder, or empty throughout."""
    if value is None:
        return False
    if isinstance(value, str):
        text = value.strip()
        return bool(text) and text.lower() not in PLACEHOLDERS and not _TEMPLATE.match(text)
    if isinstance(value, Mapping):
        return any(is_filled(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return any(is_filled(v) for v in value)
    return True  # numbers, booleans, dates


def load(path: str | os.PathLike[str]) -> ModelCard:
    """Read a card: ``.md`` with YAML front matter, ``.yaml``/``.yml``, or ``.json``.

    A relative path is relative to the working directory. Every reason the card cannot
    be read is a :class:`GateError` that names the file it looked at.
    """
    given = Path(path)
    where = given if given.is_absolute() else Path.cwd() / given
    kind = SUFFIXES.get(where.suffix.lower())
    if kind is None:
        raise GateError(
            f"model card {str(path)!r}: cannot tell its format from the suffix "
            f"{where.suffix or '(none)'!r}; use .md (YAML front matter), .yaml/.yml or .json"
        )
    if not where.is_file():
        raise GateError(_not_found(str(path), where))
    try:
        text = where.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GateError(f"cannot read the model card {where}: {exc}") from None
    body, offset = "", 0
    if kind == "markdown":
        text, body, offset = _front_matter(text, where)
    fields = _parse_json(text, where) if kind == "json" else _parse_yaml(text, where, offset)
    if not isinstance(fields, dict):
        raise GateError(
            f"model card {where}: the fields must be a mapping (name: ..., version: ...), "
            f"got {type(fields).__name__}"
        )
    return ModelCard(fields, where, body, kind)


def _not_found(given: str, where: Path) -> str:
    if where.is_dir():
        problem = f"{where} is a directory, not a model card file"
    elif not where.parent.is_dir():
        problem = f"no model card at {where}: the directory {where.parent} does not exist"
    else:
        problem = f"no model card at {where}"
        cards = sorted(p.name for p in where.parent.iterdir() if "card" in p.name.lower())
        if cards:
            problem += f" (that directory has {', '.join(cards[:5])})"
    if Path(given).is_absolute():
        return (
            f"{problem}; fix model_card= (a relative path is taken relative to pytest's "
            "rootdir, or to the working directory when called without pytest)"
        )
    return f"{problem}; model_card={given!r} is relative to the working directory {Path.cwd()}"


def _front_matter(text: str, where: Path) -> tuple[str, str, int]:
    """(front matter, body, line offset) of a Markdown card."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise GateError(
            f"model card {where} has no YAML front matter: its first line must be '---', "
            "followed by the fields and a closing '---' (or write it as .yaml/.json)"
        )
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), 1
    raise GateError(
        f"model card {where}: the front matter opened on line 1 is never closed; "
        "end it with a line '---'"
    )


def _parse_json(text: str, where: Path) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise GateError(f"model card {where}: key {duplicates[0]!r} appears twice")
        return dict(items)

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise GateError(
            f"model card {where} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}"
        ) from None


def _parse_yaml(text: str, where: Path, offset: int) -> Any:
    yaml = _yaml()

    class Loader(yaml.SafeLoader):
        """Safe loading that refuses a key given twice (YAML would keep the last silently)."""

    def mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1 + offset
            try:
                again = key in seen
            except TypeError:  # an unhashable key: construct_mapping reports it
                continue
            if again:
                raise GateError(
                    f"model card {where}: key {key!r} on line {line} already appears on "
                    f"line {seen[key]}; keep one"
                )
            seen[key] = line
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        fields = yaml.load(text, Loader=Loader)  # a SafeLoader: builds no objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1 + offset}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise GateError(f"model card {where} is not valid YAML{at}: {problem}") from None
    return {} if fields is None else fields


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise GateError(
            "reading or writing a YAML model card needs PyYAML: pip install pyyaml "
            "(or write the card as .json)"
        ) from None
    return yaml


def _normalise(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", key.strip().lower())
