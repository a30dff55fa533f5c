"""PII written to slip past a pattern (spaced SSNs, obfuscated e-mail addresses, fullwidth
digits, lower-case IBANs, bare phone numbers), and the ordinary numbers and prose that
must still not count: each new rule is a way to match by chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_modelguard.checks.privacy import pii

FOUND = [
    ("ssn", "ssn 123 45 6789"),
    ("ssn", "My social is 078 05 1120."),
    ("email", "write to john.doe [at] example [dot] com"),
    ("email", "jane(at)mail(dot)example(dot)org"),
    ("email", "jane {at} example {dot} co {dot} uk"),
    ("email", "reach me: jane.roe at example dot com"),
    ("email", "JANE AT EXAMPLE DOT ORG"),
    ("email", "jane[at]example.com"),
    ("email", "jane at example.com"),
    ("email", "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"),  # fullwidth
    ("ssn", "ssn １２３-４５-６７８９"),  # fullwidth digits
    ("card", "card ４１１１ １１１１ １１１１ １１１１"),
    ("phone", "call ２０２-５５５-０１４３"),
    ("iban", "de89 3704 0044 0532 0130 00"),
    ("iban", "to gb82west12345698765432 please"),
    ("phone", "call me on 2025550143"),
    ("phone", "Phone: 4155552671"),
    ("phone", "my cell is 2125550199, text me"),
    ("phone", "tel.2025550143"),
]


@pytest.mark.parametrize(("kind", "text"), FOUND)
def test_an_obfuscated_identifier_is_found(kind: str, text: str) -> None:
    assert [k for k, _ in pii.detect(text)] == [kind]


NOT_FOUND = [
    "order 1234567890 shipped",  # a bare 10-digit number without a phone word
    "2025550143",  # ... even a valid-looking one: tabular ids look like this
    "invoice 4155552671 paid on 2024-01-15",
    "call me on 1025550143",  # area code starting with 1
    "phone 2021",  # a year
    "room 123 45 678",  # not 3-2-4 digits
    "000 12 3456",  # SSN rules
    "scores 12 345 6789",
    "look at example dot com",  # a site, said in words: no local part
    "see you at noon dot",
    "meet at the cafe",
    "we arrived at home. it rained",
    "Let's look at this dot product",
    "de89 3704 0044 0532 0130 01",  # checksum broken, lower case
    "ab12 cdef ghij klmn",  # lower-case words shaped like an IBAN, no checksum
    "our de12 model",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert pii.detect(text) == []


def test_a_column_of_ten_digit_integers_is_not_phones() -> None:
    """Tabular ids, timestamps and amounts: 10-digit integers, about 80% of which pass the
    North American number format (area and exchange 2-9): none counts without context."""
    rng = np.random.default_rng(0)
    values = pd.Series(rng.integers(1_000_000_000, 9_999_999_999, size=5000))
    assert pii.scan(values) == []
    assert pii.scan(values.astype(str) + " units") == []


def test_rows_stay_aligned_after_canonicalising() -> None:
    """Fullwidth characters and obfuscations change a row's length: findings still name
    the row they are in."""
    rows = ["ｎｏｔｈｉｎｇ ｈｅｒｅ", "jane [at] example [dot] com", "x", "ssn 123 45 6789"]
    assert [(f.kind, f.row) for f in pii.scan(rows)] == [("email", 1), ("ssn", 3)]


# Review round 3: identifiers written without the usual separators or context words ...
FOUND_WITH_CONTEXT = [
    ("ssn", "SSN: 123456789"),  # bare nine digits after an SSN word
    ("ssn", "social security number 078051120"),
    ("ssn", "SSN 123.45.6789"),
    ("email", "mail me at jane.doe @ example.com"),
    ("email", "jane.doe[@]example.com"),
    ("email", "jane.doe@example dot com"),
    ("phone", "my number is 2125557890"),
    ("phone", "(212)5557890"),
]


@pytest.mark.parametrize(("kind", "text"), FOUND_WITH_CONTEXT)
def test_an_identifier_said_with_its_context_is_found(kind: str, text: str) -> None:
    assert [k for k, _ in pii.detect(text)] == [kind]


# ... and numbers that look like identifiers but whose context says otherwise.
NOT_FOUND_IN_CONTEXT = [
    "Upgrade to release 4.2.1.0 today",
    "See section 2.3.1.4 of the spec",
    "version 10.0.0.1 build",
    "Invoice 482 19 2023",  # spaced 3-2-4 digits without an SSN word
    "Reply to this text with your order 2345678901",  # "text" is not a phone word
    "order number 2125557890",  # nor is "number" without "my"/"your"
    "use dead::beef and cafe::babe",  # hex words, not IPv6 addresses
    "id 123456789 in the table",  # nine digits without an SSN word
]


@pytest.mark.parametrize("text", NOT_FOUND_IN_CONTEXT)
def test_a_look_alike_in_context_is_not_flagged(text: str) -> None:
    assert pii.detect(text) == []


def test_addresses_and_numbers_with_context_still_count() -> None:
    """The context rules drop look-alikes, not the real thing."""
    found = pii.detect("server 10.0.0.1, SSN 078-05-1120, fe80::1, my number: 2125557890")
    assert [k for k, _ in found] == ["ip", "ssn", "ip", "phone"]
