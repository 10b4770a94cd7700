"""End-to-end seq accounting, the test playing the device: the listener finds a gap, asks for
it on the device's commands topic, and the answer (the batches, or resend_unavailable) makes
it recovered or lost, shown by `zamio ingest gaps` and `zamio status`; on Mosquitto (MQTT 5,
shared subscription) and on the embedded broker (MQTT 3.1.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.embedded.broker import EmbeddedBroker, database_lookup
from central.ingest.accounting import Policy
from central.ingest.listener import IngestListener
from central.ingest.models import IngestedBatch, SeqGap
from tests.integration.central.ingest.conftest import (
    COMMANDS,
    EVENTS,
    TOPIC,
    count,
    now_ms,
    publisher,
    start_listener,
    wire_batch,
)
from tests.integration.edge_agent.conftest import HOST, Broker, wait_until

pytestmark = pytest.mark.integration

FAST = Policy(grace_s=0.5, interval_s=1.0, tries_max=5)


@pytest.fixture(params=["5", "3.1.1"])
def transport(request, tmp_path: Path, pg_app: Flask) -> Iterator[tuple[int, str, str]]:
    """(port, protocol, the listener's URL) of a private broker: Mosquitto for MQTT 5, the
    embedded one for 3.1.1 (which checks logins against the database, as Mosquitto would)."""
    if request.param == "5":
        (tmp_path / "broker").mkdir()
        broker = Broker(tmp_path / "broker")
        broker.start()
        yield broker.port, "5", f"mqtt://{HOST}:{broker.port}"
        broker.stop()
    else:
        embedded = EmbeddedBroker(HOST, 0, lookup=database_lookup(pg_app)).start()
        yield embedded.port, "3.1.1", embedded.url
        embedded.stop()


class Device:
    """The test as pi-01: answers resend commands with the batches, or, for seqs it is told it
    no longer has, with one resend_unavailable event."""

    def __init__(self, client: mqtt.Client, unavailable_from: int) -> None:
        self.client = client
        self.unavailable_from = unavailable_from
        self.commands: list[dict] = []
        self.lock = threading.Lock()
        client.on_message = self._on_command
        client.subscribe(COMMANDS, qos=1)

    def _on_command(self, client, userdata, message) -> None:
        command = json.loads(message.payload)
        with self.lock:
            self.commands.append(command)
        seqs = range(command["seq_from"], command["seq_to"] + 1)
        if command["seq_from"] < self.unavailable_from:
            for seq in seqs:
                client.publish(TOPIC, wire_batch(seq, command["source_id"]), qos=1)
            return
        detail = {"request_id": command["request_id"], "seq_ranges": [[seqs[0], seqs[-1]]]}
        event = {"kind": "resend_unavailable", "device_id": "pi-01", "source_id": "fm"}
        event.update(at_ms=now_ms(), detail=detail)
        client.publish(EVENTS, json.dumps(event), qos=1)


def test_a_gap_is_requested_and_recovered_another_answered_unavailable_is_lost(
    pg_app: Flask, pg_runner: FlaskCliRunner, device, transport
) -> None:
    """0..9 without 3..5: 3..5 asked for and sent again, recovered; 12..13 answered
    resend_unavailable: lost, counted in `zamio ingest gaps` and `zamio status`."""
    port, protocol, url = transport
    stored: list[int] = []
    listener = IngestListener(
        pg_app,
        url,
        stored.append,
        "zamio-ingest-gaps",
        protocol=protocol,
        policy=FAST,
        resend_poll_s=0.2,
    )
    start_listener(listener)
    client = publisher(port, mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311, ("pi-01", device))
    pi = Device(client, unavailable_from=12)
    try:
        for seq in [0, 1, 2, 6, 7, 8, 9, 10, 11, 14]:
            client.publish(TOPIC, wire_batch(seq), qos=1)
        wait_until(lambda: count(pg_app, IngestedBatch) == 13, 20, "0..11 and 14 stored")
        wait_until(lambda: count(pg_app, SeqGap, SeqGap.state == "lost") == 1, 20, "one lost")
        assert count(pg_app, SeqGap, SeqGap.state.in_(("missing", "requested"))) == 0
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
    with pi.lock:
        asked = sorted((c["seq_from"], c["seq_to"]) for c in pi.commands)
    assert asked[:2] == [(3, 5), (12, 13)] and all(c["command"] == "resend" for c in pi.commands)
    result = pg_runner.invoke(cli, ["ingest", "gaps", "--json", "--state", "lost"])
    assert result.exit_code == 0, result.output
    (lost,) = json.loads(result.output)
    assert (lost["device"], lost["seq_from"], lost["seq_to"]) == ("pi-01", 12, 13)
    assert lost["lost_reason"] == "unavailable"
    result = pg_runner.invoke(cli, ["ingest", "gaps", "--state", "recovered", "--json"])
    (recovered,) = json.loads(result.output)
    assert (recovered["recovered_count"], recovered["request_count"]) == (3, 1)
    status = pg_runner.invoke(cli, ["status", "--station", "joy-fm"])
    assert "seqs: 0 missing (0 gaps), 2 lost (1 gaps), 3 recovered" in status.output
