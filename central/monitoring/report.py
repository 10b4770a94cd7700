"""Device and station health as plain JSON-ready dicts, for `zamio status` and the API."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from central.errors import StationError
from central.ingest import gaps
from central.ingest.accounting import gap_counts, gap_counts_of
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.monitoring.state import device_report
from central.monitoring.store import seen
from central.stations.models import Device, Station
from central.stations.store import find_station
from central.times import iso_utc, ms_of

EVENTS_MAX = 5  # the latest events shown with each device
STATION_EVENTS_MAX = 1000


def device_health(
    session: Session,
    device: Device,
    now: datetime,
    events_max: int = EVENTS_MAX,
    seq_gaps: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """One device's state, last seen, sources, spool, clock and its latest events (`seq_gaps`:
    its gap counts when the caller read them for many devices at once)."""
    now_ms = ms_of(now)
    row = session.get(DeviceStatus, device.id)
    query = (
        select(DeviceEvent)
        .where(DeviceEvent.device_id == device.id)
        .order_by(DeviceEvent.at_ms.desc(), DeviceEvent.id.desc())
        .limit(events_max)
    )
    events = (
        [] if events_max <= 0 else [event_record(e, device.code) for e in session.scalars(query)]
    )
    return {
        "device": device.code,
        "station": device.station.code,
        "active": device.active,
        **device_report(seen(row), now_ms),
        "seq_gaps": gap_counts(session, device.id) if seq_gaps is None else seq_gaps,
        "events": events,
    }


def station_health(
    session: Session, now: datetime, station_code: str | None = None, events_max: int = EVENTS_MAX
) -> list[dict[str, Any]]:
    """Every station (or the one of `station_code`) with the health of each of its devices."""
    if station_code is None:
        query = select(Station).order_by(Station.code).options(selectinload(Station.devices))
        stations = list(session.scalars(query))
        list(session.scalars(select(DeviceStatus)))  # one query: device_health's gets hit it
    else:
        station = find_station(session, station_code)
        if station is None:
            raise StationError(f"no station {station_code}")
        stations = [station]
    every = gap_counts_of(session) if station_code is None else None
    return [station_report(session, station, now, events_max, every) for station in stations]


def station_report(
    session: Session,
    station: Station,
    now: datetime,
    events_max: int = EVENTS_MAX,
    seq_gaps: dict[int, dict[str, dict[str, int]]] | None = None,
) -> dict[str, Any]:
    """One station: its devices' health, by device code order, and how many are in each state."""
    devices = devices_health(session, station, now, events_max, seq_gaps)
    states = Counter(device["state"] for device in devices.values())
    return {
        "station": station.code,
        "name": station.name,
        "device_states": dict(sorted(states.items())),
        "devices": list(devices.values()),
    }


def devices_health(
    session: Session,
    station: Station,
    now: datetime,
    events_max: int = EVENTS_MAX,
    seq_gaps: dict[int, dict[str, dict[str, int]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The health of each of a station's devices, by device code (`seq_gaps`: gap counts by
    device id, read at once for many stations)."""
    devices = sorted(station.devices, key=lambda d: d.code)
    return {
        d.code: device_health(session, d, now, events_max, None if seq_gaps is None
                              else seq_gaps.get(d.id) or _no_gaps())
        for d in devices
    }  # fmt: skip


def _no_gaps() -> dict[str, dict[str, int]]:
    """The gap counts of a device that has none."""
    return {state: {"gaps": 0, "seqs": 0} for state in gaps.STATES}


def station_events(
    session: Session, station: Station, limit: int = 100, before_ms: int | None = None
) -> list[dict[str, Any]]:
    """A station's health events, newest first (by the device's at_ms), before `before_ms`."""
    limit = max(1, min(limit, STATION_EVENTS_MAX))
    query = (
        select(DeviceEvent, Device.code)
        .join(Device, Device.id == DeviceEvent.device_id)
        .where(DeviceEvent.station_id == station.id)
        .order_by(DeviceEvent.at_ms.desc(), DeviceEvent.id.desc())
        .limit(limit)
    )
    if before_ms is not None:
        query = query.where(DeviceEvent.at_ms < before_ms)
    return [event_record(event, code) for event, code in session.execute(query)]


def event_record(event: DeviceEvent, device_code: str) -> dict[str, Any]:
    """A stored event as plain values."""
    return {
        "device": device_code,
        "source_id": event.source_id,
        "kind": event.kind,
        "at_ms": event.at_ms,
        "at": iso_utc(event.at_ms),
        "detail": json.loads(event.detail_json),
    }
