"""Mobile numbers as people type them, normalised to the international digits MoMo takes, or
refused with a message that says why."""

from __future__ import annotations

import re

import pytest

from central.payouts.msisdn import InvalidMsisdn, display_msisdn, network_of, normalize_msisdn


@pytest.mark.parametrize(
    "typed",
    [
        "024 123 4567",
        "0241234567",
        "0241-234-567",
        "(024) 123.4567",
        "+233 24 123 4567",
        "+233241234567",
        "00233241234567",
        "233241234567",
        "241234567",
        "+233 (0)24 123 4567",
        "  024 123 4567  ",
    ],
)
def test_ghanaian_numbers_are_normalised(typed: str) -> None:
    """Every common way of writing one Ghanaian number gives the same digits."""
    assert normalize_msisdn(typed) == "233241234567"


def test_numbers_of_other_countries_pass_as_international() -> None:
    """MTN's sandbox numbers (Sweden) and other countries' numbers with + or 00 are kept."""
    assert normalize_msisdn("46733123450") == "46733123450"
    assert normalize_msisdn("+46 733 123 450") == "46733123450"
    assert normalize_msisdn("0772 123456", country="256") == "256772123456"
    assert normalize_msisdn("0772 123456", country="+256") == "256772123456"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "required"),
        ("   ", "required"),
        ("024 123 456", "has 9 digits after 0 or +233, this one has 8"),
        ("+233 24 123 45678", "this one has 10"),
        ("0302 123 456", "not a mobile number in Ghana"),
        ("024 ABC 4567", "only digits"),
        ("٠٢٤١٢٣٤٥٦٧", "only digits"),
        ("+", "no digits"),
        ("- -", "no digits"),
        ("12345", "7 to 15 digits"),
        ("+1234567890123456", "7 to 15 digits"),
        ("+0241234567", "7 to 15 digits"),
    ],
)
def test_junk_is_refused_with_a_reason(typed: str, words: str) -> None:
    """What cannot be a mobile number is refused, saying what is wrong."""
    with pytest.raises(InvalidMsisdn, match=re.escape(words)):
        normalize_msisdn(typed)


@pytest.mark.parametrize(
    ("msisdn", "network"),
    [
        ("233241234567", "mtn"),
        ("233551234567", "mtn"),
        ("233201234567", "telecel"),
        ("233501234567", "telecel"),
        ("233271234567", "airteltigo"),
        ("233571234567", "airteltigo"),
        ("46733123450", None),
    ],
)
def test_the_network_is_named_by_the_prefix(msisdn: str, network: str | None) -> None:
    """The network a number's prefix was issued to (ported numbers aside)."""
    assert network_of(msisdn) == network


def test_numbers_are_displayed_grouped() -> None:
    """Ghanaian numbers shown as +233 24 123 4567; others as + and digits."""
    assert display_msisdn("233241234567") == "+233 24 123 4567"
    assert display_msisdn("46733123450") == "+46733123450"
