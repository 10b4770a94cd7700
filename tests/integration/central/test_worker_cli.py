"""`zamio worker`, `zamio scheduler` and `zamio rematch` as real processes: a worker killed
with SIGKILL mid-job leaves its batch to the next worker (matched, played and paid once); with
Redis down the long-running commands say so in one line a try and carry on when it returns, and
the one-shot one fails with that line."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from central import queues
from central.extensions import db
from central.ledger.models import Transfer
from central.plays.models import Play
from central.royalties.models import RoyaltyAccrual
from tests.integration.central.broadcast import (
    START_MS,
    broadcast,
    ingest,
    matched_batches,
    payloads,
    register_songs,
)
from tests.integration.central.redis_server import RedisServer, zamio
from tests.integration.central.royalties.conftest import (
    SHOW,
    SHOW_S,
    SONGS,
    assert_ledger_ok,
)
from tests.integration.edge_agent.conftest import stop_process, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-pw"


@contextmanager
def row_locked(database_url: str, batch_pk: int) -> Iterator[psycopg2.extensions.connection]:
    """Hold a lock on the batch's row (as a long transaction would): its match job waits."""
    url = make_url(database_url)
    connection = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM ingested_batch WHERE id = %s FOR UPDATE", (batch_pk,))
        yield connection
    finally:
        connection.rollback()
        connection.close()


def waiting_on_lock(connection: psycopg2.extensions.connection) -> bool:
    """Whether another session of this database waits for a lock (read afresh: inside a
    transaction, PostgreSQL keeps the first snapshot of its activity statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def pipeline_done(app: Flask, plays: int) -> bool:
    """Whether `plays` plays are closed and accrued."""
    with app.app_context():
        accrued = db.session.scalar(select(func.count()).select_from(RoyaltyAccrual))
        db.session.remove()
    return accrued >= plays


def test_a_worker_killed_mid_job_leaves_its_batch_to_the_next_worker(
    tmp_path: Path,
    pg_app: Flask,
    pg_database_url: str,
    redis_url: str,
    redis_connection: redis.Redis,
) -> None:
    """SIGKILL to `zamio worker` (its process group, as systemd or a container would) while
    its first match job waits on a row lock: the job stays started, the batch unmatched. A
    second worker reclaims it at start: every batch is matched, and the show's three plays are
    built and accrued once each (one transfer each, the ledger sound)."""
    register_songs(pg_app, SONGS, 60.0)
    pks = ingest(pg_app, payloads(broadcast(SHOW, SHOW_S), START_MS), START_MS + 10**6)
    queue = queues.pipeline_queue(redis_connection)
    first_job = queues.match_job_id(pks[0])
    with row_locked(pg_database_url, pks[0]) as locker:
        for pk in pks:
            queues.enqueue_match(queue, pk)
        first = zamio(
            ["worker"], pg_database_url, redis_url, tmp_path / "first.log", start_new_session=True
        )
        try:
            wait_until(lambda: waiting_on_lock(locker), 60, "the first job to wait on the lock")
            assert first_job in queue.started_job_registry.get_job_ids(cleanup=False)
        finally:
            os.killpg(first.pid, signal.SIGKILL)  # the worker and its scheduler process
            first.wait()
            wait_until(lambda: group_gone(first.pid), 10, "the first worker's scheduler to die")
    assert first_job in queue.started_job_registry.get_job_ids(cleanup=False)
    assert pks[0] not in matched_batches(pg_app)
    second = zamio(["worker"], pg_database_url, redis_url, tmp_path / "second.log")
    try:
        wait_until(lambda: pipeline_done(pg_app, 3), 240, "three plays accrued")
        wait_until(lambda: queue.count == 0, 60, "the queue to drain")
    finally:
        stop_process(second)
    log = (tmp_path / "second.log").read_text()
    assert f"job {first_job}: its worker" in log and "died; retried" in log
    assert matched_batches(pg_app) == set(pks)
    with pg_app.app_context():
        plays = db.session.scalars(select(Play)).all()
        assert len(plays) == 3 and all(p.closed_at is not None for p in plays)
        accruals = db.session.scalars(select(RoyaltyAccrual.play_id)).all()
        assert sorted(accruals) == sorted(p.id for p in plays)
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == 3
        assert_ledger_ok(db.session)


def group_gone(pgid: int) -> bool:
    """Whether no live process of group `pgid` is left, zombies aside (SIGKILL to a group is not
    instant, and a second worker must not meet the first one's scheduler holding its lock)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state != "Z":
            return False
    return True


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A password-protected redis-server of this test's own, not started."""
    server = RedisServer(tmp_path, password=PASSWORD)
    yield server
    server.stop()


def lines_with(log: Path, text: str) -> list[str]:
    """The lines of `log` that contain `text`."""
    return [line for line in log.read_text().splitlines() if text in line]


def assert_one_line_outage(log: Path, command: str, server: RedisServer) -> None:
    """The outage is logged in one line naming the setting, the password redacted, and no
    traceback."""
    text = log.read_text()
    redacted = f"redis://:***@127.0.0.1:{server.port}/0 (ZAMIO_REDIS_URL)"
    assert lines_with(log, f"{command}: redis unavailable at {redacted}"), text
    assert "retrying in" in text
    assert PASSWORD not in text and "Traceback" not in text, text


def test_worker_waits_out_redis_down_at_start_and_mid_run(
    tmp_path: Path, pg_app: Flask, pg_database_url: str, redis_server: RedisServer
) -> None:
    """`zamio worker` with Redis down logs one line a try and backs off; Redis started: it
    says so and matches an enqueued batch; Redis restarted under it: it reconnects and matches
    the next one; SIGTERM: it exits 0."""
    register_songs(pg_app, {"T1": 52}, 40.0)
    pks = ingest(pg_app, payloads(broadcast([], 25.0), START_MS), START_MS)
    log = tmp_path / "worker.log"
    process = zamio(["worker"], pg_database_url, redis_server.url(), log)
    try:
        wait_until(lambda: len(lines_with(log, "redis unavailable")) >= 2, 60, "two tries")
        assert_one_line_outage(log, "worker", redis_server)
        redis_server.start()
        connection = queues.redis_connection(redis_server.url())
        wait_until(lambda: lines_with(log, "is reachable again"), 60, "the worker to recover")
        queues.enqueue_match(queues.pipeline_queue(connection), pks[0])
        wait_until(lambda: pks[0] in matched_batches(pg_app), 60, "the first batch matched")
        redis_server.stop()
        redis_server.start()
        connection = queues.redis_connection(redis_server.url())
        queues.enqueue_match(queues.pipeline_queue(connection), pks[1])
        wait_until(lambda: pks[1] in matched_batches(pg_app), 90, "the second batch matched")
    finally:
        stop_process(process)
    assert process.returncode == 0, log.read_text()


def test_scheduler_waits_out_redis_down_then_enqueues_the_periodic_jobs(
    tmp_path: Path, pg_database_url: str, redis_server: RedisServer
) -> None:
    """`zamio scheduler` with Redis down logs one line a try; Redis started: the periodic jobs,
    the sweep of unmatched batches among them, are on the pipeline queue; Redis stopped under
    it, then started (empty): it notices, recovers and enqueues them again."""
    log = tmp_path / "scheduler.log"
    process = zamio(["scheduler"], pg_database_url, redis_server.url(), log)
    try:
        wait_until(lambda: len(lines_with(log, "redis unavailable")) >= 2, 60, "two tries")
        assert_one_line_outage(log, "scheduler", redis_server)
        redis_server.start()
        queue = queues.pipeline_queue(queues.redis_connection(redis_server.url()))
        wait_until(lambda: queue.count >= 5, 60, "the periodic jobs enqueued")
        names = {job.func_name for job in queue.get_jobs()}
        assert "central.matching.jobs.sweep_unmatched" in names
        tries = len(lines_with(log, "redis unavailable"))
        redis_server.stop()  # mid-run: noticed when the next job is due (within a minute)
        wait_until(lambda: len(lines_with(log, "redis unavailable")) > tries, 90, "the outage")
        redis_server.start()  # empty
        wait_until(lambda: len(lines_with(log, "reachable again")) >= 2, 60, "a second recovery")
        wait_until(lambda: queue.count >= 5, 60, "the periodic jobs enqueued again")
        assert "Traceback" not in log.read_text()
    finally:
        stop_process(process)
    assert process.returncode == 0, log.read_text()


def test_rematch_with_redis_down_fails_in_one_line(
    tmp_path: Path, pg_app: Flask, pg_database_url: str, redis_server: RedisServer
) -> None:
    """`zamio rematch --tracks all` with Redis down: exit status 1, one line naming Redis and
    ZAMIO_REDIS_URL with the password redacted, no traceback."""
    register_songs(pg_app, {"T1": 52}, 40.0)
    ingest(pg_app, payloads(broadcast([], 15.0), START_MS), START_MS)
    log = tmp_path / "rematch.log"
    args = ["rematch", "--since", str(START_MS - 1), "--tracks", "all"]
    process = zamio(args, pg_database_url, redis_server.url(), log)
    assert process.wait(60) == 1
    text = log.read_text().strip()
    redacted = f"redis://:***@127.0.0.1:{redis_server.port}/0"
    assert text.startswith(f"Error: redis unavailable at {redacted} (ZAMIO_REDIS_URL): ")
    assert len(text.splitlines()) == 1 and PASSWORD not in text, text
