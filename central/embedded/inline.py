"""Jobs without Redis: RQ's synchronous mode on an in-memory Redis of this process.

RQ's `Queue(is_async=False)` runs each job the moment it is enqueued, in the enqueuing thread,
and still keeps job records in Redis; fakeredis holds them in memory. Jobs enqueued by a job run
inside it, so the whole chain match_batch -> update_plays -> accrue_royalty runs before the
first enqueue returns. A job that fails is logged at ERROR and dropped. One lock per process runs
one chain at a time: the listener's thread and the periodic jobs' thread would otherwise write
SQLite (which has no row locks) at once.
"""

from __future__ import annotations

import logging
import threading

from rq import Queue
from rq.job import Job

from central import queues
from central.queues import QUEUE_NAME

logger = logging.getLogger(__name__)

_lock = threading.RLock()  # re-entrant: a job's own enqueues run inside it
_connection = None
_TRANSIENT = "zamio_transient"  # job.meta key: its error was transient


class InlineQueue(Queue):
    """A synchronous queue whose jobs run one at a time in this process."""

    def run_sync(self, job: Job) -> Job:
        """Run the job now; a failure is logged (RQ's synchronous mode keeps it quiet). A job
        that failed for good is kept as failed (FAILURE_TTL_S), so sweep_unmatched leaves its
        batch alone rather than failing it again every minute; one that met a transient error
        is dropped: the periodic jobs retry what it left."""
        with _lock:
            super().run_sync(job)
        if job.is_failed:
            result = job.latest_result()
            logger.error("job %s failed:\n%s", job.func_name, result.exc_string if result else "")
            if job.meta.get(_TRANSIENT, True):
                job.delete()
        return job

    def run_job(self, job: Job) -> Job:
        """RQ's run_job, noting whether its error was transient (run_sync sees only text)."""
        try:
            return super().run_job(job)
        except Exception as error:
            job.meta[_TRANSIENT] = queues.is_transient(error)
            raise


def inline_connection():
    """This process's in-memory Redis (fakeredis), made once."""
    global _connection
    if _connection is None:
        import fakeredis

        _connection = fakeredis.FakeRedis()
    return _connection


def inline_queue() -> InlineQueue:
    """The pipeline queue, running jobs inline."""
    return InlineQueue(QUEUE_NAME, connection=inline_connection(), is_async=False)
