"""Catalogue tables: Track (one reference recording), TrackFingerprint (its hashes) and
TrackNearDuplicate (two tracks found at import to share a recording)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.extensions import db, utc_now

EXTERNAL_ID_CHARS_MAX = 200
TEXT_CHARS_MAX = 500


class Track(db.Model):
    """A reference recording, identified by the id its manifest gives it (`external_id`)."""

    __tablename__ = "track"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_CHARS_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(TEXT_CHARS_MAX))
    artist: Mapped[str | None] = mapped_column(String(TEXT_CHARS_MAX))
    isrc: Mapped[str | None] = mapped_column(String(12))
    iswc: Mapped[str | None] = mapped_column(String(11))  # normalized, e.g. T0345246801
    duration_ms: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(16), unique=True)  # xxh64 hex of the PCM
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # when stored batches were last searched for it (zamio rematch); None: a new track
    rematched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    fingerprints: Mapped[list[TrackFingerprint]] = relationship(
        back_populates="track", cascade="all, delete-orphan", passive_deletes=True
    )


class TrackFingerprint(db.Model):
    """A track's reference hashes for one fingerprint version, as uint32 little-endian bytes."""

    __tablename__ = "track_fingerprint"

    track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_count: Mapped[int] = mapped_column(Integer)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    anchor_frames: Mapped[bytes] = mapped_column(LargeBinary)

    track: Mapped[Track] = relationship(back_populates="fingerprints")


class TrackNearDuplicate(db.Model):
    """Two registered tracks that share a recording (an edit, a near-duplicate), as the import's
    near-duplicate check found it: `track_id` the newer, `other_track_id` the one it contains
    or lies in. Plays treat the pair as one recording: one airing, one play."""

    __tablename__ = "track_near_duplicate"

    track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), primary_key=True
    )
    other_track_id: Mapped[int] = mapped_column(
        ForeignKey("track.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    shared_ms: Mapped[int] = mapped_column(Integer)  # how long the check found them the same
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
