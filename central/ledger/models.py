"""Ledger rows: Account (the one table whose rows change), Transfer and Entry (append-only),
and ChainHead (the tail of the journal's hash chain, one row, moved forward one seq at a time).

The database enforces what it can on its own: triggers made by migration 0008 refuse UPDATE and
DELETE on ledger_transfer and ledger_entry, DELETE on ledger_account and ledger_chain_head, any
change to an account but its totals and floor, and any move of the chain head but one step; the
CHECK constraints below refuse negative totals, empty amounts and balances below their floor.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.extensions import db, utc_now
from central.ledger.chain import HASH_CHARS
from central.ledger.transfer import KEY_CHARS_MAX, TRANSFER_CODE_CHARS_MAX

ACCOUNT_CODE_CHARS_MAX = 128
KIND_CHARS_MAX = 32

AVAILABLE_SQL = (
    "CASE WHEN normal_side = 'credit'"
    " THEN credits_posted_minor - debits_posted_minor - debits_pending_minor"
    " ELSE debits_posted_minor - credits_posted_minor - credits_pending_minor END"
)


class Account(db.Model):
    """A ledger account: its rule, and its totals, kept equal to the sums of its entries."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
        CheckConstraint(
            "debits_posted_minor >= 0 AND credits_posted_minor >= 0"
            " AND debits_pending_minor >= 0 AND credits_pending_minor >= 0",
            name="totals_not_negative",
        ),
        CheckConstraint(
            f"balance_min_minor IS NULL OR {AVAILABLE_SQL} >= balance_min_minor",
            name="balance_rule",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(ACCOUNT_CODE_CHARS_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(KIND_CHARS_MAX))
    currency: Mapped[str] = mapped_column(String(3))
    normal_side: Mapped[str] = mapped_column(String(6))
    balance_min_minor: Mapped[int | None] = mapped_column(BigInteger)  # None: no floor
    debits_posted_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Transfer(db.Model):
    """One posting of the journal, at `seq`, chained to the one before by `prev_hash`."""

    __tablename__ = "ledger_transfer"
    __table_args__ = (
        # a period's seq range (earnings), and a play's transfers by key prefix (0017)
        Index("ix_ledger_transfer_created_at", "created_at", "seq"),
        Index(
            "ix_ledger_transfer_key_pattern",
            "idempotency_key",
            postgresql_ops={"idempotency_key": "text_pattern_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # 1, 2, ... in commit order
    idempotency_key: Mapped[str] = mapped_column(String(KEY_CHARS_MAX), unique=True)
    code: Mapped[str] = mapped_column(String(TRANSFER_CODE_CHARS_MAX))
    state: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # At most one resolution per pending transfer and one reversal per transfer (unique).
    pending_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transfer.id"), unique=True
    )
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transfer.id"), unique=True
    )
    metadata_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(HASH_CHARS))
    prev_hash: Mapped[str] = mapped_column(String(HASH_CHARS))
    hash: Mapped[str] = mapped_column(String(HASH_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    entries: Mapped[list[Entry]] = relationship(order_by="Entry.leg", lazy="selectin")


class Entry(db.Model):
    """One leg of a transfer: an amount debited or credited to one account."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("side IN ('debit', 'credit')", name="side"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_ledger_entry_account_seq", "account_id", "transfer_seq"),
    )

    transfer_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transfer.seq"), primary_key=True)
    leg: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    side: Mapped[str] = mapped_column(String(6))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class ChainHead(db.Model):
    """The journal's last seq and chain hash; locked by every posting, so seq has no gaps."""

    __tablename__ = "ledger_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(HASH_CHARS))


class VerifyRun(db.Model):
    """One run of the ledger check (`zamio ledger verify`, the console, the API): when, by whom,
    through what, and what it found. Kept so an operator sees when the ledger was last proven."""

    __tablename__ = "ledger_verify_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # the audit log's actor
    via: Mapped[str] = mapped_column(String(8))  # api | cli | console
    ok: Mapped[bool] = mapped_column(Boolean)
    transfers: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)
    accounts: Mapped[int] = mapped_column(Integer)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(HASH_CHARS))
    problems_json: Mapped[str] = mapped_column(Text)  # the first PROBLEMS_MAX, as a JSON list
    problems_omitted: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
