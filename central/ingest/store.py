"""Store a payload once per (device, source, seq), or quarantine it. The caller commits.

stored       new: a row in ingested_batch (enqueue its matching after the commit)
duplicate    the same key and the same bytes again (QoS 1 redelivery, agent retry): counted
conflict     the same key with other bytes: kept in batch_conflict, the first one stands
quarantined  refused by validate.check_batch: a row in quarantined_payload with the reason
             (or, by the listener, storage_refused: the database refused a checked batch)
"""

from __future__ import annotations

from dataclasses import dataclass

import xxhash
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.ingest.accounting import DEFAULT_POLICY, Policy, account_batch
from central.ingest.models import (
    DETAIL_CHARS_MAX,
    PAYLOAD_HEAD_BYTES,
    TOPIC_CHARS_MAX,
    BatchConflict,
    IngestedBatch,
    QuarantinedPayload,
)
from central.ingest.validate import DeviceInfo, Rejected, check_batch
from central.stations.models import Device
from edge_agent.fingerprint import FINGERPRINT_VERSION

STORED, DUPLICATE, CONFLICT, QUARANTINED = "stored", "duplicate", "conflict", "quarantined"


@dataclass(frozen=True)
class Outcome:
    """What ingest did with one payload."""

    kind: str
    batch_pk: int | None = None  # the ingested_batch row, for stored, duplicate and conflict
    reason: str | None = None  # quarantined: the reason tag
    settles_station: int | None = None  # an end event: this station's plays may close now


def device_lookup(session: Session):
    """A lookup from device code to DeviceInfo, reading the device table."""

    def lookup(code: str) -> DeviceInfo | None:
        device = session.scalar(select(Device).where(Device.code == code))
        if device is None:
            return None
        return DeviceInfo(
            device.id, device.station_id, device.code, device.station.code, device.active
        )

    return lookup


def ingest_payload(
    session: Session, topic: str, payload: bytes, now_ms: int, policy: Policy = DEFAULT_POLICY
) -> Outcome:
    """Validate and store one payload from the broker; a new batch also moves its source's
    seq accounting (central/ingest/accounting.py) in the same transaction."""
    try:
        batch, device = check_batch(
            topic, payload, device_lookup(session), now_ms, FINGERPRINT_VERSION
        )
    except Rejected as rejected:
        quarantine(session, topic, payload, rejected.reason, rejected.detail)
        return Outcome(QUARANTINED, reason=rejected.reason)
    row = IngestedBatch(
        device_id=device.device_pk,
        station_id=device.station_pk,
        source_id=batch.source_id,
        seq=batch.seq,
        batch_id=batch.batch_id,
        fingerprint_version=batch.fingerprint_version,
        window_start_ms=batch.window_start_ms,
        window_frames=batch.window_frames,
        hash_count=len(batch),
        payload=bytes(payload),
        payload_hash=xxhash.xxh64_hexdigest(payload),
        duplicate_count=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return _seen_before(session, row, payload)
    account_batch(session, device.device_pk, batch.source_id, batch.seq, now_ms, policy)
    return Outcome(STORED, row.id)


def _seen_before(session: Session, row: IngestedBatch, payload: bytes) -> Outcome:
    """`row`'s key exists: a duplicate if the bytes are the same, else a conflict."""
    first = session.scalar(
        select(IngestedBatch).where(
            IngestedBatch.device_id == row.device_id,
            IngestedBatch.source_id == row.source_id,
            IngestedBatch.seq == row.seq,
        )
    )
    assert first is not None
    if first.payload_hash == row.payload_hash and first.payload == payload:
        first.duplicate_count += 1
        return Outcome(DUPLICATE, first.id)
    session.add(
        BatchConflict(
            ingested_batch_id=first.id, payload_hash=row.payload_hash, payload=bytes(payload)
        )
    )
    return Outcome(CONFLICT, first.id)


def quarantine(session: Session, topic: str, payload: bytes, reason: str, detail: str) -> None:
    """Keep a refused payload's reason and first bytes where an operator can see them."""
    session.add(
        QuarantinedPayload(
            topic=topic[:TOPIC_CHARS_MAX],
            reason=reason,
            detail=detail[:DETAIL_CHARS_MAX],
            payload_bytes=len(payload),
            payload_head=bytes(payload[:PAYLOAD_HEAD_BYTES]),
        )
    )
