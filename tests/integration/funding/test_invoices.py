"""Monthly invoices on PostgreSQL: a month of the station's own time zone equals the ledger's
movements in it (postings a minute either side of local midnight fall in their own month),
issuing twice is one invoice, payments naming it mark it paid, the schedule's job issues last
month's once, and the ledger stays sound."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from central.auth.models import AuditEvent
from central.extensions import db
from central.funding import invoices, jobs, rules, topups
from central.funding.errors import InvoiceError
from central.funding.models import Invoice
from central.ledger import posting
from central.ledger.queries import balance
from central.times import ms_of, now_ms
from tests.integration.central import rows
from tests.integration.funding.conftest import (
    accrue_at,
    add_station,
    assert_ledger_ok,
    play_debit,
    wallet_movement,
)

pytestmark = pytest.mark.integration

ZONE = "Africa/Nairobi"  # UTC+3 all year: local midnight is 21:00 UTC
WALLET = "station:nairobi-fm:wallet"
SINCE = datetime(2025, 10, 31, 21, 0, tzinfo=UTC)  # 2025-11-01 00:00 in Nairobi
UNTIL = datetime(2025, 11, 30, 21, 0, tzinfo=UTC)  # 2025-12-01 00:00 in Nairobi
AFTER_MS = ms_of(datetime(2025, 12, 2, tzinfo=UTC))  # when the tests issue November's


def at(text: str) -> datetime:
    """An instant from ISO-8601 UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def month(pg_app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """nairobi-fm (postpaid: its wallet opened by royalties) with royalties posted a minute
    either side of both of its local November's midnights, and a 500 top-up mid-month: play
    id by name."""
    with pg_app.app_context():
        station = add_station(db.session, "nairobi-fm", timezone=ZONE)
        a, b = rows.add_track(db.session, "A"), rows.add_track(db.session, "=B")
        made = {
            "oct": accrue_at(db.session, monkeypatch, station, a, at("2025-10-31T20:59:30Z")),
            "nov_first": accrue_at(db.session, monkeypatch, station, a, at("2025-10-31T21:00:30Z")),
            "nov_mid": accrue_at(db.session, monkeypatch, station, b, at("2025-11-15T09:00:00Z")),
        }
        with monkeypatch.context() as patch:
            patch.setattr(posting, "utc_now", lambda: at("2025-11-15T10:00:00Z"))
            request = topups.TopUpRequest("nairobi-fm", 500, "momo", "MP251115", date(2025, 11, 15))
            topups.record_topup(db.session, request, "user:1", "api", date(2025, 11, 15))
            db.session.commit()
        made["nov_last"] = accrue_at(
            db.session, monkeypatch, station, b, at("2025-11-30T20:59:30Z")
        )
        made["dec"] = accrue_at(
            db.session, monkeypatch, station, a, at("2025-11-30T21:00:30Z"), minutes=7
        )
    return made


def issue(month: str, now: int = AFTER_MS, station: str = "nairobi-fm") -> invoices.Issued:
    """Issue the station's invoice of `month` as a CLI user would, committed."""
    issued = invoices.issue_invoice(db.session, station, month, "cli:ops", "cli", 30, now)
    db.session.commit()
    return issued


def test_an_invoice_is_the_ledgers_month_in_the_stations_time_zone(
    pg_app: Flask, month: dict[str, int]
) -> None:
    """November in Nairobi charges the three plays posted in it (not the one a minute before
    its first midnight, nor the one a minute after its last), by track, counts the top-up as a
    payment, and its balances are the wallet's at both local midnights."""
    with pg_app.app_context():
        invoice = issue("2025-11").invoice
        charged = sum(
            play_debit(db.session, month[p]) for p in ("nov_first", "nov_mid", "nov_last")
        )
        movement = wallet_movement(db.session, WALLET, SINCE, UNTIL)
        assert invoice.charged_minor == charged and movement == 500 - charged
        before = wallet_movement(db.session, WALLET, datetime(2000, 1, 1, tzinfo=UTC), SINCE)
        assert invoice.opening_minor == before == -play_debit(db.session, month["oct"])
        assert invoice.payments_minor == 500
        assert invoice.closing_minor == before + movement
        assert invoice.amount_due_minor == charged and invoice.status == rules.OPEN
        assert (invoice.number, invoice.due_on) == ("ZIO-2025-11-nairobi-fm", date(2025, 12, 30))
        by_track = {
            line.track_external_id: (line.plays, line.amount_minor) for line in invoice.lines
        }
        assert by_track == {
            "A": (1, play_debit(db.session, month["nov_first"])),
            "=B": (
                2,
                play_debit(db.session, month["nov_mid"])
                + play_debit(db.session, month["nov_last"]),
            ),
        }
        in_utc = wallet_movement(
            db.session, WALLET, datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)
        )
        assert in_utc != movement  # the zone matters: UTC's November holds other postings
        december = issue("2025-12", now=ms_of(datetime(2026, 1, 2, tzinfo=UTC))).invoice
        assert december.opening_minor == invoice.closing_minor
        assert december.charged_minor == play_debit(db.session, month["dec"])
        assert december.closing_minor == balance(db.session, WALLET).balance_minor


def test_the_lines_download_as_csv(pg_app: Flask, month: dict[str, int]) -> None:
    """A header, a row per track adding up to the charge, catalogue text quoted (=B)."""
    with pg_app.app_context():
        invoice = issue("2025-11").invoice
        parsed = list(csv.DictReader(io.StringIO("".join(invoices.invoice_csv(invoice, "x")))))
        assert sum(int(r["amount_minor"]) for r in parsed) == invoice.charged_minor
        assert {r["track"] for r in parsed} == {"A", "'=B"}


def test_issuing_twice_is_one_invoice(pg_app: Flask, month: dict[str, int]) -> None:
    """The same station and month again: the same invoice, not recomputed; audited once."""
    with pg_app.app_context():
        first = issue("2025-11")
        again = issue("2025-11", now=AFTER_MS + 86_400_000)
        assert first.created and not again.created and again.invoice.id == first.invoice.id
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
        audited = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "funding.invoice")
        )
        assert db.session.scalar(audited) == 1


def test_payments_naming_the_invoice_mark_it_paid(pg_app: Flask, month: dict[str, int]) -> None:
    """A payment of less than is due leaves it open (paid so far shown); the rest makes it
    paid; the wallet got both credits; the ledger is sound."""
    with pg_app.app_context():
        invoice = issue("2025-11").invoice
        number, due = invoice.number, invoice.amount_due_minor
        before = balance(db.session, WALLET).balance_minor
        pay = topups.TopUpRequest("nairobi-fm", due - 1, "bank", "B1", invoice_number=number)
        topups.record_topup(db.session, pay, "user:1", "api", date(2025, 12, 5))
        db.session.commit()
        found = invoices.find_invoice(db.session, number)
        assert (found.status, found.paid_minor, found.paid_at) == (rules.OPEN, due - 1, None)
        rest = topups.TopUpRequest("nairobi-fm", 1, "cash", "R-77", invoice_number=number)
        topups.record_topup(db.session, rest, "user:1", "console", date(2025, 12, 6))
        db.session.commit()
        found = invoices.find_invoice(db.session, number)
        assert (found.status, found.paid_minor) == (rules.PAID, due) and found.paid_at is not None
        assert balance(db.session, WALLET).balance_minor == before + due
        assert_ledger_ok(db.session)


def test_prepaid_stations_unfinished_months_and_bad_months_are_refused(pg_app: Flask) -> None:
    """A prepaid wallet pays by top-ups; a station with no wallet was never charged; a month
    not over in the station's zone cannot be invoiced yet; 2025-13 is no month."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm", "prepaid")
        add_station(db.session, "new-fm")
        add_station(db.session, "limit-fm", "limit:100000")
        db.session.commit()
        for station, month_, reason in [
            ("joy-fm", "2025-11", "prepaid"),
            ("new-fm", "2025-11", "no wallet"),
            ("nowhere", "2025-11", "no station"),
            ("limit-fm", "2025-13", "month"),
        ]:
            with pytest.raises(InvoiceError, match=reason):
                issue(month_, station=station)
            db.session.rollback()
        not_over = ms_of(datetime(2025, 11, 30, 23, 59, tzinfo=UTC))  # Accra: still November
        with pytest.raises(InvoiceError, match="not over"):
            issue("2025-11", now=not_over, station="limit-fm")
        db.session.rollback()
        assert issue("2025-11", station="limit-fm").invoice.amount_due_minor == 0


def test_the_schedule_issues_last_months_invoices_once(
    pg_app: Flask, month: dict[str, int]
) -> None:
    """On December 1st (Nairobi), the job issues November's for the postpaid stations only;
    run again it issues nothing more."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm", "prepaid")
        add_station(db.session, "limit-fm", "limit:100000")
        add_station(db.session, "new-fm")
        db.session.commit()
        first_of_december = ms_of(datetime(2025, 12, 1, 1, 0, tzinfo=UTC))
        assert jobs.issue_last_month(db.session, 30, first_of_december) == {
            "existing": 0,
            "issued": 2,
        }
        numbers = set(db.session.scalars(select(Invoice.number)))
        assert numbers == {"ZIO-2025-11-nairobi-fm", "ZIO-2025-11-limit-fm"}
        issued_by = db.session.scalar(
            select(Invoice.issued_by).where(Invoice.number.like("%nairobi%"))
        )
        assert issued_by == jobs.SCHEDULER
        assert jobs.issue_last_month(db.session, 30, first_of_december + 3_600_000) == {
            "existing": 2
        }
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 2
        assert now_ms() > first_of_december
        assert_ledger_ok(db.session)
