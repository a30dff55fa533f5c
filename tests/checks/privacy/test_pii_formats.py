"""PII detectors on identifiers written the ways people write them, and on look-alikes."""

from __future__ import annotations

import pytest

from pytest_modelguard.checks.privacy import pii

FOUND = [
    ("phone", "+1 (555) 234-5678"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+49 30 1234567"),
    ("phone", "+33 1 23 45 67 89"),
    ("phone", "+91 98765 43210"),
    ("phone", "+81 3-1234-5678"),
    ("phone", "+1.202.555.0143"),
    ("phone", "(555) 234-5678"),
    ("phone", "555.234.5678"),
    ("phone", "1-800-555-0199"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432."),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("iban", "NL91 ABNA 0417 1643 00"),
    ("iban", "NO93 8601 1117 947"),  # 15 characters, the shortest
    ("iban", "MT84 MALT 0110 0001 2345 MTLC AST0 01S"),  # 31
    ("iban", "IT60 X054 2811 1010 0000 0123 456"),
    ("iban", "CH93 0076 2011 6238 5295 7"),
    ("iban", "BE68 5390 0754 7034"),
    ("card", "4111 1111 1111 1111"),
    ("card", "4111-1111-1111-1111"),
    ("card", "3782 822463 10005"),  # Amex 4-6-5
    ("card", "2223 0031 2200 3222"),  # Mastercard 2-series
    ("card", "Card: 5105-1051-0510-5100."),
    ("card", "4111 1111 1111 1111 12/26"),  # expiry right after the number
    ("card", "4111-1111-1111-1111 123"),  # and a CVV
    ("ssn", "SSN 078-05-1120."),
    ("ssn", "ssn:219-09-9999"),
    ("ssn", "899-12-3456"),
    ("ip", "host 8.8.8.8, port 53"),
    ("ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("ip", "fe80::1ff:fe23:4567:890a"),
    ("ip", "[2001:db8::ff00:42:8329]:443"),
    ("ip", "2001:db8:0:0:1:0:0:1"),
    ("email", "user+tag@sub.example.co.uk"),
    ("email", "JOHN@EXAMPLE.COM"),
]

NOT_FOUND = [
    ("card", "4111 1111 1111 1112"),  # Luhn fails
    ("card", "4111 1111 1111 1112 12"),  # and no prefix of it passes
    ("card", "1234 5678 9012 3456"),
    ("card", "4111-1111-1111-111"),
    ("iban", "DE89 3704 0044 0532 0130 01"),  # checksum fails
    ("iban", "GB00 WEST 1234 5698 7654 32"),
    ("ssn", "000-12-3456"),
    ("ssn", "666-12-3456"),
    ("ssn", "900-12-3456"),
    ("ssn", "999-99-9999"),
    ("ssn", "123-00-4567"),
    ("ssn", "123-45-0000"),
    ("ip", "999.1.1.1"),
    ("ip", "12:30:45"),  # a time
    ("ip", "00:1A:2B:3C:4D:5E"),  # a MAC address
    ("ip", "std::vector"),
    ("phone", "2023-10-12"),
    ("phone", "123-456-7890"),  # no NANP area code starts with 1
    ("phone", "ISBN 978-3-16-148410-0"),
    ("email", "name@localhost"),
]


@pytest.mark.parametrize(("kind", "text"), FOUND)
def test_found_as_written(kind, text):
    found = pii.detect(text)
    assert [k for k, _ in found] == [kind]
    redacted = found[0][1]
    digits = "".join(c for c in text if c.isalnum())
    shown = "".join(c for c in redacted if c.isalnum())
    assert len(shown) <= 4 or kind == "email", redacted  # at most a few characters show
    assert digits not in redacted


@pytest.mark.parametrize(("kind", "text"), NOT_FOUND)
def test_look_alikes_are_not_found(kind, text):
    assert pii.detect(text) == []
