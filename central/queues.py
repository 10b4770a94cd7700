"""The RQ queue that chains the pipeline's jobs, and how to reach it (connection passed in);
how its jobs survive a lost database or Redis connection (retries) and a dead worker (reclaim)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis.exceptions
import sqlalchemy.exc
from redis import Redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.worker import Worker

from central.config import redact_url

logger = logging.getLogger(__name__)

QUEUE_NAME = "zamio"
RESULT_TTL_S = 60  # nothing reads results; at 1,000 stations ~200 jobs/s of ~5 kB each
FAILURE_TTL_S = 7 * 86400  # keep a failed job a week, for `rq requeue` after a fix
PENDING_TTL_S = 3600  # a coalescing mark outlives no lost job by more than this
UPLOAD_JOB_S_MAX = 900  # decoding and checking a 20-minute upload takes well under a minute
_PENDING_KEY = "zamio:update_plays:pending:{station_id}"
REDIS_CONNECT_S_MAX = 5.0  # an unreachable Redis fails an enqueue in this, not a TCP timeout
REDIS_REPLY_S_MAX = 30.0  # a hung Redis too (workers raise it above their blocking dequeue)
# A job whose database or Redis connection failed runs again after each of these (RQ's
# scheduler, in `zamio worker`, enqueues it when due): an outage of up to ~20 minutes.
RETRY_INTERVALS_S = (5, 30, 120, 600, 600)
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
TRANSIENT_ERRORS = (
    *REDIS_DOWN,
    sqlalchemy.exc.OperationalError,  # connection lost or refused, serialization, locked SQLite
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection free in time
    AbandonedJobError,  # its worker died (RQ's registry cleanup passes this)
)
# Statuses of a job that will still run, failed for good and waits for `rq requeue`, or has
# just finished (its commit may postdate the sweep's read of the batch).
_LIVE_STATUSES = {
    JobStatus.FINISHED,
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.SCHEDULED,
    JobStatus.DEFERRED,
    JobStatus.FAILED,
}


def unavailable(redis_url: str, error: Exception) -> str:
    """What to tell the operator when Redis cannot be reached: one line, password redacted."""
    return f"redis unavailable at {redact_url(redis_url)} (ZAMIO_REDIS_URL): {error}"


def redis_connection(redis_url: str) -> Redis:
    """A Redis connection from ZAMIO_REDIS_URL."""
    return Redis.from_url(
        redis_url, socket_connect_timeout=REDIS_CONNECT_S_MAX, socket_timeout=REDIS_REPLY_S_MAX
    )


def settings_queue(redis_url: str | None) -> Queue:
    """The pipeline queue on ZAMIO_REDIS_URL; unset, the embedded one that runs jobs inline."""
    if redis_url is None:
        from central.embedded.inline import inline_queue

        return inline_queue()
    return pipeline_queue(redis_connection(redis_url))


def pipeline_queue(connection: Redis) -> Queue:
    """The queue the workers take jobs from."""
    return Queue(QUEUE_NAME, connection=connection)


@contextmanager
def enqueueing(queue: Queue) -> Iterator[Pipeline | None]:
    """A pipeline to enqueue many jobs in one round trip, executed at the end; None for an
    inline queue: it runs each job at once, and a pipeline executed after would mark it queued
    again."""
    if not queue.is_async:
        yield None
        return
    with queue.connection.pipeline() as pipe:
        yield pipe
        pipe.execute()


def retry() -> Retry:
    """The retries of a pipeline job: transient errors only (give_up_unless_transient)."""
    return Retry(max=len(RETRY_INTERVALS_S), interval=list(RETRY_INTERVALS_S))


def is_transient(error: BaseException) -> bool:
    """Whether `error` says a service was unreachable, not that the job is wrong."""
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT_ERRORS)


def give_up_unless_transient(job: Job, exc_type: type, error: BaseException, tb: object) -> None:
    """A worker's exception handler: a permanent error fails the job at once (to the failed
    registry, logged by RQ with its traceback); a transient one leaves its retries to RQ."""
    if not is_transient(error):
        job.retries_left = 0
    elif job.retries_left:
        logger.warning(
            "job %s: %r: retried later (%d retries left)", job.id, error, job.retries_left
        )


def match_job_id(batch_pk: int) -> str:
    """The one job id of a batch's matching: repeats replace rather than pile up."""
    return f"match_batch-{batch_pk}"


def enqueue_match(queue: Queue, batch_pk: int, pipeline: Pipeline | None = None) -> None:
    """Enqueue matching of one stored batch."""
    queue.enqueue(
        "central.matching.jobs.match_batch",
        batch_pk,
        job_id=match_job_id(batch_pk),
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        retry=retry(),
        pipeline=pipeline,
    )


def enqueue_match_safely(queue: Queue, batch_pk: int) -> bool:
    """enqueue_match, or False when Redis is unreachable (logged): the batch is stored, and
    the sweep of unmatched batches (matching.jobs.sweep_unmatched) enqueues it later."""
    try:
        enqueue_match(queue, batch_pk)
    except REDIS_DOWN as error:
        logger.warning("batch %d: matching not enqueued, Redis unavailable: %s", batch_pk, error)
        return False
    return True


def without_match_job(connection: Redis, batch_pks: Iterable[int]) -> list[int]:
    """The batches whose match job is neither waiting, running, due for a retry, nor failed
    for good: no job will ever match them (its enqueue was lost, or its record expired)."""
    pks = list(batch_pks)
    with connection.pipeline(transaction=False) as pipe:
        for pk in pks:
            pipe.hget(Job.key_for(match_job_id(pk)), "status")
        statuses = pipe.execute()
    return [pk for pk, status in zip(pks, statuses, strict=True) if not _live(status)]


def _live(status: bytes | None) -> bool:
    return status is not None and status.decode() in _LIVE_STATUSES


def enqueue_rematch(
    queue: Queue, batch_pk: int, track_ids: list[int], pipeline: Pipeline | None = None
) -> None:
    """Enqueue the search of one stored batch for `track_ids` (central.matching.rematch)."""
    queue.enqueue(
        "central.matching.rematch.rematch_batch",
        batch_pk,
        track_ids,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        retry=retry(),
        pipeline=pipeline,
    )


def enqueue_update_plays(queue: Queue, station_id: int) -> bool:
    """Enqueue update_plays for a station unless one is already waiting: a backlog of a thousand
    matched batches needs one run, not a thousand. True when a job was enqueued."""
    if not queue.connection.set(
        _PENDING_KEY.format(station_id=station_id), 1, nx=True, ex=PENDING_TTL_S
    ):
        return False
    queue.enqueue(
        "central.plays.jobs.update_plays",
        station_id,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        retry=retry(),
    )
    return True


def enqueue_update_plays_safely(queue: Queue, station_id: int) -> bool:
    """enqueue_update_plays, or False when Redis is unreachable (logged): for the listener, as
    it stores an event that may settle plays (source_ended, source_stopped); the scheduler's
    sweep_plays closes them within a minute anyway."""
    try:
        return enqueue_update_plays(queue, station_id)
    except REDIS_DOWN as error:
        logger.warning(
            "station %d: update_plays not enqueued, Redis unavailable: %s", station_id, error
        )
        return False


def enqueue_accrue_royalty(queue: Queue, play_id: int) -> None:
    """Enqueue the royalty accrual of a closed play; its job id is derived from the play, so a
    repeat replaces rather than piles up (and the job itself is idempotent on the play)."""
    queue.enqueue(
        "central.royalties.jobs.accrue_royalty",
        play_id,
        job_id=f"accrue_royalty-{play_id}",
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        retry=retry(),
    )


def upload_job_id(upload_id: int) -> str:
    """The one job id of an upload's processing: repeats replace rather than pile up."""
    return f"process_upload-{upload_id}"


def enqueue_process_upload(queue: Queue, upload_id: int) -> str:
    """Enqueue the decoding, checking and registration of a stored upload; its job id (the job
    is idempotent on the upload: a second run changes nothing)."""
    job_id = upload_job_id(upload_id)
    queue.enqueue(
        "central.catalog.upload_job.process_upload",
        upload_id,
        job_id=job_id,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        job_timeout=UPLOAD_JOB_S_MAX,
        retry=retry(),
    )
    return job_id


def release_update_plays(connection: Redis, station_id: int, interval_s: int = 0) -> None:
    """Called as update_plays starts: batches matched from now on need another run, enqueued by
    the first of them after `interval_s` (at real time a station sends a batch every 10 s, so
    a run per batch would be wasted; the scheduler's sweep catches a station that went quiet)."""
    key = _PENDING_KEY.format(station_id=station_id)
    if interval_s > 0:
        connection.set(key, 1, ex=interval_s)
    else:
        connection.delete(key)


def reclaim_abandoned(queue: Queue, hostname: str | None = None) -> int:
    """Jobs left started by a dead worker of this host (killed, out of memory) are retried now
    (failed if out of retries), not when their registry entry expires (the job's timeout plus a
    minute, then a worker's 10-minute maintenance), and a dead scheduler's lock is freed: what a
    worker runs as it starts. Dead means its process is gone; other hosts' workers are left to
    RQ. How many jobs."""
    hostname = hostname or socket.gethostname()
    _release_dead_scheduler_lock(queue, hostname)
    registry = queue.started_job_registry
    reclaimed = 0
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        try:
            execution = Execution.fetch(execution_id, job_id, queue.connection)
            job = Job.fetch(job_id, connection=queue.connection)
        except (ValueError, NoSuchJobError):
            continue  # finished meanwhile, or expired: RQ's cleanup drops the entry
        key = Worker.redis_worker_namespace_prefix + execution.worker_name
        found_host, found_pid = queue.connection.hmget(key, ["hostname", "pid"])
        if job.get_status(refresh=False) != JobStatus.STARTED:
            continue
        if found_host is None or not _gone(found_host.decode(), int(found_pid or 0), hostname):
            continue
        with queue.connection.pipeline() as pipe:
            pipe.zrem(registry.key, execution.composite_key)
            if job.retries_left:
                job.retry(queue, pipe)
            else:
                record_job_failure(job, "its worker died (reclaimed at a worker's start)", pipe)
            pipe.execute()
        logger.warning("job %s: its worker %s died; retried", job.id, execution.worker_name)
        reclaimed += 1
    return reclaimed


def _release_dead_scheduler_lock(queue: Queue, hostname: str) -> None:
    """Free the queue's scheduler lock if a dead process of this host holds it: else retries
    wait for it to expire, then for a worker's maintenance to start a scheduler."""
    key = RQScheduler.get_locking_key(queue.name)
    holder = queue.connection.get(key)
    if holder is None:
        return
    # Read the holder's record by hand: RQScheduler.fetch (rq 3.0) fails on Redis' bytes keys.
    found_host, found_pid = queue.connection.hmget(
        SCHEDULER_KEY_TEMPLATE % holder.decode(), ["hostname", "pid"]
    )
    if found_host is None or not _gone(found_host.decode(), int(found_pid or 0), hostname):
        return  # alive, elsewhere, or its record expired (and so does the lock, soon)
    queue.connection.delete(key)
    logger.warning("scheduler %s: its process died; lock released", holder.decode())


def _gone(found_host: str, pid: int, hostname: str) -> bool:
    """Whether a process recorded as `pid` on `found_host` is dead: on this host, no such
    process, or this very process (a restarted container's pid 1, under another name)."""
    if found_host != hostname or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return _zombie(pid)  # dead but not reaped (a container whose pid 1 reaps no orphans)


def _zombie(pid: int) -> bool:
    """Whether process `pid` has exited and waits to be reaped (Linux /proc; elsewhere: no)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
