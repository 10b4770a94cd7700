"""Seq accounting on the database: storing batches opens, fills and splits gaps in the same
transaction; due gaps become resend commands; unanswered or unavailable ones become lost; and
the range checks quarantine what the columns cannot hold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db
from central.ingest.accounting import Policy, claim_due, gap_counts, gap_records
from central.ingest.models import IngestedBatch, SeqGap, SourceProgress
from central.ingest.store import QUARANTINED, STORED, ingest_payload
from central.monitoring.store import record_event
from central.stations import store as stations
from edge_agent.batch import HashBatch, encode_batch, make_batch_id
from edge_agent.fingerprint import FINGERPRINT_VERSION

NOW_MS = 1_800_000_000_000
TOPIC = "stations/joy-fm/devices/pi-01/batches"
EVENTS = "stations/joy-fm/devices/pi-01/events"
POLICY = Policy(grace_s=60, interval_s=10, tries_max=2)


def wire_batch(seq: int, source: str = "fm", first_frame: int = 0, start_ms: int = NOW_MS - 60_000):
    """A wire-valid batch; fields may be past what central's columns hold."""
    return encode_batch(
        HashBatch(
            batch_id=make_batch_id("pi-01", source, seq),
            device_id="pi-01",
            source_id=source,
            seq=seq,
            fingerprint_version=FINGERPRINT_VERSION,
            window_start_ms=start_ms,
            window_frames=320,
            clock_sync_state=2,
            clock_offset_ms=0,
            first_frame=first_frame,
            hashes=np.array([1, 2, 3], np.uint32),
            anchor_frames=np.arange(3, dtype=np.uint32) + first_frame,
        )
    )


def event(kind: str, at_ms: int, **detail) -> bytes:
    body = {"kind": kind, "device_id": "pi-01", "source_id": "fm", "at_ms": at_ms, "detail": detail}
    return json.dumps(body).encode()


@pytest.fixture
def session(app: Flask):
    with app.app_context():
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        db.session.commit()
        yield db.session


def store(session, *seqs: int, now_ms: int = NOW_MS) -> None:
    for seq in seqs:
        assert ingest_payload(session, TOPIC, wire_batch(seq), now_ms, POLICY).kind == STORED
    session.commit()


def open_gaps(session) -> list[tuple[int, int, str]]:
    query = select(SeqGap).order_by(SeqGap.seq_from)
    return [(g.seq_from, g.seq_to, g.state) for g in session.scalars(query)]


def test_gaps_open_shrink_split_and_recover(session) -> None:
    """0..9 without 3..7: gap 3..7; 5 splits it, 3 and 4 recover the lower part."""
    store(session, 0, 1, 2, 8, 9)
    assert open_gaps(session) == [(3, 7, "missing")]
    store(session, 5)
    assert open_gaps(session) == [(3, 4, "missing"), (6, 7, "missing")]
    store(session, 3, 4)
    assert open_gaps(session) == [(4, 4, "recovered"), (6, 7, "missing")]
    progress = session.scalar(select(SourceProgress))
    assert (progress.seq_first, progress.seq_max, progress.batches_count) == (0, 9, 8)
    counts = gap_counts(session, progress.device_id)
    assert counts["recovered"] == {"gaps": 1, "seqs": 3} and counts["missing"]["seqs"] == 2


def test_due_gaps_are_requested_with_backoff_then_lost(session) -> None:
    """Nothing before the grace; then one command per request; after tries_max, lost."""
    store(session, 0, 4)
    assert claim_due(session, NOW_MS + 59_000, POLICY) == []
    (request,) = claim_due(session, NOW_MS + 60_000, POLICY)
    session.commit()
    assert request.topic == "stations/joy-fm/devices/pi-01/commands"
    body = json.loads(request.payload)
    assert (body["source_id"], body["seq_from"], body["seq_to"]) == ("fm", 1, 3)
    assert claim_due(session, NOW_MS + 65_000, POLICY) == []  # the next is 10 s later
    assert len(claim_due(session, NOW_MS + 70_000, POLICY)) == 1
    assert claim_due(session, NOW_MS + 90_000, POLICY) == []  # asked twice: given up
    session.commit()
    assert open_gaps(session) == [(1, 3, "lost")]
    (record,) = gap_records(session, ("lost",))
    assert (record["lost_reason"], record["request_count"], record["seqs"]) == ("no_answer", 2, 3)


def test_a_late_batch_of_a_lost_gap_still_recovers_it(session) -> None:
    """Lost is not final for what arrives after all: the seq is stored and counted recovered."""
    store(session, 0, 2)
    record_event(session, EVENTS, event("resend_unavailable", NOW_MS, seq_ranges=[[1, 1]]), NOW_MS)
    session.commit()
    assert open_gaps(session) == [(1, 1, "lost")]
    store(session, 1)
    assert open_gaps(session) == [(1, 1, "recovered")]


def test_resend_unavailable_loses_only_its_seqs(session) -> None:
    """An answer for 4..5 of gap 3..7 leaves 3 and 6..7 missing, and counts 2 seqs lost."""
    store(session, 0, 1, 2, 8)
    answer = event("resend_unavailable", NOW_MS, request_id="r" * 32, seq_ranges=[[4, 5]])
    assert record_event(session, EVENTS, answer, NOW_MS, POLICY).kind == "event"
    session.commit()
    assert open_gaps(session) == [(3, 3, "missing"), (4, 5, "lost"), (6, 7, "missing")]
    counts = gap_counts(session, session.scalar(select(SourceProgress.device_id)))
    assert counts["lost"] == {"gaps": 1, "seqs": 2} and counts["missing"] == {"gaps": 2, "seqs": 3}


def test_seq_last_of_a_stopped_source_opens_the_gap_before_it(session) -> None:
    """Seen up to 4, stopped at 7: 5..7 are missing, though no batch after 4 came."""
    store(session, 0, 1, 2, 3, 4)
    stopped = event("source_stopped", NOW_MS, seq_last=7)
    assert record_event(session, EVENTS, stopped, NOW_MS, POLICY).kind == "event"
    session.commit()
    assert open_gaps(session) == [(5, 7, "missing")]
    store(session, 5, 6, 7)
    assert open_gaps(session) == [(7, 7, "recovered")]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (wire_batch(2**63), "out_of_range"),
        (wire_batch(2**64 - 1), "out_of_range"),
        (wire_batch(1, start_ms=-1), "out_of_range"),
        (wire_batch(1, source="f\x00m"), "bad_source_id"),
        (wire_batch(1, source="f\x1bm"), "bad_source_id"),
    ],
)
def test_fields_past_their_columns_are_quarantined(session, payload, reason) -> None:
    """Wire-valid, but more than a column holds: quarantined with its reason, nothing stored."""
    outcome = ingest_payload(session, TOPIC, payload, NOW_MS, POLICY)
    session.commit()
    assert (outcome.kind, outcome.reason) == (QUARANTINED, reason)
    assert session.scalar(select(IngestedBatch)) is None
    assert session.scalar(select(SourceProgress)) is None
