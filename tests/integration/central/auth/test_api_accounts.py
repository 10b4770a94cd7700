"""People through the API: login, scoped and owned objects (404 for another's), disabled users,
throttling with Retry-After, idempotent creation, the audit log, password reset by mail, ETags,
and tokens that never reach a log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from central.auth import users
from central.auth.models import AuditEvent, OutboxMessage, User
from central.extensions import db
from tests.integration.central.auth.conftest import PASSWORD, PEOPLE, set_limits

pytestmark = pytest.mark.integration


def test_login_gives_a_token_that_says_who_it_is(people, call) -> None:
    """POST /auth/token with email and password: a token; /me names its user, role and links."""
    email = PEOPLE["station"][0]
    response = call("POST", "/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.json
    token = response.json["token"]
    assert token.startswith("zamio_pat_")
    me = call("GET", "/api/v1/me", token).json
    assert me["email"] == email and me["role"] == "station" and me["stations"] == ["joy-fm"]
    assert "tokens:write" in me["token_scopes"]
    wrong = call("POST", "/api/v1/auth/token", json={"email": email, "password": PASSWORD + "x"})
    assert wrong.status_code == 401
    unknown = call("POST", "/api/v1/auth/token", json={"email": "no@one.test", "password": "x"})
    assert unknown.status_code == 401 and unknown.json["detail"] == wrong.json["detail"]


def test_station_staff_see_their_station_and_not_another(people, call) -> None:
    """Own station: 200; another station: 404 (not 403, so codes cannot be probed); the list
    holds theirs only."""
    token = people["station"]
    assert call("GET", "/api/v1/stations/joy-fm", token).status_code == 200
    other = call("GET", "/api/v1/stations/peace-fm", token)
    assert other.status_code == 404
    assert call("GET", "/api/v1/stations/no-such", token).json["detail"] == other.json["detail"]
    listed = call("GET", "/api/v1/stations", token).json["stations"]
    assert [s["code"] for s in listed] == ["joy-fm"]
    admin = call("GET", "/api/v1/stations", people["admin"]).json["stations"]
    assert [s["code"] for s in admin] == ["joy-fm", "peace-fm"]


def test_a_disabled_users_tokens_stop_at_once(people, call) -> None:
    """PATCH active=false by an admin: the user's next request is 401; enabled again: 200."""
    token = people["station"]
    assert call("GET", "/api/v1/me", token).status_code == 200
    admin = people["admin"]
    listed = call("GET", "/api/v1/users", admin, query_string={"role": "station"}).json
    user_id = listed["users"][0]["id"]
    changed = call("PATCH", f"/api/v1/users/{user_id}", admin, json={"active": False})
    assert changed.status_code == 200 and changed.json["active"] is False
    assert call("GET", "/api/v1/me", token).status_code == 401
    call("PATCH", f"/api/v1/users/{user_id}", admin, json={"active": True})
    assert call("GET", "/api/v1/me", token).status_code == 200


def test_token_create_list_and_revoke(people, call) -> None:
    """A user makes a token within their own scopes, sees it listed (never its secret), revokes
    it, and it stops working; another user's token id is 404."""
    token = people["artist"]
    made = call("POST", "/api/v1/tokens", token, json={"name": "cron", "scopes": ["plays:read"]})
    assert made.status_code == 201, made.json
    assert call("GET", "/api/v1/me", made.json["token"]).json["token_scopes"] == ["plays:read"]
    listed = call("GET", "/api/v1/tokens", token).get_data(as_text=True)
    assert made.json["prefix"] in listed and made.json["token"] not in listed
    beyond = call("POST", "/api/v1/tokens", token, json={"name": "x", "scopes": ["admin"]})
    assert beyond.status_code == 400 and "not for the role artist" in beyond.json["detail"]
    assert call("DELETE", f"/api/v1/tokens/{made.json['id']}", people["station"]).status_code == 404
    assert call("DELETE", f"/api/v1/tokens/{made.json['id']}", token).status_code == 204
    assert call("GET", "/api/v1/me", made.json["token"]).status_code == 401


def test_user_creation_is_idempotent_and_audited(pg_app: Flask, people, call) -> None:
    """Same Idempotency-Key and body: the first response again, one user; another body: 409;
    the audit log holds one user.add by the admin, which an auditor can read."""
    admin = people["admin"]
    body = {"email": "new@joy.test", "role": "station", "stations": ["joy-fm"]}
    headers = {"Idempotency-Key": "add-new-1"}
    first = call("POST", "/api/v1/users", admin, json=body, headers=headers)
    again = call("POST", "/api/v1/users", admin, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json and again.headers["Idempotent-Replayed"] == "true"
    other = call(
        "POST", "/api/v1/users", admin, json={**body, "email": "x@joy.test"}, headers=headers
    )
    assert other.status_code == 409
    with pg_app.app_context():
        assert db.session.query(User).filter_by(email="new@joy.test").count() == 1
        assert db.session.query(User).filter_by(email="x@joy.test").count() == 0
        events = db.session.query(AuditEvent).filter_by(action="user.add").all()
        assert len(events) == 1 and events[0].actor.startswith("user:")
        invite = db.session.query(OutboxMessage).filter_by(to_address="new@joy.test").one()
        assert "zamio_otk_" in invite.body
    log = call("GET", "/api/v1/audit", people["auditor"], query_string={"action": "user.add"})
    assert (
        log.status_code == 200 and log.json["events"][0]["object_id"] == first.json["id"].__str__()
    )
    assert call("GET", "/api/v1/audit", people["artist"]).status_code == 403


def test_password_reset_by_mail(pg_app: Flask, people, call) -> None:
    """Ask for a reset: the outbox holds a link; its token sets a new password once; the old
    password stops working; an unknown email gets the same answer and no mail."""
    email = PEOPLE["artist"][0]
    asked = call("POST", "/api/v1/auth/password-reset", json={"email": email})
    unknown = call("POST", "/api/v1/auth/password-reset", json={"email": "nobody@x.test"})
    assert asked.status_code == unknown.status_code == 202
    assert asked.json == unknown.json
    with pg_app.app_context():
        mails = users.outbox(db.session)
        assert [m.to_address for m in mails] == [email]
        reset_token = next(w for w in mails[0].body.split() if "zamio_otk_" in w).split("=")[-1]
    new = "another long passphrase"
    done = call("POST", "/api/v1/auth/password", json={"token": reset_token, "password": new})
    assert done.status_code == 200, done.json
    reused = call("POST", "/api/v1/auth/password", json={"token": reset_token, "password": new})
    assert reused.status_code == 400
    old = call("POST", "/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    assert (
        call("POST", "/api/v1/auth/token", json={"email": email, "password": new}).status_code
        == 201
    )


def test_login_brute_force_hits_429_with_retry_after(pg_app: Flask, people, call) -> None:
    """Past the login limit a login is 429 with Retry-After, even with the right password."""
    set_limits(pg_app, login_rate_limit="5 per minute")
    email = PEOPLE["admin"][0]
    codes = [
        call(
            "POST", "/api/v1/auth/token", json={"email": email, "password": f"guess-{n}"}
        ).status_code
        for n in range(5)
    ]
    assert codes == [401] * 5
    right = call("POST", "/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
    assert right.mimetype == "application/problem+json"


def test_token_guessing_hits_429(pg_app: Flask, people, call) -> None:
    """Failed authentications from one address are limited: then even a good token waits."""
    set_limits(pg_app, auth_failure_rate_limit="10 per minute")
    for n in range(10):
        guess = f"zamio_pat_{n:012d}_" + "A" * 32
        assert call("GET", "/api/v1/me", guess).status_code == 401
    refused = call("GET", "/api/v1/me", people["admin"])
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_every_caller_has_a_limit(pg_app: Flask, people, call) -> None:
    """A token past ZAMIO_API_RATE_LIMIT gets 429; another token is not slowed by it."""
    set_limits(pg_app, api_rate_limit="3 per minute")
    codes = [call("GET", "/api/v1/me", people["artist"]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert call("GET", "/api/v1/me", people["station"]).status_code == 200


def test_gets_carry_etags(people, call) -> None:
    """A GET has an ETag; sending it back as If-None-Match is 304 with no body."""
    first = call("GET", "/api/v1/stations", people["admin"])
    etag = first.headers["ETag"]
    again = call("GET", "/api/v1/stations", people["admin"], headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_tokens_and_passwords_never_reach_the_log(
    pg_app: Flask, people, call, caplog: pytest.LogCaptureFixture
) -> None:
    """Accepted, refused and created tokens, and passwords, leave no trace in the log."""
    caplog.set_level(logging.DEBUG)
    made = call(
        "POST", "/api/v1/auth/token", json={"email": PEOPLE["admin"][0], "password": PASSWORD}
    )
    call("GET", "/api/v1/me", made.json["token"])
    call("GET", "/api/v1/me", made.json["token"][:-1] + "Z")
    for secret in (made.json["token"], PASSWORD, *people.values()):
        assert secret not in caplog.text


def test_idempotency_records_are_purged_after_their_days(pg_app: Flask, people, call) -> None:
    """zamio purge deletes idempotency records older than KEEP_DAYS and keeps newer ones."""
    from datetime import UTC, datetime, timedelta

    from central.api.idempotency import KEEP_DAYS
    from central.auth.models import IdempotencyRecord
    from central.ingest.retention import purge_expired

    for key in ("old", "new"):
        body = {"name": key, "scopes": ["plays:read"]}
        made = call("POST", "/api/v1/tokens", people["artist"], json=body,
                    headers={"Idempotency-Key": key})  # fmt: skip
        assert made.status_code == 201
    with pg_app.app_context():
        old = db.session.query(IdempotencyRecord).filter_by(key="old").one()
        old.created_at = datetime.now(UTC) - timedelta(days=KEEP_DAYS, hours=1)
        db.session.commit()
        purged = purge_expired(db.session, datetime.now(UTC), 30)
        assert purged.idempotency_records == 1
        assert [r.key for r in db.session.query(IdempotencyRecord)] == ["new"]


def test_limits_are_shared_through_redis(pg_database_url: str, redis_url: str, people) -> None:
    """With ZAMIO_REDIS_URL, two apps (two processes of zamio serve) count one token together."""
    from central import create_app
    from tests.conftest import disposed

    apps = [
        create_app(
            {
                "DATABASE_URL": pg_database_url,
                "TESTING": True,
                "REDIS_URL": redis_url,
                "API_RATE_LIMIT": "4 per minute",
            }
        )  # fmt: skip
        for _ in range(2)
    ]
    headers = {"Authorization": f"Bearer {people['auditor']}"}
    try:
        codes = [apps[n % 2].test_client().get("/api/v1/me", headers=headers).status_code
                 for n in range(5)]  # fmt: skip
    finally:
        for app in apps:
            disposed(app)
    assert codes == [200, 200, 200, 200, 429]
