"""Incidents of station health, told once to the station's users and the admins:

- device.offline: an active device offline (its goodbye or last will) or stale (heartbeats
  stopped), since it was last seen, for at least ZAMIO_NOTIFY_INCIDENT_MIN;
- stream.down / stream.dead_air: a source whose latest stream event is stream_down, or which
  is up but in dead air, for that long (the overview's judgement, monitoring/overview.py).

An incident is keyed by its device (and source) and when it began, so it is told once however
often the watch runs; a new outage is a new incident. Incidents older than INCIDENT_AGE_MAX when
first seen are not told (the watch was off, or this is its first run: no flood of old news)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.monitoring import overview
from central.monitoring.models import DeviceStatus
from central.monitoring.state import STALE, device_state
from central.monitoring.store import seen
from central.notifications.notify import Message, notify_each
from central.notifications.recipients import admins, station_users
from central.stations.models import Device, Station
from central.times import iso_utc, ms_of

INCIDENT_AGE_MAX_MS = 86_400_000


@dataclass(frozen=True)
class Incident:
    """Something wrong at a station for long enough to tell."""

    event: str
    station_id: int
    key: str
    subject: str
    body: str
    link: str
    data: dict[str, Any] = field(default_factory=dict)


def device_incidents(session: Session, now_ms: int, minimum_ms: int) -> list[Incident]:
    """Active devices offline or stale for at least `minimum_ms` (and at most a day)."""
    rows = session.execute(
        select(Device, Station, DeviceStatus)
        .join(Station, Station.id == Device.station_id)
        .outerjoin(DeviceStatus, DeviceStatus.device_id == Device.id)
        .where(Device.active.is_(True))
        .order_by(Device.id)
    ).all()
    found = []
    for device, station, status in rows:
        latest = seen(status)
        state = device_state(latest, now_ms)
        if latest is None or state not in ("offline", STALE):
            continue
        since_ms = latest.last_seen_ms or latest.offline_since_ms
        if since_ms is None or not minimum_ms <= now_ms - since_ms <= INCIDENT_AGE_MAX_MS:
            continue
        minutes = (now_ms - since_ms) // 60_000
        found.append(Incident(
            "device.offline", station.id, f"device:{device.code}:{since_ms}",
            f"{station.code}: device {device.code} offline for {minutes} min",
            f"Device {device.code} of {station.name} ({station.code}) was last seen at"
            f" {iso_utc(since_ms)} and is {'offline' if state == 'offline' else 'silent'} since"
            f" ({latest.offline_reason or 'no heartbeat'}).",
            f"/stations/{station.code}/health",
            {"station": station.code, "device": device.code, "since": iso_utc(since_ms),
             "state": state, "reason": latest.offline_reason},
        ))  # fmt: skip
    return found


def stream_incidents(session: Session, now_ms: int, minimum_ms: int) -> list[Incident]:
    """Sources down or in dead air for at least `minimum_ms` (and at most a day)."""
    sources = overview.source_events(session)
    if not sources:
        return []
    stations = {
        code: station_id for code, station_id in session.execute(select(Station.code, Station.id))
    }
    found = []
    for source in sources:
        condition = overview.source_condition(source.latest_ms)
        if condition is None:
            continue
        since_ms = source.latest_ms["stream_down" if condition == overview.DOWN else "dead_air"]
        if not minimum_ms <= now_ms - since_ms <= INCIDENT_AGE_MAX_MS:
            continue
        event = "stream.down" if condition == overview.DOWN else "stream.dead_air"
        what = "down" if condition == overview.DOWN else "in dead air"
        minutes = (now_ms - since_ms) // 60_000
        found.append(Incident(
            event, stations[source.station],
            f"{source.station}:{source.device}:{source.source_id}:{since_ms}",
            f"{source.station}: stream {source.source_id} {what} for {minutes} min",
            f"Source {source.source_id} of device {source.device} at {source.station} is {what}"
            f" since {iso_utc(since_ms)}.",
            f"/stations/{source.station}/health",
            {"station": source.station, "device": source.device, "source": source.source_id,
             "since": iso_utc(since_ms), "condition": condition},
        ))  # fmt: skip
    return found


def notify_incidents(session: Session, now: datetime, minutes: int) -> int:
    """Tell each current incident to its station's users and the admins (once), commit;
    notifications made."""
    now_ms, minimum_ms = ms_of(now), minutes * 60_000
    incidents = device_incidents(session, now_ms, minimum_ms)
    incidents += stream_incidents(session, now_ms, minimum_ms)
    operators = admins(session)
    made = 0
    for incident in incidents:
        users = sorted(set(station_users(session, incident.station_id)) | set(operators))
        messages = [
            Message(u, incident.subject, incident.body, incident.data, incident.link, incident.key)
            for u in users
        ]
        made += len(notify_each(session, incident.event, messages, now))
    session.commit()
    return made
