"""Mail by SMTP to a real server (aiosmtpd): a notification reaches it after the commit, once;
a rollback sends nothing; the auth outbox (invites, resets) goes the same way; refusals and
busy servers end as the delivery says."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from central.auth import users
from central.auth.models import OutboxMessage, User
from central.extensions import db, utc_now
from central.notifications import notify
from central.notifications.delivery import send_due
from central.notifications.jobs import senders
from central.notifications.models import Notification, NotificationDelivery
from tests.integration.notifications.conftest import PEOPLE

pytestmark = pytest.mark.integration


def _deliveries(app: Flask) -> list[NotificationDelivery]:
    """Every delivery, by id."""
    with app.app_context():
        rows = db.session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id))
        found = list(rows)
        db.session.expunge_all()
        return found


def test_a_notification_is_mailed_after_the_commit(mail_app: Flask, mailbox, people) -> None:
    """notify + commit: the SMTP server gets one message per user, with the subject, the body,
    the link at the public URL and where to change preferences; the deliveries are sent."""
    box, _ = mailbox
    with mail_app.app_context():
        notify(db.session, "upload.registered", [people["artist"], people["rights_holder"]],
               "Sunrise is registered", "Your upload Sunrise is now track T-1.",
               data={"track": "T-1"}, link="/tracks/1")  # fmt: skip
        assert box.messages == []  # nothing before the commit
        db.session.commit()
    received = box.wait_for(2)
    assert sorted(m["To"] for m in received) == sorted(
        [PEOPLE["artist"][0], PEOPLE["rights_holder"][0]]
    )
    message = box.to(PEOPLE["artist"][0])[0]
    assert message["Subject"] == "Sunrise is registered"
    assert message["From"] == "ZamIO <zamio@zamio.test>"
    text = message.get_content()
    assert "now track T-1" in text and "http://127.0.0.1:8000/tracks/1" in text
    assert "/notifications/preferences" in text
    states = [(d.channel, d.state, d.attempts) for d in _deliveries(mail_app)]
    assert states == [("email", "sent", 1), ("email", "sent", 1)]


def test_a_rollback_sends_nothing(mail_app: Flask, mailbox, people) -> None:
    """notify, then the caller's transaction rolls back: no inbox row, no delivery, no mail,
    and the next commit of that session sends nothing of it either."""
    box, _ = mailbox
    with mail_app.app_context():
        notify(db.session, "stream.down", [people["admin"]], "down", "the stream is down")
        db.session.rollback()
        db.session.get(User, people["admin"]).last_login_at = utc_now()
        db.session.commit()
        assert db.session.scalar(select(Notification.id)) is None
    assert _deliveries(mail_app) == []
    assert box.messages == []


def test_a_refused_recipient_fails_and_a_busy_server_is_retried(
    mail_app: Flask, mailbox, people
) -> None:
    """550 for a recipient: that delivery fails for good, the others go on the same
    connection; 451: queued again with its error, then sent when due."""
    box, _ = mailbox
    box.refuse[PEOPLE["station"][0]] = "550 5.1.1 no such user"
    box.busy_replies = 1
    with mail_app.app_context():
        ids = [people["station"], people["artist"], people["auditor"]]
        notify(db.session, "payout.paid", ids, "paid", "GHS 10.00 is on its way")
        db.session.commit()
    by_user = {d.user_id: d for d in _deliveries(mail_app)}
    assert by_user[people["station"]].state == "failed"
    assert "550" in by_user[people["station"]].last_error
    busy = [d for d in by_user.values() if d.state == "queued"]
    assert len(busy) == 1 and "451" in busy[0].last_error and busy[0].attempts == 1
    assert len(box.messages) == 1
    with mail_app.app_context():
        later = busy[0].next_attempt_at
        states = send_due(db.session, senders(mail_app), later)
    assert states == {"sent": 1}
    assert len(box.messages) == 2


def test_the_outbox_goes_out_through_the_mailer(mail_app: Flask, mailbox, people) -> None:
    """An invite (the auth outbox) is mailed once its transaction commits and marked sent;
    with no SMTP server set it waits in the outbox, as before."""
    box, _ = mailbox
    with mail_app.app_context():
        user = users.get_user(db.session, PEOPLE["artist"][0])
        users.issue_one_time_token(db.session, user, "invite", "https://zamio.example")
        db.session.commit()
    message = box.wait_for(1)[0]
    assert message["To"] == PEOPLE["artist"][0]
    assert "https://zamio.example/password?token=" in message.get_content()
    with mail_app.app_context():
        row = db.session.scalar(select(OutboxMessage))
        assert row.sent_at is not None and row.attempts == 1


def test_without_smtp_the_outbox_waits(any_app: Flask, people) -> None:
    """No ZAMIO_SMTP_URL: the reset mail stays unsent in the outbox for `zamio user outbox`."""
    with any_app.app_context():
        users.request_password_reset(db.session, PEOPLE["artist"][0], "https://zamio.example")
        db.session.commit()
        [mail] = users.outbox(db.session)
        assert mail.sent_at is None and mail.attempts == 0
