"""Ingest stores each (device, source, seq) once, counts duplicates, keeps conflicts, and
quarantines every kind of bad payload with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.ingest.models import BatchConflict, IngestedBatch, QuarantinedPayload
from central.ingest.store import CONFLICT, DUPLICATE, QUARANTINED, STORED, ingest_payload
from central.stations import store as stations
from edge_agent.batch import HashBatch, encode_batch, make_batch_id
from edge_agent.fingerprint import FINGERPRINT_VERSION

NOW_MS = 1_800_000_000_000
TOPIC = "stations/joy-fm/devices/pi-01/batches"


def batch_bytes(
    seq: int = 0,
    device: str = "pi-01",
    version: int = FINGERPRINT_VERSION,
    start_ms: int = NOW_MS - 10_240,
    hashes=(1, 2, 3),
) -> bytes:
    return encode_batch(
        HashBatch(
            batch_id=make_batch_id(device, "fm", seq),
            device_id=device,
            source_id="fm",
            seq=seq,
            fingerprint_version=version,
            window_start_ms=start_ms,
            window_frames=320,
            clock_sync_state=2,
            clock_offset_ms=0,
            first_frame=320 * seq,
            hashes=np.array(hashes, np.uint32),
            anchor_frames=np.arange(len(hashes), dtype=np.uint32) + 320 * seq,
        )
    )


@pytest.fixture
def ctx(app: Flask):
    with app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_station(db.session, "peace-fm", "Peace FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-02", "peace-fm")
        stations.add_device(db.session, "pi-03", "joy-fm")
        stations.revoke_device(db.session, "pi-03")
        db.session.commit()
        yield db.session


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_stored_once_duplicates_counted_conflicts_kept(ctx) -> None:
    """The same bytes twice: one row, a duplicate counted; other bytes, same key: a conflict."""
    first = ingest_payload(ctx, TOPIC, batch_bytes(0), NOW_MS)
    again = ingest_payload(ctx, TOPIC, batch_bytes(0), NOW_MS)
    other = ingest_payload(ctx, TOPIC, batch_bytes(0, hashes=(7, 8)), NOW_MS)
    ctx.commit()
    assert (first.kind, again.kind, other.kind) == (STORED, DUPLICATE, CONFLICT)
    assert first.batch_pk == again.batch_pk == other.batch_pk
    row = ctx.get(IngestedBatch, first.batch_pk)
    assert (row.seq, row.hash_count, row.duplicate_count, row.source_id) == (0, 3, 1, "fm")
    assert count(ctx, IngestedBatch) == 1 and count(ctx, BatchConflict) == 1
    assert ingest_payload(ctx, TOPIC, batch_bytes(1), NOW_MS).kind == STORED


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("stations/joy-fm/devices/pi-01/status", batch_bytes(), "bad_topic"),
        (TOPIC, batch_bytes()[:40], "truncated"),
        (TOPIC, b"GIF89a" + bytes(100), "bad_magic"),
        (TOPIC, bytes(200_000), "oversized"),
        (TOPIC, batch_bytes()[:-1] + b"\x00", "checksum_mismatch"),
        (TOPIC, batch_bytes(version=FINGERPRINT_VERSION + 1), "fingerprint_version"),
        ("stations/joy-fm/devices/pi-99/batches", batch_bytes(device="pi-99"), "unknown_device"),
        ("stations/joy-fm/devices/pi-03/batches", batch_bytes(device="pi-03"), "revoked_device"),
        ("stations/joy-fm/devices/pi-02/batches", batch_bytes(device="pi-02"), "wrong_station"),
        (TOPIC, batch_bytes(device="pi-02"), "device_mismatch"),
        (TOPIC, batch_bytes(start_ms=NOW_MS + 3_600_000), "future_timestamp"),
    ],
)
def test_bad_payloads_are_quarantined_with_their_reason(ctx, topic, payload, reason) -> None:
    """Each hostile payload lands in quarantine with a stable reason; nothing is stored."""
    outcome = ingest_payload(ctx, topic, payload, NOW_MS)
    ctx.commit()
    assert (outcome.kind, outcome.reason) == (QUARANTINED, reason)
    (row,) = ctx.scalars(select(QuarantinedPayload)).all()
    assert row.reason == reason and row.topic == topic and row.payload_bytes == len(payload)
    assert len(row.payload_head) <= 256 and row.detail
    assert count(ctx, IngestedBatch) == 0
