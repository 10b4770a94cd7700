"""Top-ups: a payment received for a station (bank transfer, MoMo, cash), recorded by an admin,
posted as ONE ledger transfer debit `settlement:<method>`, credit the station's wallet, under
the key `topup:<method>:<reference>`. Callers commit.

The same method and reference is the same payment: recorded again (twice in a row, or at the
same moment from two connections) it is the first top-up again, with no second transfer; with
another amount, station or invoice it is a TopUpConflict. Concurrent submissions meet in the
ledger (the second posting waits for the first's account locks, then finds its key, or a
conflict if the amount differs) and then at the row's unique (method, reference).

After the commit, `fund_station` (jobs.py) pays the station's unfunded royalties, oldest first.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from rq import Queue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central import queues
from central.auth import audit
from central.extensions import utc_now
from central.funding import invoices, notices, rules
from central.funding.errors import TopUpConflict, TopUpInvalid
from central.funding.models import Invoice, TopUp
from central.ledger import posting
from central.ledger.accounts import account_spec, find_account, open_account
from central.ledger.errors import IdempotencyConflict, LedgerError
from central.ledger.money import DEFAULT_CURRENCY
from central.ledger.transfer import TransferRequest, credit, debit
from central.royalties import store as royalty_store
from central.royalties.accrual import station_account
from central.stations.models import Station
from central.stations.store import CODE, find_station
from central.times import iso_datetime

logger = logging.getLogger(__name__)

LIST_LIMIT_MAX = 500
FUND_JOB = "central.funding.jobs.fund_station"
FUND_JOB_S_MAX = 600  # a station's unfunded accruals, ACCRUE_PENDING_LIMIT at a time


@dataclass(frozen=True)
class TopUpRequest:
    """What an admin records: the station, the amount in minor units, how it came in and its
    reference; when it was received (default: today), a note, the invoice it pays."""

    station_code: str
    amount_minor: int
    method: str
    reference: str
    received_on: date | None = None
    note: str | None = None
    invoice_number: str | None = None


@dataclass(frozen=True)
class Recorded:
    """The top-up, and whether this call recorded it (False: it was recorded before)."""

    topup: TopUp
    created: bool


def record_topup(
    session: Session, request: TopUpRequest, actor: str, via: str, today: date
) -> Recorded:
    """Record the top-up and post its transfer (module docstring); TopUpInvalid, TopUpConflict."""
    code = request.station_code
    station = find_station(session, code) if CODE.fullmatch(code) else None
    if station is None:
        raise TopUpInvalid(f"no station {request.station_code[:80]}")
    try:
        method = rules.check_method(request.method)
        reference = rules.normalize_reference(request.reference)
        amount_minor = rules.check_amount(request.amount_minor)
        note = rules.check_note(request.note)
    except ValueError as error:
        raise TopUpInvalid(str(error)) from None
    invoice = _invoice(session, station, request.invoice_number)
    existing = find_topup(session, method, reference)
    if existing is not None:
        return Recorded(_same(existing, station, amount_minor, invoice), False)
    transfer_id = _post(session, station, method, reference, amount_minor)
    row = TopUp(
        station_id=station.id, method=method, reference=reference, amount_minor=amount_minor,
        currency=_currency(session, station), received_on=request.received_on or today,
        note=note, invoice_id=invoice.id if invoice else None, transfer_id=transfer_id,
        recorded_by=actor[:120], recorded_via=via, recorded_at=utc_now(),
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # recorded at the same moment by another transaction
        found = find_topup(session, method, reference)
        if found is None:
            raise
        return Recorded(_same(found, station, amount_minor, invoice), False)
    _recorded(session, row, station, invoice, actor, via)
    return Recorded(row, True)


def _recorded(
    session: Session, row: TopUp, station: Station, invoice: Invoice | None, actor: str, via: str
) -> None:
    """What follows a new top-up in its transaction: the invoice it pays, the audit, the word."""
    if invoice is not None:
        invoices.settle(session, invoice.id)
    changes = {
        "station": station.code, "method": row.method, "reference": row.reference,
        "amount_minor": row.amount_minor, "currency": row.currency,
        "received_on": row.received_on.isoformat(), "note": row.note,
        "invoice": invoice.number if invoice else None, "transfer_id": str(row.transfer_id),
    }  # fmt: skip
    audit.record(session, actor, via, "funding.topup", "station_topup", row.id, changes)
    notices.topup_recorded(session, station, row, invoice)


def record_and_fund(
    session: Session, queue: Queue, request: TopUpRequest, actor: str, via: str, today: date
) -> Recorded:
    """record_topup, committed, then fund_station enqueued (inline: done when this returns)."""
    try:
        recorded = record_topup(session, request, actor, via, today)
        station_id = recorded.topup.station_id  # read before the commit: see enqueue_funding
        session.commit()
    except BaseException:
        session.rollback()
        raise
    enqueue_funding(queue, station_id)
    return recorded


def enqueue_funding(queue: Queue, station_id: int) -> None:
    """Enqueue fund_station for the station (an inline queue runs it now, in its own session:
    read nothing in the caller's session between its commit and this, or SQLite would keep
    that read's snapshot). Redis down: accrue_pending's schedule pays them later."""
    try:
        queue.enqueue(
            FUND_JOB, station_id, result_ttl=queues.RESULT_TTL_S,
            failure_ttl=queues.FAILURE_TTL_S, job_timeout=FUND_JOB_S_MAX, retry=queues.retry(),
        )  # fmt: skip
    except queues.REDIS_DOWN as error:
        logger.warning("station %d: funding not enqueued, Redis unavailable: %s", station_id, error)


def _invoice(session: Session, station: Station, number: str | None) -> Invoice | None:
    """The invoice a top-up names, which must be the station's; TopUpInvalid if not."""
    if number is None:
        return None
    invoice = invoices.find_invoice(session, number)
    if invoice is None or invoice.station_id != station.id:
        raise TopUpInvalid(f"no invoice {number[:100]} of station {station.code}")
    return invoice


def _same(existing: TopUp, station: Station, amount_minor: int, invoice: Invoice | None) -> TopUp:
    """The top-up recorded before, if the request is that payment again; TopUpConflict if not."""
    problems = []
    if existing.station_id != station.id:
        problems.append("for another station")
    if existing.amount_minor != amount_minor:
        problems.append(f"for {existing.amount_minor} minor units, not {amount_minor}")
    if invoice is not None and existing.invoice_id != invoice.id:
        problems.append("against another invoice" if existing.invoice_id else "with no invoice")
    if problems:
        raise TopUpConflict(
            f"{existing.method} reference {existing.reference} was recorded on"
            f" {iso_datetime(existing.recorded_at)} {' and '.join(problems)}: one reference is"
            " one payment (check the reference, or correct the first top-up by a reversal)"
        )
    return existing


def _post(
    session: Session, station: Station, method: str, reference: str, amount_minor: int
) -> uuid.UUID:
    """Open the accounts and post the top-up's transfer; its id."""
    wallet = station_account(station.code)
    currency = _currency(session, station)
    settlement = rules.settlement_account(method)
    legs = (debit(settlement, amount_minor), credit(wallet, amount_minor))
    try:
        royalty_store.open_accounts(session, legs[1:], currency)  # a wallet as royalties open it
        open_account(session, account_spec(settlement, "settlement", currency))
        request = TransferRequest(
            rules.topup_key(method, reference), rules.TOPUP_CODE, legs, currency,
            metadata={"station": station.code, "method": method, "reference": reference},
        )  # fmt: skip
        return posting.post_transfer(session, request).id
    except IdempotencyConflict:
        raise TopUpConflict(
            f"{method} reference {reference} was recorded meanwhile with another amount or"
            " station: one reference is one payment"
        ) from None
    except LedgerError as error:
        raise TopUpInvalid(str(error)) from None


def _currency(session: Session, station: Station) -> str:
    """The station wallet's currency (the default one before the wallet is opened)."""
    account = find_account(session, station_account(station.code))
    return account.currency if account is not None else DEFAULT_CURRENCY


def find_topup(session: Session, method: str, reference: str) -> TopUp | None:
    """The top-up of this method and normalized reference, or None."""
    return session.scalar(select(TopUp).where(TopUp.method == method, TopUp.reference == reference))


def topups(
    session: Session, station_ids: frozenset[int] | None, station_id: int | None = None,
    limit: int = 100, before_id: int | None = None, invoice_id: int | None = None,
) -> list[tuple[TopUp, str]]:  # fmt: skip
    """(top-up, station code) newest first, within the scope (None: every station), of one
    station or invoice if given, `limit` of them before the top-up `before_id`."""
    query = (
        select(TopUp, Station.code)
        .join(Station, Station.id == TopUp.station_id)
        .order_by(TopUp.id.desc())
        .limit(min(limit, LIST_LIMIT_MAX))
    )
    if station_ids is not None:
        query = query.where(TopUp.station_id.in_(station_ids))
    if station_id is not None:
        query = query.where(TopUp.station_id == station_id)
    if invoice_id is not None:
        query = query.where(TopUp.invoice_id == invoice_id)
    if before_id is not None:
        query = query.where(TopUp.id < before_id)
    return [(row, code) for row, code in session.execute(query).all()]


def topup_record(topup: TopUp, station_code: str, invoice_number: str | None) -> dict[str, Any]:
    """A top-up as JSON (the recording admin's actor id, no personal data)."""
    return {
        "id": topup.id,
        "station": station_code,
        "method": topup.method,
        "reference": topup.reference,
        "amount_minor": topup.amount_minor,
        "currency": topup.currency,
        "received_on": topup.received_on.isoformat(),
        "note": topup.note,
        "invoice": invoice_number,
        "transfer_id": str(topup.transfer_id),
        "recorded_by": topup.recorded_by,
        "recorded_via": topup.recorded_via,
        "recorded_at": iso_datetime(topup.recorded_at),
    }


def topup_records(session: Session, found: list[tuple[TopUp, str]]) -> list[dict[str, Any]]:
    """topup_record of each (top-up, station code), with the invoice numbers in one query."""
    ids = {t.invoice_id for t, _ in found if t.invoice_id is not None}
    numbers = dict(
        session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids))).all()
        if ids
        else []
    )
    return [topup_record(t, code, numbers.get(t.invoice_id)) for t, code in found]
