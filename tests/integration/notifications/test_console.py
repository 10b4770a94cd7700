"""The console's notification pages, signed in through the real login form: the inbox with its
unread count in the header, marking read (CSRF-protected), the preferences form, webhooks with
the secret shown once, the delivery log and its replay button; another user's objects 404."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from sqlalchemy import select

from central.auth import users
from central.extensions import db
from central.notifications import notify, preferences
from central.notifications.models import Notification
from tests.integration.central.console.conftest import PEOPLE
from tests.integration.notifications.conftest import configure

pytestmark = pytest.mark.integration


def _user_id(app: Flask, role: str) -> int:
    """The id of the console fixtures' user of `role`."""
    with app.app_context():
        return users.get_user(db.session, PEOPLE[role][0]).id


def test_the_inbox_shows_and_marks_notifications(pg_app: Flask, console_client) -> None:
    """Two notifications: listed newest first with the unread count in the header; one marked
    read by its form (not without the CSRF token), then all; another's is a 404."""
    artist = console_client("artist")
    admin_id, artist_id = _user_id(pg_app, "admin"), _user_id(pg_app, "artist")
    with pg_app.app_context():
        notify(db.session, "plays.digest", [artist_id], "12 plays of your tracks", "on 3 stations",
               link="/")  # fmt: skip
        notify(db.session, "upload.registered", [artist_id], "Sunrise is registered", "as T-1")
        notify(db.session, "stream.down", [admin_id], "joy-fm down", "down")
        db.session.commit()
        mine = list(db.session.scalars(select(Notification.id).where(
            Notification.user_id == artist_id).order_by(Notification.id)))  # fmt: skip
        theirs = db.session.scalar(select(Notification.id).where(Notification.user_id == admin_id))
    page = artist.get("/notifications")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert text.index("Sunrise is registered") < text.index("12 plays of your tracks")
    assert "joy-fm down" not in text
    assert '<span class="count">2<' in page.text and "2 unread." in page.text
    assert artist.post(f"/notifications/{mine[0]}/read").status_code == 400  # no CSRF token
    assert artist.form(f"/notifications/{mine[0]}/read").status_code == 303
    assert '<span class="count">1<' in artist.get("/account").text
    assert artist.form(f"/notifications/{theirs}/read").status_code == 404
    assert artist.form("/notifications/read").status_code == 303
    assert "0 unread." in artist.get("/notifications").text


def test_the_preferences_form_saves_and_explains_refusals(pg_app: Flask, console_client) -> None:
    """Checkboxes per event and channel, phone, quiet hours: saved as the API shows them; SMS
    without a phone is refused with the reason, nothing saved."""
    station = console_client("station")
    station_id = _user_id(pg_app, "station")
    refused = station.form("/notifications/preferences", {"stream.down:sms": "1"})
    assert refused.status_code == 400 and "SMS needs a phone number" in refused.text
    saved = station.form("/notifications/preferences", {
        "stream.down:email": "1", "stream.down:sms": "1", "device.offline:email": "1",
        "phone": "024 123 4567", "quiet_start": "22:00", "quiet_end": "06:30",
    })  # fmt: skip
    assert saved.status_code == 200 and "Preferences saved." in saved.text
    with pg_app.app_context():
        record = preferences.preference_record(db.session, station_id)
    assert record["events"]["stream.down"] == ["email", "sms"]
    assert record["events"]["plays.digest"] == []  # unchecked on the form
    assert record["phone"] == "+233241234567"
    assert record["quiet_hours"] == {"start": "22:00", "end": "06:30"}


def test_webhooks_show_the_secret_once_log_and_replay(
    pg_app: Flask, console_client, receiver
) -> None:
    """Adding an endpoint shows its secret on that page only; a notification reaches the
    receiver, the endpoint's page shows the attempt, its Replay button sends it again; another
    user cannot open it."""
    configure(pg_app, webhook_allow_private=True)
    label = console_client("rights_holder")
    hook = receiver([])
    added = label.form("/notifications/webhooks", {"url": hook.url, "events": ["payout.paid"]})
    assert added.status_code == 200 and "shown once" in added.text
    hook.secret = added.text.split('<p class="secret">')[1].split("</p>")[0].strip()
    assert (
        hook.secret.startswith("whsec_")
        and hook.secret not in label.get("/notifications/webhooks").text
    )
    with pg_app.app_context():
        notify(db.session, "payout.paid", [_user_id(pg_app, "rights_holder")], "paid", "GHS 9")
        db.session.commit()
    assert len(hook.accepted()) == 1
    endpoint_page = label.get("/notifications/webhooks/1")
    assert endpoint_page.status_code == 200 and "#1" in endpoint_page.text
    delivery_id = endpoint_page.text.split("/notifications/webhook-deliveries/")[1].split("/")[0]
    replayed = label.form(f"/notifications/webhook-deliveries/{delivery_id}/replay")
    assert replayed.status_code == 303 and len(hook.accepted()) == 2
    assert "replayed as delivery" in html.unescape(label.get(replayed.headers["Location"]).text)
    other = console_client("artist")
    assert other.get("/notifications/webhooks/1").status_code == 404
    assert other.form(f"/notifications/webhook-deliveries/{delivery_id}/replay").status_code == 404
    assert other.form("/notifications/webhooks/1/delete").status_code == 404
    assert label.form("/notifications/webhooks/1/delete").status_code == 303
    assert "No endpoints yet." in label.get("/notifications/webhooks").text
