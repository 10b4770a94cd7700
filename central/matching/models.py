"""Detection: one catalogue track found in one ingested batch (a stored Match)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db


class Detection(db.Model):
    """A Match of one window: which track, where the timelines meet, how strongly."""

    __tablename__ = "detection"
    # update_plays reads one track's detections at one station over a span of time
    __table_args__ = (
        Index("ix_detection_station_track_start", "station_id", "track_id", "start_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingested_batch_id: Mapped[int] = mapped_column(
        ForeignKey("ingested_batch.id", ondelete="CASCADE"), index=True
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"))
    window_start_ms: Mapped[int] = mapped_column(BigInteger)
    start_ms: Mapped[int] = mapped_column(BigInteger, index=True)  # UTC ms of the first inlier
    end_ms: Mapped[int] = mapped_column(BigInteger)  # UTC ms of the last inlier
    query_first_frame: Mapped[int] = mapped_column(BigInteger)
    query_last_frame: Mapped[int] = mapped_column(BigInteger)
    inliers: Mapped[int] = mapped_column(Integer)
    query_hashes: Mapped[int] = mapped_column(Integer)
    speed_ratio: Mapped[float] = mapped_column(Float)
    offset_frames: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    strong: Mapped[bool] = mapped_column(Boolean)
