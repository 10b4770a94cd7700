"""Issue 12: an agent run again on the same file with the same start_ms, after a first run
that never reached the broker, sends its seqs 0-46 and 47-93 over the same hours, and two
source_ended events, the older arriving last. Every play must still close at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from central import queues, worker
from central.extensions import db
from central.matching.jobs import match_batch
from central.monitoring.store import EVENT, record_event
from central.plays.jobs import update_station_plays
from central.plays.models import Play
from central.stations.models import Station
from edge_agent.health import HealthEvent
from tests.integration.central.broadcast import (
    DEVICE,
    START_MS,
    STATION,
    Segment,
    broadcast,
    ingest,
    payloads,
    register_songs,
)

pytestmark = pytest.mark.integration

EVENTS_TOPIC = f"stations/{STATION}/devices/{DEVICE}/events"
CLOSE_WAIT_S = 7200  # the default: no play in this test may close by waiting
# Three songs, each more than 3 minutes (REACH_MS) from one end of the file: the windows
# around each play come from both runs, whose seqs skip the other run's.
SHOW = [Segment(71, 5, 50), Segment(72, 215, 50), Segment(73, 420, 50)]
SHOW_S = 480


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request: pytest.FixtureRequest, redis_connection: redis.Redis) -> Iterator[Flask]:
    """The app on SQLite or PostgreSQL, with the three songs and the station registered."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    register_songs(app, {"A": 71, "B": 72, "C": 73}, 50.0)
    worker.use_app(app, queues.pipeline_queue(redis_connection))
    yield app
    worker.use_app(None)


def deliver(app: Flask, encoded: list[bytes], received_ms: int) -> None:
    """Ingest and match the batches, then build the station's plays."""
    for pk in ingest(app, encoded, received_ms):
        match_batch(pk)
    build(app)


def build(app: Flask) -> list[bool]:
    """Run update_plays' work now; whether each play, in order of start, is closed."""
    with app.app_context():
        station_id = db.session.scalar(select(Station.id))
        update_station_plays(db.session, station_id, datetime.now(UTC), CLOSE_WAIT_S)
        db.session.commit()
        plays = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        return [p.closed_at is not None for p in plays]


def file_ended(app: Flask, seq_last: int, at_ms: int) -> None:
    """Store the agent's source_ended event, as the ingest listener does."""
    payload = HealthEvent("source_ended", "fm", at_ms, {"seq_last": seq_last}).to_json(DEVICE)
    with app.app_context():
        assert record_event(db.session, EVENTS_TOPIC, payload, at_ms + 1000).kind == EVENT
        db.session.commit()


def test_plays_of_a_file_run_twice_close_when_both_runs_are_in(any_app: Flask) -> None:
    """Live second run first (seqs 47-93, ended 93), then the first run's spool (0-46, ended
    46, arriving after the newer event): all three plays close with the last batch."""
    audio = broadcast(SHOW, SHOW_S)
    first_run = payloads(audio, START_MS)
    second_run = payloads(audio, START_MS, seq_first=len(first_run))
    first_ended_ms = START_MS + 10**6
    second_ended_ms = first_ended_ms + 600_000
    deliver(any_app, second_run, second_ended_ms)
    file_ended(any_app, len(first_run) + len(second_run) - 1, second_ended_ms)
    # The first play's lead (from 3 minutes before the file's start) waits for seqs 0-46; the
    # others lie wholly in the second run's seqs 49-93, which all arrived.
    assert build(any_app) == [False, True, True]
    deliver(any_app, first_run, second_ended_ms + 60_000)
    file_ended(any_app, len(first_run) - 1, first_ended_ms)
    assert build(any_app) == [True] * 3
