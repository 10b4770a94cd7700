"""The notifications API: the inbox (paged, marked read), preferences (checked, audited),
webhook endpoints (secret shown once, delivery log, replay); another user's notification,
endpoint or delivery is a 404, admins included."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from central.auth import roles, tokens
from central.auth.models import AuditEvent, User
from central.extensions import db, utc_now
from central.notifications import notify, signing
from tests.integration.notifications.conftest import add_people, configure

pytestmark = pytest.mark.integration
BOOTSTRAP = "zamio-test-token-0123456789_abcdefghijklmno"


@pytest.fixture
def api(pg_app: Flask) -> tuple[dict[str, int], Callable[..., TestResponse]]:
    """Users of every role, and call(role, method, path, **kwargs) with a token of every scope
    the role allows (role None: the bootstrap token)."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=BOOTSTRAP)
    ids = add_people(pg_app)
    secrets = {}
    with pg_app.app_context():
        for role, user_id in ids.items():
            user = db.session.get(User, user_id)
            _, secrets[role] = tokens.create_token(db.session, user, "t",
                                                   roles.allowed_scopes(user.role),
                                                   timedelta(days=1), utc_now())  # fmt: skip
        db.session.commit()
    client = pg_app.test_client()

    def call(role: str | None, method: str, path: str, **kwargs: Any) -> TestResponse:
        token = BOOTSTRAP if role is None else secrets[role]
        return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"},
                           **kwargs)  # fmt: skip

    return ids, call


def test_the_inbox_pages_newest_first_and_marks_read(pg_app: Flask, api) -> None:
    """Three notifications: pages of two by cursor, newest first, the unread count; one
    marked read, then all; another user's notification is a 404."""
    ids, call = api
    with pg_app.app_context():
        for n in range(3):
            notify(db.session, "plays.digest", [ids["artist"]], f"digest {n}", "plays",
                   dedupe_key=str(n), data={"n": n})  # fmt: skip
        notify(db.session, "stream.down", [ids["admin"]], "down", "down")
        db.session.commit()
    first = call("artist", "GET", "/api/v1/notifications?limit=2").json
    assert [n["subject"] for n in first["notifications"]] == ["digest 2", "digest 1"]
    assert first["unread"] == 3 and first["notifications"][0]["data"] == {"n": 2}
    rest = call("artist", "GET", f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}")
    assert [n["subject"] for n in rest.json["notifications"]] == ["digest 0"]
    assert rest.json["next_cursor"] is None
    newest = first["notifications"][0]["id"]
    marked = call("artist", "POST", f"/api/v1/notifications/{newest}/read")
    assert marked.status_code == 200 and marked.json["read"] is True
    unread = call("artist", "GET", "/api/v1/notifications?unread=true").json
    assert [n["subject"] for n in unread["notifications"]] == ["digest 1", "digest 0"]
    assert call("artist", "POST", "/api/v1/notifications/read").json == {"marked": 2}
    assert call("artist", "GET", "/api/v1/notifications").json["unread"] == 0
    admins = call("admin", "GET", "/api/v1/notifications").json["notifications"]
    assert (
        call("artist", "POST", f"/api/v1/notifications/{admins[0]['id']}/read").status_code == 404
    )
    assert call(None, "GET", "/api/v1/notifications").status_code == 404  # no user, no inbox


def test_preferences_are_checked_saved_and_audited(pg_app: Flask, api) -> None:
    """GET shows the defaults; PUT replaces them (the number made E.164) and is audited; SMS
    without a number, or an unknown event, is a 400 problem naming it."""
    ids, call = api
    shown = call("station", "GET", "/api/v1/notifications/preferences").json
    assert shown["events"]["stream.down"] == ["email"] and shown["quiet_hours"] is None
    assert shown["timezone"] == "Africa/Accra" and shown["timezone_chosen"] is False
    body = {"events": {"stream.down": ["email", "sms"], "plays.digest": []},
            "phone": "+233 24 123 4567", "timezone": "Africa/Lagos",
            "quiet_hours": {"start": "22:30", "end": "06:00"}}  # fmt: skip
    saved = call("station", "PUT", "/api/v1/notifications/preferences", json=body)
    assert saved.status_code == 200, saved.json
    assert saved.json["events"]["stream.down"] == ["email", "sms"]
    assert saved.json["phone"] == "+233241234567" and saved.json["timezone"] == "Africa/Lagos"
    assert saved.json["quiet_hours"] == {"start": "22:30", "end": "06:00"}
    refused = call("station", "PUT", "/api/v1/notifications/preferences",
                   json={"events": {"stream.down": ["sms"]}})  # fmt: skip
    assert refused.status_code == 400 and "phone" in refused.json["detail"]
    unknown = call("station", "PUT", "/api/v1/notifications/preferences",
                   json={"events": {"nope": ["email"]}})  # fmt: skip
    assert unknown.status_code == 400 and "events" in unknown.json["errors"]["json"]
    with pg_app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "notify.preferences"))  # fmt: skip
        assert list(actions) == ["notify.preferences"]


def test_webhooks_show_their_secret_once_and_are_their_owners_only(
    pg_app: Flask, api, receiver
) -> None:
    """POST makes an endpoint and shows its secret once (the list never); the delivery log
    shows each attempt; replay sends again; another user's endpoint and delivery are 404
    (admins included); a deleted endpoint is listed no more but keeps its log."""
    ids, call = api
    configure(pg_app, webhook_allow_private=True)
    hook = receiver([503])
    wanted = {"url": hook.url, "events": ["upload.review"], "description": "label"}
    made = call("rights_holder", "POST", "/api/v1/webhooks", json=wanted)
    assert made.status_code == 201, made.json
    hook.secret = made.json["secret"]
    assert hook.secret.startswith(signing.SECRET_PREFIX)
    webhook_id = made.json["id"]
    listed = call("rights_holder", "GET", "/api/v1/webhooks").json["webhooks"]
    assert [w["id"] for w in listed] == [webhook_id] and "secret" not in listed[0]
    assert listed[0]["secret_hint"] == "…" + hook.secret[-4:]
    with pg_app.app_context():
        notify(db.session, "upload.review", [ids["rights_holder"]], "in review", "held")
        db.session.commit()
    log = call("rights_holder", "GET", f"/api/v1/webhooks/{webhook_id}/deliveries").json
    [delivery] = log["deliveries"]
    assert delivery["state"] == "queued" and delivery["log"][0]["status_code"] == 503
    for role in ("admin", "artist"):
        assert call(role, "GET", f"/api/v1/webhooks/{webhook_id}").status_code == 404
        assert call(role, "GET", f"/api/v1/webhooks/{webhook_id}/deliveries").status_code == 404
        assert call(role, "DELETE", f"/api/v1/webhooks/{webhook_id}").status_code == 404
        path = f"/api/v1/webhook-deliveries/{delivery['id']}/replay"
        assert call(role, "POST", path).status_code == 404
    replayed = call("rights_holder", "POST", f"/api/v1/webhook-deliveries/{delivery['id']}/replay")
    assert replayed.status_code == 202 and replayed.json["replay_of"] == delivery["id"]
    assert replayed.json["state"] == "sent" and len(hook.accepted()) == 1
    assert call("rights_holder", "DELETE", f"/api/v1/webhooks/{webhook_id}").status_code == 204
    assert call("rights_holder", "GET", "/api/v1/webhooks").json["webhooks"] == []
    kept = call("rights_holder", "GET", f"/api/v1/webhooks/{webhook_id}").json
    assert kept["deleted_at"] is not None and kept["active"] is False
    again = call("rights_holder", "POST", f"/api/v1/webhook-deliveries/{delivery['id']}/replay")
    assert again.status_code == 409
    bad = call("artist", "POST", "/api/v1/webhooks", json={"url": "ftp://x.test/", "events": ["*"]})
    assert bad.status_code == 400
