"""Payout rows: a party's payout methods, its withdrawals with their approvals and history, and
the runs of the reconciliation against the provider.

A withdrawal's money is never in these rows: it is a pending ledger transfer (`hold_transfer_id`)
that is posted when the provider confirms the payment and voided when it fails or is refused. The
`reference` sent to the provider is made from that transfer before any request and never changes.
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

PARTY_CHARS_MAX = 128
# Withdrawal states: asked for, approved by enough admins, sent (or being sent) to the provider,
# accepted by it, and the four ends.
REQUESTED, APPROVED, SENDING, PENDING = "requested", "approved", "sending", "pending"
PAID, FAILED, REJECTED, CANCELLED = "paid", "failed", "rejected", "cancelled"
STATUSES = (REQUESTED, APPROVED, SENDING, PENDING, PAID, FAILED, REJECTED, CANCELLED)
FINAL = frozenset({PAID, FAILED, REJECTED, CANCELLED})
IN_FLIGHT = frozenset({SENDING, PENDING})  # the provider may have the transfer
MOMO, BANK = "momo", "bank"
METHOD_KINDS = (MOMO, BANK)


class PayoutMethod(db.Model):
    """Where a party's money goes: a mobile-money number or a bank account. One is active per
    party; a replaced one is kept (inactive) for the record."""

    __tablename__ = "payout_method"
    __table_args__ = (
        CheckConstraint("kind IN ('momo', 'bank')", name="kind"),
        Index("ix_payout_method_party", "party", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    party: Mapped[str] = mapped_column(String(PARTY_CHARS_MAX))
    kind: Mapped[str] = mapped_column(String(8))
    network: Mapped[str] = mapped_column(String(32))  # mtn | vodafone | airteltigo | a bank's name
    msisdn: Mapped[str | None] = mapped_column(String(15))  # momo: 233241234567
    account_number: Mapped[str | None] = mapped_column(String(34))  # bank
    account_name: Mapped[str] = mapped_column(String(120), default="")
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # holder check
    usable_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # after cooling off
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(120))  # the audit log's actor
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Withdrawal(db.Model):
    """A party's request to be paid `amount_minor`, from request to paid, failed or refused."""

    __tablename__ = "payout_withdrawal"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("approvals_needed IN (1, 2)", name="approvals_needed"),
        Index("ix_payout_withdrawal_party", "party", "id"),
        Index("ix_payout_withdrawal_status_check", "status", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    party: Mapped[str] = mapped_column(String(PARTY_CHARS_MAX))
    method_id: Mapped[int] = mapped_column(ForeignKey("payout_method.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))
    approvals_needed: Mapped[int] = mapped_column(SmallInteger)
    requested_by: Mapped[str] = mapped_column(String(120))  # the audit log's actor
    requester_user_id: Mapped[int | None] = mapped_column(Integer)
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)  # caller's retry key
    hold_transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    reference: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)  # X-Reference-Id
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_state: Mapped[str | None] = mapped_column(String(12))
    provider_reason: Mapped[str | None] = mapped_column(String(120))
    provider_id: Mapped[str | None] = mapped_column(String(64))  # financialTransactionId
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    checks: Mapped[int] = mapped_column(Integer, default=0)  # status requests made
    last_error: Mapped[str | None] = mapped_column(Text)
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    method: Mapped[PayoutMethod] = relationship(lazy="joined")
    approvals: Mapped[list[WithdrawalApproval]] = relationship(
        order_by="WithdrawalApproval.at", lazy="selectin"
    )


class WithdrawalApproval(db.Model):
    """One admin's approval of a withdrawal; an admin counts once (primary key)."""

    __tablename__ = "payout_approval"

    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("payout_withdrawal.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class WithdrawalEvent(db.Model):
    """One step of a withdrawal's history: who moved it from what to what, and why."""

    __tablename__ = "payout_event"
    __table_args__ = (Index("ix_payout_event_withdrawal", "withdrawal_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("payout_withdrawal.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    actor: Mapped[str] = mapped_column(String(120))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(Text, default="")


class ReconcileRun(db.Model):
    """One comparison of the ledger's payouts with the provider's statuses, and what differed."""

    __tablename__ = "payout_reconcile_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    checked: Mapped[int] = mapped_column(Integer)
    mismatches: Mapped[int] = mapped_column(Integer)
    unreachable: Mapped[int] = mapped_column(Integer)  # the provider gave no answer for these
    report_json: Mapped[str] = mapped_column(Text)  # the mismatches, as a JSON list
