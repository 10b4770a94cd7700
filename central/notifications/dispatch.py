"""Sending starts after the commit: `remember` notes, on the session, the deliveries (and outbox
mail) a transaction made; when that transaction commits, their sending jobs are enqueued on the
notifications queue (`zamio-notify`), in chunks; when it rolls back, the note is dropped, so a
rollback sends nothing.

The listeners are on SQLAlchemy's Session class (every session): `after_commit` fires for a
savepoint's release too, so it acts only on the outermost commit. An enqueue that fails (Redis
away) is logged and left to the sweep (`jobs.sweep_notifications`), which enqueues what is due
and has no job. Without Redis the queue is inline: the jobs run right there, after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app, has_app_context
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from central import queues
from central.notifications.events import EMAIL, SMS, WEBHOOK

logger = logging.getLogger(__name__)

NOTIFY_QUEUE = "zamio-notify"
OUTBOX = "outbox"
# Deliveries per job: one SMTP connection sends a job's mail; webhooks and SMS are one HTTP
# request each, so fewer per job keeps one slow receiver from holding up many others.
CHUNK = {EMAIL: 50, SMS: 20, WEBHOOK: 5, OUTBOX: 50}
JOB_FUNCTIONS = {
    EMAIL: "central.notifications.jobs.send_deliveries",
    SMS: "central.notifications.jobs.send_deliveries",
    WEBHOOK: "central.notifications.jobs.send_deliveries",
    OUTBOX: "central.notifications.jobs.send_outbox",
}
SEND_JOB_S_MAX = 1800  # a job of 50 mails at ZAMIO_SMTP_TIMEOUT_S 30 each, at worst
_PENDING = "zamio_notifications_pending"


def remember(session: Session, kind: str, ids: Iterable[int]) -> None:
    """Send these deliveries (kind: their channel) or outbox mails once `session` commits."""
    found = list(ids)
    if found:
        session.info.setdefault(_PENDING, {}).setdefault(kind, []).extend(found)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """The outermost commit: enqueue what its transaction made (never raises: the commit has
    happened, and the sweep sends whatever this could not enqueue)."""
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction goes on
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if not has_app_context():
        logger.warning("notifications: committed outside an app: the sweep will send them")
        return
    try:
        enqueue(notify_queue(current_app), pending)
    except queues.REDIS_DOWN as error:
        logger.warning("notifications: not enqueued, Redis unavailable (the sweep will): %s", error)
    except Exception:  # a broken enqueue must not turn a done commit into an error
        logger.exception("notifications: enqueue failed; the sweep will send them")


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """The outermost transaction rolled back: nothing it made is sent."""
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def enqueue(queue: Queue, pending: dict[str, list[int]]) -> int:
    """Enqueue one sending job per chunk of each kind; how many jobs."""
    jobs = 0
    with queues.enqueueing(queue) as pipeline:
        for kind, ids in sorted(pending.items()):
            unique = sorted(set(ids))
            size = CHUNK[kind]
            for start in range(0, len(unique), size):
                enqueue_chunk(queue, kind, unique[start : start + size], pipeline)
                jobs += 1
    return jobs


def enqueue_chunk(queue: Queue, kind: str, ids: list[int], pipeline: Any = None) -> None:
    """Enqueue the job that sends these deliveries or outbox mails."""
    queue.enqueue(
        JOB_FUNCTIONS[kind],
        ids,
        result_ttl=queues.RESULT_TTL_S,
        failure_ttl=queues.FAILURE_TTL_S,
        job_timeout=SEND_JOB_S_MAX,
        retry=queues.retry(),
        pipeline=pipeline,
    )


def notify_queue(app: Flask) -> Queue:
    """The notifications queue of `app`'s settings: on ZAMIO_REDIS_URL, or inline (its jobs run
    in this process, with `app`), kept per app."""
    from central import worker

    redis_url = app.config["ZAMIO"].redis_url
    if redis_url is None:
        worker.app_queue(app)  # inline jobs use `app` (as the pipeline's do)
    kept = app.extensions.get("zamio_notify_queue")
    if kept is not None and kept[0] == redis_url:
        return kept[1]
    if redis_url is None:
        from central.embedded.inline import InlineQueue, inline_connection

        queue: Queue = InlineQueue(NOTIFY_QUEUE, connection=inline_connection(), is_async=False)
    else:
        queue = Queue(NOTIFY_QUEUE, connection=queues.redis_connection(redis_url))
    app.extensions["zamio_notify_queue"] = (redis_url, queue)
    return queue
