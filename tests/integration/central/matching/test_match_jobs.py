"""match_batch on real PostgreSQL and Redis/RQ: stored batches become detections of the right
tracks at the right times, and running a job twice changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from central import queues, worker
from central.catalog.store import register_track
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.ingest.store import STORED, ingest_payload
from central.matching.jobs import match_batch
from central.matching.models import Detection
from central.stations import store as stations
from edge_agent.batch import BatchSource, batches_from_fingerprints, encode_batch
from edge_agent.fingerprint import (
    FINGERPRINT_VERSION,
    REFERENCE,
    SAMPLE_RATE_HZ,
    fingerprint,
    fingerprint_in_chunks,
)
from tests.transforms import song

pytestmark = pytest.mark.integration

START_MS = 1_790_000_000_000


@pytest.fixture
def catalogue(pg_app: Flask) -> dict[str, int]:
    """Three songs registered; the station joy-fm with device pi-01."""
    ids = {}
    with pg_app.app_context():
        for n, seed in enumerate((51, 52, 53)):
            samples = song(seed, 40.0)
            track = register_track(
                db.session,
                external_id=f"T{n}",
                title=f"Song {n}",
                artist=None,
                isrc=None,
                duration_ms=40_000,
                content_hash=f"{seed:016x}",
                fingerprints=fingerprint(samples, REFERENCE),
                fingerprint_version=FINGERPRINT_VERSION,
            )
            ids[f"T{n}"] = track.id
        stations.add_station(db.session, "joy-fm", "Joy FM")
        stations.add_device(db.session, "pi-01", "joy-fm")
        db.session.commit()
    worker.use_app(pg_app)
    yield ids
    worker.use_app(None)


def ingest_recording(app: Flask, audio: np.ndarray) -> list[int]:
    """The agent's batches of `audio`, ingested as if they came from the broker."""
    found, frame_end = fingerprint_in_chunks(audio)
    source = BatchSource("pi-01", "fm", FINGERPRINT_VERSION, stream_start_ms=START_MS)
    pks = []
    with app.app_context():
        for batch in batches_from_fingerprints(found, source=source, frame_end=frame_end):
            topic = "stations/joy-fm/devices/pi-01/batches"
            outcome = ingest_payload(db.session, topic, encode_batch(batch), START_MS + 10**7)
            assert outcome.kind == STORED
            pks.append(outcome.batch_pk)
        db.session.commit()
    return pks


def test_rq_worker_turns_batches_into_detections(
    pg_app: Flask, catalogue: dict[str, int], redis_connection: redis.Redis
) -> None:
    """Song 0 then song 2 on air: each window detects the song playing, placed in UTC."""
    audio = np.concatenate(
        [song(51, 40.0)[: 30 * SAMPLE_RATE_HZ], song(53, 40.0)[: 30 * SAMPLE_RATE_HZ]]
    )
    pks = ingest_recording(pg_app, audio)
    queue = queues.pipeline_queue(redis_connection)
    for pk in pks:
        queues.enqueue_match(queue, pk)
    SimpleWorker([queue], connection=redis_connection).work(burst=True)
    with pg_app.app_context():
        rows = db.session.scalars(select(Detection).order_by(Detection.start_ms)).all()
        matched = db.session.scalar(
            select(func.count()).where(IngestedBatch.matched_at.is_not(None))
        )
    assert matched == len(pks)
    strong = [(d.track_id, d.start_ms) for d in rows if d.strong]
    first = [t for t, start in strong if start < START_MS + 28_000]
    second = [t for t, start in strong if start > START_MS + 32_000]
    assert first and set(first) == {catalogue["T0"]}
    assert second and set(second) == {catalogue["T2"]}
    assert all(abs(d.speed_ratio - 1.0) < 0.01 for d in rows if d.strong)


def test_match_batch_twice_leaves_the_same_detections(
    pg_app: Flask, catalogue: dict[str, int]
) -> None:
    """A job that runs again (a worker killed after its commit, a requeue) adds nothing."""
    (pk, *_rest) = ingest_recording(pg_app, song(52, 40.0)[: 12 * SAMPLE_RATE_HZ])
    first = match_batch(pk)
    second = match_batch(pk)
    with pg_app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Detection))
    assert first == second == stored >= 1
