"""Webhooks to a real HTTP receiver that checks each signature: a receiver failing twice gets
the notification three times, accepts it once, and the log shows every attempt; a replay sends
it again (same notification id, a new delivery); private addresses are refused unless allowed;
a deleted endpoint gets nothing more."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db, utc_now
from central.notifications import notify, webhooks
from central.notifications.delivery import send_due
from central.notifications.errors import WebhookError
from central.notifications.jobs import senders
from central.notifications.models import NotificationDelivery, WebhookAttempt, WebhookEndpoint
from tests.integration.notifications.conftest import configure

pytestmark = pytest.mark.integration


def _endpoint(app: Flask, user_id: int, url: str, events: list[str]) -> tuple[int, str]:
    """A new endpoint of the user's: (id, secret)."""
    with app.app_context():
        key = app.config["SECRET_KEY"].encode()
        row, secret = webhooks.add_endpoint(db.session, user_id, url, events, "label system",
                                            True, key, utc_now())  # fmt: skip
        db.session.commit()
        return row.id, secret


def _webhook_deliveries(app: Flask) -> list[NotificationDelivery]:
    """Every webhook delivery, by id (detached)."""
    with app.app_context():
        query = select(NotificationDelivery).where(NotificationDelivery.channel == "webhook")
        found = list(db.session.scalars(query.order_by(NotificationDelivery.id)))
        db.session.expunge_all()
        return found


def test_failing_twice_then_accepting_delivers_once_with_every_attempt_logged(
    any_app: Flask, people, receiver
) -> None:
    """500, 500, then 200: three signed POSTs of the same body, one accepted; the delivery is
    sent after 3 attempts, each logged with its status; retries wait their backoff."""
    configure(any_app, webhook_allow_private=True)
    hook = receiver([500, 500])
    endpoint_id, hook.secret = _endpoint(any_app, people["rights_holder"], hook.url,
                                         ["upload.registered"])  # fmt: skip
    with any_app.app_context():
        notify(db.session, "upload.registered", [people["rights_holder"]], "Kumasi Nights is in",
               "registered as track B", data={"track": "B"}, link="/tracks/2")  # fmt: skip
        db.session.commit()
    [first] = _webhook_deliveries(any_app)
    assert (first.state, first.attempts, first.last_error) == ("queued", 1, "HTTP 500")
    with any_app.app_context():
        sender = senders(any_app)
        assert send_due(db.session, sender, utc_now()) == {}  # not due yet: its backoff
        assert send_due(db.session, sender, first.next_attempt_at) == {"queued": 1}
        [second] = _webhook_deliveries(any_app)
        assert second.next_attempt_at - first.next_attempt_at >= timedelta(seconds=59)
        assert send_due(db.session, sender, second.next_attempt_at) == {"sent": 1}
    [done] = _webhook_deliveries(any_app)
    assert (done.state, done.attempts, done.endpoint_id) == ("sent", 3, endpoint_id)
    assert [r["status"] for r in hook.requests] == [500, 500, 200]
    assert all(r["verified"] for r in hook.requests)
    assert len(hook.accepted()) == 1
    bodies = {r["body"] for r in hook.requests}
    assert len(bodies) == 1
    document = json.loads(bodies.pop())
    assert document["event"] == "upload.registered" and document["data"] == {"track": "B"}
    assert document["link"] == "http://127.0.0.1:8000/tracks/2"
    assert hook.requests[0]["headers"]["ZamIO-Delivery"] == str(done.id)
    with any_app.app_context():
        log = webhooks.delivery_log(db.session, endpoint_id, 10)
        assert [a["status_code"] for a in log[0]["log"]] == [500, 500, 200]
        assert [a["attempt"] for a in log[0]["log"]] == [1, 2, 3]


def test_a_replay_sends_the_same_notification_again(any_app: Flask, people, receiver) -> None:
    """Replaying a sent delivery: a new delivery (replay_of the first) is POSTed at once,
    with the notification's id and a delivery id of its own."""
    configure(any_app, webhook_allow_private=True)
    hook = receiver([])
    _, hook.secret = _endpoint(any_app, people["artist"], hook.url, ["*"])
    with any_app.app_context():
        notify(db.session, "payout.paid", [people["artist"]], "paid", "GHS 12.00 paid")
        db.session.commit()
        [original] = db.session.scalars(select(NotificationDelivery).where(
            NotificationDelivery.channel == "webhook"))  # fmt: skip
        webhooks.replay(db.session, original, utc_now())
        db.session.commit()
    first, again = _webhook_deliveries(any_app)
    assert again.replay_of == first.id and again.state == "sent"
    assert len(hook.accepted()) == 2
    ids = [json.loads(r["body"])["id"] for r in hook.requests]
    assert ids[0] == ids[1] == f"ntf_{first.notification_id}"
    assert [r["headers"]["ZamIO-Delivery"] for r in hook.requests] == [str(first.id), str(again.id)]


def test_private_addresses_are_refused_unless_allowed(any_app: Flask, people, receiver) -> None:
    """With private addresses not allowed: an http or 127.0.0.1 URL cannot be registered, and
    a stored one's delivery fails without any request reaching it."""
    hook = receiver([])
    with any_app.app_context():
        key = any_app.config["SECRET_KEY"].encode()
        for url in (hook.url, "https://127.0.0.1/x", "https://10.1.2.3/x", "ftp://example.com/x"):
            with pytest.raises(WebhookError):
                webhooks.add_endpoint(db.session, people["artist"], url, ["*"], None, False, key,
                                      utc_now())  # fmt: skip
        row, _ = webhooks.add_endpoint(db.session, people["artist"], hook.url, ["*"], None,
                                       True, key, utc_now())  # fmt: skip
        db.session.commit()
        notify(db.session, "stream.down", [people["artist"]], "down", "down")
        db.session.commit()
    [delivery] = _webhook_deliveries(any_app)
    assert delivery.state == "failed" and "plain http" in delivery.last_error
    assert hook.requests == []


def test_a_deleted_endpoint_gets_nothing_more(any_app: Flask, people, receiver) -> None:
    """Deleting an endpoint: new notifications plan no delivery to it, a queued one is dropped,
    and a replay to it is refused; its log stays."""
    configure(any_app, webhook_allow_private=True)
    hook = receiver([500])
    endpoint_id, hook.secret = _endpoint(any_app, people["station"], hook.url, ["stream.down"])
    with any_app.app_context():
        notify(db.session, "stream.down", [people["station"]], "down", "joy-fm is down")
        db.session.commit()
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert webhooks.delete_endpoint(row, utc_now()) and not webhooks.delete_endpoint(
            row, utc_now()
        )
        db.session.commit()
        [queued] = db.session.scalars(select(NotificationDelivery).where(
            NotificationDelivery.channel == "webhook"))  # fmt: skip
        assert send_due(db.session, senders(any_app), queued.next_attempt_at) == {"dropped": 1}
        with pytest.raises(WebhookError, match="deleted"):
            webhooks.replay(db.session, queued, utc_now())
        db.session.rollback()
        notify(db.session, "stream.down", [people["station"]], "down again", "still down",
               dedupe_key="second")  # fmt: skip
        db.session.commit()
        assert len(_webhook_deliveries(any_app)) == 1
        assert db.session.scalar(select(WebhookAttempt.status_code)) == 500
    assert len(hook.requests) == 1
