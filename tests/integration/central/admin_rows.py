"""Rows for the admin overview's tests (API and console): stations whose devices are online,
stale, offline and never seen, a stream down and one in dead air, plays and paid royalties
today, quarantined payloads; inserted as rows, as the listener and the jobs would store them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ingest.store import quarantine
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.royalties.models import POSTED, UNFUNDED, RoyaltyAccrual
from central.stations.models import Device, Station
from central.stations.store import find_station
from central.times import at_ms, ms_of
from tests.integration.central.rows import add_play, add_station, add_track


@dataclass(frozen=True)
class Seeded:
    """What the seeded rows should show."""

    now_ms: int
    plays_today: int
    paid_today_minor: int


def seed_overview(session: Session) -> Seeded:
    """joy-fm (pi-01 online with its stream down, pi-02 stale), peace-fm (pi-03 offline,
    pi-04 never seen, pi-05 revoked), an unmonitored station; 3 plays today (two paid, one
    unfunded), one yesterday; 3 quarantined payloads, one of them two days old."""
    now = utc_now()
    now_ms = ms_of(now)
    joy = _station(session, "joy-fm", ("pi-01", "pi-02"))
    peace = _station(session, "peace-fm", ("pi-03", "pi-04", "pi-05"))
    _station(session, "quiet-fm", ())
    revoked: Device = peace.devices[2]
    revoked.active = False
    pi01, pi02, pi03 = joy.devices[0], joy.devices[1], peace.devices[0]
    _status(session, pi01, "online", now_ms - 5_000)
    _status(session, pi02, "online", now_ms - 3_600_000)
    _status(session, pi03, "offline", now_ms - 60_000)
    _event(session, pi01, "stream_up", now_ms - 600_000)
    _event(session, pi01, "stream_down", now_ms - 120_000)
    _event(session, pi03, "stream_up", now_ms - 900_000)
    _event(session, pi03, "dead_air", now_ms - 300_000)
    _event(session, revoked, "stream_down", now_ms - 100_000)  # revoked: not counted
    day_ms = now_ms - now_ms % 86_400_000
    track = add_track(session, "OV-1")
    plays = [add_play(session, joy, track, day_ms + n * 1000) for n in range(3)]
    add_play(session, joy, track, day_ms - 3_600_000)
    for play, state, amount in zip(plays, (POSTED, POSTED, UNFUNDED), (150, 250, 999), strict=True):
        session.add(RoyaltyAccrual(play_id=play.id, amount_minor=amount, currency="GHS",
                                   explanation_json="{}", state=state, batch_id="b"))  # fmt: skip
    for reason in ("not_json", "bad_topic", "not_json"):
        quarantine(session, "stations/x/devices/y/batches", b"\x00\x01", reason, "seeded")
    session.flush()
    from central.ingest.models import QuarantinedPayload

    oldest = session.query(QuarantinedPayload).order_by(QuarantinedPayload.id).first()
    assert oldest is not None
    oldest.received_at = now - timedelta(days=2)
    session.flush()
    return Seeded(now_ms, plays_today=3, paid_today_minor=400)


def _station(session: Session, code: str, devices: tuple[str, ...]) -> Station:
    """The station (made if it is not there yet) with these devices added."""
    station = find_station(session, code)
    if station is None:
        return add_station(session, code, devices)
    for device_code in devices:
        station.devices.append(Device(code=device_code, active=True, password_hash="$7$x"))
    session.flush()
    return station


def _status(session: Session, device: Device, state: str, last_seen_ms: int) -> None:
    """The device's latest status row."""
    session.add(DeviceStatus(
        device_id=device.id, state=state, heartbeat_json=json.dumps({"sources": {}}),
        heartbeat_s=60.0, sent_ms=last_seen_ms, started_ms=last_seen_ms - 1000,
        last_seen_at=at_ms(last_seen_ms), offline_at=at_ms(last_seen_ms) if state == "offline"
        else None, offline_reason="last will" if state == "offline" else None,
    ))  # fmt: skip


def _event(session: Session, device: Device, kind: str, at: int) -> None:
    """A health event of the device's main source."""
    session.add(DeviceEvent(device_id=device.id, station_id=device.station_id, kind=kind,
                            source_id="main", at_ms=at, detail_json="{}"))  # fmt: skip
