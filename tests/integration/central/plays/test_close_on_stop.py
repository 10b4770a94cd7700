"""A play at the end of a source's audio closes as soon as the device says that audio stopped
(source_ended or source_stopped with the seq of the source's last batch), not two hours later."""

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
from central.plays.jobs import RESTART_GRACE_MS, update_station_plays
from central.plays.models import Play
from central.stations.models import Station
from central.times import at_ms
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
CLOSE_WAIT_S = 7200  # the default: far longer than any of these tests
# Song A from 5 s to 55 s, and the recording ends at 60 s: the play's last window is the
# source's last, and nothing is heard for the 3 minutes after it that would settle it.
SHOW = [Segment(61, 5, 50)]
SHOW_S = 60


@pytest.fixture
def last_seq(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[int]:
    """Song A in the catalogue, the show's batches ingested and matched; the last batch's seq."""
    register_songs(pg_app, {"A": 61}, 60.0)
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    encoded = payloads(broadcast(SHOW, SHOW_S), START_MS)
    for pk in ingest(pg_app, encoded, START_MS + 10**6):
        match_batch(pk)
    yield len(encoded) - 1
    worker.use_app(None)


def build_plays(app: Flask, now: datetime | None = None) -> list[bool]:
    """Run the job's work at `now` (default: now); whether each play (in order) is closed."""
    with app.app_context():
        station_id = db.session.scalar(select(Station.id))
        update_station_plays(db.session, station_id, now or datetime.now(UTC), CLOSE_WAIT_S)
        db.session.commit()
        plays = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        assert [abs(p.start_ms - START_MS - 5_000) <= 3_000 for p in plays] == [True] * len(plays)
        return [p.closed_at is not None for p in plays]


def device_says(app: Flask, kind: str, seq_last: int | None, source_id: str = "fm") -> None:
    """Store the device's event as the ingest listener does, from the agent's own serialiser."""
    at_ms = START_MS + SHOW_S * 1000
    payload = HealthEvent(kind, source_id, at_ms, {"seq_last": seq_last}).to_json(DEVICE)
    with app.app_context():
        assert record_event(db.session, EVENTS_TOPIC, payload, at_ms + 1000).kind == EVENT
        db.session.commit()


@pytest.mark.parametrize("kind", ["source_ended", "source_stopped"])
def test_play_at_the_end_closes_once_the_audio_is_known_to_stop(
    pg_app: Flask, last_seq: int, kind: str
) -> None:
    """Open without the event (audio could still follow); closed at once by the event whose
    seq_last is the source's last batch."""
    assert build_plays(pg_app) == [False]
    device_says(pg_app, kind, last_seq)
    assert build_plays(pg_app) == [True]


@pytest.mark.parametrize(
    ("source_id", "seq_offset"),
    [("fm", -1), ("fm", None), ("am", 0)],
    ids=["an-earlier-seq", "no-seq", "another-source"],
)
def test_stop_events_that_do_not_end_the_plays_audio_leave_it_open(
    pg_app: Flask, last_seq: int, source_id: str, seq_offset: int | None
) -> None:
    """An event whose seq_last is not the last seq of the play's source (an earlier seq, none,
    the same seq of another source) says nothing about the audio after the play: it stays open."""
    device_says(
        pg_app, "source_ended", None if seq_offset is None else last_seq + seq_offset, source_id
    )
    assert build_plays(pg_app) == [False]


def test_a_stopped_source_gets_a_grace_to_come_back(pg_app: Flask, last_seq: int) -> None:
    """Right after a stop the play stays open: an agent restarted within RESTART_GRACE_MS
    carries on at seq_last + 1 and the same airing continues; after the grace it closes."""
    device_says(pg_app, "source_stopped", last_seq)
    stopped_ms = START_MS + SHOW_S * 1000
    assert build_plays(pg_app, at_ms(stopped_ms + RESTART_GRACE_MS - 1000)) == [False]
    assert build_plays(pg_app, at_ms(stopped_ms + RESTART_GRACE_MS)) == [True]
