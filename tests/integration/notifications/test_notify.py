"""notify() in the caller's transaction: one inbox row per user, deduplicated by key; deliveries
by preferences; quiet hours defer mail to their end; a rate limit drops the excess with its
reason; with Redis, the sending jobs wait on the notifications queue until after the commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from central import worker
from central.extensions import db
from central.notifications import Message, jobs, notify, notify_each, preferences, recipients
from central.notifications.delivery import send_due
from central.notifications.dispatch import NOTIFY_QUEUE
from central.notifications.errors import PreferenceError
from central.notifications.models import Notification, NotificationDelivery
from tests.integration.notifications.conftest import PEOPLE, add_people, configure

pytestmark = pytest.mark.integration
LATE = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # Accra is UTC all year


def _count(model: type) -> int:
    """Rows of a table."""
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def _states() -> list[tuple[str, str, str | None]]:
    """(channel, state, last_error) of every delivery, by id."""
    rows = db.session.execute(
        select(NotificationDelivery.channel, NotificationDelivery.state,
               NotificationDelivery.last_error).order_by(NotificationDelivery.id)
    )  # fmt: skip
    return [tuple(r) for r in rows]


def test_the_same_key_twice_is_one_notification(mail_app: Flask, mailbox, people) -> None:
    """(event, user, dedupe_key) once: a repeat, in the same or a later transaction, adds no
    inbox row, no delivery and no mail; another key, or none, is a new notification."""
    box, _ = mailbox
    with mail_app.app_context():
        for _ in range(2):
            notify(db.session, "device.offline", [people["station"], people["admin"]], "pi-01 off",
                   "offline", dedupe_key="device:pi-01:1")  # fmt: skip
        db.session.commit()
        notify(db.session, "device.offline", [people["station"]], "pi-01 off", "offline",
               dedupe_key="device:pi-01:1")  # fmt: skip
        db.session.commit()
        assert _count(Notification) == 2 and _count(NotificationDelivery) == 2
        notify(db.session, "device.offline", [people["station"]], "again", "x", dedupe_key="2")
        notify(db.session, "device.offline", [people["station"]], "no key", "x")
        notify(db.session, "device.offline", [people["station"]], "no key", "x")
        db.session.commit()
        assert _count(Notification) == 5
    assert len(box.wait_for(5)) == 5


def test_preferences_choose_the_channels(any_app: Flask, people) -> None:
    """An event turned off gets the inbox only; SMS needs a number and goes when chosen (here
    no provider is set: dropped, saying so); unknown events and channels are refused."""
    with any_app.app_context():
        artist = people["artist"]
        preferences.save_preferences(
            db.session, artist, {"plays.digest": [], "payout.paid": ["email", "sms"]},
            "024 123 4567", None, None, datetime.now(UTC),
        )  # fmt: skip
        db.session.commit()
        record = preferences.preference_record(db.session, artist)
        assert record["phone"] == "+233241234567" and record["events"]["plays.digest"] == []
        assert record["events"]["upload.review"] == ["email"]  # the default
        notify(db.session, "plays.digest", [artist], "digest", "3 plays")
        notify(db.session, "payout.paid", [artist], "paid", "GHS 10")
        db.session.commit()
        assert _count(Notification) == 2
        assert _states() == [
            ("email", "dropped", "email is not configured (ZAMIO_SMTP_URL)"),
            ("sms", "dropped", "SMS is not configured (ZAMIO_SMS_URL)"),
        ]
        for events, phone in (({"nope": ["email"]}, None), ({"payout.paid": ["fax"]}, None),
                              ({"payout.paid": ["sms"]}, None), ({}, "12")):  # fmt: skip
            with pytest.raises(PreferenceError):
                preferences.save_preferences(db.session, artist, events, phone, None, None,
                                             datetime.now(UTC))  # fmt: skip


def test_quiet_hours_defer_mail_to_their_end(mail_app: Flask, mailbox, people) -> None:
    """Quiet 22:00-07:00 (Africa/Accra): mail notified at 23:00 waits, unsent, until 07:00,
    when the sweep sends it (once); a webhook would not wait (plan's tests)."""
    box, _ = mailbox
    with mail_app.app_context():
        artist = people["artist"]
        preferences.save_preferences(db.session, artist, None, None, "Africa/Accra",
                                     {"start": "22:00", "end": "07:00"}, LATE)  # fmt: skip
        notify_each(db.session, "payout.approved", [Message(artist, "approved", "soon")], LATE)
        db.session.commit()
        [row] = db.session.scalars(select(NotificationDelivery))
        assert row.state == "queued" and row.next_attempt_at.replace(tzinfo=UTC) == datetime(
            2026, 12, 4, 7, 0, tzinfo=UTC
        )
        assert send_due(db.session, jobs.senders(mail_app), LATE + timedelta(minutes=30)) == {}
        assert box.messages == []
        assert jobs.sweep(mail_app, datetime(2026, 12, 4, 7, 0, 5, tzinfo=UTC)) == {"email": 1}
        assert jobs.sweep(mail_app, datetime(2026, 12, 4, 7, 1, tzinfo=UTC)) == {}
    assert box.wait_for(1)[0]["Subject"] == "approved"


def test_the_rate_limit_drops_the_excess_with_its_reason(mail_app: Flask, mailbox, people) -> None:
    """At most 2 mails an hour: the third notification is in the inbox, its mail dropped with
    the reason; an hour later mail goes again."""
    box, _ = mailbox
    configure(mail_app, notify_email_per_hour_max=2)
    with mail_app.app_context():
        admin = people["admin"]
        earlier = datetime.now(UTC) - timedelta(hours=1, minutes=1)
        for n in range(3):
            message = Message(admin, f"silent {n}", "dead air", dedupe_key=str(n))
            notify_each(db.session, "stream.dead_air", [message], earlier)
        db.session.commit()
        assert _count(Notification) == 3
        assert _states()[2] == ("email", "dropped", "rate limit: at most 2 email an hour")
        notify(db.session, "stream.dead_air", [admin], "later", "x")
        db.session.commit()
        assert _states()[3][1] == "sent"
    assert [m["Subject"] for m in box.wait_for(3)] == ["silent 0", "silent 1", "later"]


def test_with_redis_the_jobs_wait_for_the_commit_on_their_own_queue(
    pg_app: Flask, redis_url, redis_connection, mailbox
) -> None:
    """With ZAMIO_REDIS_URL: nothing is enqueued before the commit; after it, one job on the
    `zamio-notify` queue, which a worker runs to send the mail; a rollback enqueues nothing."""
    box, port = mailbox
    ids = add_people(pg_app)
    configure(pg_app, smtp_url=f"smtp://127.0.0.1:{port}", redis_url=redis_url)
    queue = Queue(NOTIFY_QUEUE, connection=redis_connection)
    with pg_app.app_context():
        notify(db.session, "funding.invoice", [ids["station"]], "invoice", "GHS 300 due")
        assert queue.count == 0
        db.session.commit()
        assert queue.count == 1
        notify(db.session, "funding.invoice", [ids["admin"]], "invoice", "rolled back")
        db.session.rollback()
        assert queue.count == 1
    worker.use_app(pg_app, queue)
    try:
        SimpleWorker([queue], connection=redis_connection).work(burst=True)
    finally:
        worker.use_app(None)
    [message] = box.wait_for(1)
    assert message["To"] == PEOPLE["station"][0] and message["Subject"] == "invoice"


def test_recipients(any_app: Flask, people) -> None:
    """party_users, station_users and admins name the active users linked so."""
    from central.stations.store import find_station

    with any_app.app_context():
        joy = find_station(db.session, "joy-fm")
        assert recipients.party_users(db.session, "artist:ama:earnings") == [people["artist"]]
        assert recipients.party_users(db.session, "artist:nobody:earnings") == []
        assert recipients.station_users(db.session, joy.id) == [people["station"]]
        assert recipients.admins(db.session) == [people["admin"]]
