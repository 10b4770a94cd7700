"""The worker process's app and queue: RQ jobs are plain functions, so they reach the database
through one app per process, built from the environment the first time a job needs it, and
enqueue the next job of the chain on this process's queue."""

from __future__ import annotations

from flask import Flask
from rq import Queue

_app: Flask | None = None
_queue: Queue | None = None


def worker_app() -> Flask:
    """This process's app (create_app from ZAMIO_* variables), made once."""
    global _app
    if _app is None:
        from central import create_app

        _app = create_app()
    return _app


def worker_queue() -> Queue:
    """The queue this process's jobs enqueue their successors on (ZAMIO_REDIS_URL, or inline)."""
    global _queue
    if _queue is None:
        from central import queues

        settings = worker_app().config["ZAMIO"]
        _queue = queues.settings_queue(settings.redis_url)
    return _queue


def use_app(app: Flask | None, queue: Queue | None = None) -> None:
    """Make jobs in this process use `app` and `queue` (the ingest process, the demo, tests)."""
    global _app, _queue
    _app = app
    _queue = queue


def app_queue(app: Flask) -> Queue:
    """The pipeline queue of `app`'s settings for a view to enqueue on; an inline one (no
    ZAMIO_REDIS_URL) runs its jobs in this process, so they are made to use `app`."""
    from central import queues

    queue = queues.settings_queue(app.config["ZAMIO"].redis_url)
    if not queue.is_async:
        use_app(app, queue)
    return queue
