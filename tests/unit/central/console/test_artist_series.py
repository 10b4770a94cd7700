"""The artist pages' pure parts: the days and months a series covers, a month's span, the
statement CSV's decimals and rows, and the shares document an upload form makes."""

from __future__ import annotations

import csv
import io

import pytest

from central.console.artist import earnings_chart, plays_chart, shares_document
from central.errors import QueryError
from central.plays.queries import DAY_MS, last_days
from central.royalties.earnings import last_months, month_range
from central.royalties.statements import COLUMNS, decimal_text, statement_csv
from central.times import parse_iso_ms

NOON_MS = parse_iso_ms("2026-03-01T12:00:00Z")


def test_last_days_are_whole_utc_days_ending_today() -> None:
    """30 days at noon of 1 March: from 31 January's midnight to 2 March's; 0 or 400 refused."""
    span = last_days(NOON_MS, 30)
    assert span.since_ms == parse_iso_ms("2026-01-31T00:00:00Z")
    assert span.until_ms == parse_iso_ms("2026-03-02T00:00:00Z")
    assert (span.until_ms - span.since_ms) // DAY_MS == 30
    for days in (0, 400):
        with pytest.raises(QueryError):
            last_days(NOON_MS, days)


def test_last_months_cross_the_year() -> None:
    """Twelve months to March 2026 start in April 2025; one month is this one."""
    months = last_months(NOON_MS, 12)
    assert months[0] == "2025-04" and months[-1] == "2026-03" and len(months) == 12
    assert last_months(parse_iso_ms("2026-01-31T23:59:59Z"), 2) == ["2025-12", "2026-01"]
    with pytest.raises(QueryError):
        last_months(NOON_MS, 0)


def test_month_range_is_the_whole_month() -> None:
    """February 2028 (a leap year) has 29 days; December ends at the new year; junk refused."""
    feb = month_range("2028-02")
    assert feb.since_ms == parse_iso_ms("2028-02-01T00:00:00Z")
    assert (feb.until_ms - feb.since_ms) // DAY_MS == 29
    assert month_range("2026-12").until_ms == parse_iso_ms("2027-01-01T00:00:00Z")
    for bad in ("2026-13", "2026-00", "26-01", "2026-1", "abcd-ef"):
        with pytest.raises(QueryError):
            month_range(bad)


def test_decimals_are_exact() -> None:
    """Minor units as plain decimals of the currency, signs and zero-decimal currencies too."""
    assert decimal_text(123450, "GHS") == "1234.50"
    assert decimal_text(-5, "GHS") == "-0.05"
    assert decimal_text(0, "GHS") == "0.00"
    assert decimal_text(700, "XOF") == "700"


def test_statement_csv_has_a_header_and_one_row_per_line() -> None:
    """The header is COLUMNS; a line's amounts appear in minor units and as decimals; a line
    of no play has an empty play_id."""
    line = {"seq": 7, "leg": 2, "created_at": "2026-03-01T12:00:00.000Z", "transfer_id": "t",
            "key": "royalty:play:3", "code": "royalty", "state": "posted", "side": "credit",
            "amount_minor": 1250, "balance_minor": 99, "play_id": 3}  # fmt: skip
    rows = list(csv.reader(io.StringIO("".join(statement_csv([line, {**line, "play_id": None}],
                                                             "GHS")))))  # fmt: skip
    assert tuple(rows[0]) == COLUMNS and len(rows) == 3
    got = dict(zip(COLUMNS, rows[1]))
    assert (got["amount_minor"], got["amount"], got["balance"], got["play_id"]) == (
        "1250", "12.50", "0.99", "3"
    )  # fmt: skip
    assert dict(zip(COLUMNS, rows[2]))["play_id"] == ""


def test_an_upload_form_without_shares_gives_the_uploader_each_pool_named() -> None:
    """An ISRC makes the artist the master's performer at 100 %; an ISWC the composition's
    writer (a rights holder: label, publisher); neither is a problem; pasted JSON is used."""
    form = {"isrc": "GH-A01-26-00001", "iswc": ""}
    document, problems = shares_document(form, "artist:ama:earnings", "artist")
    assert problems == [] and list(document) == ["master"]
    assert document["master"]["shares"] == [
        {"party": "artist:ama:earnings", "role": "performer", "share_bp": 10_000}
    ]
    both, _ = shares_document({"isrc": "x", "iswc": "y"}, "label:k:earnings", "rights_holder")
    assert [both[p]["shares"][0]["role"] for p in ("master", "composition")] == [
        "label", "publisher"
    ]  # fmt: skip
    assert shares_document({}, "artist:ama:earnings", "artist")[1]
    assert shares_document({"shares": '{"master": {}}'}, "p", "artist") == ({"master": {}}, [])
    assert "not JSON" in shares_document({"shares": "{"}, "p", "artist")[1][0]


def test_charts_carry_the_series_numbers_unchanged() -> None:
    """Plays per day as counts; earnings per month as exact decimals of the currency."""
    days = [{"day": "2026-03-01", "plays": 4}]
    assert plays_chart(days) == {"labels": ["2026-03-01"],
                                 "datasets": [{"label": "Plays", "data": [4]}]}  # fmt: skip
    months = [{"month": "2026-03", "amount_minor": 1999, "entries": 2}]
    chart = earnings_chart(months, "GHS")
    assert chart["labels"] == ["2026-03"] and chart["datasets"][0]["data"] == ["19.99"]
