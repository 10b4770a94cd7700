"""IngestedBatch (a stored HashBatch), QuarantinedPayload (refused, with why), BatchConflict."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db, utc_now

SOURCE_CHARS_MAX = 64
TOPIC_CHARS_MAX = 300
REASON_CHARS_MAX = 40
DETAIL_CHARS_MAX = 500
PAYLOAD_HEAD_BYTES = 256  # what a quarantine keeps of a refused payload, for forensics


class IngestedBatch(db.Model):
    """One HashBatch as the device sent it, stored once per (device, source, seq)."""

    __tablename__ = "ingested_batch"
    __table_args__ = (
        UniqueConstraint("device_id", "source_id", "seq"),
        # update_plays looks for a station's matched batches whose plays are not built yet
        Index(
            "ix_ingested_batch_plays_pending",
            "station_id",
            postgresql_where=text("plays_at IS NULL"),
            sqlite_where=text("plays_at IS NULL"),
        ),
        # the sweep of unmatched batches (matching.jobs.sweep_unmatched) walks them by id
        Index(
            "ix_ingested_batch_unmatched",
            "id",
            postgresql_where=text("matched_at IS NULL"),
            sqlite_where=text("matched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(SOURCE_CHARS_MAX))
    seq: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    fingerprint_version: Mapped[int] = mapped_column(Integer)
    window_start_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    window_frames: Mapped[int] = mapped_column(Integer)
    hash_count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_hash: Mapped[str] = mapped_column(String(16))  # xxh64 hex of the payload
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    plays_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # plays built


class QuarantinedPayload(db.Model):
    """A payload refused at ingest, with a stable reason tag and a human detail."""

    __tablename__ = "quarantined_payload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_CHARS_MAX))
    reason: Mapped[str] = mapped_column(String(REASON_CHARS_MAX), index=True)
    detail: Mapped[str] = mapped_column(String(DETAIL_CHARS_MAX))
    payload_bytes: Mapped[int] = mapped_column(Integer)
    payload_head: Mapped[bytes] = mapped_column(LargeBinary)
    # indexed for the overview's count of the last 24 h (migration 0018)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, index=True
    )


class BatchConflict(db.Model):
    """The same (device, source, seq) arrived again with different content: kept, not used."""

    __tablename__ = "batch_conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingested_batch_id: Mapped[int] = mapped_column(ForeignKey("ingested_batch.id"), index=True)
    payload_hash: Mapped[str] = mapped_column(String(16))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SourceProgress(db.Model):
    """What central has seen of one (device, source): its seq range and how many batches."""

    __tablename__ = "source_progress"
    __table_args__ = (UniqueConstraint("device_id", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    source_id: Mapped[str] = mapped_column(String(SOURCE_CHARS_MAX))
    seq_first: Mapped[int] = mapped_column(BigInteger)  # the lowest seq seen
    seq_max: Mapped[int] = mapped_column(BigInteger)  # the highest seq seen or said (seq_last)
    batches_count: Mapped[int] = mapped_column(Integer, default=0)
    seq_last: Mapped[int | None] = mapped_column(BigInteger)  # a source_ended/_stopped's seq_last
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SeqGap(db.Model):
    """Seqs seq_from..seq_to of a source not stored: missing, requested, or lost; a recovered
    gap's range is the last of its seqs to arrive."""

    __tablename__ = "seq_gap"
    __table_args__ = (
        Index("ix_seq_gap_source", "device_id", "source_id", "seq_from"),
        Index("ix_seq_gap_due", "state", "next_request_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    source_id: Mapped[str] = mapped_column(String(SOURCE_CHARS_MAX))
    seq_from: Mapped[int] = mapped_column(BigInteger)
    seq_to: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_request_ms: Mapped[int] = mapped_column(BigInteger)  # UTC ms the next request is due
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    request_count: Mapped[int] = mapped_column(Integer, default=0)
    recovered_count: Mapped[int] = mapped_column(BigInteger, default=0)  # its seqs that came
    lost_reason: Mapped[str | None] = mapped_column(String(REASON_CHARS_MAX))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
