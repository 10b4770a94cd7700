"""Delivered means stored, and central can ask again: on a real Mosquitto, a PUBACK with "No
matching subscribers" keeps the batch in the spool, and a resend command on the device's commands
topic sends the journal's batches again, answering what is gone with resend_unavailable."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge_agent.spool import Spool
from tests.integration.edge_agent.conftest import (
    HOST,
    Broker,
    Collector,
    agent_toml,
    wait_until,
)
from tests.synth import chords, write_wav

pytestmark = pytest.mark.integration

RATE = 8000
COMMANDS = "stations/test-fm/devices/pi-test/commands"
REQUEST_IDS = [f"{n:032x}" for n in range(1, 10)]


def file_source(tmp_path: Path, seconds: float) -> str:
    """A file source of `seconds` of chords, read at 20x real time."""
    path = write_wav(tmp_path / "rec.wav", chords(5, seconds, sample_rate_hz=RATE), RATE)
    return f'[[source]]\nid = "rec"\nkind = "file"\npath = "{path}"\nreadrate = 20\n'


def pending_batch_seqs(path: Path) -> list[int]:
    """The seqs of the batches waiting in the agent's spool (its journal not counted)."""
    with Spool(path, bytes_max=10**9, age_ms_max=10**12) as spool:
        return sorted(m.seq for m in spool.pending(10_000) if m.seq is not None)


def latest_status(watcher: Collector) -> dict:
    """The newest heartbeat seen, or {} before the first."""
    with watcher.lock:
        return watcher.statuses[-1] if watcher.statuses else {}


def publish_command(port: int, body: dict | bytes) -> None:
    """Publish one command as central's ingest would: QoS 1, not retained."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="central-test", protocol=mqtt.MQTTv5
    )
    client.connect(HOST, port, 30)
    client.loop_start()
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    client.publish(COMMANDS, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def resend(request_id: str, seq_from: int, seq_to: int) -> dict:
    """A resend command of source "rec"."""
    return {
        "command": "resend",
        "request_id": request_id,
        "source_id": "rec",
        "seq_from": seq_from,
        "seq_to": seq_to,
    }


def copies(collector: Collector, seq: int) -> list[bytes]:
    """Every payload of batch `seq` that arrived, in arrival order."""
    with collector.lock:
        return [p for p, b in zip(collector.payloads, collector.batches) if b.seq == seq]


def events_of(collector: Collector, kind: str) -> list[dict]:
    """The events of one kind that arrived."""
    with collector.lock:
        return [e for e in collector.events if e["kind"] == kind]


def ended_seq_last(collector: Collector) -> int:
    """Wait for source_ended and every batch up to its seq_last; return seq_last."""
    wait_until(lambda: events_of(collector, "source_ended"), 30, "source_ended")
    seq_last = events_of(collector, "source_ended")[0]["detail"]["seq_last"]
    wait_until(
        lambda: set(collector.seqs("rec")) == set(range(seq_last + 1)), 20, "every batch once"
    )
    return seq_last


def test_no_matching_subscribers_is_not_delivered(
    tmp_path: Path, broker: Broker, run_agent
) -> None:
    """With nobody subscribed to the batches, every PUBACK says 16 and the spool keeps every
    batch; once a subscriber appears, all of them arrive and none is lost."""
    watcher = Collector(broker.port, client_id="status-watch", topic="stations/+/devices/+/status")
    watcher.start()
    spool = tmp_path / "spool.db"
    agent = run_agent(
        agent_toml(broker.port, spool, file_source(tmp_path, 60.0)), "--exit-when-done"
    )
    wait_until(
        lambda: (
            latest_status(watcher).get("sources", {}).get("rec", {}).get("state") == "ended"
            and latest_status(watcher)["uplink"]["no_subscribers"] >= 8
        ),
        30,
        "the source to end and its batches to be refused for want of subscribers",
    )
    status = latest_status(watcher)
    seq_next = status["sources"]["rec"]["seq_next"]
    assert seq_next >= 6 and status["uplink"]["acked"] == 0
    assert pending_batch_seqs(spool) == list(range(seq_next))  # nothing deleted
    assert status["spool"]["journal_depth"] == 0
    assert agent.process is not None and agent.process.poll() is None  # not done: nothing sent
    collector = Collector(broker.port)
    collector.start()
    try:
        assert agent.wait(60) == 0, agent.text()
        wait_until(lambda: collector.seqs("rec") == list(range(seq_next)), 10, "every batch")
        assert collector.event_kinds().count("source_ended") == 1
    finally:
        collector.stop()
        watcher.stop()
    log = agent.text()
    assert "uplink: broker has no subscriber for our messages" in log
    assert f"uplink: connected to {HOST}:{broker.port} (MQTT 5, session present: no)" in log
    assert pending_batch_seqs(spool) == []


def test_resend_sends_the_same_bytes_again_and_reports_what_is_gone(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """A resend of held seqs brings the identical batch bytes again; the seqs it cannot provide
    come back as one resend_unavailable event; malformed and unknown commands change nothing."""
    spool = tmp_path / "spool.db"
    agent = run_agent(agent_toml(broker.port, spool, file_source(tmp_path, 60.0)))
    seq_last = ended_seq_last(collector)
    wait_until(lambda: pending_batch_seqs(spool) == [], 10, "an empty spool")
    first = {seq: copies(collector, seq)[0] for seq in range(seq_last + 1)}
    publish_command(broker.port, resend(REQUEST_IDS[0], 1, 3))
    wait_until(
        lambda: all(len(copies(collector, seq)) == 2 for seq in (1, 2, 3)), 20, "seqs 1..3 again"
    )
    for seq in (1, 2, 3):
        assert copies(collector, seq) == [first[seq], first[seq]]
    assert [len(copies(collector, seq)) for seq in (0, 4)] == [1, 1]
    publish_command(broker.port, b"{not json")
    publish_command(broker.port, {"command": "reboot"})
    publish_command(broker.port, resend(REQUEST_IDS[1], seq_last - 1, seq_last + 3))
    wait_until(lambda: events_of(collector, "resend_unavailable"), 20, "resend_unavailable")
    (event,) = events_of(collector, "resend_unavailable")
    assert (event["device_id"], event["source_id"]) == ("pi-test", "rec")
    assert event["detail"] == {
        "request_id": REQUEST_IDS[1],
        "seq_ranges": [[seq_last + 1, seq_last + 3]],
    }
    wait_until(
        lambda: all(len(copies(collector, s)) == 2 for s in (seq_last - 1, seq_last)),
        20,
        "the last two batches again",
    )
    assert copies(collector, seq_last) == [first[seq_last]] * 2
    agent.stop()
    log = agent.text()
    assert "command ignored: malformed: not UTF-8 JSON" in log
    assert "command ignored: unknown command 'reboot'" in log
    assert "Traceback" not in log


def test_resend_beyond_the_journal_is_all_unavailable(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """With the journal off nothing delivered is held: the whole range comes back unavailable."""
    spool = tmp_path / "spool.db"
    toml = agent_toml(
        broker.port, spool, file_source(tmp_path, 30.0), spool_keys="journal_bytes_max = 0"
    )
    run_agent(toml)
    seq_last = ended_seq_last(collector)
    wait_until(lambda: pending_batch_seqs(spool) == [], 10, "an empty spool")
    publish_command(broker.port, resend(REQUEST_IDS[2], 0, seq_last + 10))
    wait_until(lambda: events_of(collector, "resend_unavailable"), 20, "resend_unavailable")
    (event,) = events_of(collector, "resend_unavailable")
    assert event["detail"]["seq_ranges"] == [[0, seq_last + 10]]
    assert all(len(copies(collector, seq)) == 1 for seq in range(seq_last + 1))
