"""Upload tables: TrackUpload (one file an artist or rights holder sent to register a track,
and how far its processing got) and TrackReview (an upload held because its recording is
already registered to other parties, until an operator decides)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX
from central.extensions import db, utc_now

# Upload states: queued -> decoding -> fingerprinting -> checking, then one of the final ones:
# registered (track_id set), review (a TrackReview waits), rejected (an operator refused the
# review), failed (error says why).
QUEUED, DECODING, FINGERPRINTING, CHECKING = "queued", "decoding", "fingerprinting", "checking"
REGISTERED, REVIEW, REJECTED, FAILED = "registered", "review", "rejected", "failed"
UPLOAD_STATES = (QUEUED, DECODING, FINGERPRINTING, CHECKING, REGISTERED, REVIEW, REJECTED, FAILED)
WORKING_STATES = (QUEUED, DECODING, FINGERPRINTING, CHECKING)
FINAL_STATES = (REGISTERED, REJECTED, FAILED)  # REVIEW is final for the job, not the upload
PROGRESS_PERCENT = {QUEUED: 0, DECODING: 10, FINGERPRINTING: 40, CHECKING: 70}
# Review states, and why the recording was taken for one already registered.
PENDING, APPROVED = "pending", "approved"
REVIEW_STATES = (PENDING, APPROVED, REJECTED)
SAME_AUDIO, SAME_RECORDING = "same_audio", "same_recording"
ACTOR_CHARS_MAX = 64  # "user:12", "cli:ama", "admin:3"
ERROR_CHARS_MAX = 500
PATH_CHARS_MAX = 1000


class TrackUpload(db.Model):
    """An uploaded file, the metadata it came with, and what became of it."""

    __tablename__ = "track_upload"
    __table_args__ = (Index("ix_track_upload_state_updated_at", "state", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    progress_percent: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(ERROR_CHARS_MAX))  # why it failed
    title: Mapped[str] = mapped_column(String(TEXT_CHARS_MAX))
    artist: Mapped[str | None] = mapped_column(String(TEXT_CHARS_MAX))
    isrc: Mapped[str | None] = mapped_column(String(12))  # normalized
    iswc: Mapped[str | None] = mapped_column(String(11))  # normalized
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_CHARS_MAX))  # as asked
    shares_json: Mapped[str] = mapped_column(Text)  # a rights.py shares document
    submitted_by: Mapped[str] = mapped_column(String(ACTOR_CHARS_MAX))
    parties_json: Mapped[str] = mapped_column(Text)  # the submitter's party codes, a JSON list
    filename: Mapped[str | None] = mapped_column(String(TEXT_CHARS_MAX))  # as the client named it
    container: Mapped[str] = mapped_column(String(16))  # sniffed: wav, flac, mp3, ...
    file_path: Mapped[str | None] = mapped_column(String(PATH_CHARS_MAX))  # None once deleted
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(16))  # once decoded
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    track_id: Mapped[int | None] = mapped_column(
        ForeignKey("track.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class TrackReview(db.Model):
    """An upload whose recording matched a track owned by other parties: held for a decision."""

    __tablename__ = "track_review"
    __table_args__ = (Index("ix_track_review_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(
        ForeignKey("track_upload.id", ondelete="CASCADE"), unique=True
    )
    matched_track_id: Mapped[int] = mapped_column(ForeignKey("track.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # same_audio | same_recording
    shared_start_ms: Mapped[int] = mapped_column(Integer)  # where the shared span starts (upload)
    shared_ms: Mapped[int] = mapped_column(Integer)  # how long it is
    state: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(ACTOR_CHARS_MAX))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
