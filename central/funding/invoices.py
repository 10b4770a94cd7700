"""Monthly invoices of postpaid stations: what the station's wallet was charged in one month of
its own time zone, read from the ledger, issued once per station and month. Callers commit.

A month of the journal is a seq range: created_at never decreases along it
(ledger/posting.py), so the local month [since, until) is the seqs from the first transfer
created at or after `since` to the first at or after `until` (royalties/periods.py). The wallet's
entries in that range are summed in one query, per track for the transfers of a play (their key
is the play's, rollup.py), top-ups (code `topup`) as payments, everything else as one "other"
line. The closing balance is the wallet's posted balance now less what was posted after the
range, and the opening balance is the closing one less the month's movement; so the invoice's
balances are the ledger's at the month's ends, and each posting is in exactly one invoice: the
month in which it was posted (a play aired at 23:59 on the last day and accrued after midnight
is in the next month's invoice).

Issuing first takes the lock of the ledger's chain head, which every posting holds until it
commits: postings of the month still in flight have committed when it is granted, and any later
one is created after `until`. So a month, once over, reads the same at any later time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.auth import audit
from central.catalog.models import Track
from central.csvtext import rows_as_csv, safe_cell
from central.extensions import utc_now
from central.funding import notices, rules
from central.funding.errors import InvoiceError
from central.funding.models import Invoice, InvoiceLine, TopUp
from central.ledger.accounts import find_account
from central.ledger.models import Account, ChainHead
from central.ledger.queries import account_balance
from central.ledger.transfer import MONEY_STATES
from central.royalties import periods, rollup
from central.royalties.accrual import station_account
from central.stations.models import Station
from central.stations.store import CODE, find_station
from central.times import iso_datetime

logger = logging.getLogger(__name__)

LIST_LIMIT_MAX = 500
CSV_COLUMNS = (
    "invoice", "station", "month", "line", "kind", "track", "title", "artist", "plays",
    "amount_minor", "currency",
)  # fmt: skip
PLAY, PAYMENT, OTHER = "play", "topup", "other"
_LOCK_HEAD = select(ChainHead.seq).where(ChainHead.id == 1).with_for_update()


@dataclass(frozen=True)
class Issued:
    """The invoice, and whether this call issued it (False: it was issued before)."""

    invoice: Invoice
    created: bool


@dataclass(frozen=True)
class Movement:
    """What the wallet was posted in a seq range from one track's plays (track_id set), from
    top-ups, or from anything else: signed on the wallet's side (a charge is negative)."""

    kind: str  # PLAY, PAYMENT or OTHER
    track_id: int | None
    amount_minor: int
    plays: int


def issue_invoice(
    session: Session, station_code: str, month: str, actor: str, via: str, due_days: int,
    now_ms: int,
) -> Issued:  # fmt: skip
    """The station's invoice of `month` (YYYY-MM, its local time), issued if new (module
    docstring); InvoiceError for an unknown station, a bad or unfinished month, or a wallet
    that is missing or prepaid."""
    station = find_station(session, station_code) if CODE.fullmatch(station_code) else None
    if station is None:
        raise InvoiceError(f"no station {station_code[:80]}")
    try:
        since_ms, until_ms = rules.month_span_ms(month, station.timezone)
    except ValueError as error:
        raise InvoiceError(str(error)) from None
    if now_ms < until_ms:
        raise InvoiceError(f"{month} is not over yet in {station.timezone}: invoiced after it")
    existing = station_invoice(session, station.id, month)
    if existing is not None:
        return Issued(existing, False)
    session.execute(_LOCK_HEAD)  # postings of the month in flight commit first (docstring)
    account = _postpaid_wallet(session, station)
    invoice = _compute(session, station, account, month, (since_ms, until_ms), due_days)
    invoice.issued_by, invoice.issued_via, invoice.issued_at = actor[:120], via, utc_now()
    try:
        with session.begin_nested():
            session.add(invoice)
    except IntegrityError:  # issued at the same moment by another transaction
        found = station_invoice(session, station.id, month)
        if found is None:
            raise
        return Issued(found, False)
    if via in audit.VIAS:  # people's actions; the scheduler's invoices say issued_by scheduler
        audit.record(session, actor, via, "funding.invoice", "station_invoice", invoice.number,
                     _audit_changes(invoice))  # fmt: skip
    notices.invoice_issued(session, station, invoice)
    return Issued(invoice, True)


def _postpaid_wallet(session: Session, station: Station) -> Account:
    """The station's wallet, if it is postpaid; InvoiceError if it is missing or prepaid."""
    code = station_account(station.code)
    account = find_account(session, code)
    if account is None:
        raise InvoiceError(f"station {station.code} has no wallet yet: nothing was charged")
    session.refresh(account)  # its totals as of now, under the chain head's lock
    if not rules.is_postpaid(account.balance_min_minor):
        raise InvoiceError(
            f"station {station.code} is prepaid (wallet {code} has floor"
            f" {account.balance_min_minor}): it pays by top-ups, not invoices"
        )
    return account


def _compute(
    session: Session, station: Station, account: Account, month: str, span: tuple[int, int],
    due_days: int,
) -> Invoice:  # fmt: skip
    """The invoice of the wallet's seq range of the local month `span`, with its lines."""
    seqs = periods.seqs_at(session, list(span))
    seq_from, seq_to = seqs[span[0]], seqs[span[1]]
    moves = movements(session, account, seq_from, seq_to)
    closing = account_balance(account).balance_minor - posted_since(session, account, seq_to)
    lines = _lines(session, moves)
    payments = sum(m.amount_minor for m in moves if m.kind == PAYMENT)
    charged = sum(line.amount_minor for line in lines)
    money = rules.totals(closing + charged - payments, [x.amount_minor for x in lines], payments)
    assert money.closing_minor == closing, "an invoice's balances add up"
    return Invoice(
        number=rules.invoice_number(month, station.code), station_id=station.id, month=month,
        timezone=station.timezone, account_code=account.code, currency=account.currency,
        since_ms=span[0], until_ms=span[1], seq_from=seq_from, seq_to=seq_to,
        opening_minor=money.opening_minor, charged_minor=money.charged_minor,
        payments_minor=money.payments_minor, closing_minor=money.closing_minor,
        amount_due_minor=money.amount_due_minor, paid_minor=0,
        status=rules.status(0, money.amount_due_minor),
        paid_at=utc_now() if money.amount_due_minor == 0 else None,
        due_on=rules.due_on(month, due_days), lines=lines,
    )  # fmt: skip


def _lines(session: Session, moves: list[Movement]) -> list[InvoiceLine]:
    """One line per track charged (largest first), then the other movements as one line."""
    ids = [m.track_id for m in moves if m.kind == PLAY and m.track_id is not None]
    tracks = {t.id: t for t in session.scalars(select(Track).where(Track.id.in_(ids)))}
    plays = sorted(
        (m for m in moves if m.kind == PLAY), key=lambda m: (m.amount_minor, m.track_id or 0)
    )
    lines = []
    for m in plays:
        track = tracks.get(m.track_id) if m.track_id is not None else None
        lines.append(InvoiceLine(
            line_no=len(lines) + 1, kind=rules.TRACK_LINE, track_id=m.track_id,
            track_external_id=track.external_id if track else None,
            title=track.title if track else None, artist=track.artist if track else None,
            plays=m.plays, amount_minor=-m.amount_minor,
        ))  # fmt: skip
    other = sum(m.amount_minor for m in moves if m.kind == OTHER)
    if other:
        lines.append(InvoiceLine(
            line_no=len(lines) + 1, kind=rules.OTHER_LINE, track_id=None, track_external_id=None,
            title="Other movements (adjustments, reversals)", artist=None, plays=0,
            amount_minor=-other,
        ))  # fmt: skip
    return lines


def movements(session: Session, account: Account, seq_from: int, seq_to: int) -> list[Movement]:
    """The account's posted movement over seqs [seq_from, seq_to), per track of the plays the
    transfers belong to, top-ups, and the rest (one query over the account's seq index)."""
    if seq_from >= seq_to:
        return []
    name = session.get_bind().dialect.name
    money = ", ".join(f"'{state}'" for state in MONEY_STATES)
    rows = session.execute(
        text(
            "SELECT CASE WHEN p.id IS NOT NULL THEN :play WHEN t.code = :topup THEN :payment"
            " ELSE :other END AS kind, p.track_id,"
            " SUM(CASE WHEN e.side = :normal THEN e.amount_minor ELSE -e.amount_minor END),"
            " COUNT(DISTINCT p.id)"
            " FROM ledger_entry e JOIN ledger_transfer t ON t.seq = e.transfer_seq"
            f" LEFT JOIN play p ON p.id = {rollup.play_id_sql(name, 't.idempotency_key')}"
            " WHERE e.account_id = :account AND e.transfer_seq >= :lo AND e.transfer_seq < :hi"
            f" AND t.state IN ({money}) GROUP BY 1, 2"
        ),
        {
            "play": PLAY, "topup": rules.TOPUP_CODE, "payment": PAYMENT, "other": OTHER,
            "normal": account.normal_side, "account": account.id, "lo": seq_from, "hi": seq_to,
        },
    ).all()  # fmt: skip
    return [Movement(kind, track_id, int(amount), int(n)) for kind, track_id, amount, n in rows]


def posted_since(session: Session, account: Account, seq_from: int) -> int:
    """The account's posted movement from `seq_from` to the head, signed on its normal side."""
    money = ", ".join(f"'{state}'" for state in MONEY_STATES)
    found = session.execute(
        text(
            "SELECT COALESCE(SUM(CASE WHEN e.side = :normal THEN e.amount_minor"
            " ELSE -e.amount_minor END), 0)"
            " FROM ledger_entry e JOIN ledger_transfer t ON t.seq = e.transfer_seq"
            f" WHERE e.account_id = :account AND e.transfer_seq >= :lo AND t.state IN ({money})"
        ),
        {"normal": account.normal_side, "account": account.id, "lo": seq_from},
    ).scalar()
    return int(found or 0)


def settle(session: Session, invoice_id: int) -> Invoice:
    """Recount what the top-ups naming the invoice paid (its row locked, so two payments take
    turns), and mark it paid once that covers what is due."""
    invoice = session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    assert invoice is not None, "a top-up names an invoice that exists"
    session.flush()  # the new top-up's row, before it is counted
    paid = session.scalar(
        select(func.coalesce(func.sum(TopUp.amount_minor), 0)).where(TopUp.invoice_id == invoice_id)
    )
    invoice.paid_minor = int(paid or 0)
    before = invoice.status
    invoice.status = rules.status(invoice.paid_minor, invoice.amount_due_minor)
    if invoice.status == rules.PAID and before != rules.PAID:
        invoice.paid_at = utc_now()
    session.flush()
    return invoice


def find_invoice(session: Session, number: str) -> Invoice | None:
    """The invoice with this number, or None (also for text no invoice number has)."""
    if not rules.is_invoice_number(number):
        return None
    return session.scalar(select(Invoice).where(Invoice.number == number))


def station_invoice(session: Session, station_id: int, month: str) -> Invoice | None:
    """The station's invoice of `month`, or None."""
    return session.scalar(
        select(Invoice).where(Invoice.station_id == station_id, Invoice.month == month)
    )


def scoped_invoice(
    session: Session, number: str, station_ids: frozenset[int] | None
) -> Invoice | None:
    """The invoice with this number if it is within the scope (None: every station), or None."""
    invoice = find_invoice(session, number)
    if invoice is None or (station_ids is not None and invoice.station_id not in station_ids):
        return None
    return invoice


def invoices(
    session: Session, station_ids: frozenset[int] | None, station_id: int | None = None,
    status: str | None = None, limit: int = 100, before_id: int | None = None,
) -> list[tuple[Invoice, str]]:  # fmt: skip
    """(invoice, station code) newest first, within the scope (None: every station), of one
    station or status if given, `limit` of them before the invoice `before_id`."""
    query = (
        select(Invoice, Station.code)
        .join(Station, Station.id == Invoice.station_id)
        .order_by(Invoice.id.desc())
        .limit(min(limit, LIST_LIMIT_MAX))
    )
    if station_ids is not None:
        query = query.where(Invoice.station_id.in_(station_ids))
    if station_id is not None:
        query = query.where(Invoice.station_id == station_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    if before_id is not None:
        query = query.where(Invoice.id < before_id)
    return [(row, code) for row, code in session.execute(query).all()]


def invoice_record(invoice: Invoice, station_code: str, lines: bool = False) -> dict[str, Any]:
    """An invoice as JSON, with its lines if asked."""
    record = {
        "number": invoice.number, "station": station_code, "month": invoice.month,
        "timezone": invoice.timezone, "account": invoice.account_code,
        "currency": invoice.currency, "since_ms": invoice.since_ms, "until_ms": invoice.until_ms,
        "seq_from": invoice.seq_from, "seq_to": invoice.seq_to,
        "opening_minor": invoice.opening_minor, "charged_minor": invoice.charged_minor,
        "payments_minor": invoice.payments_minor, "closing_minor": invoice.closing_minor,
        "amount_due_minor": invoice.amount_due_minor, "paid_minor": invoice.paid_minor,
        "status": invoice.status, "paid_at": iso_datetime(invoice.paid_at),
        "due_on": invoice.due_on.isoformat(), "issued_at": iso_datetime(invoice.issued_at),
        "issued_by": invoice.issued_by, "issued_via": invoice.issued_via,
    }  # fmt: skip
    if lines:
        record["lines"] = [line_record(line) for line in invoice.lines]
    return record


def line_record(line: InvoiceLine) -> dict[str, Any]:
    """One invoice line as JSON."""
    return {
        "line": line.line_no, "kind": line.kind, "track": line.track_external_id,
        "title": line.title, "artist": line.artist, "plays": line.plays,
        "amount_minor": line.amount_minor,
    }  # fmt: skip


def invoice_csv(invoice: Invoice, station_code: str) -> Iterator[str]:
    """The invoice's lines as CSV (catalogue text quoted against spreadsheet formulas)."""
    rows = (
        [
            invoice.number, station_code, invoice.month, line.line_no, line.kind,
            safe_cell(line.track_external_id), safe_cell(line.title), safe_cell(line.artist),
            line.plays, line.amount_minor, invoice.currency,
        ]
        for line in invoice.lines
    )  # fmt: skip
    return rows_as_csv(CSV_COLUMNS, rows)


def postpaid_stations(session: Session) -> list[Station]:
    """Stations whose wallet exists and is postpaid (rules.py), by code."""
    found = session.execute(
        select(Station, Account.balance_min_minor)
        .join(Account, Account.code == literal("station:") + Station.code + literal(":wallet"))
        .order_by(Station.code)
    ).all()
    return [station for station, floor in found if rules.is_postpaid(floor)]


def _audit_changes(invoice: Invoice) -> dict[str, Any]:
    """What the audit log keeps of an issued invoice."""
    return {
        "month": invoice.month, "amount_due_minor": invoice.amount_due_minor,
        "charged_minor": invoice.charged_minor, "closing_minor": invoice.closing_minor,
        "seq_from": invoice.seq_from, "seq_to": invoice.seq_to,
        "due_on": invoice.due_on.isoformat(),
    }  # fmt: skip
