"""update_plays on real PostgreSQL and Redis/RQ: matched batches become plays that match the
broadcast, each once, whatever order, repetition or delay the batches arrive with."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from central import queues, worker
from central.extensions import db
from central.matching.jobs import match_batch
from central.plays.jobs import update_plays, update_station_plays
from central.plays.models import Play
from central.stations.models import Station
from tests.integration.central.broadcast import (
    START_MS,
    Segment,
    broadcast,
    ingest,
    payloads,
    register_songs,
)

pytestmark = pytest.mark.integration

SONGS = {"A": 61, "B": 62, "C": 63}
UNREGISTERED = 64  # music outside the catalogue
DAY_MS = 86_400_000
# A 50 s, B whole (60 s), C 45 s, then four minutes of other music: enough matched audio after
# every play for all of them to close.
SHOW = [Segment(61, 5, 50), Segment(62, 60, 60), Segment(63, 125, 45), Segment(64, 175, 245)]
SHOW_S = 420
TRUTH = [("A", 5, 55), ("B", 60, 120), ("C", 125, 170)]


@pytest.fixture
def songs(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[dict[str, int]]:
    """Songs A, B and C in the catalogue (60 s each); jobs use the test app and queue."""
    ids = register_songs(pg_app, SONGS, 60.0)
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    yield ids
    worker.use_app(None)


@pytest.fixture(scope="module")
def show_payloads() -> list[bytes]:
    """The batches of SHOW heard from START_MS (fingerprinted once for the module)."""
    return payloads(broadcast(SHOW, SHOW_S), START_MS)


def run_worker(connection: redis.Redis) -> None:
    """Work the pipeline queue until it is empty."""
    SimpleWorker([queues.pipeline_queue(connection)], connection=connection).work(burst=True)


def stored_plays(app: Flask, ids: dict[str, int], origin_ms: int = START_MS) -> list[tuple]:
    """(track name, start s, end s, closed) of every stored play, in order, rounded to 1 s."""
    names = {v: k for k, v in ids.items()}
    with app.app_context():
        rows = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        return [
            (
                names[p.track_id],
                round((p.start_ms - origin_ms) / 1000),
                round((p.end_ms - origin_ms) / 1000),
                p.closed_at is not None,
            )
            for p in rows
        ]


def assert_truth(plays: list[tuple], truth=TRUTH, tolerance_s: int = 3) -> None:
    """Each true play found once, start and end within tolerance, and nothing else."""
    assert [p[0] for p in plays] == [t[0] for t in truth], plays
    for (_, start, end, _closed), (_, true_start, true_end) in zip(plays, truth):
        assert abs(start - true_start) <= tolerance_s, plays
        assert abs(end - true_end) <= tolerance_s, plays


def enqueue_all(connection: redis.Redis, pks: list[int]) -> None:
    """Enqueue matching of each stored batch, as ingest does."""
    queue = queues.pipeline_queue(connection)
    for pk in pks:
        queues.enqueue_match(queue, pk)


def test_worker_builds_the_plays_of_a_broadcast(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """match_batch chains update_plays: the show's three plays, closed, at the right times."""
    enqueue_all(redis_connection, ingest(pg_app, show_payloads, START_MS + 10**6))
    run_worker(redis_connection)
    plays = stored_plays(pg_app, songs)
    assert_truth(plays)
    assert all(closed for *_, closed in plays), plays


def test_duplicates_and_shuffled_arrival_give_the_same_plays(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """Batches published twice and in random order, worked in small bursts, give the plays of
    batches in order, each once."""
    order = show_payloads + show_payloads[::3]
    random.Random(7).shuffle(order)
    for n in range(0, len(order), 5):
        enqueue_all(redis_connection, ingest(pg_app, order[n : n + 5], START_MS + 10**6))
        run_worker(redis_connection)
    assert_truth(stored_plays(pg_app, songs))


def test_backlog_after_a_day_offline_lands_in_the_past(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """Today's live batches arrive first; yesterday's spooled batches after: both days' plays,
    each once, yesterday's closed from the backlog's own coverage."""
    today = payloads(broadcast(SHOW, SHOW_S), START_MS + DAY_MS, seq_first=len(show_payloads))
    enqueue_all(redis_connection, ingest(pg_app, today, START_MS + DAY_MS + 10**6))
    run_worker(redis_connection)
    enqueue_all(redis_connection, ingest(pg_app, show_payloads, START_MS + DAY_MS + 10**6))
    run_worker(redis_connection)
    plays = stored_plays(pg_app, songs)
    assert_truth(plays[:3])
    assert_truth(stored_plays(pg_app, songs, START_MS + DAY_MS)[3:])
    assert all(closed for *_, closed in plays)


def station_id_of(app: Flask) -> int:
    """The id of the test's only station."""
    with app.app_context():
        return db.session.scalar(select(Station.id))


def test_update_plays_twice_changes_nothing(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """A job run again (a requeue, a retry) leaves the same rows, ids included."""
    for pk in ingest(pg_app, show_payloads, START_MS + 10**6):
        match_batch(pk)
    first_closed = update_plays(station_id_of(pg_app))
    with pg_app.app_context():
        before = [(p.id, p.start_ms, p.end_ms) for p in db.session.scalars(select(Play))]
    assert update_plays(station_id_of(pg_app)) == []
    with pg_app.app_context():
        after = [(p.id, p.start_ms, p.end_ms) for p in db.session.scalars(select(Play))]
    assert len(first_closed) == 3 and sorted(before) == sorted(after)


def test_late_batches_grow_an_open_play_in_place(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """B's first windows arrive after the rest: one play of B, same id, grown back to its top."""
    late = 8  # windows before 82 s of the show
    enqueue_all(redis_connection, ingest(pg_app, show_payloads[late:], START_MS + 10**6))
    run_worker(redis_connection)
    with pg_app.app_context():
        (b_first,) = db.session.execute(
            select(Play.id, Play.start_ms).where(Play.track_id == songs["B"])
        ).all()
    enqueue_all(redis_connection, ingest(pg_app, show_payloads[:late], START_MS + 10**6))
    run_worker(redis_connection)
    with pg_app.app_context():
        (b_now,) = db.session.execute(
            select(Play.id, Play.start_ms).where(Play.track_id == songs["B"])
        ).all()
    assert b_now.id == b_first.id and b_now.start_ms < b_first.start_ms - 15_000
    assert_truth(stored_plays(pg_app, songs))


_KILLED_MID_JOB = """
    import time
    from datetime import UTC, datetime
    from central import create_app
    from central.extensions import db
    from central.plays.jobs import update_station_plays
    app = create_app({{"DATABASE_URL": {url!r}, "TESTING": True}})
    with app.app_context():
        update_station_plays(db.session, {station_id}, datetime.now(UTC), 7200)
        db.session.flush()
        print("flushed", flush=True)
        time.sleep(60)
"""


def test_worker_killed_mid_job_leaves_no_trace(
    pg_app: Flask, songs: dict[str, int], pg_database_url: str, show_payloads
) -> None:
    """A process SIGKILLed holding the job's uncommitted plays and locks: the re-run builds
    each play once and is not blocked."""
    for pk in ingest(pg_app, show_payloads, START_MS + 10**6):
        match_batch(pk)
    station_id = station_id_of(pg_app)
    script = textwrap.dedent(_KILLED_MID_JOB.format(url=pg_database_url, station_id=station_id))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "flushed"
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Play)) == 0
        update_station_plays(db.session, station_id, datetime.now(UTC), 7200)
        db.session.commit()
    assert_truth(stored_plays(pg_app, songs))
