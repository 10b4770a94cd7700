"""A real Redis outage (a test-owned redis-server stopped, then started again, empty): batches
stored meanwhile lose their enqueue without crashing the caller, and the sweep of unmatched
batches gets every one of them matched and into plays once Redis is back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import select

from central import queues, worker
from central.extensions import db
from central.matching.jobs import sweep_unmatched
from central.plays.models import Play
from central.stations.models import Station
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests.integration.central.broadcast import (
    START_MS,
    ingest,
    matched_batches,
    payloads,
    register_songs,
    stored_ago,
)
from tests.integration.central.redis_server import RedisServer
from tests.transforms import song

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, started."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_batches_stored_while_redis_is_down_are_matched_when_it_returns(
    pg_app: Flask, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stopped: enqueue_match_safely (and enqueue_update_plays_safely) return False and
    log each batch (station) at WARNING; Redis started again: one sweep enqueues them all, a
    worker matches them, and the song on air becomes its play."""
    ids = register_songs(pg_app, {"T1": 52}, 40.0)
    connection = queues.redis_connection(redis_server.url())
    queue = queues.pipeline_queue(connection)
    worker.use_app(pg_app, queue)
    try:
        redis_server.stop()
        pks = ingest(pg_app, payloads(song(52, 40.0)[: 38 * SAMPLE_RATE_HZ], START_MS), START_MS)
        with caplog.at_level(logging.WARNING, logger="central.queues"):
            assert [queues.enqueue_match_safely(queue, pk) for pk in pks] == [False] * len(pks)
            with pg_app.app_context():
                station_id = db.session.scalar(select(Station.id))
            assert queues.enqueue_update_plays_safely(queue, station_id) is False
        for pk in pks:
            assert f"batch {pk}: matching not enqueued, Redis unavailable" in caplog.text
        assert f"station {station_id}: update_plays not enqueued, Redis unavailable" in caplog.text
        redis_server.start()
        stored_ago(pg_app, pks, 180)  # their grace has passed
        assert sweep_unmatched() == len(pks)
        SimpleWorker([queue], connection=connection).work(burst=True)
        assert matched_batches(pg_app) == set(pks)
        with pg_app.app_context():
            assert db.session.scalars(select(Play.track_id)).all() == [ids["T1"]]
    finally:
        worker.use_app(None)
        connection.close()
