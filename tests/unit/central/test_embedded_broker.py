"""The embedded broker lets in only active devices and service accounts by their stored hashes,
confines each to its own topics, and says plainly when it is exposed or cannot listen."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import pytest
from flask import Flask

from central.embedded.broker import EmbeddedBroker, database_lookup
from central.errors import ConfigError
from central.extensions import db
from central.stations import store

JOY = "stations/joy-fm/devices/pi-01"
PEACE = "stations/peace-fm/devices/pi-02"
WAIT_S = 5.0


class Peer:
    """An MQTT 3.1.1 client of the embedded broker, with what it got."""

    def __init__(self, port: int, user: str | None, password: str | None, client_id: str):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.connack: list[str] = []
        self.subacks: dict[int, list[str]] = {}
        self.topics: list[str] = []
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(str(rc))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.__setitem__(
            mid, [str(code) for code in codes]
        )
        self.client.on_message = lambda c, u, m: self.topics.append(m.topic)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait(lambda: self.connack, "a CONNACK")

    def subscribe(self, topic: str) -> list[str]:
        _, mid = self.client.subscribe(topic, qos=1)
        wait(lambda: mid in self.subacks, "a SUBACK")
        return self.subacks[mid]

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b"x", qos=1).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT_S} s")
        time.sleep(0.02)


@pytest.fixture
def registered(app: Flask) -> dict[str, str]:
    """Two stations, a device each, a revoked device and a service account; user -> password."""
    with app.app_context():
        store.add_station(db.session, "joy-fm", "Joy FM")
        store.add_station(db.session, "peace-fm", "Peace FM")
        passwords = {
            code: store.add_device(db.session, code, station).password
            for code, station in (("pi-01", "joy-fm"), ("pi-02", "peace-fm"), ("pi-03", "joy-fm"))
        }
        store.revoke_device(db.session, "pi-03")
        passwords["zamio-ingest"] = store.add_account(db.session, "zamio-ingest").password
        db.session.commit()
    return passwords


@pytest.fixture
def broker(app: Flask) -> Iterator[EmbeddedBroker]:
    """The embedded broker on a free loopback port, reading `app`'s database."""
    server = EmbeddedBroker("127.0.0.1", 0, database_lookup(app)).start()
    yield server
    server.stop()


def test_only_registered_passwords_get_in(broker: EmbeddedBroker, registered) -> None:
    """Right password in; a wrong one, a revoked device, an unknown user, no login, and a device
    using the ingest's client id are all refused."""
    port = broker.port
    good = Peer(port, "pi-01", registered["pi-01"], "zamio-agent-pi-01")
    assert good.connack == ["Success"]
    refused = [
        Peer(port, "pi-01", registered["pi-02"], "pi-01"),
        Peer(port, "pi-03", registered["pi-03"], "pi-03"),
        Peer(port, "ghost", "x", "ghost"),
        Peer(port, None, None, "anon"),
        Peer(port, "pi-02", registered["pi-02"], "zamio-ingest-host"),
    ]
    assert all(peer.connack[0] != "Success" for peer in refused), [p.connack for p in refused]
    service = Peer(port, "zamio-ingest", registered["zamio-ingest"], "zamio-ingest-host")
    assert service.connack == ["Success"]
    for peer in (good, service, *refused):
        peer.close()


def test_devices_are_confined_and_services_hear_all(broker: EmbeddedBroker, registered) -> None:
    """A device subscribes only to its own commands and config and publishes only its own
    batches; the in-process service login (url) hears every device and sends commands."""
    parts = urlsplit(broker.url)
    assert broker.agent_url == f"mqtt://127.0.0.1:{broker.port}"
    ingest = Peer(broker.port, parts.username, unquote(parts.password), "zamio-ingest-local")
    assert ingest.subscribe("stations/+/devices/+/batches") == ["Granted QoS 1"]
    thief = Peer(broker.port, "pi-02", registered["pi-02"], "pi-02")
    denied = [thief.subscribe(t) for t in ("stations/#", f"{JOY}/commands", "#")]
    assert denied == [["Unspecified error"]] * 3, denied
    assert thief.subscribe(f"{PEACE}/commands") == ["Granted QoS 1"]
    device = Peer(broker.port, "pi-01", registered["pi-01"], "pi-01")
    assert device.subscribe(f"{JOY}/commands") == ["Granted QoS 1"]
    device.publish(f"{JOY}/batches")
    thief.publish(f"{JOY}/batches")  # speaking for another device: dropped
    thief.publish(f"{PEACE}/commands")  # a device never sends commands
    ingest.client.publish(f"{JOY}/commands", b"{}", qos=1).wait_for_publish(WAIT_S)
    wait(lambda: device.topics, "the command")
    time.sleep(0.3)
    assert ingest.topics == [f"{JOY}/batches"]
    assert device.topics == [f"{JOY}/commands"] and thief.topics == []
    for peer in (ingest, thief, device):
        peer.close()


def test_wide_bind_warns(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """Bound beyond loopback without TLS, the broker says so at WARNING when it starts."""
    with caplog.at_level(logging.WARNING, logger="central.embedded.broker"):
        server = EmbeddedBroker("0.0.0.0", 0, database_lookup(app)).start()
        server.stop()
    assert "WITHOUT TLS" in caplog.text
    with caplog.at_level(logging.WARNING, logger="central.embedded.broker"):
        caplog.clear()
        EmbeddedBroker("127.0.0.1", 0, database_lookup(app)).start().stop()
    assert "WITHOUT TLS" not in caplog.text


def test_port_taken_is_one_clear_line(app: Flask) -> None:
    """A port already in use gives one line naming ZAMIO_MQTT_BIND and the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as raised:
            EmbeddedBroker("127.0.0.1", port, database_lookup(app)).start()
    (problem,) = raised.value.problems
    assert f"ZAMIO_MQTT_BIND=127.0.0.1:{port}" in problem and "\n" not in problem
    assert "in use" in problem, problem


def test_zamio_ingest_on_a_taken_port_says_one_line(tmp_path: Path) -> None:
    """`zamio ingest` with ZAMIO_MQTT_BIND on a busy port exits 1 with one Error line, no
    traceback (an installed Mosquitto on 1883 is the usual cause)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env.update(
            ZAMIO_DATABASE_URL=f"sqlite:///{tmp_path / 'zamio.db'}",
            ZAMIO_MQTT_BIND=f"127.0.0.1:{port}",
        )
        result = subprocess.run(
            [sys.executable, "-m", "central", "ingest"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(f"Error: ZAMIO_MQTT_BIND=127.0.0.1:{port}")
