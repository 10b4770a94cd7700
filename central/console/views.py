"""The console's own pages: sign in and out, `/` (each role's dashboard, from its audience's
module) and the signed-in user's account (who they are, their password)."""

from __future__ import annotations

import importlib

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from central.api.throttle import check_login
from central.auth import audit, keys, roles, users
from central.auth.errors import UserError
from central.auth.models import User
from central.auth.policy import current_principal, policy, public
from central.console.session import ConsoleUser
from central.extensions import db
from central.stations.models import Station

blueprint = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/console/static",
)
# The module whose `dashboard()` renders `/` for each role.
DASHBOARDS = {
    roles.ADMIN: "central.console.admin",
    roles.AUDITOR: "central.console.admin",
    roles.STATION: "central.console.station",
    roles.ARTIST: "central.console.artist",
    roles.RIGHTS_HOLDER: "central.console.artist",
}
EMAIL_CHARS_MAX = users.EMAIL_CHARS_MAX


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """The sign-in form; on success each role lands on its dashboard (or where it was going)."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target)
        return render_template("login.html", next=target, email="", error=None)
    email = request.form.get("email", "").strip()[:EMAIL_CHARS_MAX]
    password = request.form.get("password", "")
    try:
        check_login(email or None)
    except TooManyRequests as refused:
        page = render_template("login.html", next=target, email=email, error=refused.description)
        return page, 429, {"Retry-After": str(getattr(refused, "retry_after", 60))}
    user = users.authenticate(db.session, email, password) if email and password else None
    if user is None:
        db.session.rollback()
        error = "Wrong email or password, or the account is disabled."
        return render_template("login.html", next=target, email=email, error=error), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user: no fixation
    login_user(ConsoleUser(user))
    session.permanent = True
    audit.record(db.session, f"user:{user.id}", "console", "user.login", "user", user.id,
                 {"from": request.remote_addr})  # fmt: skip
    db.session.commit()
    return redirect(target)


@blueprint.route("/password-reset", methods=["GET", "POST"])
@public
def password_reset() -> ResponseReturnValue:
    """Ask for a reset link by mail; the answer is the same whether or not the email is known."""
    if request.method == "GET":
        return render_template("password_reset.html", sent=False, error=None)
    email = request.form.get("email", "").strip()[:EMAIL_CHARS_MAX]
    try:
        check_login(email or None)
    except TooManyRequests as refused:
        return render_template("password_reset.html", sent=False, error=refused.description), 429
    user = users.request_password_reset(db.session, email, current_app.config["ZAMIO"].public_url)
    if user is not None:
        audit.record(db.session, f"user:{user.id}", "console", "user.reset_requested", "user",
                     user.id)  # fmt: skip
        db.session.commit()
    return render_template("password_reset.html", sent=True, error=None)


@blueprint.route("/password", methods=["GET", "POST"])
@public
def password_set() -> ResponseReturnValue:
    """Choose a password with the token of an invite or reset link (it works once); then sign in."""
    token = request.values.get("token", "")[:100]
    if request.method == "GET":
        return render_template("password_set.html", token=token, error=None, done=False)
    password = request.form.get("password", "")
    error = None
    if password != request.form.get("confirm_password", ""):
        error = "The password and its confirmation differ."
    else:
        try:
            check_login(None)
            user = users.redeem_one_time_token(db.session, token, password)
        except TooManyRequests as refused:
            error = refused.description
        except UserError as problem:
            db.session.rollback()
            error = str(problem).capitalize() + "."
    if error is not None:
        return render_template("password_set.html", token=token, error=error, done=False), 400
    audit.record(db.session, f"user:{user.id}", "console", "user.password_set", "user", user.id,
                 {"password": "changed"})  # fmt: skip
    db.session.commit()
    return render_template("password_set.html", token="", error=None, done=True)


@blueprint.post("/logout")
@public
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token, so another site cannot sign you out)."""
    logout_user()
    session.clear()
    return redirect(url_for("console.login"))


@blueprint.get("/")
@policy(roles.ROLES)
def dashboard() -> ResponseReturnValue:
    """Each role's dashboard: admins and auditors, station staff, artists and rights holders."""
    module = importlib.import_module(DASHBOARDS[current_principal().role])
    return module.dashboard()


@blueprint.route("/account", methods=["GET", "POST"])
@policy(roles.ROLES)
def account() -> ResponseReturnValue:
    """Who you are, what you can see, and a new password (which ends your other sessions)."""
    user: User = current_user.user
    message, error = None, None
    if request.method == "POST":
        try:
            change_password(user, request.form)
        except UserError as problem:
            db.session.rollback()
            error = str(problem)
        else:
            login_user(ConsoleUser(user))  # this session goes on at the new epoch
            message = "Password changed. Your other sessions have ended."
    return render_template(
        "account.html", user=user, stations=_station_codes(), message=message, error=error
    ), (400 if error else 200)


def change_password(user: User, form: dict[str, str]) -> None:
    """Set a new password after checking the current one; audited, committed."""
    current = form.get("current_password", "")
    new = form.get("new_password", "")
    if not keys.password_matches(user.password_hash, current):
        raise UserError("the current password is wrong")
    if new != form.get("confirm_password", ""):
        raise UserError("the new password and its confirmation differ")
    users.set_password(user, new)
    audit.record(db.session, f"user:{user.id}", "console", "user.password_set", "user", user.id,
                 {"password": "changed"})  # fmt: skip
    db.session.commit()


def _station_codes() -> list[str] | None:
    """The codes of the signed-in user's stations (None: every station)."""
    scope = current_principal().station_ids
    if scope is None:
        return None
    return sorted(c for (c,) in db.session.query(Station.code).filter(Station.id.in_(scope)))


def safe_next(target: str | None) -> str:
    """A path on this site to go to after signing in; anything else (another site, a scheme,
    `//host`, a backslash trick) is `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target
