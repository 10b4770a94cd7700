"""Storing health (SQLite): one status row per device, replaced only by a newer status; events
once each; bad payloads quarantined, never raised."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.ingest.models import QuarantinedPayload
from central.ingest.store import QUARANTINED
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.monitoring.store import (
    EVENT,
    EVENT_DUPLICATE,
    STATUS,
    STATUS_IGNORED,
    record_event,
    record_status,
)
from central.stations import store as stations
from central.times import ms_of as ms
from tests.unit.central.monitoring.payloads import (
    EVENTS_TOPIC,
    NOW_MS,
    STATUS_TOPIC,
    event,
    heartbeat,
    offline,
)


@pytest.fixture
def ctx(app: Flask):
    """A session with joy-fm (pi-01) and peace-fm (pi-02)."""
    with app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_station(db.session, "peace-fm", "Peace FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-02", "peace-fm")
        db.session.commit()
        yield db.session


def status_row(session) -> DeviceStatus:
    (row,) = session.scalars(select(DeviceStatus)).all()
    return row


def test_heartbeat_stored_then_replaced_only_by_a_newer_one(ctx) -> None:
    """The latest heartbeat is kept as sent; an older or repeated one changes nothing."""
    assert record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS).kind == STATUS
    assert record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS + 5).kind == STATUS_IGNORED
    old = record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS - 60_000), NOW_MS + 9)
    assert old.kind == STATUS_IGNORED
    ctx.commit()
    row = status_row(ctx)
    assert (row.state, row.sent_ms, ms(row.last_seen_at), ms(row.received_at)) == (
        "online",
        NOW_MS,
        NOW_MS,
        NOW_MS,
    )
    assert json.loads(row.heartbeat_json)["spool"]["depth"] == 3
    assert record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS + 60_000), NOW_MS + 60_050).kind
    ctx.commit()
    assert ms(status_row(ctx).last_seen_at) == NOW_MS + 60_050


def test_offline_keeps_the_heartbeat_and_a_reconnect_brings_it_back(ctx) -> None:
    """The last will flips the device offline without losing its last heartbeat; the agent's
    republished status after reconnecting flips it back online."""
    record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS, heartbeat_s=30), NOW_MS)
    assert record_status(ctx, STATUS_TOPIC, offline(), NOW_MS + 1_000).kind == STATUS
    assert record_status(ctx, STATUS_TOPIC, offline(), NOW_MS + 2_000).kind == STATUS  # replay
    ctx.commit()
    row = status_row(ctx)
    assert (row.state, row.offline_reason, ms(row.offline_at)) == (
        "offline",
        "connection lost",
        NOW_MS + 1_000,
    )
    assert row.heartbeat_s == 30.0 and json.loads(row.heartbeat_json)["sent_ms"] == NOW_MS
    assert record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS + 9_000).kind == STATUS
    ctx.commit()
    row = status_row(ctx)
    assert (row.state, row.offline_reason, row.offline_at) == ("online", None, None)
    assert ms(row.last_seen_at) == NOW_MS + 9_000


def test_offline_received_before_a_later_heartbeat_is_ignored(ctx) -> None:
    """Two listeners storing out of order: a last will older than the stored heartbeat loses."""
    record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS), NOW_MS)
    assert record_status(ctx, STATUS_TOPIC, offline(), NOW_MS - 1).kind == STATUS_IGNORED
    ctx.commit()
    assert status_row(ctx).state == "online"


def test_retained_heartbeat_is_seen_when_it_was_sent(ctx) -> None:
    """A retained replay of an hour-old heartbeat stores last_seen an hour ago, not now."""
    record_status(ctx, STATUS_TOPIC, heartbeat(NOW_MS - 3_600_000), NOW_MS, retained=True)
    ctx.commit()
    assert ms(status_row(ctx).last_seen_at) == NOW_MS - 3_600_000


def test_events_are_appended_once_each(ctx) -> None:
    """Each event is stored with its station; the agent's retry of the same event is not."""
    first = record_event(ctx, EVENTS_TOPIC, event("stream_down", reason="ffmpeg_exit"), NOW_MS)
    again = record_event(ctx, EVENTS_TOPIC, event("stream_down", reason="ffmpeg_exit"), NOW_MS)
    up = record_event(ctx, EVENTS_TOPIC, event("stream_up", NOW_MS + 5_000), NOW_MS + 5_000)
    ctx.commit()
    assert (first.kind, again.kind, up.kind) == (EVENT, EVENT_DUPLICATE, EVENT)
    rows = ctx.scalars(select(DeviceEvent).order_by(DeviceEvent.at_ms)).all()
    assert [(r.kind, r.source_id, r.at_ms) for r in rows] == [
        ("stream_down", "fm", NOW_MS),
        ("stream_up", "fm", NOW_MS + 5_000),
    ]
    assert json.loads(rows[0].detail_json) == {"reason": "ffmpeg_exit"}
    assert rows[0].station_id == rows[0].device_id == 1


@pytest.mark.parametrize(
    ("record", "topic", "payload", "reason"),
    [
        (record_status, STATUS_TOPIC, b"not json", "not_json"),
        (record_status, STATUS_TOPIC, b" " * 70_000, "oversized"),
        (record_status, "stations/joy-fm/devices/pi-99/status", heartbeat(), "unknown_device"),
        (record_status, "stations/joy-fm/devices/pi-02/status", heartbeat(), "wrong_station"),
        (record_event, EVENTS_TOPIC, b"{}", "missing_key"),
        (record_event, "stations/peace-fm/devices/pi-01/events", event(), "wrong_station"),
        (record_event, EVENTS_TOPIC, event(at_ms=NOW_MS + 86_400_000), "future_timestamp"),
    ],
)
def test_bad_payloads_are_quarantined(ctx, record, topic, payload, reason) -> None:
    """A refused status or event becomes a quarantine row with its reason, and nothing else."""
    outcome = record(ctx, topic, payload, NOW_MS)
    ctx.commit()
    assert (outcome.kind, outcome.reason) == (QUARANTINED, reason)
    (row,) = ctx.scalars(select(QuarantinedPayload)).all()
    assert (row.reason, row.topic, row.payload_bytes) == (reason, topic, len(payload))
    for model in (DeviceStatus, DeviceEvent):
        assert ctx.scalar(select(func.count()).select_from(model)) == 0
