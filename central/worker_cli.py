"""`zamio worker` (an RQ worker on the pipeline queue), `zamio scheduler` (its periodic jobs)
and `zamio purge` (retention, now)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker
from rq.cron import CronScheduler

from central import queues, schema, worker
from central.extensions import db
from central.ingest.retention import purge_expired
from central.matching.jobs import current_index
from central.schedule import register_jobs


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run pipeline jobs (match_batch, update_plays, accrue_royalty, rematch_batch) until
    SIGTERM; run several for throughput."""
    schema.require_current_for_command(db.engine)
    app = current_app._get_current_object()
    connection = queues.redis_connection(_require_redis(app.config["ZAMIO"].redis_url, "worker"))
    queue = queues.pipeline_queue(connection)
    worker.use_app(app, queue)
    current_index(db.session)  # loaded now, not by the first job
    db.session.remove()
    # Jobs run in this process, not in a fork per job: the index (hundreds of MB for a large
    # catalogue) is built once and kept, where a forked job would lose it on exit.
    rq_worker = SimpleWorker([queue], connection=connection)
    rq_worker.work(burst=burst, with_scheduler=False)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Enqueue the periodic jobs (close plays of silent devices, find new tracks in the past,
    purge expired batches, accrue plays whose job was lost) until SIGTERM. Run one per
    deployment."""
    schema.require_current_for_command(db.engine)
    redis_url = _require_redis(current_app.config["ZAMIO"].redis_url, "scheduler")
    connection = queues.redis_connection(redis_url)
    scheduler = CronScheduler(connection=connection, logging_level=logging.INFO)
    register_jobs(scheduler)
    scheduler.start()


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete batches, refused payloads and device events older than the retention, now."""
    schema.require_current_for_command(db.engine)
    days = current_app.config["ZAMIO"].batch_retention_days
    purged = purge_expired(db.session, datetime.now(UTC), days)
    click.echo(
        f"deleted {purged.batches} batches, {purged.quarantined} refused payloads and "
        f"{purged.events} device events older than {days} days"
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
