"""DeviceStatus (each device's latest status, one row) and DeviceEvent (health events, appended)."""

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db, utc_now
from central.monitoring.health import REASON_CHARS_MAX, SOURCE_CHARS_MAX

STATE_CHARS_MAX = 16
KIND_CHARS_MAX = 32


class DeviceStatus(db.Model):
    """A device's latest status: its last heartbeat, and whether it said goodbye since."""

    __tablename__ = "device_status"

    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(STATE_CHARS_MAX))  # online | offline
    offline_reason: Mapped[str | None] = mapped_column(String(REASON_CHARS_MAX))
    offline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_json: Mapped[str | None] = mapped_column(Text)  # as the device sent it
    heartbeat_s: Mapped[float | None] = mapped_column(Float)  # when the heartbeat says
    sent_ms: Mapped[int | None] = mapped_column(BigInteger)  # the heartbeat's, device clock
    started_ms: Mapped[int | None] = mapped_column(BigInteger)  # the heartbeat's agent run
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class DeviceEvent(db.Model):
    """A health event as the device raised it; the same event twice is stored once."""

    __tablename__ = "device_event"
    __table_args__ = (
        UniqueConstraint("device_id", "source_id", "kind", "at_ms"),
        Index("ix_device_event_station_recent", "station_id", "at_ms"),
        Index("ix_device_event_device_recent", "device_id", "at_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    kind: Mapped[str] = mapped_column(String(KIND_CHARS_MAX))
    source_id: Mapped[str] = mapped_column(String(SOURCE_CHARS_MAX))
    at_ms: Mapped[int] = mapped_column(BigInteger)  # when it happened, device clock
    detail_json: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
