"""A real Mosquitto takes the password and ACL files `zamio device broker-files` writes."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskCliRunner

from central.cli import cli
from tests.integration.edge_agent.conftest import HOST, Broker

pytestmark = pytest.mark.integration


def connect(port: int, user: str, password: str) -> tuple[mqtt.Client, str]:
    """Connect and wait for CONNACK; the client (looping) and the reason code's name."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    done = threading.Event()
    outcome: list[str] = []
    client.puback_reasons = {}  # mid -> reason code name

    def on_connect(c, userdata, flags, reason_code, properties):
        outcome.append(str(reason_code))
        done.set()

    client.on_connect = on_connect
    client.on_publish = lambda c, u, mid, rc, p: c.puback_reasons.__setitem__(mid, str(rc))
    client.connect(HOST, port)
    client.loop_start()
    assert done.wait(5), "no CONNACK"
    return client, outcome[0]


def test_device_credentials_and_acl_in_mosquitto(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """The device logs in with its password, may publish only as itself; a revoked one can't."""
    runner.invoke(cli, ["station", "add", "joy-fm", "--name", "Joy FM"])
    runner.invoke(cli, ["station", "add", "peace-fm", "--name", "Peace FM"])
    passwords = {}
    for code, station in (("pi-01", "joy-fm"), ("pi-02", "peace-fm")):
        out = runner.invoke(cli, ["device", "add", code, "--station", station]).output
        passwords[code] = re.search(r"password (\S+)", out).group(1)
    pw, acl = tmp_path / "pw", tmp_path / "acl"
    assert (
        runner.invoke(
            cli, ["device", "broker-files", "--passwords", str(pw), "--acl", str(acl)]
        ).exit_code
        == 0
    )
    (tmp_path / "broker").mkdir()
    broker = Broker(
        tmp_path / "broker", f"allow_anonymous false\npassword_file {pw}\nacl_file {acl}\n"
    )
    broker.start()
    try:
        client, reason = connect(broker.port, "pi-01", passwords["pi-01"])
        assert reason == "Success"
        own = client.publish("stations/joy-fm/devices/pi-01/batches", b"x", qos=1)
        other = client.publish("stations/peace-fm/devices/pi-02/batches", b"x", qos=1)
        own.wait_for_publish(5)
        other.wait_for_publish(5)
        assert client.puback_reasons[own.mid] in ("Success", "No matching subscribers")
        assert client.puback_reasons[other.mid] == "Not authorized"
        client.disconnect()
        client.loop_stop()
        _, wrong = connect(broker.port, "pi-01", passwords["pi-02"])
        assert wrong in ("Bad user name or password", "Not authorized")
        runner.invoke(cli, ["device", "revoke", "pi-02"])
        runner.invoke(cli, ["device", "broker-files", "--passwords", str(pw), "--acl", str(acl)])
        broker.stop()
        broker.start()
        _, revoked = connect(broker.port, "pi-02", passwords["pi-02"])
        assert revoked in ("Bad user name or password", "Not authorized")
    finally:
        broker.stop()
