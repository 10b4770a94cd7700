"""Station, device and broker account rows: add, edit, find, list, revoke, rotate. Callers
commit."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.errors import StationError
from central.extensions import db, utc_now
from central.stations import credentials
from central.stations.credentials import SERVICE_PREFIX
from central.stations.models import (
    CODE_CHARS_MAX,
    NAME_CHARS_MAX,
    BrokerAccount,
    Device,
    Station,
)
from edge_agent.settings import _check_stream_url  # the scan agent's own check, so they agree

CODE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CODE_CHARS_MAX - 1}}}")


@dataclass(frozen=True)
class NewDevice:
    """A device just added (or given a new password), with the password shown this once."""

    device: Device
    password: str
    restored: bool = False  # a revoked device made active again


@dataclass(frozen=True)
class NewAccount:
    """A broker account just added or rotated, with the password shown this once."""

    account: BrokerAccount
    password: str


def check_code(kind: str, code: str) -> None:
    """Raise StationError unless `code` can stand in an MQTT topic."""
    if not CODE.fullmatch(code):
        raise StationError(
            f"{kind} code {code!r}: use 1-{CODE_CHARS_MAX} letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    if code.lower().startswith(SERVICE_PREFIX):
        raise StationError(
            f"{kind} code {code!r}: names beginning {SERVICE_PREFIX!r} are central's own"
            " broker accounts"
        )


def check_stream_url(stream_url: str) -> None:
    """Raise StationError unless the scan agent would take `stream_url`."""
    complaint = _check_stream_url(stream_url)
    if complaint:
        raise StationError(f"stream URL {complaint}")


def add_station(session: Session, code: str, name: str, stream_url: str | None = None) -> Station:
    """A new station; its code must be unused."""
    check_code("station", code)
    if not 1 <= len(name) <= NAME_CHARS_MAX:
        raise StationError(f"station name must be 1-{NAME_CHARS_MAX} characters")
    if stream_url is not None:
        check_stream_url(stream_url)
    if find_station(session, code) is not None:
        raise StationError(f"station {code} exists already")
    station = Station(code=code, name=name, stream_url=stream_url)
    session.add(station)
    session.flush()
    return station


def edit_station(
    session: Session,
    code: str,
    name: str | None = None,
    stream_url: str | None = None,
    clear_stream_url: bool = False,
) -> Station:
    """Change a station's name or stream link (a scan restarts or stops at its next refresh)."""
    station = _station(session, code)
    if name is not None:
        if not 1 <= len(name) <= NAME_CHARS_MAX:
            raise StationError(f"station name must be 1-{NAME_CHARS_MAX} characters")
        station.name = name
    if stream_url is not None:
        check_stream_url(stream_url)
        station.stream_url = stream_url
    elif clear_stream_url:
        station.stream_url = None
    return station


def remove_station(session: Session, code: str) -> None:
    """Delete a station and its devices, only if nothing was ever recorded for them."""
    station = _station(session, code)
    device_ids = [d.id for d in station.devices]
    kept = _referring_rows(session, "station", [station.id], skip=("device",))
    kept += _referring_rows(session, "device", device_ids)
    if kept:
        raise StationError(
            f"station {code} has recorded data ({', '.join(kept)}): it stays; to retire it, "
            f"`zamio station edit {code} --no-stream-url` and `zamio device revoke` its devices"
        )
    for device in station.devices:
        session.delete(device)
    session.delete(station)
    session.flush()


def _referring_rows(
    session: Session, table: str, ids: list[int], skip: tuple[str, ...] = ()
) -> list[str]:
    """The tables (with counts) holding rows that refer to `ids` of `table`."""
    found = []
    for other in db.metadata.sorted_tables:
        for key in other.foreign_keys:
            if key.column.table.name != table or other.name in skip or not ids:
                continue
            count = session.scalar(
                select(func.count()).select_from(other).where(key.parent.in_(ids))
            )
            if count:
                found.append(f"{count} {other.name}")
    return found


def add_device(session: Session, code: str, station_code: str) -> NewDevice:
    """A new active device of a station, with a fresh password. A revoked device's code is
    restored: active again, of this station, with a new password (the old one stays dead)."""
    check_code("device", code)
    station = _station(session, station_code)
    password = credentials.new_password()
    device = find_device(session, code)
    if device is not None:
        if device.active:
            raise StationError(f"device {code} exists already")
        device.active, device.revoked_at, device.station = True, None, station
        device.password_hash = credentials.mosquitto_hash(password)
        session.flush()
        return NewDevice(device, password, restored=True)
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


def _station(session: Session, code: str) -> Station:
    station = find_station(session, code)
    if station is None:
        raise StationError(f"no station {code}")
    return station


def find_station(session: Session, code: str) -> Station | None:
    """The station with this code."""
    return session.scalar(select(Station).where(Station.code == code))


def find_device(session: Session, code: str) -> Device | None:
    """The device with this code."""
    return session.scalar(select(Device).where(Device.code == code))


def stations(session: Session) -> list[Station]:
    """Every station, by code."""
    return list(session.scalars(select(Station).order_by(Station.code)))


def codes_by_id(session: Session) -> dict[int, str]:
    """Every station's code by its id."""
    return {row[0]: row[1] for row in session.execute(select(Station.id, Station.code))}


def devices(session: Session, active_only: bool = False) -> list[Device]:
    """Every device (or the active ones), by code."""
    query = select(Device).order_by(Device.code)
    if active_only:
        query = query.where(Device.active.is_(True))
    return list(session.scalars(query))


def add_account(session: Session, name: str) -> NewAccount:
    """A new service account (`zamio-...`), with a fresh password."""
    if not CODE.fullmatch(name) or not name.startswith(SERVICE_PREFIX):
        raise StationError(
            f"broker account {name!r}: must begin {SERVICE_PREFIX!r}, then letters, digits,"
            f" '.', '_' or '-' (at most {CODE_CHARS_MAX} characters)"
        )
    if find_account(session, name) is not None:
        raise StationError(f"broker account {name} exists already")
    password = credentials.new_password()
    account = BrokerAccount(name=name, password_hash=credentials.mosquitto_hash(password))
    session.add(account)
    session.flush()
    return NewAccount(account, password)


def rotate_account(session: Session, name: str) -> NewAccount:
    """A fresh password for a service account; the old one works until the broker reloads."""
    account = _account(session, name)
    password = credentials.new_password()
    account.password_hash = credentials.mosquitto_hash(password)
    account.rotated_at = utc_now()
    return NewAccount(account, password)


def remove_account(session: Session, name: str) -> None:
    """Delete a service account (it keeps nothing but its hash)."""
    session.delete(_account(session, name))
    session.flush()


def _account(session: Session, name: str) -> BrokerAccount:
    account = find_account(session, name)
    if account is None:
        raise StationError(f"no broker account {name}")
    return account


def find_account(session: Session, name: str) -> BrokerAccount | None:
    """The service account with this name."""
    return session.scalar(select(BrokerAccount).where(BrokerAccount.name == name))


def accounts(session: Session) -> list[BrokerAccount]:
    """Every service account, by name."""
    return list(session.scalars(select(BrokerAccount).order_by(BrokerAccount.name)))
