"""Identity lexicons: which words name a group, and what each becomes in another group.

A *category* (gender, names, religion, ...) holds *groups*; each group's terms carry a
*role* (``adjective``, ``plural``, ``female``, a pair position ...). Swapping a text from
group ``g`` to group ``h`` replaces each term of ``g`` by the term of ``h`` with the same
role and position (position modulo the length of ``h``'s list), keeping the case pattern
of the original word. The shipped lexicons (``data/lexicons.json``) note their sources.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from pytest_modelguard.core.verdict import GateError


@dataclass(frozen=True)
class Group:
    name: str
    category: str
    roles: dict[str, list[str]]  # role -> terms (lower case)

    @property
    def terms(self) -> list[str]:
        return [t for terms in self.roles.values() for t in terms]


#: joins texts for one regex pass over all of them (a text holding it is scanned alone)
_SEPARATOR = "\x00"


@dataclass
class Scan:
    """Where a :class:`Swapper` found its terms in a list of texts, from one regex pass.

    ``pieces`` is the joined texts cut at every term (odd pieces are the terms, as
    written), ``groups`` the group of each term and ``text_of`` the text it is in.
    """

    texts: list[str]
    pieces: list[str]
    groups: list[int]
    text_of: np.ndarray
    split: bool = True  # whether the spliced texts can be split apart at the separator

    @property
    def rows(self) -> np.ndarray:
        """The texts that mention at least one term."""
        return np.unique(self.text_of)

    @property
    def found(self) -> list[list[tuple[int, int, int]]]:
        """Per text, ``(start, end, group)`` of its terms (what :meth:`Swapper.find` gives)."""
        found: list[list[tuple[int, int, int]]] = [[] for _ in self.texts]
        if not self.groups:
            return found
        ends = list(itertools.accumulate(map(len, self.pieces)))
        offsets = list(itertools.accumulate((len(t) + 1 for t in self.texts), initial=0))
        for k, (text, group) in enumerate(zip(self.text_of.tolist(), self.groups, strict=True)):
            base = offsets[text]
            found[text].append((ends[2 * k] - base, ends[2 * k + 1] - base, group))
        return found


@dataclass
class Swapper:
    """Finds the terms of some groups in texts and rewrites texts into one group."""

    groups: list[Group]
    exclude: frozenset[str] = frozenset()
    _where: dict[str, tuple[int, str, int]] = field(default_factory=dict, init=False)
    _pattern: re.Pattern[str] | None = field(default=None, init=False)
    _lower: re.Pattern[str] | None = field(default=None, init=False)
    _replacements: dict[tuple[str, int, int | None], str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        # a role some group lacks is left out: never swap a plural into an adjective
        shared = set.intersection(*(set(g.roles) for g in self.groups)) if self.groups else set()
        self._positions: dict[str, list[tuple[int, str, int]]] = {}
        self._capital: set[str] = set()
        for g, group in enumerate(self.groups):
            for role, terms in group.roles.items():
                for position, term in enumerate(terms):
                    key = _key(term)
                    if role not in shared or term in self.exclude or key in self.exclude:
                        continue
                    self._where.setdefault(key, (g, role, position))
                    if self._where[key][0] == g:
                        self._positions.setdefault(key, []).append((g, role, position))
                    if group.category in NAME_CATEGORIES:
                        self._capital.add(key)
        if not self._where:
            raise GateError("the chosen groups have no terms left after exclude_terms=")
        # longest first, so "mothers" is matched before "mother"
        words = sorted(self._where, key=len, reverse=True)
        alternation = "|".join(re.escape(w).replace(r"\ ", SPACE) for w in words)
        self._pattern = re.compile(BEFORE + "(" + alternation + r")(?![\w])", re.IGNORECASE)
        # the same terms as a trie on lower-cased text: one pass, no backtracking over a
        # flat alternation of every term (several times faster on many texts)
        self._lower = re.compile(BEFORE + "(" + _trie(words) + r")(?![\w])")

    def accepts(self, word: str) -> bool:
        """Whether a match is a term: a first name only when capitalised ("Jay", "JAY",
        not "jay bird")."""
        if _key(word) not in self._capital:
            return True
        return word[:1].isupper()

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.groups]

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """``(start, end, group)`` of every identity term in ``text``."""
        assert self._pattern is not None
        return [
            (m.start(), m.end(), self._where[_key(m.group(0))][0])
            for m in self._pattern.finditer(fold(text))
            if self.accepts(text[m.start() : m.end()])
        ]

    def scan(self, texts: list[str]) -> Scan:
        """Every term of every text, in one regex split of the joined, lower-cased texts;
        the loops run in C (a text whose length lower-casing changes, as "İ" does, or that
        holds the separator, is matched on its own with the case-insensitive pattern)."""
        joined = _SEPARATOR.join(texts)
        lower = fold(joined).lower()
        if len(lower) != len(joined) or joined.count(_SEPARATOR) != max(len(texts) - 1, 0):
            return self._scan_one_by_one(texts)
        assert self._lower is not None
        cut = self._lower.split(lower)  # text, term, text, term, ..., text
        ends = list(itertools.accumulate(map(len, cut), initial=0))
        pieces = list(map(joined.__getitem__, map(slice, ends[:-1], ends[1:])))
        starts_list = ends[1:-1:2]
        keep = [self.accepts(p) for p in pieces[1::2]]
        if not all(keep):
            pieces, starts_list = _drop_matches(pieces, starts_list, keep)
        groups = [self._where[_key(term)][0] for term in pieces[1::2]]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
        starts = np.asarray(starts_list, dtype=np.int64)
        text_of = np.searchsorted(np.cumsum(lengths), starts, side="right")
        return Scan(texts, pieces, groups, text_of)

    def _scan_one_by_one(self, texts: list[str]) -> Scan:
        assert self._pattern is not None
        pieces: list[str] = []
        groups, text_of, between = [], [], ""
        for i, text in enumerate(texts):
            between += _SEPARATOR if i else ""
            last = 0
            for m in self._pattern.finditer(fold(text)):
                word = text[m.start() : m.end()]
                if not self.accepts(word):
                    continue
                pieces += [between + text[last : m.start()], word]
                groups.append(self._where[_key(word)][0])
                text_of.append(i)
                between, last = "", m.end()
            between += text[last:]
        pieces.append(between)
        split = not any(_SEPARATOR in t for t in texts)
        return Scan(texts, pieces, groups, np.asarray(text_of, dtype=np.int64), split)

    def swap_all(self, scan: Scan, target: int) -> list[str]:
        """Every scanned text with all its identity terms set to group ``target``: one
        splice of the cut texts, then one split."""
        if not scan.split:
            found = scan.found
            return [
                self.swap(t, target, found=f)[0] for t, f in zip(scan.texts, found, strict=True)
            ]
        words = scan.pieces[1::2]
        table = {w: w for w in set(words)}
        for word in table:
            if self._where[_key(word)][0] != target:
                table[word] = self.replacement(word, target)
        out = list(scan.pieces)
        out[1::2] = map(table.__getitem__, words)
        for k, word in enumerate(words):  # "her" -> "his" or "him", by the next word
            if self._where[_key(word)][0] != target and self._ambiguous(word, target):
                after = scan.pieces[2 * k + 2] + (words[k + 1] if k + 1 < len(words) else "")
                out[2 * k + 1] = self.replacement(word, target, following=after)
        return "".join(out).split(_SEPARATOR) if scan.texts else []

    def _ambiguous(self, word: str, target: int) -> bool:
        """Whether ``word`` has several target terms ("her": "him" and "his")."""
        positions = self._positions.get(_key(word), [])
        terms = self.groups[target].roles
        return len({terms[r][p % len(terms[r])] for _, r, p in positions}) > 1

    def replacement(self, word: str, target: int, *, following: str = "") -> str:
        """``word`` (a found term) as the corresponding term of group ``target``; a word at
        two positions ("her": object and possessive) picks one by the word after it."""
        choice = None
        if following and self._ambiguous(word, target):
            choice = -1 if _determiner_position(following) else 0
        key = (word, target, choice)
        cached = self._replacements.get(key)
        if cached is None:
            positions = self._positions.get(_key(word)) or [self._where[_key(word)]]
            _, role, position = positions[choice or 0]
            terms = self.groups[target].roles[role]
            cached = self._replacements[key] = _same_case(word, terms[position % len(terms)])
        return cached

    def swap(
        self,
        text: str,
        target: int,
        *,
        mask: Sequence[bool] | None = None,
        found: list[tuple[int, int, int]] | None = None,
    ) -> tuple[str, int]:
        """``text`` with its identity terms (those ``mask`` selects) set to group ``target``,
        and how many words changed (``found``: what :meth:`find` returned for it)."""
        found = self.find(text) if found is None else found
        out, last, changed = [], 0, 0
        for i, (start, end, group) in enumerate(found):
            if group == target or (mask is not None and not mask[i]):
                continue
            word = text[start:end]
            new = self.replacement(word, target, following=text[end:])
            out.append(text[last:start])
            out.append(new)
            last = end
            changed += new.lower() != word.lower()
        out.append(text[last:])
        return "".join(out), changed


#: categories whose terms are first names: matched only when capitalised
NAME_CATEGORIES = frozenset({"names", "gender_names"})
#: a term starts after no word character, nor after a word and an apostrophe ("O'Neil"),
#: but may follow an opening quote ("'Emily is rude,' she said")
BEFORE = r"(?<!\w)(?<!\w['’])"
#: the space in a multiword term matches any run of spaces, line breaks or hyphens
SPACE = r"[\s\-]+"
#: words after "her" that make it an object ("gave her a book", "her and me"), not a
#: possessive ("her book"): prepositions, conjunctions, determiners, pronouns, adverbs
_NOT_A_NOUN_WORDS = """
    a an the this that these those some any every each no my your his her its our their to
    for with at in on by from of about into onto over under after before since until up
    down out off away back again through around across along near than as like and or but
    nor so yet because if when while whether where though although i you he she it we they
    me him us them myself yourself himself herself is was be been being am are were will
    would can could should may might must do did not too very also just only even still
    then now here there today tonight yesterday tomorrow well much more most once twice
    anything something nothing everything go come leave stay know see hear feel make let
    help tell ask think say"""
_NOT_A_NOUN = frozenset(_NOT_A_NOUN_WORDS.split())
_NEXT_WORD = re.compile(r"\s*([\w'’]+)")


def _determiner_position(following: str) -> bool:
    """Whether the text after "her" starts with a word it determines ("her book")."""
    match = _NEXT_WORD.match(following)
    return bool(match) and match.group(1).lower() not in _NOT_A_NOUN


class _Fold(dict):  # type: ignore[type-arg]
    """``str.translate`` table folding each character to its NFKC form when that is one
    character ("Ｅ" -> "E"): lengths stay, so positions in the folded text hold."""

    def __missing__(self, code: int) -> int:
        import unicodedata

        folded = unicodedata.normalize("NFKC", chr(code))
        self[code] = ord(folded) if len(folded) == 1 else code
        return self[code]


_FOLD = _Fold()


def fold(text: str) -> str:
    """``text`` with compatibility characters (fullwidth letters) folded, same length."""
    return text if text.isascii() else text.translate(_FOLD)


def _key(word: str) -> str:
    """The lexicon key of a matched word: folded, lower case, one space between words."""
    return " ".join(re.split(r"[\s\-]+", fold(word).lower().strip()))


def _drop_matches(
    pieces: list[str], starts: list[int], keep: list[bool]
) -> tuple[list[str], list[int]]:
    """The cut texts with the matches ``keep`` rejects glued back into the text around."""
    out, kept = [pieces[0]], []
    for k, ok in enumerate(keep):
        if ok:
            out += [pieces[2 * k + 1], pieces[2 * k + 2]]
            kept.append(starts[k])
        else:
            out[-1] += pieces[2 * k + 1] + pieces[2 * k + 2]
    return out, kept


def _trie(words: Iterable[str]) -> str:
    """A regex matching exactly ``words`` (longest first), as a trie of escaped characters."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [
            (SPACE if c == " " else re.escape(c)) + build(child)
            for c, child in sorted(node.items())
            if c
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


def _same_case(original: str, term: str) -> str:
    if original.isupper() and len(original) > 1:
        return term.upper()
    if original[:1].isupper():
        return term[:1].upper() + term[1:]
    return term


@cache
def _shipped() -> dict[str, Any]:
    text = resources.files("pytest_modelguard.text").joinpath("data/lexicons.json").read_text()
    return json.loads(text)


def categories() -> dict[str, dict[str, Any]]:
    """The shipped categories: their groups, sources and template persons."""
    return _shipped()["categories"]


def _roles(terms: Any, where: str) -> dict[str, list[str]]:
    if isinstance(terms, str) or not isinstance(terms, Mapping | Sequence):
        raise GateError(f"{where}: give a list of terms or a mapping of role -> terms")
    roles = dict(terms) if isinstance(terms, Mapping) else {"pairs": list(terms)}
    out: dict[str, list[str]] = {}
    for role, values in roles.items():
        if isinstance(values, str):
            values = [values]
        values = list(values)
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise GateError(f"{where}: role {role!r} needs non-empty strings, got {values!r}")
        out[str(role)] = [v.strip().lower() for v in values]
    return out


def resolve_groups(
    groups: Any, lexicon: Mapping[str, Any] | None = None
) -> tuple[list[Group], str]:
    """The groups to swap between, and the category they come from.

    ``groups`` is a category name (all of its groups: ``"religion"``) or a sequence of
    group names, shipped or defined in ``lexicon`` (``{group: [terms] or {role: [terms]}}``,
    aligned by position between groups).
    """
    shipped = categories()
    custom = {str(k): _roles(v, f"lexicon group {k!r}") for k, v in (lexicon or {}).items()}
    if isinstance(groups, str):
        if groups in shipped:
            category = shipped[groups]
            return [
                Group(name, groups, _roles(terms, name))
                for name, terms in category["groups"].items()
            ], groups
        groups = [groups]
    if not isinstance(groups, Iterable) or isinstance(groups, Mapping):
        raise GateError(f"groups={groups!r}: give two or more group names or one category")
    names = [str(g) for g in groups]
    if len(names) < 2 or len(set(names)) != len(names):
        raise GateError(
            f"groups={names!r}: name at least two different groups (or one category: "
            f"{', '.join(shipped)})"
        )
    found: list[Group] = []
    owners = set()
    for name in names:
        if name in custom:
            found.append(Group(name, "custom", custom[name]))
            owners.add("custom")
            continue
        owner = next((c for c, spec in shipped.items() if name in spec["groups"]), None)
        if owner is None:
            known = [g for spec in shipped.values() for g in spec["groups"]]
            raise GateError(
                f"unknown identity group {name!r}: use one of {', '.join(known)}, a category "
                f"({', '.join(shipped)}), or define it with lexicon={{{name!r}: [...]}}"
            )
        found.append(Group(name, owner, _roles(shipped[owner]["groups"][name], name)))
        owners.add(owner)
    if len(owners) > 1 and "custom" not in owners:
        raise GateError(
            f"groups={names!r} mix categories {sorted(owners)}: swap within one category"
        )
    return found, found[0].category if len(owners) == 1 else "custom"


def all_identity_terms() -> set[str]:
    """Every shipped identity term, lower case (for ``protected_tokens="identity"``)."""
    return {
        term.lower()
        for spec in categories().values()
        for terms in spec["groups"].values()
        for term in (
            [t for v in terms.values() for t in v] if isinstance(terms, Mapping) else terms
        )
    }


def template_texts(groups: list[Group], category: str) -> list[str]:
    """EEC-style sentences about a person of the first group (swaps make the others)."""
    spec = _shipped()
    templates = spec["templates"]
    first = groups[0]
    person = categories().get(category, {}).get("person", "{}")
    if isinstance(person, list) and category == "gender":
        persons = person
    else:
        pattern = person if isinstance(person, str) else "{}"
        # names stand alone (every one of them); other groups fill a phrase with their first role
        terms = first.terms if pattern == "{}" else next(iter(first.roles.values()))
        persons = [pattern.format(_same_case("X", t) if pattern == "{}" else t) for t in terms]
    emotions = [e for words in templates["emotions"].values() for e in words]
    texts = []
    for sentence in templates["sentences"]:
        for who in persons:
            if "{emotion}" in sentence:
                texts.extend(sentence.format(person=who, emotion=e) for e in emotions)
            else:
                texts.append(sentence.format(person=who))
    return [t[:1].upper() + t[1:] for t in texts]


@cache
def _category_swappers() -> tuple[Swapper, ...]:
    return tuple(Swapper(resolve_groups(name)[0]) for name in categories())


def swap_some(text: str, share: float, rng: Any) -> str:
    """``text`` with ``share`` of its identity terms (at least one) moved to another group of
    their category, chosen by ``rng``; unchanged when it has none."""
    found = [
        (start, end, g, swapper)
        for swapper in _category_swappers()
        for start, end, g in swapper.find(text)
    ]
    if not found:
        return text
    found.sort(key=lambda f: f[0])
    kept, last = [], -1
    for item in found:  # a word in two categories ("her" and a name never overlap, but...)
        if item[0] >= last:
            kept.append(item)
            last = item[1]
    k = min(len(kept), max(1, round(share * len(kept))))
    chosen = sorted(rng.choice(len(kept), size=k, replace=False).tolist(), reverse=True)
    out = text
    for index in chosen:
        start, end, group, swapper = kept[index]
        others = [h for h in range(len(swapper.groups)) if h != group]
        target = others[int(rng.integers(len(others)))]
        out = out[:start] + swapper.replacement(out[start:end], target) + out[end:]
    return out


def require_identity_terms(texts: list[str], name: str) -> None:
    """An error when no text has an identity term: a swap would change nothing."""
    if not any(swapper.find(t) for t in texts for swapper in _category_swappers()):
        raise GateError(
            f"none of the texts of {name!r} mentions an identity term (names, gendered words, "
            "religions, nationalities, sexual orientations), so swap_identity would change "
            "nothing and measure nothing: use texts that mention people"
        )
