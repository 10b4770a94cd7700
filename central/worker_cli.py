"""`zamio worker` (an RQ worker on the pipeline queue), `zamio scheduler` (its periodic jobs)
and `zamio purge` (retention, now). The first two run until SIGTERM and wait out a Redis outage
(logging it, backing off), as an ingest listener does a broker's."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from central import queues, schema, worker
from central.api.idempotency import KEEP_DAYS
from central.config import redact_url
from central.extensions import db
from central.ingest.retention import purge_expired
from central.matching.jobs import current_index
from central.notifications.dispatch import NOTIFY_QUEUE
from central.schedule import register_jobs

logger = logging.getLogger(__name__)

BACKOFF_S_MIN = 1.0
BACKOFF_S_MAX = 30.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


QUEUE_CHOICES = {
    "all": (queues.QUEUE_NAME, NOTIFY_QUEUE),
    "pipeline": (queues.QUEUE_NAME,),
    "notify": (NOTIFY_QUEUE,),
}


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option(
    "--queue",
    "which",
    type=click.Choice(sorted(QUEUE_CHOICES)),
    default="all",
    show_default=True,
    help="pipeline: matching, plays, royalties; notify: sending mail, SMS and webhooks (run "
    "one such worker so a slow mail server holds up no pipeline job); all: both, pipeline first.",
)
@with_appcontext
def worker_command(burst: bool, which: str) -> None:
    """Run pipeline jobs (match_batch, update_plays, accrue_royalty, rematch_batch) and the
    notifications' sending jobs until SIGTERM; run several for throughput. Retries of failed
    jobs are enqueued when due by one of the workers (RQ's scheduler, in a child process)."""
    schema.require_current_for_command(db.engine)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    app = current_app._get_current_object()
    redis_url = _require_redis(app.config["ZAMIO"].redis_url, "worker")
    connection = queues.redis_connection(redis_url)
    queue = queues.pipeline_queue(connection)
    taken = [Queue(name, connection=connection) for name in QUEUE_CHOICES[which]]
    worker.use_app(app, queue)
    if queues.QUEUE_NAME in QUEUE_CHOICES[which]:
        current_index(db.session)  # loaded now, not by the first job
    db.session.remove()
    outage = RedisOutage("worker", redis_url)
    while True:
        try:
            for each in taken:
                queues.reclaim_abandoned(each)
            outage.over()
            rq_worker = _work(taken, burst)
        except queues.REDIS_DOWN as error:
            if burst:
                raise  # a one-shot run: the CLI says it in one line and exits 1
            if outage.wait(error):
                continue
            return
        if burst or rq_worker._shutdown_requested_date is not None or _reachable(connection):
            return  # stopped, done, or quit on an error RQ logged (a supervisor restarts it)
        if not outage.wait(redis.exceptions.ConnectionError("connection lost while working")):
            return


def _work(taken: list[Queue], burst: bool) -> SimpleWorker:
    """Run an RQ worker on the queues (in order of priority) until it stops; the worker."""
    # Jobs run in this process, not in a fork per job: the index (hundreds of MB for a large
    # catalogue) is built once and kept, where a forked job would lose it on exit.
    rq_worker = SimpleWorker(
        taken,
        connection=taken[0].connection,
        exception_handlers=[queues.give_up_unless_transient],
    )
    rq_worker.work(burst=burst, with_scheduler=True)
    return rq_worker


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Enqueue the periodic jobs (close plays of silent devices, match batches whose job was
    lost, find new tracks in the past, purge expired batches, accrue plays whose job was lost)
    until SIGTERM. Run one per deployment."""
    schema.require_current_for_command(db.engine)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    redis_url = _require_redis(current_app.config["ZAMIO"].redis_url, "scheduler")
    connection = queues.redis_connection(redis_url)
    outage = RedisOutage("scheduler", redis_url)
    while True:
        try:
            connection.ping()
            outage.over()
            scheduler = CronScheduler(connection=connection, logging_level=logging.INFO)
            register_jobs(scheduler)
            scheduler.start()  # returns on SIGTERM; raises when Redis goes away
            return
        except queues.REDIS_DOWN as error:
            if not outage.wait(error):
                return


class RedisOutage:
    """Backoff while Redis is unreachable, logged in one line a try; SIGTERM or SIGINT ends
    the wait (and the command)."""

    def __init__(self, command: str, redis_url: str) -> None:
        self.command = command
        self.url = redis_url
        self.delay_s = 0.0  # 0: Redis answered last time
        self._stopped = threading.Event()

    def wait(self, error: Exception) -> bool:
        """Log the outage and wait; False when asked to stop meanwhile."""
        self.delay_s = min(max(self.delay_s * 2, BACKOFF_S_MIN), BACKOFF_S_MAX)
        logger.warning(
            "%s: %s; retrying in %g s",
            self.command,
            queues.unavailable(self.url, error),
            self.delay_s,
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopped.set())
        return not self._stopped.wait(self.delay_s)

    def over(self) -> None:
        """Redis answered: log the recovery, if this was one, and reset the backoff."""
        if self.delay_s:
            logger.info("%s: redis at %s is reachable again", self.command, redact_url(self.url))
        self.delay_s = 0.0


def _reachable(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except queues.REDIS_DOWN:
        return False


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete batches, refused payloads and device events older than the retention, now."""
    schema.require_current_for_command(db.engine)
    days = current_app.config["ZAMIO"].batch_retention_days
    purged = purge_expired(db.session, datetime.now(UTC), days)
    click.echo(
        f"deleted {purged.batches} batches, {purged.quarantined} refused payloads and "
        f"{purged.events} device events older than {days} days, and "
        f"{purged.idempotency_records} idempotency records older than {KEEP_DAYS} days"
    )


def _require_redis(redis_url: str | None, command: str) -> str:
    """ZAMIO_REDIS_URL, or a usage error: without Redis there is no queue to share."""
    if redis_url is None:
        raise click.UsageError(
            f"`zamio {command}` needs ZAMIO_REDIS_URL. Without it jobs run inline, in the "
            "process that enqueues them: `zamio ingest` matches, builds plays, accrues royalties "
            "and runs the periodic jobs itself."
        )
    return redis_url
