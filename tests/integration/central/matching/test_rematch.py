"""Retroactive matching, retention and the periodic sweep, on real PostgreSQL and Redis/RQ:
a track registered after its broadcast is found in the stored batches; expired batches go;
open plays of a silent device close."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from central import create_app, queues, worker
from central.catalog.store import register_track
from central.cli import cli
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.ingest.retention import purge_expired
from central.matching.models import Detection
from central.matching.rematch import mark_rematched, rematch_new_tracks
from central.plays.jobs import close_final_plays, sweep_plays
from central.plays.models import Play
from central.stations.models import Station
from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, fingerprint
from tests.conftest import disposed
from tests.integration.central.broadcast import START_MS, broadcast, ingest, payloads
from tests.integration.central.plays.test_update_plays import (
    SHOW,
    SHOW_S,
    TRUTH,
    assert_truth,
    enqueue_all,
    register_songs,
    run_worker,
    stored_plays,
)
from tests.transforms import song

pytestmark = pytest.mark.integration


@pytest.fixture
def app(pg_app: Flask, pg_database_url: str, redis_url: str, redis_connection) -> Iterator[Flask]:
    """The test database and Redis db, batches kept ten years (the show is in the past)."""
    overrides = {
        "DATABASE_URL": pg_database_url,
        "REDIS_URL": redis_url,
        "BATCH_RETENTION_DAYS": 3650,
        "PLAYS_BUILD_INTERVAL_S": 0,
        "TESTING": True,
    }
    app = create_app(overrides)
    worker.use_app(app, queues.pipeline_queue(redis_connection))
    yield app
    worker.use_app(None)
    disposed(app)


@pytest.fixture(scope="module")
def show_payloads() -> list[bytes]:
    """The batches of the show (A, B, C, then other music), fingerprinted once."""
    return payloads(broadcast(SHOW, SHOW_S), START_MS)


def register_c(app: Flask) -> int:
    """Register song C (seed 63) after the fact; its id."""
    with app.app_context():
        track = register_track(
            db.session,
            external_id="C",
            title="Song C",
            artist=None,
            isrc=None,
            duration_ms=60_000,
            content_hash=f"{63:016x}",
            fingerprints=fingerprint(song(63, 60.0), REFERENCE),
            fingerprint_version=FINGERPRINT_VERSION,
        )
        db.session.commit()
        return track.id


def aired_before_c_was_registered(app: Flask, redis_connection, show_payloads) -> dict[str, int]:
    """A and B registered (and searched for), the show ingested and worked; then C registered.
    Name -> id."""
    ids = register_songs(app, {"A": 61, "B": 62}, 60.0)
    with app.app_context():
        mark_rematched(db.session, list(ids.values()), datetime.now(UTC))
        db.session.commit()
    enqueue_all(redis_connection, ingest(app, show_payloads, START_MS + 10**6))
    run_worker(redis_connection)
    assert [p[0] for p in stored_plays(app, ids)] == ["A", "B"]
    return ids | {"C": register_c(app)}


def test_rematch_finds_a_new_track_in_past_broadcasts(
    app: Flask, redis_connection: redis.Redis, show_payloads
) -> None:
    """`zamio rematch --since` searches stored batches for the new track: its play appears,
    closed, and the earlier plays keep their ids; a second run finds no new track."""
    ids = aired_before_c_was_registered(app, redis_connection, show_payloads)
    with app.app_context():
        before = set(db.session.scalars(select(Play.id)))
    runner = FlaskCliRunner(app)
    result = runner.invoke(cli, ["rematch", "--since", str(START_MS - 60_000)])
    assert result.exit_code == 0, result.output
    assert f"enqueued {len(show_payloads)} batches to search for 1 new tracks" in result.output
    run_worker(redis_connection)
    plays = stored_plays(app, ids)
    assert_truth(plays)
    assert all(closed for *_, closed in plays)
    with app.app_context():
        assert before < set(db.session.scalars(select(Play.id)))
    again = runner.invoke(cli, ["rematch", "--since", str(START_MS - 60_000)])
    assert "no new tracks" in again.output


def test_rematch_all_tracks_leaves_the_same_plays(
    app: Flask, redis_connection: redis.Redis, show_payloads
) -> None:
    """Matching every batch again (--tracks all) is idempotent: same plays, same ids."""
    ids = register_songs(app, {"A": 61, "B": 62, "C": 63}, 60.0)
    enqueue_all(redis_connection, ingest(app, show_payloads, START_MS + 10**6))
    run_worker(redis_connection)
    with app.app_context():
        before = sorted(db.session.execute(select(Play.id, Play.start_ms, Play.end_ms)).all())
    result = FlaskCliRunner(app).invoke(
        cli, ["rematch", "--since", "2026-09-01", "--until", "2026-10-01", "--tracks", "all"]
    )
    assert result.exit_code == 0 and "all tracks" in result.output, result.output
    run_worker(redis_connection)
    with app.app_context():
        after = sorted(db.session.execute(select(Play.id, Play.start_ms, Play.end_ms)).all())
    assert before == after
    assert_truth(stored_plays(app, ids))


def test_scheduled_rematch_covers_the_retention_window(
    app: Flask, redis_connection: redis.Redis, show_payloads
) -> None:
    """The scheduler's rematch_new_tracks finds the new track without being told when."""
    ids = aired_before_c_was_registered(app, redis_connection, show_payloads)
    assert rematch_new_tracks() == len(show_payloads)
    run_worker(redis_connection)
    assert_truth(stored_plays(app, ids), TRUTH)
    assert rematch_new_tracks() == 0


def test_rematch_refuses_a_bad_range(app: Flask) -> None:
    """A time that is no time, or a range that ends before it starts, is refused clearly."""
    runner = FlaskCliRunner(app)
    bad = runner.invoke(cli, ["rematch", "--since", "yesterday"])
    assert bad.exit_code == 2 and "is no time" in bad.output
    backwards = runner.invoke(cli, ["rematch", "--since", "1d", "--until", "2d"])
    assert backwards.exit_code == 2 and "before --until" in backwards.output


def test_purge_deletes_expired_batches_and_keeps_plays(
    app: Flask, redis_connection: redis.Redis, show_payloads
) -> None:
    """Batches older than the retention go with their detections; plays stay; younger ones
    are kept."""
    register_songs(app, {"A": 61, "B": 62, "C": 63}, 60.0)
    enqueue_all(redis_connection, ingest(app, show_payloads, START_MS + 10**6))
    run_worker(redis_connection)
    show_end = datetime.fromtimestamp(START_MS / 1000 + SHOW_S, UTC)

    def counts() -> tuple[int, int, int]:
        with app.app_context():
            return tuple(
                db.session.scalar(select(func.count()).select_from(model))
                for model in (IngestedBatch, Detection, Play)
            )

    with app.app_context():
        kept = purge_expired(db.session, show_end + timedelta(days=29), 30)
    assert kept.batches == 0 and counts()[0] == len(show_payloads)
    with app.app_context():
        purged = purge_expired(db.session, show_end + timedelta(days=31), 30)
    assert purged.batches == len(show_payloads)
    assert counts() == (0, 0, 3)


def test_open_plays_of_a_silent_device_close_after_the_wait(
    app: Flask, redis_connection: redis.Redis, show_payloads
) -> None:
    """The device stops mid-show: its plays stay open (more may come) until the wait runs out;
    the sweep enqueues the station's update_plays."""
    register_songs(app, {"A": 61, "B": 62, "C": 63}, 60.0)
    enqueue_all(redis_connection, ingest(app, show_payloads[:12], START_MS + 10**6))
    run_worker(redis_connection)
    with app.app_context():
        station_id = db.session.scalar(select(Station.id))
        assert db.session.scalar(select(func.count()).where(Play.closed_at.is_(None))) == 2
        now = datetime.now(UTC)
        assert close_final_plays(db.session, station_id, now + timedelta(seconds=7000), 7200) == []
        closed = close_final_plays(db.session, station_id, now + timedelta(seconds=7300), 7200)
        db.session.rollback()
    assert len(closed) == 2
    assert sweep_plays() == 1
    assert queues.pipeline_queue(redis_connection).count == 1
