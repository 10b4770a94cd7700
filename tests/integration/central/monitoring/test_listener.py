"""The ingest listener stores device health from a real Mosquitto into PostgreSQL: heartbeats,
events, the last will, retained replays and hostile payloads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db
from central.ingest.listener import IngestListener
from central.ingest.models import QuarantinedPayload
from central.monitoring.report import device_health
from central.stations import store as stations
from central.times import at_ms as at
from tests.integration.central.ingest.test_listener import publisher, start_listener
from tests.integration.edge_agent.conftest import HOST, Broker, wait_until
from tests.unit.central.monitoring.payloads import (
    EVENTS_TOPIC,
    STATUS_TOPIC,
    event,
    heartbeat,
    offline,
)

pytestmark = pytest.mark.integration

WAIT_S = 10.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto of this test's own: no other listener shares its subscription."""
    (tmp_path / "broker").mkdir()
    server = Broker(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def devices(pg_app: Flask) -> None:
    """joy-fm with pi-01, peace-fm with pi-02."""
    with pg_app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_station(db.session, "peace-fm", "Peace FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-02", "peace-fm")
        db.session.commit()


@pytest.fixture
def listen(pg_app: Flask, broker: Broker) -> Iterator:
    """listen(name) -> a running listener on the test's broker; all stopped after the test."""
    listeners: list[IngestListener] = []

    def start(name: str = "ingest-0") -> IngestListener:
        listeners.append(start_listener(pg_app, broker.port, name, enqueued))
        return listeners[-1]

    enqueued: list[int] = []
    yield start
    for listener in listeners:
        listener.stop()
    assert enqueued == [], "health messages must not enqueue matching"


def health(app: Flask, now: datetime, code: str = "pi-01") -> dict:
    with app.app_context():
        return device_health(db.session, stations.find_device(db.session, code), now)


@pytest.mark.usefixtures("devices")
def test_heartbeat_and_events_are_stored(pg_app: Flask, broker: Broker, listen) -> None:
    """A published heartbeat and events reach the database; a repeated event is stored once."""
    listener = listen()
    client = publisher(broker.port)
    try:
        sent_ms = now_ms()
        client.publish(STATUS_TOPIC, heartbeat(sent_ms), qos=1, retain=True)
        down = event("stream_down", sent_ms - 2_000, reason="ffmpeg_exit", error="404")
        for payload in (down, event("stream_up", sent_ms - 1_000), down):
            client.publish(EVENTS_TOPIC, payload, qos=1)
        wait_until(lambda: listener.counts["status"] == 1, WAIT_S, "the status stored")
        wait_until(lambda: listener.counts["event"] == 2, WAIT_S, "two events stored")
        wait_until(lambda: listener.counts["event_duplicate"] == 1, WAIT_S, "one duplicate")
    finally:
        client.loop_stop()
        client.disconnect()
    report = health(pg_app, at(sent_ms + 1_000))
    assert report["state"] == "online" and report["sources"]["fm"]["state"] == "up"
    assert report["spool"]["depth"] == 3 and report["clock"]["sync_state"] == "synced"
    assert [e["kind"] for e in report["events"]] == ["stream_up", "stream_down"]
    assert report["events"][1]["detail"] == {"error": "404", "reason": "ffmpeg_exit"}
    assert listener.counts["quarantined"] == listener.counts["failed"] == 0


@pytest.mark.usefixtures("devices")
def test_last_will_flips_the_device_offline(pg_app: Flask, broker: Broker, listen) -> None:
    """A device that vanishes without a goodbye is marked offline by its last will, and a
    listener that subscribes later (and gets the retained will) keeps it offline."""
    listener = listen()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pi-01", protocol=mqtt.MQTTv5)
    device.will_set(STATUS_TOPIC, offline("connection lost"), qos=1, retain=True)
    device.connect(HOST, broker.port, keepalive=30)
    device.loop_start()
    device.publish(STATUS_TOPIC, heartbeat(now_ms()), qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: listener.counts["status"] == 1, WAIT_S, "the heartbeat stored")
    assert health(pg_app, at(now_ms()))["state"] == "online"
    device.loop_stop()
    device.socket().close()  # gone without DISCONNECT: the broker publishes the will
    wait_until(lambda: listener.counts["status"] == 2, WAIT_S, "the last will stored")
    report = health(pg_app, at(now_ms()))
    assert (report["state"], report["offline_reason"]) == ("offline", "connection lost")
    assert report["sources"]["fm"]["state"] == "up"  # the last heartbeat is kept
    late = listen("ingest-late")
    wait_until(lambda: late.counts["status"] == 1, WAIT_S, "the retained will replayed")
    assert health(pg_app, at(now_ms()))["state"] == "offline"


@pytest.mark.usefixtures("devices")
def test_retained_heartbeat_of_a_silent_device_is_stale(
    pg_app: Flask, broker: Broker, listen
) -> None:
    """A heartbeat retained ten minutes ago, replayed on subscribe, shows stale, not online."""
    client = publisher(broker.port)
    try:
        sent_ms = now_ms() - 600_000
        client.publish(STATUS_TOPIC, heartbeat(sent_ms), qos=1, retain=True).wait_for_publish(5)
        listener = listen()
        wait_until(lambda: listener.counts["status"] == 1, WAIT_S, "the retained status stored")
        report = health(pg_app, at(sent_ms + 600_000))
        assert report["state"] == "stale" and report["last_seen_age_s"] == 600.0
        client.publish(STATUS_TOPIC, heartbeat(now_ms()), qos=1, retain=True)
        wait_until(lambda: listener.counts["status"] == 2, WAIT_S, "the live heartbeat stored")
        assert health(pg_app, at(now_ms()))["state"] == "online"
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.usefixtures("devices")
def test_hostile_health_payloads_are_quarantined_and_the_listener_goes_on(
    pg_app: Flask, broker: Broker, listen
) -> None:
    """Bad statuses and events are quarantined with their reasons; the next good one is stored."""
    listener = listen()
    client = publisher(broker.port)
    junk = [
        (STATUS_TOPIC, b"\x00\x01 not json"),
        (STATUS_TOPIC, b"{" + b" " * 70_000 + b"}"),
        ("stations/joy-fm/devices/pi-99/status", heartbeat(device="pi-99")),
        ("stations/peace-fm/devices/pi-01/status", heartbeat(station="peace-fm")),
        (EVENTS_TOPIC, b"[]"),
        (EVENTS_TOPIC, event("meltdown")),
        ("stations/joy-fm/devices/pi-02/events", event(device="pi-02")),
    ]
    try:
        for topic, payload in junk:
            client.publish(topic, payload, qos=1)
        client.publish(STATUS_TOPIC, heartbeat(now_ms()), qos=1)
        wait_until(lambda: listener.counts["quarantined"] == 7, WAIT_S, "7 quarantined")
        wait_until(lambda: listener.counts["status"] == 1, WAIT_S, "the good status stored")
    finally:
        client.loop_stop()
        client.disconnect()
    with pg_app.app_context():
        reasons = sorted(db.session.scalars(select(QuarantinedPayload.reason)))
    assert reasons == [
        "not_json",
        "not_object",
        "oversized",
        "unknown_device",
        "unknown_kind",
        "wrong_station",
        "wrong_station",
    ]
    assert listener.counts["failed"] == 0
    assert health(pg_app, at(now_ms()))["state"] == "online"


@pytest.mark.usefixtures("devices")
def test_an_end_event_hands_its_station_on_to_settle_its_plays(
    pg_app: Flask, broker: Broker
) -> None:
    """source_ended and source_stopped pass their station to on_settled (which enqueues its
    update_plays, so plays at the end of a source close at once), other events do not; a
    failing callback (Redis down) loses nothing."""
    settled: list[int] = []

    def on_settled(station_pk: int) -> None:
        settled.append(station_pk)
        raise ConnectionError("Redis is down")

    listener = IngestListener(
        pg_app, f"mqtt://{HOST}:{broker.port}", lambda pk: None, "ingest-e", on_settled=on_settled
    )
    threading.Thread(target=listener.run, daemon=True).start()
    assert listener.subscribed.wait(10), "the listener did not subscribe"
    client = publisher(broker.port)
    try:
        sent_ms = now_ms()
        client.publish(EVENTS_TOPIC, event("stream_up", sent_ms - 3_000), qos=1)
        client.publish(EVENTS_TOPIC, event("source_stopped", sent_ms - 2_000, seq_last=4), qos=1)
        client.publish(
            "stations/peace-fm/devices/pi-02/events",
            event("source_ended", sent_ms - 1_000, device="pi-02", seq_last=9),
            qos=1,
        )
        wait_until(lambda: listener.counts["event"] == 3, WAIT_S, "three events stored")
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
    with pg_app.app_context():
        joy, peace = (stations.find_station(db.session, c).id for c in ("joy-fm", "peace-fm"))
    assert settled == [joy, peace] and listener.counts["failed"] == 0
