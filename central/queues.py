"""The RQ queue that chains the pipeline's jobs, and how to reach it (connection passed in)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

QUEUE_NAME = "zamio"
RESULT_TTL_S = 3600  # keep a finished job's result this long (for inspection)
FAILURE_TTL_S = 7 * 86400  # keep a failed job a week, for `rq requeue` after a fix


def redis_connection(redis_url: str) -> Redis:
    """A Redis connection from ZAMIO_REDIS_URL."""
    return Redis.from_url(redis_url)


def pipeline_queue(connection: Redis, is_async: bool = True) -> Queue:
    """The queue the workers take jobs from (is_async=False: RQ runs each job at once, inline)."""
    return Queue(QUEUE_NAME, connection=connection, is_async=is_async)


def enqueue_match(queue: Queue, batch_pk: int) -> None:
    """Enqueue matching of one stored batch; its job id is derived from the batch, so repeats
    replace rather than pile up."""
    queue.enqueue(
        "central.matching.jobs.match_batch",
        batch_pk,
        job_id=f"match_batch-{batch_pk}",
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
    )
