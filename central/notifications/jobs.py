"""RQ jobs of notifications. On the `zamio-notify` queue: send_deliveries(ids) and
send_outbox(ids), enqueued after the commit that made them (dispatch.py). Periodic, on the
pipeline queue (central/schedule.py): sweep_notifications (what is due and has no job: retries,
the end of quiet hours, jobs lost with Redis), plays_digest (yesterday's plays, once per user)
and watch_health (devices offline, streams down or silent, once per incident)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from flask import Flask

from central.extensions import db, utc_now
from central.notifications import delivery, digest, dispatch, health_watch, mailer, outbox
from central.worker import worker_app

logger = logging.getLogger(__name__)


def senders(app: Flask) -> delivery.Senders:
    """The app's senders (webhooks signed with its SECRET_KEY)."""
    return delivery.senders_of(app.config["ZAMIO"], app.config["SECRET_KEY"])


def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    """Job: send these deliveries (those still due); how many reached each state."""
    app = worker_app()
    with app.app_context():
        return dict(delivery.deliver(db.session, senders(app), delivery_ids, utc_now()))


def send_outbox(message_ids: list[int]) -> int:
    """Job: send these outbox messages (those unsent and due); how many went."""
    app = worker_app()
    settings = app.config["ZAMIO"]
    with app.app_context():
        return outbox.send_outbox(
            db.session, mailer.smtp_target(settings), message_ids, utc_now(),
            settings.notify_retry_base_s, settings.notify_attempts_max,
        )  # fmt: skip


def sweep(app: Flask, now: datetime) -> Counter[str]:
    """Enqueue a job for every due delivery that has none, and for the outbox's due mail
    (when mail is configured); jobs enqueued by kind."""
    settings = app.config["ZAMIO"]
    pending = delivery.due_without_job(db.session, now)
    db.session.commit()
    if settings.smtp_url is not None:
        due_mail = outbox.due_outbox(db.session, now, settings.notify_attempts_max)
        db.session.commit()
        if due_mail:
            pending[dispatch.OUTBOX] = due_mail
    if not pending:
        return Counter()
    dispatch.enqueue(dispatch.notify_queue(app), pending)
    return Counter({kind: len(ids) for kind, ids in pending.items()})


def sweep_notifications() -> dict[str, int]:
    """Periodic job: see `sweep`."""
    app = worker_app()
    with app.app_context():
        found = sweep(app, utc_now())
    if found:
        logger.info("sweep_notifications: enqueued %s", dict(found))
    return dict(found)


def plays_digest() -> int:
    """Periodic job: the daily digest of the last day due (a no-op once it is made); users
    told."""
    app = worker_app()
    with app.app_context():
        settings = app.config["ZAMIO"]
        day = digest.due_day(utc_now(), settings.plays_close_wait_s)
        return digest.send_digest(db.session, day)


def watch_health() -> int:
    """Periodic job: notify stations' users and admins of incidents older than
    ZAMIO_NOTIFY_INCIDENT_MIN; notifications made."""
    app = worker_app()
    with app.app_context():
        minutes = app.config["ZAMIO"].notify_incident_min
        return health_watch.notify_incidents(db.session, utc_now(), minutes)
