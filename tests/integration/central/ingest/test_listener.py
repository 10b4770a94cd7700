"""The ingest listener on a real Mosquitto and PostgreSQL: duplicates, out of order and hostile
payloads, and two listeners sharing the subscription."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.ingest.listener import IngestListener
from central.ingest.models import IngestedBatch, QuarantinedPayload
from central.stations import store as stations
from tests.integration.edge_agent.conftest import HOST, Broker, wait_until
from tests.unit.central.ingest.test_ingest_store import batch_bytes

pytestmark = pytest.mark.integration

TOPIC = "stations/joy-fm/devices/pi-01/batches"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(HOST, port)
    client.loop_start()
    return client


def start_listener(app: Flask, port: int, name: str, stored: list[int]) -> IngestListener:
    listener = IngestListener(app, f"mqtt://{HOST}:{port}", stored.append, client_id=name)
    threading.Thread(target=listener.run, daemon=True).start()
    assert listener.subscribed.wait(10), "the listener did not subscribe"
    return listener


def rows(app: Flask, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_listeners_store_each_batch_once_and_quarantine_the_rest(
    pg_app: Flask, tmp_path: Path
) -> None:
    """Two listeners, batches sent twice and out of order, junk in between: each batch once."""
    with pg_app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        db.session.commit()
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    stored: list[int] = []
    listeners = [start_listener(pg_app, broker.port, f"ingest-{n}", stored) for n in range(2)]
    client = publisher(broker.port)
    try:
        start = now_ms() - 3_600_000
        payloads = [batch_bytes(seq, start_ms=start + seq * 10_240) for seq in range(20)]
        for payload in payloads[::-1] + payloads:  # backwards, then again in order
            client.publish(TOPIC, payload, qos=1)
        junk = [
            (TOPIC, b"junk"),
            ("stations/joy-fm/devices/pi-99/batches", payloads[0]),
            (TOPIC, payloads[3][:50]),
        ]
        for topic, payload in junk:
            client.publish(topic, payload, qos=1)
        client.publish(TOPIC, batch_bytes(20, start_ms=start + 20 * 10_240), qos=1)
        wait_until(lambda: rows(pg_app, IngestedBatch) == 21, 20, "21 stored batches")
        wait_until(lambda: rows(pg_app, QuarantinedPayload) == 3, 10, "3 quarantined")
        wait_until(lambda: sum(sum(lst.counts.values()) for lst in listeners) == 44, 10, "all")
        assert sorted(stored) == sorted(set(stored)) and len(stored) == 21
        assert sum(lst.counts["duplicate"] for lst in listeners) == 20
        assert all(lst.counts["stored"] > 0 for lst in listeners)  # the share split the load
        with pg_app.app_context():
            reasons = sorted(db.session.scalars(select(QuarantinedPayload.reason)))
            seqs = sorted(db.session.scalars(select(IngestedBatch.seq)))
        assert reasons == ["bad_magic", "truncated", "unknown_device"]
        assert seqs == list(range(21))
    finally:
        client.loop_stop()
        client.disconnect()
        for listener in listeners:
            listener.stop()
        broker.stop()


def test_a_restarted_listener_gets_what_was_published_while_it_was_down(
    pg_app: Flask, tmp_path: Path
) -> None:
    """Stopped, then started again under its stable client id: the broker hands it the
    batches it queued meanwhile; none is left in an orphaned session of the share group."""
    with pg_app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        db.session.commit()
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    stored: list[int] = []
    client = publisher(broker.port)
    start = now_ms() - 3_600_000
    payloads = [batch_bytes(seq, start_ms=start + seq * 10_240) for seq in range(30)]
    try:
        listener = start_listener(pg_app, broker.port, "ingest-a", stored)
        for payload in payloads[:10]:
            client.publish(TOPIC, payload, qos=1)
        wait_until(lambda: len(stored) == 10, 15, "the first ten batches")
        listener.stop()
        time.sleep(0.5)
        for payload in payloads[10:20]:
            client.publish(TOPIC, payload, qos=1).wait_for_publish(5)
        listener = start_listener(pg_app, broker.port, "ingest-a", stored)
        for payload in payloads[20:]:
            client.publish(TOPIC, payload, qos=1)
        wait_until(lambda: len(stored) == 30, 15, "all thirty batches")
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
        broker.stop()
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IngestedBatch)) == 30
