"""The one place the API takes station and device health from (central.monitoring)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from central.monitoring import report
from central.stations.models import Station


def station_health(session: Session, station: Station, now: datetime) -> dict[str, Any] | None:
    """How many of the station's devices are online, offline, stale or never seen."""
    summary = report.station_report(session, station, now, events_max=0)
    return {"device_states": summary["device_states"]}


def device_health(session: Session, station: Station, now: datetime) -> dict[str, dict[str, Any]]:
    """Each of the station's devices' state, last seen, sources, spool, clock, latest events."""
    return report.devices_health(session, station, now)
