"""Detectors of personal identifiers in text, for the ``pii="forbid"`` privacy gate.

One combined, compiled regular expression finds candidates in one pass over all rows
(joined by newlines, which no pattern matches, so a finding never spans two rows);
only candidates are validated (Luhn for payment cards, ISO 7064 mod 97 for IBANs, the
SSA rules for US SSNs, :mod:`ipaddress` for IP addresses), so a number that merely
looks like an identifier does not count. A :class:`Finding` holds a redacted form and
never the raw value, so nothing downstream (reports, JUnit, terminal) can leak it.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the kinds of identifier detected, in the order reports list them.
KINDS: tuple[str, ...] = ("email", "phone", "card", "iban", "ssn", "ip")

# One pass of one compiled pattern finds every candidate. Its first item is a character
# class (the first characters of all alternatives), so the regex engine skips the text
# between candidates in C instead of trying every alternative at every position. Each
# alternative checks what precedes its first character with a lookbehind (so it fails
# at once inside a word or a longer number). E-mail addresses are anchored at their "@"
# and IPv6 addresses at their first ":"; the part before (local part, first hex group)
# is taken when a candidate is validated. Separators are spaces, dots and dashes, never
# "\n", so a candidate never spans two rows.
_FIRST = r"[0-9A-Z@+(:]"
_ALTERNATIVES: list[tuple[str, str, str, str]] = [
    # (group, first character, characters that must not precede it, rest)
    ("email", "@", "", r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"),
    (
        "iban",
        "[A-Z]",
        "[A-Za-z0-9]",
        r"[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
    ),
    (  # lower- or mixed-case IBAN, anchored at its check digits (the letters precede)
        "iban_lower",
        r"\d",
        "",
        r"(?<=(?<![A-Za-z0-9])[A-Za-z]{2}\d)\d(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
        r"(?![A-Za-z0-9])",
    ),
    ("card", r"\d", r"[\d.-]", r"(?:[ -]?\d){12,18}(?!\d)"),
    ("ssn", r"\d", r"[\d-]", r"\d{2}-\d{2}-\d{4}(?![\d-])"),
    # spaced, dotted or bare nine digits: an SSN only after an SSN word ("SSN: 123456789")
    ("ssn_said", r"\d", r"[\w.+-]", r"\d{2}(?: \d{2} |\.\d{2}\.|\d{2})\d{4}(?![\d-]|\.\d)"),
    ("phone_intl", r"\+", r"[\w+]", r"\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)"),
    ("phone", r"\(", r"[\w+]", r"\d{3}\) ?\d{3}[ .-]?\d{4}(?!\d)"),
    ("phone", r"\d", r"[\w+]", r"\d{2}[ .-]\d{3}[ .-]\d{4}(?!\d)"),
    ("ipv4", r"\d", r"[\d.]", r"\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\d|\.\d)"),
    ("ipv6", ":", ":", r"(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}(?![\w:])"),
    ("phone_bare", r"\d", r"[\w+-]", r"\d{9}(?![\d])"),  # needs a phone word before it
]


def _alternative(index: int, first: str, not_after: str, rest: str) -> str:
    guard = f"(?<!{not_after}.)" if not_after else ""
    return f"(?P<g{index}>(?<={first}){guard}{rest})"


PATTERN = re.compile(
    _FIRST + "(?:" + "|".join(_alternative(i, *a[1:]) for i, a in enumerate(_ALTERNATIVES)) + ")",
    re.ASCII,
)
"""The combined candidate pattern: one named group ``g<i>`` per alternative."""
_GROUP = {f"g{i}": a[0] for i, a in enumerate(_ALTERNATIVES)}
_KIND_OF_GROUP = {
    "iban_lower": "iban",
    "phone_intl": "phone",
    "phone_bare": "phone",
    "ssn_said": "ssn",
    "ipv4": "ip",
    "ipv6": "ip",
}
_LOCAL_PART = re.compile(r"[\w.%+-]{1,64}\Z", re.ASCII)
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{0,4}\Z")
PHONE_CONTEXT = 32  # characters before a bare 10-digit number searched for a phone word
_PHONE_WORD = re.compile(
    r"\b(?:call|called|calling|phone|phoned|tel|telephone|mobile|cell|cellphone|fax|whatsapp"
    r"|sms|ring|dial|ph|(?:my|your|our|his|her|their)\s+number)\b",
    re.IGNORECASE,
)
SSN_CONTEXT = 32  # characters before spaced or bare SSN digits searched for an SSN word
_SSN_WORD = re.compile(r"\b(?:ssn|ss#|ss no|social|social security|taxpayer id)\b", re.I)
#: words after which a dotted quad is a version or section number, not an address
_VERSION_BEFORE = re.compile(
    r"\b(?:version|release|rel|build|rev|revision|section|sect|sec|chapter|clause|article"
    r"|paragraph|para|figure|fig|table|step|item|rule|v|ver)\.?[ \t]*\Z|§[ \t]*\Z",
    re.IGNORECASE,
)
_BEFORE = {"email": re.compile(r"[\w.%+-]", re.ASCII), "ipv6": re.compile(r"[\w:]", re.ASCII)}


@dataclass(frozen=True)
class Finding:
    """One identifier found: its kind, the row it is in and a redacted form (never raw)."""

    kind: str
    row: int
    redacted: str


# -- validation of candidates -------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string (payment card numbers) is 0 mod 10."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: 15-34 characters whose mod-97 checksum (country and check digits moved
    to the end, letters as 10-35) is 1."""
    compact = iban.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 13 <= len(digits) <= 19:
        return False
    # issuer prefixes: Amex/Diners/JCB 3, Visa 4, Mastercard 51-55 and 2221-2720, Discover 6
    if not (digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720):
        return False
    if digits[0] == "5" and digits[1] not in "12345":
        return False
    return luhn_valid(digits)


def _card_prefix(candidate: str) -> str:
    """The longest valid card number a candidate starts with: the pattern also takes digits
    that follow a card after a separator ("4111 1111 1111 1111 12/26")."""
    separators = [m.start() for m in re.finditer(r"[ -]", candidate)]
    ends = [len(candidate), *reversed(separators)]
    return next((candidate[:end] for end in ends if _card(candidate[:end])), "")


def _ssn(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _phone_intl(candidate: str) -> bool:
    return 8 <= sum(c.isdigit() for c in candidate) <= 15


def _phone(candidate: str) -> bool:
    return re.sub(r"\D", "", candidate)[0] not in "01"  # a NANP area code starts with 2-9


def _phone_bare(candidate: str) -> bool:
    """Ten digits in the North American format: area code and exchange start with 2-9."""
    return candidate[0] not in "01" and candidate[3] not in "01"


def _phone_said(text: str, start: int) -> bool:
    """Whether a phone word precedes ``start`` closely, in the same row: a bare 10-digit
    number counts as a phone number only then (ids and amounts in tables look the same)."""
    row_start = text.rfind("\n", max(0, start - PHONE_CONTEXT), start) + 1
    return _PHONE_WORD.search(text, max(row_start, start - PHONE_CONTEXT), start) is not None


def _said_before(text: str, start: int, words: re.Pattern[str], width: int) -> bool:
    """Whether ``words`` occur in the ``width`` characters before ``start``, in its row."""
    row_start = text.rfind("\n", max(0, start - width), start) + 1
    return words.search(text, max(row_start, start - width), start) is not None


def _version_before(text: str, start: int) -> bool:
    """Whether a dotted quad follows "version", "release", "section", ... directly."""
    row_start = text.rfind("\n", max(0, start - 16), start) + 1
    return _VERSION_BEFORE.search(text[max(row_start, start - 16) : start]) is not None


def _ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


def _ipv6(candidate: str) -> bool:
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 2 or max(map(len, groups)) < 2:  # "a::b" in prose, not an address
        return False
    if not any(c.isdigit() for c in candidate):  # hex words: "dead::beef", "cafe::babe"
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_VALID: dict[str, Callable[[str], bool]] = {
    "email": lambda candidate: True,
    "iban": iban_valid,
    "iban_lower": lambda candidate: iban_valid(candidate.upper()),
    "card": _card,
    "ssn": _ssn,
    "ssn_said": _ssn,
    "phone_intl": _phone_intl,
    "phone": _phone,
    "phone_bare": _phone_bare,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
}


# -- redaction ----------------------------------------------------------------------------


def _mask(value: str, keep_first: int = 0, keep_last: int = 0) -> str:
    """Letters and digits as ``*`` except the first/last few; separators stay."""
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    shown = set(positions[:keep_first]) | set(positions[len(positions) - keep_last :])
    return "".join(c if i in shown or not c.isalnum() else "*" for i, c in enumerate(value))


def redact(kind: str, value: str) -> str:
    """A form safe for reports: ``j***@e***.com``, ``**** **** **** 1234``, ``DE*…*00``."""
    if kind == "email":
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind == "card":
        return _mask(value, keep_last=4)
    if kind == "iban":
        return _mask(value, keep_first=2, keep_last=2)
    if kind == "phone":
        return _mask(value, keep_last=2)
    return _mask(value)  # ssn, ip: nothing of the value is shown


# -- canonical forms ---------------------------------------------------------------------

#: top-level domains an e-mail address written with words ("jane at example dot com") may
#: end with: a closed list, so "look at this dot product" is not an address
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|co|uk|us|ca|au|nz|de|fr|es|it|nl|be|ch|at|se"
    "|no|dk|fi|pl|pt|ie|in|jp|cn|ru|br|mx|me|app|dev|ai"
)
_AT = r"(?:[ \t]*[\[({<][ \t]*at[ \t]*[\])}>][ \t]*|[ \t]+at[ \t]+)"
_DOT = r"(?:[ \t]*[\[({<][ \t]*dot[ \t]*[\])}>][ \t]*|[ \t]+dot[ \t]+|\.)"
#: words that precede "at" in prose ("look at", "arrived at"): not an address's local part
_NOT_LOCAL = frozenset(
    ("look", "looking", "looked", "see", "seen", "us", "me", "him", "her", "them", "it",
     "this", "that", "here", "there", "site", "website", "online", "visit", "available",
     "find", "found", "stay", "staying", "meet", "meeting", "arrive", "arrived", "live",
     "lives", "work", "works", "working", "based", "located", "be", "is", "are", "was",
     "were", "home", "shop", "buy", "sale", "sold", "page", "email", "mail", "contact",
     "reach", "write", "message", "call")
)  # fmt: skip
#: where an address written with words may be: its "at" (the local part is found before it)
_AT_MARK = re.compile(
    r"[\[({<][ \t]*(?:at|@)[ \t]*[\])}>][ \t]*|[ \t](?:(?:at|AT|At)[ \t]+|[ \t]*@[ \t]*)"
    # a bare "@" only before spaces or a spelled dot: plain addresses are no marks (no cost)
    r"|@(?:[ \t]+|(?=[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*[ \t]*[\[({<]?[ \t]*(?i:dot)\b))"
)
_DOMAIN_TAIL = re.compile(
    rf"(?P<domain>[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*){_DOT}(?P<tld>{_TLDS})(?![\w])",
    re.IGNORECASE | re.ASCII,
)
_LOCAL_TAIL = re.compile(r"(?<![\w.%+-])([A-Za-z0-9._%+-]{1,64})[ \t]*\Z", re.ASCII)


def _spelled_emails(text: str) -> list[tuple[int, int, str]]:
    """(start, end, address) of e-mail addresses written with ``[at]``/``(dot)`` or the
    words ``at``/``dot``; anchored at the "at" (one fast search), so prose costs little."""
    edits = []
    for mark in _AT_MARK.finditer(text):
        tail = _DOMAIN_TAIL.match(text, mark.end())  # prose fails here, cheaply
        if tail is None:
            continue
        local = _LOCAL_TAIL.search(text, max(0, mark.start() - 72), mark.start())
        if local is None or local.group(1).lower() in _NOT_LOCAL:
            continue
        domain = re.sub(_DOT, ".", tail.group("domain"), flags=re.IGNORECASE)
        address = f"{local.group(1)}@{domain}.{tail['tld']}"
        if text[local.start() : tail.end()] != address:  # a plain address needs no edit
            edits.append((local.start(), tail.end(), address))
    return edits


def canonical(text: str) -> str:
    """``text`` as the detectors read it: NFKC (fullwidth digits and letters to ASCII),
    and e-mail addresses written with ``[at]``/``(dot)``/`` at ``/`` dot `` rewritten
    with ``@`` and ``.``."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    for start, end, address in reversed(_spelled_emails(text)):
        text = text[:start] + address + text[end:]
    return text


def _canonical_rows(texts: list[str]) -> tuple[list[str], str]:
    """Rows in canonical form and joined by newlines. Only rows that need it are
    rewritten: one ``isascii`` check and one search for "at" marks over the joined text."""
    text = "\n".join(texts)
    if not text.isascii():
        texts = [t if t.isascii() else unicodedata.normalize("NFKC", t) for t in texts]
        text = "\n".join(texts)
    edits = _spelled_emails(text)
    if not edits:
        return texts, text
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    rows = set(np.searchsorted(starts, [e[0] for e in edits], side="right") - 1)
    texts = [canonical(t) if i in rows else t for i, t in enumerate(texts)]
    return texts, "\n".join(texts)


# -- scanning -----------------------------------------------------------------------------


def as_texts(values: Iterable[Any]) -> list[str]:
    """Values as strings; missing values (None, NaN) as empty strings."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        return values.tolist()
    texts = []
    for value in values.tolist() if hasattr(values, "tolist") else values:
        if type(value) is str:
            texts.append(value)
        elif (
            value is None
            or type(value).__name__ in ("NAType", "NaTType")
            or (isinstance(value, float) and value != value)
        ):
            texts.append("")
        elif isinstance(value, bytes):
            texts.append(value.decode("utf-8", "replace"))
        else:
            texts.append(str(value))
    return texts


def scan(values: Iterable[Any]) -> list[Finding]:
    """Every valid identifier in ``values`` (one text per row), in order of appearance."""
    texts = as_texts(values)
    if not texts:
        return []
    texts, text = _canonical_rows(texts)
    found: list[tuple[int, str, str]] = []  # (offset, kind, redacted)
    for match in PATTERN.finditer(text):
        group = _GROUP[match.lastgroup or ""]
        start = _start(group, text, match.start())
        if start is None:
            continue
        candidate = text[start : match.end()]
        if group == "card":
            candidate = _card_prefix(candidate)
        if _out_of_context(group, text, start):
            continue
        if candidate and _VALID[group](candidate):
            kind = _KIND_OF_GROUP.get(group, group)
            found.append((start, kind, redact(kind, candidate)))
    if not found:
        return []
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    offsets = np.fromiter((f[0] for f in found), dtype=np.int64, count=len(found))
    rows = np.searchsorted(starts, offsets, side="right") - 1
    return [
        Finding(kind, int(row), redacted)
        for (_, kind, redacted), row in zip(found, rows.tolist(), strict=True)
    ]


def _out_of_context(group: str, text: str, start: int) -> bool:
    """Whether the words before a candidate say it is not an identifier: a bare 10-digit
    number without a phone word, spaced or bare SSN digits without an SSN word, a dotted
    quad after "version" or "section"."""
    if group == "phone_bare":
        return not _phone_said(text, start)
    if group == "ssn_said":
        return not _said_before(text, start, _SSN_WORD, SSN_CONTEXT)
    if group == "ipv4":
        return _version_before(text, start)
    return False


def _start(group: str, text: str, anchor: int) -> int | None:
    """Where a candidate begins: an e-mail address at its local part, an IPv6 address at
    its first hex group (both anchored later); None when nothing valid precedes."""
    if group == "iban_lower":
        return anchor - 2  # the country code before the check digits the match starts at
    if group not in _BEFORE:
        return anchor
    tail, width = (_LOCAL_PART, 65) if group == "email" else (_HEX_GROUP, 5)
    found = tail.search(text, max(0, anchor - width), anchor)
    start = anchor - (len(found.group()) if found else 0)
    if group == "email" and start == anchor:
        return None
    if start > 0 and _BEFORE[group].match(text, start - 1):
        return None  # a longer local part or hex group: not an address we can delimit
    return start


def detect(text: str) -> list[tuple[str, str]]:
    """``(kind, redacted)`` of every identifier in one text."""
    return [(f.kind, f.redacted) for f in scan([text])]
