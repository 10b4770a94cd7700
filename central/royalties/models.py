"""Royalty rows: RateCardRow (versions, never changed), RightsShare (a track's pools),
RoyaltyAccrual (one per play, with its explanation and transfer), SuspenseItem (money kept for a
work until claimed) and BlanketDistribution (one per station and month)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db, utc_now
from central.royalties.accrual import CALLER_KEY_CHARS_MAX as KEY_CHARS_MAX

# Accrual states. posted: the transfer moved the money; held: a pending transfer holds it;
# released / voided: the hold was posted / voided; unfunded: the station's wallet has a floor the
# amount would break, retried by accrue_pending; blanket: waits for its month's pool;
# unpriced: no rate card or line applies (amount 0, no transfer).
POSTED, HELD, RELEASED, VOIDED = "posted", "held", "released", "voided"
UNFUNDED, BLANKET_WAIT, UNPRICED = "unfunded", "blanket", "unpriced"
ACCRUAL_STATES = (POSTED, HELD, RELEASED, VOIDED, UNFUNDED, BLANKET_WAIT, UNPRICED)
PAID_STATES = (POSTED, RELEASED)  # money moved to the parties: its suspense can be claimed


class RateCardRow(db.Model):
    """One version of a tariff; a change is a new version (the database refuses updates)."""

    __tablename__ = "rate_card"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from_ms: Mapped[int] = mapped_column(BigInteger)  # UTC
    bands_json: Mapped[str] = mapped_column(Text)
    lines_json: Mapped[str] = mapped_column(Text)
    composition_share_bp: Mapped[int] = mapped_column(Integer)  # of the amount after the fee
    platform_fee_bp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RightsShare(db.Model):
    """One share of a pool (composition by ISWC, master by ISRC) of a track."""

    __tablename__ = "rights_share"
    __table_args__ = (
        Index("ix_rights_share_track_pool", "track_id", "pool"),
        Index("ix_rights_share_party", "party", "track_id"),  # a party's tracks (0017)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"))
    pool: Mapped[str] = mapped_column(String(16))  # composition | master
    work_code: Mapped[str] = mapped_column(String(16))  # normalized ISWC or ISRC
    party: Mapped[str | None] = mapped_column(String(128))  # earnings account; None: suspense
    role: Mapped[str] = mapped_column(String(16))  # writer, publisher | label, performer
    share_bp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RoyaltyAccrual(db.Model):
    """What a closed play earns, once: the amount, how it was priced and split, its transfer."""

    __tablename__ = "royalty_accrual"
    __table_args__ = (Index("ix_royalty_accrual_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    play_id: Mapped[int] = mapped_column(ForeignKey("play.id"), unique=True)
    rate_card_id: Mapped[int | None] = mapped_column(ForeignKey("rate_card.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    explanation_json: Mapped[str] = mapped_column(Text)
    # The transfer that carries the accrual now: the posting, the hold, or its resolution.
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transfer.id"))
    state: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str] = mapped_column(String(32))  # the run that accrued (or retried) it
    hold_reason: Mapped[str | None] = mapped_column(Text)
    action_key: Mapped[str | None] = mapped_column(String(KEY_CHARS_MAX))  # last hold/release/void
    # indexed for the overview's royalties of today (migration 0018)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SuspenseItem(db.Model):
    """The part of one accrual's pool kept in suspense for a work, until a claim moves it."""

    __tablename__ = "royalty_suspense"
    __table_args__ = (
        Index("ix_royalty_suspense_work_code", "work_code"),
        Index("ix_royalty_suspense_accrual_id", "accrual_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accrual_id: Mapped[int] = mapped_column(ForeignKey("royalty_accrual.id"))
    pool: Mapped[str] = mapped_column(String(16))
    work_code: Mapped[str | None] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    claim_transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transfer.id"))


class BlanketDistribution(db.Model):
    """A month's blanket pool of a station, shared out once."""

    __tablename__ = "royalty_blanket"
    __table_args__ = (UniqueConstraint("station_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, the station's local month
    pool_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(KEY_CHARS_MAX))
    batch_id: Mapped[str] = mapped_column(String(32))
    plays: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
