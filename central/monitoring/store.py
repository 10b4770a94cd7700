"""Store a device's status (one row, replaced when newer) and its health events (appended once),
or quarantine the payload. The caller commits.

status            a status stored: the device's row created or replaced
status_ignored    a status no newer than the stored one (a retained copy, a late redelivery)
event             a new health event appended
event_duplicate   the same (device, source, kind, at_ms) again: the agent's retry, not stored
quarantined       refused by health.check_status or check_event: a quarantined_payload row
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.ingest import accounting, gaps
from central.ingest.store import QUARANTINED, Outcome, device_lookup, quarantine
from central.ingest.validate import BIGINT_MAX, Rejected
from central.monitoring.health import (
    OFFLINE,
    ONLINE,
    STOP_KINDS,
    Event,
    Status,
    check_event,
    check_status,
)
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.monitoring.state import Seen, seen_ms, supersedes
from central.times import at_ms, ms_of

logger = logging.getLogger(__name__)

STATUS, STATUS_IGNORED = "status", "status_ignored"
EVENT, EVENT_DUPLICATE = "event", "event_duplicate"


def record_status(
    session: Session, topic: str, payload: bytes, now_ms: int, retained: bool = False
) -> Outcome:
    """Validate a status message and store it unless the stored one is newer."""
    try:
        status, device = check_status(topic, payload, device_lookup(session))
    except Rejected as rejected:
        quarantine(session, topic, payload, rejected.reason, rejected.detail)
        return Outcome(QUARANTINED, reason=rejected.reason)
    query = select(DeviceStatus).where(DeviceStatus.device_id == device.device_pk)
    query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)  # locked: of two listeners, one waits for the other
    if not supersedes(status, seen(row), now_ms):
        return Outcome(STATUS_IGNORED)
    if row is not None:
        if row.state != status.state:
            logger.info("device %s: %s, was %s", device.code, status.state, row.state)
        _apply(row, status, payload, now_ms, retained)
        return Outcome(STATUS)
    try:
        with session.begin_nested():
            row = DeviceStatus(device_id=device.device_pk)
            _apply(row, status, payload, now_ms, retained)
            session.add(row)
    except IntegrityError:  # another listener stored the device's first status meanwhile
        return record_status(session, topic, payload, now_ms, retained)
    return Outcome(STATUS)


def _apply(row: DeviceStatus, status: Status, payload: bytes, now_ms: int, retained: bool) -> None:
    """Write a status that supersedes the stored one into the device's row."""
    row.received_at = at_ms(now_ms)
    if status.state == OFFLINE:
        _offline(row, status, now_ms)
    else:
        _heartbeat(row, status, payload, seen_ms(status, now_ms, retained))


def _offline(row: DeviceStatus, status: Status, now_ms: int) -> None:
    """The device said goodbye (or the broker said it for it); keep its last heartbeat."""
    if row.state != OFFLINE:
        row.offline_at = at_ms(now_ms)
    row.state = OFFLINE
    row.offline_reason = status.reason


def _heartbeat(row: DeviceStatus, status: Status, payload: bytes, last_seen_ms: int) -> None:
    """The device is online: its heartbeat replaces the stored one."""
    row.state = ONLINE
    row.offline_reason = row.offline_at = None
    row.heartbeat_json = bytes(payload).decode("utf-8")
    row.heartbeat_s = status.heartbeat_s
    row.sent_ms = status.sent_ms
    row.started_ms = status.started_ms
    row.last_seen_at = at_ms(last_seen_ms)


def record_event(
    session: Session,
    topic: str,
    payload: bytes,
    now_ms: int,
    policy: accounting.Policy = accounting.DEFAULT_POLICY,
) -> Outcome:
    """Validate a health event and append it, once per (device, source, kind, at_ms); a new
    one that speaks of seqs (seq_last, resend_unavailable) also updates the seq accounting."""
    try:
        event, device = check_event(topic, payload, device_lookup(session), now_ms)
    except Rejected as rejected:
        quarantine(session, topic, payload, rejected.reason, rejected.detail)
        return Outcome(QUARANTINED, reason=rejected.reason)
    row = DeviceEvent(
        device_id=device.device_pk,
        station_id=device.station_pk,
        kind=event.kind,
        source_id=event.source_id,
        at_ms=event.at_ms,
        detail_json=json.dumps(event.detail, sort_keys=True),
        received_at=at_ms(now_ms),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return Outcome(EVENT_DUPLICATE)
    _account(session, device.device_pk, event, now_ms, policy)
    ends = event.kind in STOP_KINDS
    return Outcome(EVENT, settles_station=device.station_pk if ends else None)


def _account(
    session: Session, device_pk: int, event: Event, now_ms: int, policy: accounting.Policy
) -> None:
    """What a stored event says of the source's seqs: its last one, or seqs it cannot resend."""
    if event.kind == "resend_unavailable":
        ranges = gaps.unavailable_ranges(event.detail)
        accounting.mark_unavailable(session, device_pk, event.source_id, ranges, now_ms)
        return
    seq_last = event.detail.get("seq_last")
    if event.kind in STOP_KINDS and type(seq_last) is int and 0 <= seq_last <= BIGINT_MAX:
        accounting.account_seq_last(session, device_pk, event.source_id, seq_last, now_ms, policy)


def seen(row: DeviceStatus | None) -> Seen | None:
    """The stored status as the pure judges take it."""
    if row is None:
        return None
    return Seen(
        state=row.state,
        last_seen_ms=None if row.last_seen_at is None else ms_of(row.last_seen_at),
        sent_ms=row.sent_ms,
        started_ms=row.started_ms,
        heartbeat_s=row.heartbeat_s,
        heartbeat=json.loads(row.heartbeat_json) if row.heartbeat_json else None,
        offline_reason=row.offline_reason,
        offline_since_ms=None if row.offline_at is None else ms_of(row.offline_at),
    )
