"""Jobs survive what loses them, on real PostgreSQL and Redis/RQ: the sweep re-enqueues a
stored batch whose match job is gone, and only such batches; a database outage is retried with
backoff; an error that no retry can fix fails once, visibly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import update

from central import create_app, queues, worker
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching import jobs
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests.conftest import disposed
from tests.integration.central.broadcast import (
    START_MS,
    ingest,
    matched_batches,
    payloads,
    register_songs,
    stored_ago,
)
from tests.integration.edge_agent.conftest import free_port
from tests.transforms import song

pytestmark = pytest.mark.integration


@pytest.fixture
def stored(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[list[int]]:
    """Four stored batches of song 52 (in the catalogue), none enqueued; jobs use the test app
    and queue."""
    register_songs(pg_app, {"T1": 52}, 40.0)
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    pks = ingest(pg_app, payloads(song(52, 40.0)[: 38 * SAMPLE_RATE_HZ], START_MS), START_MS)
    assert len(pks) >= 4
    yield pks[:4]
    worker.use_app(None)


def work(connection: redis.Redis, with_scheduler: bool = False) -> None:
    """Work the pipeline queue until it is empty, as `zamio worker` does (its exception
    handler; with RQ's scheduler, retries that are due are enqueued first)."""
    SimpleWorker(
        [queues.pipeline_queue(connection)],
        connection=connection,
        exception_handlers=[queues.give_up_unless_transient],
    ).work(burst=True, with_scheduler=with_scheduler)


def corrupt(app: Flask, pk: int) -> None:
    """Damage a stored payload (as a bad disk would): matching it can never succeed."""
    with app.app_context():
        db.session.execute(
            update(IngestedBatch).where(IngestedBatch.id == pk).values(payload=b"not a batch")
        )
        db.session.commit()


def test_sweep_enqueues_the_batches_whose_job_was_lost_and_only_those(
    pg_app: Flask, stored: list[int], redis_connection: redis.Redis
) -> None:
    """Three batches stored three minutes ago, one of them queued, and one stored just now: the
    sweep enqueues the two lost ones, a second sweep nothing; the worker matches all three."""
    queue = queues.pipeline_queue(redis_connection)
    old, young = stored[:3], stored[3]
    stored_ago(pg_app, old, 180)
    queues.enqueue_match(queue, old[0])
    assert jobs.sweep_unmatched() == 2
    assert sorted(queue.get_job_ids()) == sorted(queues.match_job_id(pk) for pk in old)
    assert jobs.sweep_unmatched() == 0  # queued now: no flood, no double run
    work(redis_connection)
    assert matched_batches(pg_app) == set(old)
    assert young not in matched_batches(pg_app)
    assert jobs.sweep_unmatched() == 0


def test_an_error_no_retry_can_fix_fails_once_and_is_not_swept_again(
    pg_app: Flask, stored: list[int], redis_connection: redis.Redis
) -> None:
    """A batch whose payload is damaged: its job fails at once into the failed registry (no
    retry scheduled), and the sweep leaves it there for an operator (`rq requeue`)."""
    queue = queues.pipeline_queue(redis_connection)
    pk = stored[0]
    corrupt(pg_app, pk)
    queues.enqueue_match(queue, pk)
    work(redis_connection)
    job = Job.fetch(queues.match_job_id(pk), connection=redis_connection)
    assert job.get_status() == JobStatus.FAILED
    assert job.id in queue.failed_job_registry
    assert queue.scheduled_job_registry.count == 0
    stored_ago(pg_app, [pk], 180)
    assert jobs.sweep_unmatched() == 0
    assert pk not in matched_batches(pg_app)


def test_a_database_outage_is_retried_with_backoff(
    pg_app: Flask, stored: list[int], redis_connection: redis.Redis
) -> None:
    """match_batch with PostgreSQL unreachable: the job is scheduled again after the first
    backoff interval, one retry spent; once the database is back, the retry matches the batch."""
    queue = queues.pipeline_queue(redis_connection)
    pk = stored[0]
    unreachable = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/zamio"
    down = create_app({"DATABASE_URL": unreachable, "TESTING": True})
    worker.use_app(down, queue)
    queues.enqueue_match(queue, pk)
    before = datetime.now(UTC)
    work(redis_connection)
    job = Job.fetch(queues.match_job_id(pk), connection=redis_connection)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == len(queues.RETRY_INTERVALS_S) - 1
    due = queue.scheduled_job_registry.get_scheduled_time(job)
    first_s = queues.RETRY_INTERVALS_S[0]
    assert (
        before + timedelta(seconds=first_s - 1)
        <= due
        <= datetime.now(UTC) + timedelta(seconds=first_s)
    )
    disposed(down)
    worker.use_app(pg_app, queue)
    while pk not in matched_batches(pg_app):
        assert datetime.now(UTC) < due + timedelta(seconds=60), "the retry never ran"
        work(redis_connection, with_scheduler=True)  # enqueues the retry once it is due
        time.sleep(0.2)
    assert datetime.now(UTC) >= due  # not before its backoff


def test_the_sweep_goes_on_past_batches_that_failed_for_good(
    pg_app: Flask, stored: list[int], redis_connection: redis.Redis, monkeypatch
) -> None:
    """Two failed batches fill a sweep's whole chunk (of two): the next run looks at the two
    after them and enqueues them, and the one after starts again from the first."""
    monkeypatch.setattr(jobs, "SWEEP_BATCHES_MAX", 2)
    queue = queues.pipeline_queue(redis_connection)
    for pk in stored[:2]:
        corrupt(pg_app, pk)
        queues.enqueue_match(queue, pk)
    work(redis_connection)
    stored_ago(pg_app, stored, 180)
    assert jobs.sweep_unmatched() == 0  # the first two: failed for good
    assert jobs.sweep_unmatched() == 2  # the next two
    assert jobs.sweep_unmatched() == 0  # from the start again: failed
    assert jobs.sweep_unmatched() == 0  # queued
    work(redis_connection)
    assert matched_batches(pg_app) == set(stored[2:])
