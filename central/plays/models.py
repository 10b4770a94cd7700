"""Play: one track on air at one station, from start to end in UTC, open until it is final."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db, utc_now

CHOSEN_BY_CHARS_MAX = 200


class Play(db.Model):
    """A play log entry. Open while later batches may still change it; closed is final."""

    __tablename__ = "play"
    __table_args__ = (
        UniqueConstraint("station_id", "track_id", "start_ms"),
        Index("ix_play_station_id_start_ms", "station_id", "start_ms"),
        # a party's plays (by its tracks) and everyone's, by time (migration 0017)
        Index("ix_play_track_id_start_ms_id", "track_id", "start_ms", "id"),
        Index("ix_play_start_ms_id", "start_ms", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"))
    start_ms: Mapped[int] = mapped_column(BigInteger)  # UTC
    end_ms: Mapped[int] = mapped_column(BigInteger)  # UTC
    speed_ratio: Mapped[float] = mapped_column(Float)
    inliers: Mapped[int] = mapped_column(Integer)  # evidence over all its detections
    detections: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    # which rule made this track the play of its airing (central/plays/same_recording.py):
    # "only_candidate", or "<rule> over track <external id>"; None: built before the rule
    chosen_by: Mapped[str | None] = mapped_column(String(CHOSEN_BY_CHARS_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def duration_ms(self) -> int:
        """Time on air."""
        return self.end_ms - self.start_ms
