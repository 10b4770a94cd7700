"""Station and device rows: add, find, list, revoke. Callers commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.errors import StationError
from central.extensions import utc_now
from central.stations import credentials
from central.stations.models import CODE_CHARS_MAX, NAME_CHARS_MAX, Device, Station

CODE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CODE_CHARS_MAX - 1}}}")
STREAM_SCHEMES = ("http", "https", "rtmp", "rtmps", "rtsp", "srt", "udp", "tcp")


@dataclass(frozen=True)
class NewDevice:
    """A device just added, with the password shown this once."""

    device: Device
    password: str


def check_code(kind: str, code: str) -> None:
    """Raise StationError unless `code` can stand in an MQTT topic."""
    if not CODE.fullmatch(code):
        raise StationError(
            f"{kind} code {code!r}: use 1-{CODE_CHARS_MAX} letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )


def add_station(session: Session, code: str, name: str, stream_url: str | None = None) -> Station:
    """A new station; its code must be unused."""
    check_code("station", code)
    if not 1 <= len(name) <= NAME_CHARS_MAX:
        raise StationError(f"station name must be 1-{NAME_CHARS_MAX} characters")
    if stream_url is not None:
        parts = urlsplit(stream_url)
        if parts.scheme not in STREAM_SCHEMES or not parts.hostname:
            raise StationError(f"stream URL {stream_url!r}: need {', '.join(STREAM_SCHEMES)}")
    if find_station(session, code) is not None:
        raise StationError(f"station {code} exists already")
    station = Station(code=code, name=name, stream_url=stream_url)
    session.add(station)
    session.flush()
    return station


def add_device(session: Session, code: str, station_code: str) -> NewDevice:
    """A new active device of a station, with a fresh password."""
    check_code("device", code)
    station = find_station(session, station_code)
    if station is None:
        raise StationError(f"no station {station_code}")
    if session.scalar(select(Device).where(Device.code == code)) is not None:
        raise StationError(f"device {code} exists already")
    password = credentials.new_password()
    device = Device(
        code=code, station=station, active=True, password_hash=credentials.mosquitto_hash(password)
    )
    session.add(device)
    session.flush()
    return NewDevice(device, password)


def reset_device_password(session: Session, code: str) -> NewDevice:
    """A fresh password for a device; the broker takes it once its files are rewritten."""
    device = find_device(session, code)
    if device is None:
        raise StationError(f"no device {code}")
    password = credentials.new_password()
    device.password_hash = credentials.mosquitto_hash(password)
    return NewDevice(device, password)


def revoke_device(session: Session, code: str) -> Device:
    """Mark a device inactive: its batches are refused from now on."""
    device = find_device(session, code)
    if device is None:
        raise StationError(f"no device {code}")
    if device.active:
        device.active = False
        device.revoked_at = utc_now()
    return device


def find_station(session: Session, code: str) -> Station | None:
    """The station with this code."""
    return session.scalar(select(Station).where(Station.code == code))


def find_device(session: Session, code: str) -> Device | None:
    """The device with this code."""
    return session.scalar(select(Device).where(Device.code == code))


def stations(session: Session) -> list[Station]:
    """Every station, by code."""
    return list(session.scalars(select(Station).order_by(Station.code)))


def devices(session: Session, active_only: bool = False) -> list[Device]:
    """Every device (or the active ones), by code."""
    query = select(Device).order_by(Device.code)
    if active_only:
        query = query.where(Device.active.is_(True))
    return list(session.scalars(query))
