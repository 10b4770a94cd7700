"""The RQ queue that chains the pipeline's jobs, and how to reach it (connection passed in)."""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline
from rq import Queue

QUEUE_NAME = "zamio"
RESULT_TTL_S = 60  # nothing reads results; at 1,000 stations ~200 jobs/s of ~5 kB each
FAILURE_TTL_S = 7 * 86400  # keep a failed job a week, for `rq requeue` after a fix
PENDING_TTL_S = 3600  # a coalescing mark outlives no lost job by more than this
_PENDING_KEY = "zamio:update_plays:pending:{station_id}"


def redis_connection(redis_url: str) -> Redis:
    """A Redis connection from ZAMIO_REDIS_URL."""
    return Redis.from_url(redis_url)


def settings_queue(redis_url: str | None) -> Queue:
    """The pipeline queue on ZAMIO_REDIS_URL; unset, the embedded one that runs jobs inline."""
    if redis_url is None:
        from central.embedded.inline import inline_queue

        return inline_queue()
    return pipeline_queue(redis_connection(redis_url))


def pipeline_queue(connection: Redis) -> Queue:
    """The queue the workers take jobs from."""
    return Queue(QUEUE_NAME, connection=connection)


def enqueue_match(queue: Queue, batch_pk: int, pipeline: Pipeline | None = None) -> None:
    """Enqueue matching of one stored batch; its job id is derived from the batch, so repeats
    replace rather than pile up."""
    queue.enqueue(
        "central.matching.jobs.match_batch",
        batch_pk,
        job_id=f"match_batch-{batch_pk}",
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        pipeline=pipeline,
    )


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
    )
    return True


def enqueue_accrue_royalty(queue: Queue, play_id: int) -> None:
    """Enqueue the royalty accrual of a closed play; its job id is derived from the play, so a
    repeat replaces rather than piles up (and the job itself is idempotent on the play)."""
    queue.enqueue(
        "central.royalties.jobs.accrue_royalty",
        play_id,
        job_id=f"accrue_royalty-{play_id}",
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
    )


def release_update_plays(connection: Redis, station_id: int, interval_s: int = 0) -> None:
    """Called as update_plays starts: batches matched from now on need another run, enqueued by
    the first of them after `interval_s` (at real time a station sends a batch every 10 s, so
    a run per batch would be wasted; the scheduler's sweep catches a station that went quiet)."""
    key = _PENDING_KEY.format(station_id=station_id)
    if interval_s > 0:
        connection.set(key, 1, ex=interval_s)
    else:
        connection.delete(key)
