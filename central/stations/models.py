"""Station (a broadcaster, by its code) and Device (an edge agent, by its code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.extensions import db, utc_now

CODE_CHARS_MAX = 64  # codes go into MQTT topics: [A-Za-z0-9._-], like the agent's ids
NAME_CHARS_MAX = 200
URL_CHARS_MAX = 2000


class Station(db.Model):
    """A broadcaster; `code` is the {station} of the MQTT topics."""

    __tablename__ = "station"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_CHARS_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_CHARS_MAX))
    stream_url: Mapped[str | None] = mapped_column(String(URL_CHARS_MAX))
    # Tariff: the class its rate card lines name, and the zone its time bands are local to.
    station_class: Mapped[str] = mapped_column(String(32), default="A", server_default="A")
    timezone: Mapped[str] = mapped_column(
        String(64), default="Africa/Accra", server_default="Africa/Accra"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    devices: Mapped[list[Device]] = relationship(back_populates="station")


class Device(db.Model):
    """An edge agent; `code` is the {device} of the MQTT topics and its broker user name."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_CHARS_MAX), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # Mosquitto's $7$ PBKDF2-SHA512
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    station: Mapped[Station] = relationship(back_populates="devices")


class BrokerAccount(db.Model):
    """One of central's own broker users (`zamio-ingest`, `zamio-ingest-<name>`): reads every
    device's batches, events and status and writes their commands."""

    __tablename__ = "broker_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(CODE_CHARS_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # Mosquitto's $7$ PBKDF2-SHA512
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
