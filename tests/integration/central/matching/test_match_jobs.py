"""match_batch on real PostgreSQL and Redis/RQ: stored batches become detections of the right
tracks at the right times, and running a job twice changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from central import queues, worker
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching.jobs import match_batch
from central.matching.models import Detection
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests.integration.central.broadcast import START_MS, ingest, payloads, register_songs
from tests.transforms import song

pytestmark = pytest.mark.integration


@pytest.fixture
def catalogue(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[dict[str, int]]:
    """Three songs registered; the station joy-fm with device pi-01."""
    ids = register_songs(pg_app, {"T0": 51, "T1": 52, "T2": 53}, 40.0)
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    yield ids
    worker.use_app(None)


def ingest_recording(app: Flask, audio: np.ndarray) -> list[int]:
    """The agent's batches of `audio`, ingested as if they came from the broker."""
    return ingest(app, payloads(audio, START_MS), START_MS + 10**7)


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
