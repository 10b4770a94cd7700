"""Health read from PostgreSQL: stale after the missed-heartbeat window (with `now` passed in),
never seen devices listed, a station's events, and two listeners storing a first status at once."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from central.errors import StationError
from central.extensions import db
from central.monitoring.models import DeviceStatus
from central.monitoring.report import (
    device_health,
    devices_health,
    station_events,
    station_health,
)
from central.monitoring.store import STATUS, record_event, record_status
from central.stations import store as stations
from central.times import at_ms as at
from tests.integration.edge_agent.conftest import wait_until
from tests.unit.central.monitoring.payloads import (
    EVENTS_TOPIC,
    NOW_MS,
    STATUS_TOPIC,
    event,
    heartbeat,
)

pytestmark = pytest.mark.integration

WINDOW_MS = 150_000  # 2.5 heartbeats of 60 s


@pytest.fixture
def session(pg_app: Flask):
    """joy-fm with pi-01 and pi-03 (never heard from), peace-fm with pi-02."""
    with pg_app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_station(db.session, "peace-fm", "Peace FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-02", "peace-fm")
        stations.add_device(db.session, "pi-03", "joy-fm")
        db.session.commit()
        yield db.session


def test_device_is_stale_once_the_window_has_passed(session) -> None:
    """Online up to 2.5 heartbeat intervals after the last one was received, stale after."""
    record_status(session, STATUS_TOPIC, heartbeat(NOW_MS - 400), NOW_MS)
    session.commit()
    device = stations.find_device(session, "pi-01")
    assert device_health(session, device, at(NOW_MS + WINDOW_MS))["state"] == "online"
    report = device_health(session, device, at(NOW_MS + WINDOW_MS + 1))
    assert report["state"] == "stale" and report["last_seen_age_s"] == 150.001
    assert report["stale_after_s"] == 150.0


def test_a_status_that_says_its_interval_sets_the_window(session) -> None:
    """A device beating every 10 s is stale after 25 s."""
    record_status(session, STATUS_TOPIC, heartbeat(NOW_MS, heartbeat_s=10), NOW_MS)
    session.commit()
    device = stations.find_device(session, "pi-01")
    assert device_health(session, device, at(NOW_MS + 25_000))["state"] == "online"
    assert device_health(session, device, at(NOW_MS + 25_001))["state"] == "stale"


def test_station_health_lists_every_device_and_its_latest_events(session) -> None:
    """Each station with all its devices, never seen ones too; the latest events first, bounded."""
    record_status(session, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS)
    for n in range(7):
        record_event(session, EVENTS_TOPIC, event("dead_air", NOW_MS - 1_000 * n), NOW_MS)
    session.commit()
    (joy,) = station_health(session, at(NOW_MS), "joy-fm")
    assert (joy["station"], joy["name"]) == ("joy-fm", "Joy FM")
    assert [(d["device"], d["state"]) for d in joy["devices"]] == [
        ("pi-01", "online"),
        ("pi-03", "never_seen"),
    ]
    assert [e["at_ms"] for e in joy["devices"][0]["events"]] == [
        NOW_MS - 1_000 * n for n in range(5)
    ]
    assert joy["device_states"] == {"never_seen": 1, "online": 1}
    by_code = devices_health(session, stations.find_station(session, "joy-fm"), at(NOW_MS))
    assert list(by_code) == ["pi-01", "pi-03"] and by_code["pi-01"] == joy["devices"][0]
    assert [s["station"] for s in station_health(session, at(NOW_MS))] == ["joy-fm", "peace-fm"]
    with pytest.raises(StationError):
        station_health(session, at(NOW_MS), "nowhere-fm")


def test_station_events_page_backwards(session) -> None:
    """A station's events newest first, with the device, and pages by before_ms."""
    for n in range(3):
        record_event(session, EVENTS_TOPIC, event("clipping", NOW_MS - n, share=0.1), NOW_MS)
    session.commit()
    station = stations.find_station(session, "joy-fm")
    events = station_events(session, station, limit=2)
    assert [(e["device"], e["at_ms"]) for e in events] == [("pi-01", NOW_MS), ("pi-01", NOW_MS - 1)]
    assert [e["at_ms"] for e in station_events(session, station, before_ms=NOW_MS - 1)] == [
        NOW_MS - 2
    ]
    assert station_events(session, stations.find_station(session, "peace-fm")) == []


def lock_waits(app: Flask) -> int:
    """Sessions of this test's database waiting for a lock on device_status (a fresh snapshot:
    pg_stat_activity stays the same within one transaction)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO device_status%'"
    )
    with app.app_context(), db.engine.connect() as probe:
        return probe.execute(query).scalar_one()


def test_two_listeners_storing_the_first_status_at_once(pg_app: Flask, session) -> None:
    """The second insert of a device's first status waits, fails on the key, and retries as an
    update: one row, the newer heartbeat, no error."""
    record_status(session, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS)  # not committed yet
    outcomes: list[str] = []

    def other_listener() -> None:
        with pg_app.app_context():
            outcome = record_status(db.session, STATUS_TOPIC, heartbeat(NOW_MS + 60_000), NOW_MS)
            db.session.commit()
            outcomes.append(outcome.kind)

    thread = threading.Thread(target=other_listener)
    thread.start()
    wait_until(lambda: lock_waits(pg_app) == 1, 10, "the other insert to wait")
    session.commit()
    thread.join(10)
    assert outcomes == [STATUS]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(DeviceStatus)) == 1
    assert session.scalar(select(DeviceStatus.sent_ms)) == NOW_MS + 60_000
