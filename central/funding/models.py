"""Funding rows: TopUp (a payment received for a station, once per method and reference),
Invoice (a postpaid station's month, once per station and month) and its InvoiceLine rows (what
the wallet was charged per track). The money itself is in the ledger; these rows say why."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX
from central.extensions import db, utc_now
from central.funding.rules import INVOICE_NUMBER_CHARS_MAX, NOTE_CHARS_MAX, REFERENCE_CHARS_MAX

ACTOR_CHARS_MAX = 120


class TopUp(db.Model):
    """A payment received for a station: its ledger transfer credited the station's wallet."""

    __tablename__ = "station_topup"
    __table_args__ = (
        UniqueConstraint("method", "reference", name="uq_station_topup_method_reference"),
        Index("ix_station_topup_station", "station_id", "id"),
        Index("ix_station_topup_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    method: Mapped[str] = mapped_column(String(8))  # bank | momo | cash
    reference: Mapped[str] = mapped_column(String(REFERENCE_CHARS_MAX))  # upper case
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(NOTE_CHARS_MAX))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("station_invoice.id"))
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    recorded_by: Mapped[str] = mapped_column(String(ACTOR_CHARS_MAX))  # user:<id>, cli:<login>
    recorded_via: Mapped[str] = mapped_column(String(8))  # api | cli | console
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Invoice(db.Model):
    """What a postpaid station's wallet was charged in one local month, with the journal range
    it was read from, its balances and what has been paid against it."""

    __tablename__ = "station_invoice"
    __table_args__ = (
        UniqueConstraint("station_id", "month", name="uq_station_invoice_station_month"),
        Index("ix_station_invoice_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(INVOICE_NUMBER_CHARS_MAX), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the station's time zone
    timezone: Mapped[str] = mapped_column(String(64))
    account_code: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    since_ms: Mapped[int] = mapped_column(BigInteger)  # the local month, UTC ms, [since, until)
    until_ms: Mapped[int] = mapped_column(BigInteger)
    seq_from: Mapped[int] = mapped_column(BigInteger)  # the journal's seqs [from, to)
    seq_to: Mapped[int] = mapped_column(BigInteger)
    opening_minor: Mapped[int] = mapped_column(BigInteger)  # the wallet's balance at since
    charged_minor: Mapped[int] = mapped_column(BigInteger)  # the lines' sum
    payments_minor: Mapped[int] = mapped_column(BigInteger)  # top-ups credited in the month
    closing_minor: Mapped[int] = mapped_column(BigInteger)  # opening - charged + payments
    amount_due_minor: Mapped[int] = mapped_column(BigInteger)  # charged, or 0 if negative
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # top-ups naming it
    status: Mapped[str] = mapped_column(String(8))  # open | paid
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    issued_by: Mapped[str] = mapped_column(String(ACTOR_CHARS_MAX))
    issued_via: Mapped[str] = mapped_column(String(8))

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.line_no", lazy="selectin", cascade="all, delete-orphan"
    )


class InvoiceLine(db.Model):
    """One line of an invoice: a track's plays charged in the month, or the other movements
    (adjustments, reversals) as one line; the catalogue facts are kept as they were."""

    __tablename__ = "station_invoice_line"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("station_invoice.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))  # track | other
    track_id: Mapped[int | None] = mapped_column(ForeignKey("track.id"))
    track_external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_CHARS_MAX))
    title: Mapped[str | None] = mapped_column(String(TEXT_CHARS_MAX))
    artist: Mapped[str | None] = mapped_column(String(TEXT_CHARS_MAX))
    plays: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # charged (negative: credited)
