"""The caller: who they are (/me) and their API tokens (/tokens): listed, created (shown once)
and revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from werkzeug.exceptions import BadRequest, NotFound

from central.api.idempotency import idempotent
from central.api.schemas import Strict
from central.auth import actions, audit, roles, tokens
from central.auth.errors import UserError
from central.auth.models import User
from central.auth.policy import current_principal, policy
from central.extensions import db, utc_now
from central.stations.models import Station

blueprint = APIBlueprint("me", __name__, url_prefix="/api/v1", tag="You")
EXPIRES_DAYS_MAX = tokens.EXPIRES_MAX.days


class MeOut(Schema):
    """The caller: their user (none for the bootstrap token), role, scope of objects and the
    scopes of the token in use."""

    actor = fields.String(required=True)
    email = fields.String(allow_none=True)
    role = fields.String(required=True)
    token_scopes = fields.List(fields.String(), required=True)
    stations = fields.List(fields.String(), allow_none=True, required=True)
    parties = fields.List(fields.String(), allow_none=True, required=True)


class TokenOut(Schema):
    """A token, never its secret (only the create response holds it, once)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)


class NewTokenOut(TokenOut):
    """A new token: `token` is shown this once."""

    token = fields.String(required=True)


class TokenList(Schema):
    """The caller's tokens, newest first."""

    tokens = fields.List(fields.Nested(TokenOut), required=True)


class TokensQuery(Strict):
    """Whether to list revoked tokens too."""

    revoked = fields.Boolean(load_default=False)


class TokenIn(Schema):
    """A token to make: a name, scopes (default: the role's read scopes), days to live."""

    name = fields.String(required=True, validate=validators.Length(1, tokens.NAME_CHARS_MAX))
    scopes = fields.List(
        fields.String(validate=validators.OneOf(sorted(roles.SCOPES))),
        validate=validators.Length(1, len(roles.SCOPES)),
    )
    expires_days = fields.Integer(load_default=90, validate=validators.Range(1, EXPIRES_DAYS_MAX))


@blueprint.get("/me")
@policy()
@blueprint.output(MeOut)
def me() -> dict[str, Any]:
    """Who the token belongs to and what it may do."""
    principal = current_principal()
    stations = None
    if principal.station_ids is not None:
        codes = db.session.query(Station.code).filter(Station.id.in_(principal.station_ids))
        stations = sorted(code for (code,) in codes)
    return {
        "actor": principal.actor,
        "email": principal.email,
        "role": principal.role,
        "token_scopes": sorted(principal.scopes),
        "stations": stations,
        "parties": None if principal.parties is None else sorted(principal.parties),
    }


@blueprint.get("/tokens")
@policy(scope="tokens:write")
@blueprint.input(TokensQuery, location="query", arg_name="args")
@blueprint.output(TokenList)
def token_list(args: dict[str, Any]) -> dict[str, Any]:
    """Your tokens, newest first (revoked ones with ?revoked=true)."""
    user = _user()
    rows = tokens.user_tokens(db.session, user.id, include_revoked=args["revoked"])
    return {"tokens": [tokens.token_record(t) for t in rows]}


@blueprint.post("/tokens")
@policy(scope="tokens:write")
@idempotent
@blueprint.input(TokenIn, arg_name="body")
@blueprint.output(NewTokenOut, status_code=201)
@blueprint.doc(responses=[400, 409])
def token_create(body: dict[str, Any]) -> dict[str, Any]:
    """Make a token for yourself, with at most the scopes of the token asking."""
    principal = current_principal()
    user = _user()
    try:
        row, secret = tokens.create_token(
            db.session,
            user,
            body["name"],
            body.get("scopes"),
            timedelta(days=body["expires_days"]),
            utc_now(),
            within=principal.scopes,
        )
    except UserError as error:
        raise BadRequest(str(error)) from None
    changes = {"name": row.name, "scopes": row.scopes}
    audit.record(db.session, principal.actor, "api", "token.create", "token", row.id, changes)
    db.session.commit()
    return {**tokens.token_record(row), "token": secret}


@blueprint.delete("/tokens/<int:token_id>")
@policy(scope="tokens:write", owner="token")
@blueprint.output({}, status_code=204)
@blueprint.doc(responses=[404])
def token_revoke(token_id: int) -> tuple[str, int]:
    """Revoke one of your tokens: it stops working at once."""
    principal = current_principal()
    token = tokens.find_token(db.session, token_id, principal.user_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    if actions.revoke_token(db.session, principal.actor, "api", token):
        db.session.commit()
    return "", 204


def _user() -> User:
    """The caller's user row; the bootstrap token has none (404: it has no tokens)."""
    principal = current_principal()
    user = None if principal.user_id is None else db.session.get(User, principal.user_id)
    if user is None:
        raise NotFound("the bootstrap token has no user: make one with POST /api/v1/users")
    return user
