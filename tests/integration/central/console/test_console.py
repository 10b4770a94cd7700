"""The console's frame: signing in and out, CSRF on every form, sessions that end when the
password changes or the user is disabled, the policy on every page, headers and cookies."""

from __future__ import annotations

import io
import os
import re
import stat

import pytest
from flask import Flask

from central import create_app
from central.auth import policy, roles, users
from central.auth.models import AuditEvent, User
from central.console import session as console_session
from central.console.views import safe_next
from central.errors import ConfigError
from central.extensions import db, utc_now
from tests.integration.central.console.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.integration


def _console_rules(app: Flask) -> list:
    """Every route of the console's blueprints, static files aside."""
    names = app.extensions["zamio_console"]
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in names and rule.endpoint != "console.static"
    ]


def test_sign_in_lands_on_the_dashboard_and_is_audited(pg_app: Flask, console_people) -> None:
    """A right email and password (with the form's CSRF token) signs in and goes to `/`."""
    client = pg_app.test_client()
    page = client.get("/login")
    assert (
        page.status_code == 200 and 'name="email"' in page.text and 'name="password"' in page.text
    )
    form = {
        "email": console_people["admin"],
        "password": PASSWORD,
        "csrf_token": csrf_of(page.text),
    }
    response = client.post("/login", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with pg_app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).filter_by(via="console")]
    assert actions == ["user.login"]


def test_a_form_without_its_csrf_token_is_refused(pg_app: Flask, console_people) -> None:
    """No token, or another session's token: 400 with a page saying why; nobody signs in."""
    client = pg_app.test_client()
    data = {"email": console_people["admin"], "password": PASSWORD}
    refused = client.post("/login", data=data)
    assert refused.status_code == 400 and "security token" in refused.text
    other = pg_app.test_client()
    forged = client.post("/login", data={**data, "csrf_token": csrf_of(other.get("/login").text)})
    assert forged.status_code == 400
    assert client.get("/account").status_code == 302


def test_wrong_password_or_disabled_user_is_refused(pg_app: Flask, console_people) -> None:
    """A wrong password is 401 with the form again; so is a disabled user's right one."""
    client = pg_app.test_client()
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"email": console_people["artist"], "password": "nope" * 4,
                                        "csrf_token": token})  # fmt: skip
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    with pg_app.app_context():
        users.set_active(users.get_user(db.session, console_people["artist"]), False, utc_now())
        db.session.commit()
    disabled = client.post("/login", data={"email": console_people["artist"], "password": PASSWORD,
                                           "csrf_token": token})  # fmt: skip
    assert disabled.status_code == 401


def test_only_local_paths_are_followed_after_sign_in() -> None:
    """`next` is a path on this site, or `/`: no open redirect to another site."""
    assert safe_next("/stations/joy-fm?day=2026-12-01") == "/stations/joy-fm?day=2026-12-01"
    for hostile in (None, "", "https://evil.test/", "//evil.test/x", "/\\evil.test", "/\x00x", "x"):
        assert safe_next(hostile) == "/"


def test_signed_out_visitors_go_to_the_login_page(pg_app: Flask, console_people) -> None:
    """Every page but /login sends a visitor who is not signed in there, coming back after;
    an htmx request is told where to go (HX-Redirect) instead of swapping in the form."""
    client = pg_app.test_client()
    for rule in _console_rules(pg_app):
        if (
            policy.policy_of(pg_app.view_functions[rule.endpoint]).public
            or "GET" not in rule.methods
        ):
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")
    htmx = client.get("/account", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login?next=/account"


def test_every_console_page_declares_a_policy(pg_app: Flask) -> None:
    """The console's routes each name who may open them, as the API's do."""
    rules = _console_rules(pg_app)
    assert {r.endpoint for r in rules} >= {"console.login", "console.dashboard", "console.account"}
    missing = [
        r.endpoint for r in rules if policy.policy_of(pg_app.view_functions[r.endpoint]) is None
    ]
    assert missing == []


def test_roles_a_page_does_not_admit_get_403(pg_app: Flask, console_client) -> None:
    """For every page and every role it does not name: 403 (before any ownership check, so
    a made-up station code or id tells nothing)."""
    clients = {role: console_client(role) for role in roles.ROLES}
    checked = 0
    for rule in _console_rules(pg_app):
        declared = policy.policy_of(pg_app.view_functions[rule.endpoint])
        if declared.public or "GET" not in rule.methods:
            continue
        path = rule.rule
        for argument in rule.arguments:
            converter = rule._converters[argument].__class__.__name__
            value = "999999" if converter == "IntegerConverter" else "nowhere"
            path = path.replace(f"<int:{argument}>", value).replace(f"<{argument}>", value)
        for role in set(roles.ROLES) - declared.roles:
            assert clients[role].get(path).status_code == 403, (role, path)
            checked += 1
    assert checked > 50  # every audience's pages were walked, not only the frame's


def test_a_password_change_ends_the_other_sessions(pg_app: Flask, console_people) -> None:
    """Changing the password keeps this session and ends every other one of the user's."""
    email = console_people["station"]
    here, elsewhere = sign_in(pg_app, email), sign_in(pg_app, email)
    new = "another long passphrase"
    changed = here.form("/account", {"current_password": PASSWORD, "new_password": new,
                                     "confirm_password": new})  # fmt: skip
    assert changed.status_code == 200 and "Password changed" in changed.text
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302
    wrong = here.form("/account", {"current_password": "not it at all", "new_password": new,
                                   "confirm_password": new})  # fmt: skip
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text


def test_disabling_a_user_ends_their_session(pg_app: Flask, console_people) -> None:
    """An admin disabling a user signs them out at their next request."""
    client = sign_in(pg_app, console_people["artist"])
    with pg_app.app_context():
        user = db.session.query(User).filter_by(email=console_people["artist"]).one()
        users.set_active(user, False, utc_now())
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_sign_out_needs_a_post_with_its_token(pg_app: Flask, console_people) -> None:
    """GET /logout does nothing (405); a POST without the token is refused; with it, out."""
    client = sign_in(pg_app, console_people["admin"])
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200
    assert client.form("/logout").status_code == 302
    assert client.get("/account").status_code == 302


def test_pages_send_strict_headers_and_cookies(pg_app: Flask, console_people) -> None:
    """A strict CSP, no framing, no caching of pages; the session cookie is HttpOnly, Lax."""
    client = pg_app.test_client()
    page = client.get("/login")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.get("/console/static/console.css") as static:
        assert static.status_code == 200


def test_cookies_are_secure_when_the_console_is_on_https(tmp_path) -> None:
    """With an https public URL the session cookie is sent over HTTPS only."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}",
                      "PUBLIC_URL": "https://zamio.example"})  # fmt: skip
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_errors_are_pages_outside_the_api_and_problems_inside(pg_app: Flask) -> None:
    """An unknown page is an HTML 404; an unknown API path stays problem+json."""
    client = pg_app.test_client()
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html" and "Not found" in page.text
    assert client.get("/api/v1/no-such").mimetype == "application/problem+json"


def test_the_session_key_is_made_once_and_kept_private(tmp_path, monkeypatch) -> None:
    """Without ZAMIO_SECRET_KEY a key is made beside the database, 0600, and reused; a short
    ZAMIO_SECRET_KEY is refused."""
    url = f"sqlite:///{tmp_path / 'z.db'}"
    first = create_app({"DATABASE_URL": url}).config["SECRET_KEY"]
    path = tmp_path / console_session.SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert create_app({"DATABASE_URL": url}).config["SECRET_KEY"] == first
    with pytest.raises(ConfigError, match="ZAMIO_SECRET_KEY"):
        create_app({"DATABASE_URL": url, "SECRET_KEY": "short"})
    chosen = "k" * 40
    assert create_app({"DATABASE_URL": url, "SECRET_KEY": chosen}).config["SECRET_KEY"] == chosen


def test_a_reset_link_sets_a_new_password_once(pg_app: Flask, console_people) -> None:
    """Ask for a link (same answer for an unknown email), open the mailed link, choose a
    password: it signs in; the link does not work twice."""
    client = pg_app.test_client()
    token = csrf_of(client.get("/password-reset").text)
    for email in (console_people["artist"], "nobody@nowhere.test"):
        sent = client.post("/password-reset", data={"email": email, "csrf_token": token})
        assert sent.status_code == 200 and "on its way" in sent.text
    with pg_app.app_context():
        mails = users.outbox(db.session)
    assert [m.to_address for m in mails] == [console_people["artist"]]
    link = next(line.strip() for line in mails[0].body.splitlines() if "/password?token=" in line)
    path = link[link.index("/password?") :]
    form = client.get(path)
    assert form.status_code == 200 and 'name="token"' in form.text
    secret = path.split("token=")[1]
    new = "a brand new passphrase"
    data = {"token": secret, "password": new, "confirm_password": new, "csrf_token": token}
    assert "password is set" in client.post("/password", data=data).text
    assert client.post("/password", data=data).status_code == 400
    assert sign_in(pg_app, console_people["artist"], new).get("/account").status_code == 200


def test_sign_in_attempts_are_throttled(pg_app: Flask, console_people) -> None:
    """Past the login limit the form answers 429 with when to come back, even with the right
    password."""
    from tests.integration.central.auth.conftest import set_limits

    set_limits(pg_app, login_rate_limit="2 per minute")
    client = pg_app.test_client()
    token = csrf_of(client.get("/login").text)
    data = {"email": console_people["admin"], "password": "wrong password!", "csrf_token": token}
    assert [client.post("/login", data=data).status_code for _ in range(2)] == [401, 401]
    refused = client.post("/login", data={**data, "password": PASSWORD})
    assert refused.status_code == 429 and "try again in" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1


def test_strangers_bodies_are_not_read_and_big_ones_are_refused(tmp_path) -> None:
    """A POST to a page behind sign-in goes to the login page before its body is parsed; a
    body over the upload limit is 413, whoever sends it."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}", "UPLOAD_BYTES_MAX": 1000})
    client = app.test_client()
    upload = client.post("/account", data={"file": (io.BytesIO(b"x" * 500), "a.wav")})
    assert upload.status_code == 302 and upload.headers["Location"].startswith("/login")
    page = client.get("/login")
    big = client.post("/login", data={"csrf_token": csrf_of(page.text), "email": "x" * (2 << 20)})
    assert big.status_code == 413
