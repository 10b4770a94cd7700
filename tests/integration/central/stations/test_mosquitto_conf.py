"""The shipped deploy/mosquitto.conf with the files `zamio device broker-files` writes, on a real
Mosquitto: devices are confined to their own topics, the ingest (a service account) hears all,
changes apply at restart with sessions kept, and a day's backlog is queued rather than dropped."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from central.cli import cli
from central.extensions import db
from central.ingest.listener import IngestListener, shared_topics
from central.ingest.models import IngestedBatch
from central.monitoring.store import STATUS
from tests.integration.central.stations.conftest import Peer, ShippedBroker
from tests.integration.edge_agent.conftest import HOST, wait_until
from tests.synth import chord_wav

pytestmark = pytest.mark.integration

JOY = "stations/joy-fm/devices/pi-01"
PEACE = "stations/peace-fm/devices/pi-02"


def password(output: str) -> str:
    return re.search(r"password (\S+)", output).group(1)


def register(runner: FlaskCliRunner) -> dict[str, str]:
    """Two stations with a device each and the ingest account; user -> password."""
    runner.invoke(cli, ["station", "add", "joy-fm", "--name", "Joy FM"])
    runner.invoke(cli, ["station", "add", "peace-fm", "--name", "Peace FM"])
    passwords = {}
    for code, station in (("pi-01", "joy-fm"), ("pi-02", "peace-fm")):
        result = runner.invoke(cli, ["device", "add", code, "--station", station])
        passwords[code] = password(result.output)
    result = runner.invoke(cli, ["broker", "account", "add", "zamio-ingest"])
    assert result.exit_code == 0, result.output
    passwords["zamio-ingest"] = password(result.output)
    return passwords


def started(broker: ShippedBroker, runner: FlaskCliRunner) -> dict[str, str]:
    passwords = register(runner)
    broker.write_files(runner)
    broker.start()
    return passwords


def test_files_are_readable_by_the_broker_group_only(
    runner: FlaskCliRunner, shipped_broker: ShippedBroker
) -> None:
    """broker-files writes a 0640 file of the broker's group, and the broker reads it."""
    passwords = started(shipped_broker, runner)
    info = shipped_broker.users.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert info.st_gid == shipped_broker.root.stat().st_gid
    assert passwords["zamio-ingest"] not in shipped_broker.users.read_text()
    ingest = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    assert ingest.connect() == "Success", shipped_broker.log_text()
    ingest.close()
    assert list(shipped_broker.root.glob(".zamio.*")) == []  # no temporary file left behind


def test_devices_are_confined_and_ingest_hears_all(
    runner: FlaskCliRunner, shipped_broker: ShippedBroker
) -> None:
    """A device cannot read another's batches (shared or wildcard), publish as another device or
    publish commands; the ingest gets every batch and its commands reach their device."""
    passwords = started(shipped_broker, runner)
    ingest = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"], "zamio-ingest-x")
    assert ingest.connect() == "Success"
    for topic in shared_topics():
        assert ingest.subscribe(topic) == ["Granted QoS 1"]
    thief = Peer(shipped_broker.port, "pi-02", passwords["pi-02"])
    thief.connect()
    stolen = [
        thief.subscribe("$share/zamio-ingest/stations/+/devices/+/batches"),
        thief.subscribe("stations/#"),
        thief.subscribe(f"{JOY}/commands"),
    ]
    assert thief.subscribe(f"{PEACE}/commands") == ["Granted QoS 1"]
    device = Peer(shipped_broker.port, "pi-01", passwords["pi-01"])
    device.connect()
    assert device.subscribe(f"{JOY}/commands") == ["Granted QoS 1"]
    for seq in range(20):
        assert device.publish(f"{JOY}/batches", f"batch {seq}".encode()) == "Success"
    assert thief.publish(f"{JOY}/batches") == "Not authorized"
    assert thief.publish(f"{PEACE}/commands") == "Not authorized"
    assert ingest.publish(f"{JOY}/commands", b'{"command": "resend"}') == "Success"
    wait_until(
        lambda: len(ingest.topics()) == 20,
        5.0,
        f"all 20 batches, not {len(ingest.topics())}; {stolen}",
    )
    wait_until(lambda: f"{JOY}/commands" in device.topics(), 5.0, "the device's command")
    time.sleep(0.5)  # anything misrouted would have arrived by now
    assert set(ingest.topics()) == {f"{JOY}/batches"}
    assert thief.topics() == [], stolen
    assert stolen == [["Not authorized"]] * 3
    for peer in (ingest, thief, device):
        peer.close()


def test_device_with_the_ingest_client_id_cannot_kick_it(
    runner: FlaskCliRunner, shipped_broker: ShippedBroker
) -> None:
    """use_username_as_clientid: a device saying client id zamio-ingest stays pi-02, and the
    ingest stays connected."""
    passwords = started(shipped_broker, runner)
    ingest = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    assert ingest.connect() == "Success"
    impostor = Peer(shipped_broker.port, "pi-02", passwords["pi-02"], client_id="zamio-ingest")
    assert impostor.connect() == "Success"
    time.sleep(0.5)
    assert not ingest.disconnected.is_set()
    assert ingest.client.is_connected()
    impostor.close()
    ingest.close()


def test_changes_apply_at_restart_and_sessions_survive(
    runner: FlaskCliRunner, shipped_broker: ShippedBroker
) -> None:
    """After broker-files and a restart a new device gets in, a rotated device's old password no
    longer does, and what was queued for the away ingest before the restart still reaches it."""
    passwords = started(shipped_broker, runner)
    ingest = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    ingest.connect(session_expiry_s=3600)
    ingest.subscribe(shared_topics()[0])
    ingest.close()
    device = Peer(shipped_broker.port, "pi-01", passwords["pi-01"])
    device.connect()
    assert device.publish(f"{JOY}/batches", b"queued") == "Success"
    device.close()
    added = runner.invoke(cli, ["device", "add", "pi-03", "--station", "joy-fm"])
    rotated = runner.invoke(cli, ["device", "rotate", "pi-02"])
    assert rotated.exit_code == 0, rotated.output
    assert "restart mosquitto" in shipped_broker.write_files(runner)
    shipped_broker.restart()
    old = Peer(shipped_broker.port, "pi-02", passwords["pi-02"])
    assert old.connect() in ("Bad user name or password", "Not authorized")
    for user, output in (("pi-02", rotated.output), ("pi-03", added.output)):
        peer = Peer(shipped_broker.port, user, password(output))
        assert peer.connect() == "Success"
        peer.close()
    back = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    back.connect(session_expiry_s=3600)
    wait_until(lambda: back.messages, 5.0, "the batch queued before the restart")
    assert back.messages == [(f"{JOY}/batches", b"queued")]
    old.close()
    back.close()


def test_a_days_backlog_is_queued_for_the_ingest(
    runner: FlaskCliRunner, shipped_broker: ShippedBroker
) -> None:
    """3,000 4 KB batches published fast while the ingest is away all reach it when it returns
    (Mosquitto's default 1,000-message queue kept 1,182 of them)."""
    passwords = started(shipped_broker, runner)
    ingest = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    ingest.connect(session_expiry_s=3600)
    ingest.subscribe(shared_topics()[0])
    ingest.close()
    device = Peer(shipped_broker.port, "pi-01", passwords["pi-01"])
    device.connect()
    infos = [device.client.publish(f"{JOY}/batches", bytes(4096), qos=1) for _ in range(3000)]
    for info in infos:
        info.wait_for_publish(30)
    device.close()
    back = Peer(shipped_broker.port, "zamio-ingest", passwords["zamio-ingest"])
    back.connect(session_expiry_s=3600)
    wait_until(lambda: len(back.topics()) >= 3000, 60.0, "3,000 batches to reach the ingest")
    assert len(back.topics()) == 3000
    back.close()


def test_a_real_agent_and_ingest_work_through_the_shipped_conf(
    app: Flask, runner: FlaskCliRunner, shipped_broker: ShippedBroker, tmp_path: Path
) -> None:
    """`zamio-agent run` logging in as its device and the ingest listener as zamio-ingest: every
    batch of a recording is acknowledged (the agent exits 0) and stored once, and the device's
    status reaches central."""
    passwords = started(shipped_broker, runner)
    url = f"mqtt://zamio-ingest:{passwords['zamio-ingest']}@{HOST}:{shipped_broker.port}"
    listener = IngestListener(app, url, lambda pk: None, client_id="zamio-ingest-test")
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        assert listener.subscribed.wait(10), shipped_broker.log_text()
        recording = chord_wav(tmp_path / "rec.wav", seed=5, duration_s=30.0)
        (tmp_path / "pi-01.password").write_text(passwords["pi-01"] + "\n")
        config = tmp_path / "agent.toml"
        config.write_text(
            'device_id = "pi-01"\nstation_id = "joy-fm"\n'
            f'[[source]]\nid = "rec"\nkind = "file"\npath = "{recording}"\nreadrate = 0\n'
            f'[uplink]\nurl = "mqtt://{HOST}:{shipped_broker.port}"\nusername = "pi-01"\n'
            f'password_file = "{tmp_path / "pi-01.password"}"\nbacklog_rate_max = 100\n'
            f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        )
        agent = subprocess.run(
            [
                sys.executable,
                "-m",
                "edge_agent",
                "run",
                "--config",
                str(config),
                "--exit-when-done",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert agent.returncode == 0, agent.stderr[-2000:] + shipped_broker.log_text()
        wait_until(lambda: listener.counts["stored"] >= 2, 10.0, "the batches to be stored")
        wait_until(lambda: listener.counts[STATUS] >= 1, 10.0, "the device's status")
        time.sleep(0.5)
        with app.app_context():
            seqs = db.session.scalars(select(IngestedBatch.seq)).all()
        assert sorted(seqs) == list(range(len(seqs))) and listener.counts["quarantined"] == 0
    finally:
        listener.stop()
        thread.join(10)
