"""Status and event payloads: what the agent sends is accepted; everything else is refused with a
stable reason before it reaches the database."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from central.ingest.validate import DeviceInfo, Rejected, check_batch, parse_topic
from central.monitoring.health import (
    EVENT_BYTES_MAX,
    EVENT_KINDS,
    STATUS_BYTES_MAX,
    check_event,
    check_status,
    parse_event,
    parse_status,
)
from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings, SourceSettings
from tests.unit.central.monitoring.payloads import (
    EVENTS_TOPIC,
    NOW_MS,
    STATUS_TOPIC,
    encode,
    event,
    heartbeat,
    heartbeat_body,
    offline,
    source_body,
)

DEVICES = {
    "pi-01": DeviceInfo(1, 1, "pi-01", "joy-fm", True),
    "pi-02": DeviceInfo(2, 2, "pi-02", "peace-fm", True),
    "pi-03": DeviceInfo(3, 1, "pi-03", "joy-fm", False),
}


def reason_of(call) -> str:
    with pytest.raises(Rejected) as caught:
        call()
    assert caught.value.detail
    return caught.value.reason


def test_the_agents_own_heartbeat_is_accepted(tmp_path: Path) -> None:
    """The status a real Agent builds passes central's checks: the two sides agree on its shape."""
    source = SourceSettings("fm", "stream", url="http://127.0.0.1/x", station_id="joy-fm")
    settings = AgentSettings(device_id="pi-01", station_id="joy-fm", sources=(source,))
    settings = dataclasses.replace(
        settings, spool=dataclasses.replace(settings.spool, path=tmp_path / "spool.db")
    )
    agent = Agent(settings)
    try:
        payload = encode(agent.status())
    finally:
        agent.spool.close()
    status, device = check_status(STATUS_TOPIC, payload, DEVICES.get)
    assert (status.state, status.device_id, status.station_id) == ("online", "pi-01", "joy-fm")
    assert status.sent_ms is not None and status.started_ms is not None
    assert status.body["sources"]["fm"]["state"] == "starting" and device.device_pk == 1


def test_the_agents_last_will_and_goodbye_are_accepted() -> None:
    """offline_status (last will and clean shutdown) parses as offline with its reason."""
    for reason in ("connection lost", "shutdown"):
        status = parse_status(offline(reason))
        assert (status.state, status.reason, status.sent_ms) == ("offline", reason, None)


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS))
def test_every_agent_event_kind_is_accepted(kind: str) -> None:
    """A HealthEvent of each kind the agent raises parses with its source, time and detail."""
    parsed, device = check_event(EVENTS_TOPIC, event(kind, share=0.2), DEVICES.get, NOW_MS)
    assert (parsed.kind, parsed.source_id, parsed.at_ms) == (kind, "fm", NOW_MS)
    assert parsed.detail == {"share": 0.2} and device.code == "pi-01"


def test_heartbeat_interval_is_read_when_the_status_says_it() -> None:
    """heartbeat_s is optional: absent gives None, present gives the float."""
    assert parse_status(heartbeat()).heartbeat_s is None
    assert parse_status(heartbeat(heartbeat_s=10)).heartbeat_s == 10.0


def with_source(**changes) -> bytes:
    return encode(heartbeat_body(sources={"fm": source_body(**changes)}))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * (STATUS_BYTES_MAX + 1), "oversized"),
        (b"\xff\xfe{}", "not_json"),
        (b'{"state": "online"', "not_json"),
        (heartbeat().replace(b'"cpu_percent":11.5', b'"cpu_percent":NaN'), "not_json"),
        (b"[" * 60_000 + b"]" * 60_000, "oversized"),
        (b"[" * 30_000 + b"]" * 30_000, "not_json"),  # nesting deeper than the parser's stack
        (b"[1, 2]", "not_object"),
        (b'"online"', "not_object"),
        (encode({"device_id": "pi-01", "station_id": "joy-fm"}), "missing_key"),
        (encode(heartbeat_body(sent_ms=None)), "missing_key"),
        (encode({k: v for k, v in heartbeat_body().items() if k != "sources"}), "missing_key"),
        (encode(heartbeat_body(state="sleeping")), "unknown_state"),
        (encode(heartbeat_body(sent_ms="soon")), "bad_value"),
        (encode(heartbeat_body(sent_ms=True)), "bad_value"),
        (encode(heartbeat_body(sent_ms=-1)), "bad_value"),
        (encode(heartbeat_body(sent_ms=2**70)), "bad_value"),
        (encode(heartbeat_body(heartbeat_s=0)), "bad_value"),
        (encode(heartbeat_body(heartbeat_s=86_400)), "bad_value"),
        (encode(heartbeat_body(sources=["fm"])), "bad_value"),
        (encode(heartbeat_body(sources={"fm": "up"})), "bad_value"),
        (encode(heartbeat_body(sources={"x" * 65: source_body()})), "bad_value"),
        (with_source(state=None), "missing_key"),
        (with_source(level_dbfs="loud"), "bad_value"),
        (with_source(since_ms=1.5), "bad_value"),
        (with_source(dead_air="no"), "bad_value"),
        (encode(heartbeat_body(spool={"depth": "3"})), "bad_value"),
        (encode(heartbeat_body(clock=[])), "bad_value"),
        (encode(heartbeat_body(device_id=7)), "bad_value"),
        (encode({"state": "offline", "device_id": "pi-01", "station_id": 1}), "bad_value"),
        (
            encode({"state": "offline", "device_id": "pi-\x0001", "station_id": "joy-fm"}),
            "bad_value",
        ),
    ],
)
def test_bad_status_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    """Every malformed status is refused with its stable reason, never an exception of its own."""
    assert reason_of(lambda: parse_status(payload)) == reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{" * (EVENT_BYTES_MAX + 1), "oversized"),
        (b"stream_down", "not_json"),
        (b"null", "not_object"),
        (event("exploded"), "unknown_kind"),
        (encode({"kind": "dead_air", "device_id": "pi-01", "source_id": "fm"}), "missing_key"),
        (event(at_ms=-5), "bad_value"),
        (event(source="x" * 65), "bad_value"),
        (event(source=""), "bad_value"),
        (event().replace(b'"detail":{}', b'"detail":[1]'), "bad_value"),
    ],
)
def test_bad_event_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    """Every malformed event is refused with its stable reason."""
    assert reason_of(lambda: parse_event(payload)) == reason


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("stations/joy-fm/devices/pi-01/batches", heartbeat(), "bad_topic"),
        ("stations/joy-fm/devices/pi-01/status/x", heartbeat(), "bad_topic"),
        ("stations/joy-fm/devices/pi-99/status", heartbeat(), "unknown_device"),
        ("stations/joy-fm/devices/pi-03/status", heartbeat(), "revoked_device"),
        ("stations/joy-fm/devices/pi-02/status", heartbeat(), "wrong_station"),
        (STATUS_TOPIC, heartbeat(device="pi-02"), "device_mismatch"),
        (STATUS_TOPIC, heartbeat(station="peace-fm"), "station_mismatch"),
        (STATUS_TOPIC, offline(device="pi-02"), "device_mismatch"),
    ],
)
def test_status_topic_and_device_are_checked_like_batches(topic, payload, reason) -> None:
    """A status must come on its own device's topic, of a known, active device of that station."""
    assert reason_of(lambda: check_status(topic, payload, DEVICES.get)) == reason


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (STATUS_TOPIC, event(), "bad_topic"),
        ("stations/joy-fm/devices/pi-99/events", event(device="pi-99"), "unknown_device"),
        ("stations/joy-fm/devices/pi-02/events", event(device="pi-02"), "wrong_station"),
        (EVENTS_TOPIC, event(device="pi-02"), "device_mismatch"),
        (EVENTS_TOPIC, event(at_ms=NOW_MS + 3_600_000), "future_timestamp"),
    ],
)
def test_event_topic_device_and_time_are_checked(topic, payload, reason) -> None:
    """An event must come on its device's topic, and not from a clock an hour ahead."""
    assert reason_of(lambda: check_event(topic, payload, DEVICES.get, NOW_MS)) == reason


def test_topics_are_parsed_by_kind() -> None:
    """parse_topic takes only its own kind; check_batch still refuses a status topic."""
    assert parse_topic(EVENTS_TOPIC, "events") == ("joy-fm", "pi-01")
    assert reason_of(lambda: parse_topic(EVENTS_TOPIC, "status")) == "bad_topic"
    refused = reason_of(lambda: check_batch(STATUS_TOPIC, b"", DEVICES.get, NOW_MS, 2))
    assert refused == "bad_topic"


def test_a_status_is_json_of_an_object_however_it_is_spaced() -> None:
    """Whitespace and key order do not matter: the agent may change its encoder."""
    body = heartbeat_body()
    assert parse_status(json.dumps(body, indent=2).encode()).body == body
