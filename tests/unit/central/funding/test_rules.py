"""The pure rules of station funding: references, keys, months and due dates, totals, status."""

from __future__ import annotations

from datetime import date

import pytest

from central.funding import rules
from central.times import parse_iso_ms


def test_a_reference_is_trimmed_and_upper_cased_and_spaces_are_refused() -> None:
    """'ab-12 ' and 'AB-12' are one payment; a space inside, control characters or 101
    characters are no reference."""
    assert rules.normalize_reference(" ab-12 ") == rules.normalize_reference("AB-12") == "AB-12"
    for bad in ("", "AB 12", "AB\x0012", "é1", "X" * 101):
        with pytest.raises(ValueError, match="reference"):
            rules.normalize_reference(bad)


def test_the_ledger_key_and_settlement_account_come_from_the_method() -> None:
    """topup:<method>:<reference> and settlement:<method>; unknown methods are refused."""
    assert rules.topup_key("momo", "MP123") == "topup:momo:MP123"
    assert rules.settlement_account("bank") == "settlement:bank"
    with pytest.raises(ValueError, match="method"):
        rules.check_method("cheque")


def test_amounts_and_notes_are_checked() -> None:
    """A whole positive number of minor units (not a bool); a note of one printable line."""
    assert rules.check_amount(1) == 1
    for bad in (0, -5, True, 1.5):
        with pytest.raises(ValueError):
            rules.check_amount(bad)  # type: ignore[arg-type]
    assert rules.check_note("  ") is None and rules.check_note(" slip 4 ") == "slip 4"
    for bad in ("a\nb", "x" * 501):
        with pytest.raises(ValueError, match="note"):
            rules.check_note(bad)


def test_a_wallet_is_postpaid_with_a_credit_limit_or_no_floor() -> None:
    """Floor None or below 0: invoiced; floor 0 or above: prepaid."""
    assert rules.is_postpaid(None) and rules.is_postpaid(-50_000)
    assert not rules.is_postpaid(0) and not rules.is_postpaid(100)


def test_invoice_numbers() -> None:
    """ZIO-YYYY-MM-<station>; other text is no invoice number."""
    number = rules.invoice_number("2026-11", "joy-fm")
    assert number == "ZIO-2026-11-joy-fm" and rules.is_invoice_number(number)
    for bad in ("ZIO-2026-11-", "zio-2026-11-joy", "ZIO-26-11-joy", "ZIO-2026-11-joy\x00", 7):
        assert not rules.is_invoice_number(bad)


def test_last_month_and_its_end_are_local() -> None:
    """At 2026-11-30T21:30Z it is already December 1st in Nairobi (UTC+3): last month is
    November there, October in Accra (UTC)."""
    at = parse_iso_ms("2026-11-30T21:30:00Z")
    assert rules.previous_month(at, "Africa/Nairobi") == "2026-11"
    assert rules.previous_month(at, "Africa/Accra") == "2026-10"
    assert rules.previous_month(parse_iso_ms("2027-01-01T00:00:00Z"), "Africa/Accra") == "2026-12"
    assert rules.month_is_over("2026-11", "Africa/Nairobi", at)
    assert not rules.month_is_over("2026-11", "Africa/Accra", at)
    assert rules.month_span_ms("2026-11", "Africa/Nairobi") == (
        parse_iso_ms("2026-10-31T21:00:00Z"),
        parse_iso_ms("2026-11-30T21:00:00Z"),
    )


def test_an_invoice_is_due_days_after_its_month_ends() -> None:
    """The last day of the month plus the days (February of a leap year too)."""
    assert rules.due_on("2026-11", 30) == date(2026, 12, 30)
    assert rules.due_on("2026-12", 0) == date(2026, 12, 31)
    assert rules.due_on("2028-02", 1) == date(2028, 3, 1)


def test_totals_add_up_and_a_credit_month_owes_nothing() -> None:
    """closing = opening - charged + payments; due is the charge, never below 0."""
    money = rules.totals(-1000, [300, 200], 400)
    assert (money.charged_minor, money.closing_minor, money.amount_due_minor) == (500, -1100, 500)
    assert rules.totals(0, [-70], 0).amount_due_minor == 0


def test_an_invoice_is_paid_once_payments_cover_what_is_due() -> None:
    """Less than due: open; as much or more: paid."""
    assert rules.status(499, 500) == rules.OPEN
    assert rules.status(500, 500) == rules.status(900, 500) == rules.PAID
