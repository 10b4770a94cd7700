"""`zamio worker`: an RQ worker on the pipeline queue."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Worker

from central import queues, schema, worker
from central.extensions import db


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run pipeline jobs (match_batch, update_plays) until SIGTERM; run several for throughput."""
    schema.require_current_for_command(db.engine)
    app = current_app._get_current_object()
    connection = queues.redis_connection(app.config["ZAMIO"].redis_url)
    queue = queues.pipeline_queue(connection)
    worker.use_app(app, queue)
    rq_worker = Worker([queue], connection=connection)
    rq_worker.work(burst=burst, with_scheduler=False)
