"""What the ingest's integration tests share: a private Mosquitto, a registered device, a
listener in a thread, a PostgreSQL link the test can cut, and batch payloads."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.ingest.listener import IngestListener
from central.stations import store as stations
from edge_agent.batch import HashBatch, encode_batch, make_batch_id
from edge_agent.fingerprint import FINGERPRINT_VERSION
from tests.integration.conftest import POSTGRES_PORT
from tests.integration.edge_agent.conftest import HOST, Broker

TOPIC = "stations/joy-fm/devices/pi-01/batches"
EVENTS = "stations/joy-fm/devices/pi-01/events"
COMMANDS = "stations/joy-fm/devices/pi-01/commands"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def wire_batch(seq: int, source: str = "fm") -> bytes:
    """A wire-valid batch of pi-01 an hour ago; seq and source may be past central's columns."""
    return encode_batch(
        HashBatch(
            batch_id=make_batch_id("pi-01", source, seq),
            device_id="pi-01",
            source_id=source,
            seq=seq,
            fingerprint_version=FINGERPRINT_VERSION,
            window_start_ms=now_ms() - 3_600_000 + (seq % 1000) * 10_240,
            window_frames=320,
            clock_sync_state=2,
            clock_offset_ms=0,
            first_frame=320 * (seq % 1000),
            hashes=np.array([1, 2, 3], np.uint32),
            anchor_frames=np.arange(3, dtype=np.uint32) + 320 * (seq % 1000),
        )
    )


def count(app: Flask, model, *where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        return db.session.scalar(query.where(*where) if where else query)


def publisher(
    port: int, protocol: int = mqtt.MQTTv5, login: tuple[str, str] | None = None
) -> mqtt.Client:
    """A connected client, its loop running; with `login` (user, password) that user, whose
    client id is its user name (as brokers that check logins want)."""
    client_id = login[0] if login else ""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if login:
        client.username_pw_set(*login)
    client.reconnect_delay_set(0.1, 0.5)
    client.connect(HOST, port)
    client.loop_start()
    return client


def start_listener(listener: IngestListener, subscribe: bool = True) -> threading.Thread:
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    if subscribe:
        assert listener.subscribed.wait(10), "the listener did not subscribe"
    return thread


@pytest.fixture
def device(pg_app: Flask) -> str:
    """Station joy-fm with device pi-01; its broker password."""
    with pg_app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        new = stations.add_device(db.session, "pi-01", "joy-fm")
        db.session.commit()
    return new.password


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private Mosquitto with persistence, started; restartable on its port."""
    (tmp_path / "broker").mkdir()
    server = Broker(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


class PostgresLink:
    """A TCP forwarder to PostgreSQL: cut() drops every connection and refuses new ones, as a
    database that went away does; restore() lets them through again."""

    def __init__(self) -> None:
        self.server = socket.create_server((HOST, 0))
        self.port = self.server.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection((HOST, POSTGRES_PORT))
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.server.close()


@pytest.fixture
def postgres_link() -> Iterator[PostgresLink]:
    link = PostgresLink()
    yield link
    link.close()
