"""Public doors, throttled hard: a token for an email and password (the API's login), and the
password reset (ask for a link by mail; set a new password with the link's token; an invite's
token works the same way)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import current_app, request
from werkzeug.exceptions import BadRequest, Unauthorized

from central.api.me import NewTokenOut
from central.api.throttle import check_login
from central.auth import audit, keys, roles, tokens, users
from central.auth.errors import UserError
from central.auth.policy import public
from central.extensions import db, utc_now

blueprint = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth", tag="Sign in")
LOGIN_TOKEN_DAYS = 30


class LoginIn(Schema):
    """Email and password, and the token to make."""

    email = fields.String(required=True, validate=validators.Length(3, users.EMAIL_CHARS_MAX))
    password = fields.String(required=True, validate=validators.Length(1, keys.PASSWORD_CHARS_MAX))
    name = fields.String(load_default="login", validate=validators.Length(1, tokens.NAME_CHARS_MAX))
    scopes = fields.List(
        fields.String(validate=validators.OneOf(sorted(roles.SCOPES))),
        validate=validators.Length(1, len(roles.SCOPES)),
    )


class ResetIn(Schema):
    """The email to send a reset link to."""

    email = fields.String(required=True, validate=validators.Length(3, users.EMAIL_CHARS_MAX))


class PasswordIn(Schema):
    """The token of an invite or reset link, and the new password."""

    token = fields.String(required=True, validate=validators.Length(1, 100))
    password = fields.String(required=True, validate=validators.Length(1, keys.PASSWORD_CHARS_MAX))


class Accepted(Schema):
    """The request was taken; what happens next."""

    detail = fields.String(required=True)


@blueprint.post("/token")
@public
@blueprint.input(LoginIn, arg_name="body")
@blueprint.output(NewTokenOut, status_code=201)
@blueprint.doc(responses=[400, 401, 429])
def login(body: dict[str, Any]) -> dict[str, Any]:
    """A new token for your email and password: the role's default scopes and tokens:write
    (or those asked for), for 30 days."""
    check_login(body["email"])
    user = users.authenticate(db.session, body["email"], body["password"])
    if user is None:
        db.session.rollback()
        raise Unauthorized("wrong email or password, or the account is disabled")
    scopes = body.get("scopes") or sorted(roles.default_scopes(user.role) | {"tokens:write"})
    try:
        row, secret = tokens.create_token(
            db.session, user, body["name"], scopes, timedelta(days=LOGIN_TOKEN_DAYS), utc_now()
        )
    except UserError as error:
        raise BadRequest(str(error)) from None
    audit.record(
        db.session,
        f"user:{user.id}",
        "api",
        "user.login",
        "token",
        row.id,
        {"scopes": row.scopes, "from": request.remote_addr},
    )
    db.session.commit()
    return {**tokens.token_record(row), "token": secret}


@blueprint.post("/password-reset")
@public
@blueprint.input(ResetIn, arg_name="body")
@blueprint.output(Accepted, status_code=202)
@blueprint.doc(responses=[400, 429])
def password_reset(body: dict[str, Any]) -> dict[str, Any]:
    """Mail a reset link to this email if it is an active user's (the answer is the same
    either way, so emails cannot be probed)."""
    check_login(body["email"])
    base = current_app.config["ZAMIO"].public_url
    user = users.request_password_reset(db.session, body["email"], base)
    if user is not None:
        audit.record(db.session, f"user:{user.id}", "api", "user.reset_requested", "user", user.id)
        db.session.commit()
    return {"detail": "if that is an account's email, a reset link is on its way"}


@blueprint.post("/password")
@public
@blueprint.input(PasswordIn, arg_name="body")
@blueprint.output(Accepted)
@blueprint.doc(responses=[400, 429])
def password_set(body: dict[str, Any]) -> dict[str, Any]:
    """Set your password with the token of an invite or reset link (it works once)."""
    check_login(None)
    try:
        user = users.redeem_one_time_token(db.session, body["token"], body["password"])
    except UserError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    audit.record(
        db.session,
        f"user:{user.id}",
        "api",
        "user.password_set",
        "user",
        user.id,
        {"password": "changed"},
    )
    db.session.commit()
    return {"detail": "password set: sign in with it"}
