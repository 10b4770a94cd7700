"""Which stream links to scan, their scan devices and password files, and their last match.

A station is scanned when it has a stream URL and no box: no active device other than its scan
device. `--station` forces given stations instead (box or not). The scan device is created on
first use; its password lives in `<state_dir>/<device>.password` (mode 0600) and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from central.files import write_private
from central.matching.models import Detection
from central.plays.models import Play
from central.scan.agent_config import scan_device_code
from central.stations import store
from central.stations.models import Station

logger = logging.getLogger(__name__)

MATCH_LOOKBACK_MS = 24 * 3600 * 1000  # detections searched for the last match; older: plays
BROKER_FILES_HINT = (
    "if the broker checks passwords, run `zamio device broker-files` and restart mosquitto"
)


@dataclass(frozen=True)
class Target:
    """A station to scan, as its scan device."""

    station_code: str
    stream_url: str
    device_code: str


def scan_targets(session: Session, forced: Collection[str] = ()) -> tuple[list[Target], list[str]]:
    """The stations to scan, by code, and why wanted ones cannot be (e.g. a revoked scan
    device). `forced`: exactly these stations, box or not."""
    query = select(Station).options(selectinload(Station.devices)).order_by(Station.code)
    if forced:
        query = query.where(Station.code.in_(list(forced)))
    targets, problems = [], []
    found = set()
    for station in session.scalars(query):
        found.add(station.code)
        device_code = scan_device_code(station.code)
        if not station.stream_url:
            if forced:
                problems.append(f"station {station.code}: no stream URL")
            continue
        if not forced and any(d.active and d.code != device_code for d in station.devices):
            continue  # it has a box
        problem = _device_problem(session, station, device_code)
        if problem:
            problems.append(f"station {station.code}: {problem}")
            continue
        targets.append(Target(station.code, station.stream_url, device_code))
    problems += [f"station {code}: no such station" for code in sorted(set(forced) - found)]
    return targets, problems


def _device_problem(session: Session, station: Station, device_code: str) -> str:
    """Why `device_code` cannot scan `station`, or ''."""
    device = store.find_device(session, device_code)
    if device is None:
        return ""
    if device.station_id != station.id:
        return f"device {device_code} belongs to station {device.station.code}"
    if not device.active:
        return f"device {device_code} is revoked"
    return ""


def password_path(state_dir: Path, device_code: str) -> Path:
    """Where the scan device's broker password is kept."""
    return state_dir / f"{device_code}.password"


def ensure_password_file(session: Session, target: Target, state_dir: Path) -> Path:
    """The scan device's password file: the device is created on first use; a device whose
    file is lost gets a new password. Commits such a change before writing the file."""
    path = password_path(state_dir, target.device_code)
    if path.exists():
        return path
    if store.find_device(session, target.device_code) is None:
        password = store.add_device(session, target.device_code, target.station_code).password
        logger.warning(
            "station %s: scan device %s created; %s",
            target.station_code,
            target.device_code,
            BROKER_FILES_HINT,
        )
    else:
        password = store.reset_device_password(session, target.device_code).password
        logger.warning(
            "station %s: %s lost; device %s has a new password; %s",
            target.station_code,
            path,
            target.device_code,
            BROKER_FILES_HINT,
        )
    session.commit()
    write_private(path, password + "\n")
    return path


def last_matches(session: Session, station_codes: Iterable[str], now_ms: int) -> dict[str, int]:
    """When each station's newest match was heard (UTC ms): its newest detection of the last
    MATCH_LOOKBACK_MS, else the end of its newest play. Stations never matched are left out."""
    codes = list(station_codes)
    if not codes:
        return {}
    rows = session.execute(select(Station.id, Station.code).where(Station.code.in_(codes)))
    ids = {station_id: code for station_id, code in rows}
    result = {}
    for station_id, code in ids.items():
        newest = session.scalar(
            select(func.max(Detection.start_ms)).where(
                Detection.station_id == station_id,
                Detection.start_ms >= now_ms - MATCH_LOOKBACK_MS,
            )
        )
        if newest is None:  # the index on (station_id, start_ms) finds the newest play
            newest = session.scalar(
                select(Play.end_ms)
                .where(Play.station_id == station_id)
                .order_by(Play.start_ms.desc())
                .limit(1)
            )
        if newest is not None:
            result[code] = int(newest)
    return result
