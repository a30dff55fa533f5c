"""PII detectors: true positives and true negatives per kind, checksums, redaction, rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_modelguard.checks.privacy import pii

TRUE_POSITIVES = {
    "email": [
        "write to john.doe@example.com today",
        "Jane_Roe+news@mail.example.co.uk",
        "<a.b-c@sub.domain.org>",
    ],
    "phone": [
        "call (202) 555-0143",
        "cell 202-555-0143.",
        "1-202-555-0143",
        "tel 415.555.2671",
        "+44 20 7946 0958",
        "+1 202 555 0143",
        "+4915112345678",
    ],
    "card": [
        "visa 4111 1111 1111 1111",
        "mc 5500-0000-0000-0004",
        "amex 378282246310005",
        "paid with 6011111111111117.",
        "2-series 2223000048400011",
    ],
    "iban": [
        "DE89 3704 0044 0532 0130 00",
        "to GB82WEST12345698765432 please",
        "FR14 2004 1010 0505 0001 3M02 606",
    ],
    "ssn": ["ssn 123-45-6789", "SSN: 078-05-1120"],
    "ip": [
        "from 192.168.1.1",
        "host 8.8.8.8.",
        "v6 2001:db8::8a2e:370:7334",
        "link fe80::1 up",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    ],
}

TRUE_NEGATIVES = {
    "email": ["look at example dot com", "@handle", "a@b", "mail@localhost"],
    "phone": ["order 12345678", "room 555-0143", "123-456-7890", "+1 2", "date 2024-01-15"],
    "card": [
        "4111 1111 1111 1112",  # fails Luhn
        "4111-1111-1111-1121",  # fails Luhn
        "1234567812345670",  # passes Luhn, but no card issuer starts with 1
        "711111111111114",  # Luhn-valid, issuer 7: not a card
        "411111111111",  # too short
    ],
    "iban": [
        "DE89 3704 0044 0532 0130 01",  # checksum off by one
        "GB82WEST12345698765433",  # checksum broken
        "DE00 3704 0044 0532 0130 00",  # check digits wrong
        "AB12 CDEF",  # too short
    ],
    "ssn": [
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
        "12-345-6789",
    ],
    "ip": [
        "999.1.1.1",
        "version 1.2.3",
        "at 12:30:45",
        "mac 00:1A:2B:3C:4D:5E",
        "Note:: see",
        "pi 3.14159",
    ],
}


@pytest.mark.parametrize(
    ("kind", "text"), [(k, t) for k, texts in TRUE_POSITIVES.items() for t in texts]
)
def test_detects_each_kind(kind, text):
    assert [k for k, _ in pii.detect(text)] == [kind]


@pytest.mark.parametrize(
    ("kind", "text"), [(k, t) for k, texts in TRUE_NEGATIVES.items() for t in texts]
)
def test_ignores_look_alikes(kind, text):
    assert pii.detect(text) == []


def test_checksums():
    assert pii.luhn_valid("4111111111111111") and not pii.luhn_valid("4111111111111112")
    assert pii.luhn_valid("79927398713") and not pii.luhn_valid("79927398710")
    assert pii.iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not pii.iban_valid("GB82 WEST 1234 5698 7654 31")
    assert not pii.iban_valid("GB82")


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("john.doe@example.com", "j***@e***.com"),
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **** 00"),
        ("(202) 555-0143", "(***) ***-**43"),
        ("123-45-6789", "***-**-****"),
        ("192.168.1.1", "***.***.*.*"),
    ],
)
def test_redaction_hides_the_value(text, redacted):
    ((_, shown),) = pii.detect(f"value: {text}.")
    assert shown == redacted and text not in shown


def test_rows_columns_and_counts():
    rows = np.array(
        [
            "nothing here",
            None,
            float("nan"),
            "a@example.com and b@example.org",
            "card 4111111111111111, ip 10.0.0.1",
            "john",  # the next row does not continue this one
            "@example.com 4111 1111",
            "1111 1111",
        ],
        dtype=object,
    )
    findings = pii.scan(rows)
    assert [(f.kind, f.row) for f in findings] == [
        ("email", 3),
        ("email", 3),
        ("card", 4),
        ("ip", 4),
    ]
    assert all(isinstance(f.redacted, str) and "@example" not in f.redacted for f in findings)
    assert pii.scan([]) == [] and pii.scan(np.array(["", "plain"])) == []


def test_finding_holds_no_raw_value():
    (finding,) = pii.scan(["SSN 078-05-1120"])
    assert "078-05-1120" not in repr(finding)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A valid 16-digit Visa number: 15 random digits and the Luhn check digit."""
    body = "4" + "".join(
        str(d) for d in draw(st.lists(st.integers(0, 9), min_size=14, max_size=14))
    )
    check = next(d for d in range(10) if pii.luhn_valid(body + str(d)))
    return body + str(check)


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(card_numbers(), st.sampled_from(["", " ", "-"]), st.text("abc xyz", max_size=20))
def test_any_valid_card_is_found_and_masked(number, separator, prose):
    shown = separator.join(number[i : i + 4] for i in range(0, 16, 4))
    findings = pii.detect(f"{prose} {shown} {prose}")
    assert [kind for kind, _ in findings] == ["card"]
    assert shown not in findings[0][1] and findings[0][1].endswith(number[-4:])


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(st.text(st.characters(categories=["L", "Zs"]), max_size=80))
def test_plain_prose_has_no_findings(text):
    assert pii.detect(text) == []
