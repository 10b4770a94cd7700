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
    """Run jobs (match_batch, ...) from Redis until SIGTERM; run several for more throughput."""
    schema.require_current_for_command(db.engine)
    app = current_app._get_current_object()
    worker.use_app(app)
    connection = queues.redis_connection(app.config["ZAMIO"].redis_url)
    rq_worker = Worker([queues.pipeline_queue(connection)], connection=connection)
    rq_worker.work(burst=burst, with_scheduler=False)
