"""The one authorization policy: every API view declares `@policy(...)`, and `enforce` (before
every request under /api) decides, in this order:

1. throttling happened already (Flask-Limiter runs first);
2. a public view (login, password reset, the OpenAPI document) goes on without a token;
3. the bearer token is resolved to a Principal, or 401;
4. a view without a policy is refused with 500 (and a test fails on it before that);
5. the role must be one the policy names, or 403; the token must hold the scope, or 403;
6. the ownership rule (central/auth/ownership.py) must say the object is the caller's, or 404,
   so another party's ids cannot be probed.

Domain queries take the principal's scope (`station_ids`, `parties`; None: no restriction)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, InternalServerError, NotFound, Unauthorized

from central.auth import ownership, roles, tokens
from central.auth.models import User
from central.extensions import db, utc_now

logger = logging.getLogger(__name__)

REALM = "zamio"
BOOTSTRAP_ACTOR = "bootstrap"  # ZAMIO_API_TOKEN: an admin with no user row
ATTRIBUTE = "_zamio_policy"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling, what their token lets them do and which objects are theirs."""

    actor: str  # user:<id> | bootstrap: the audit log's actor
    user_id: int | None
    email: str | None
    role: str
    scopes: frozenset[str]
    station_ids: frozenset[int] | None  # None: every station
    parties: frozenset[str] | None  # None: every party
    token_id: int | None

    @property
    def sees_all(self) -> bool:
        """Admins and auditors: no object is out of their sight."""
        return self.station_ids is None and self.parties is None


@dataclass(frozen=True)
class Policy:
    """Who may call a view: roles, the scope their token needs, whose objects (an ownership
    rule's name); public views need no token at all."""

    roles: frozenset[str]
    scope: str | None
    owner: str | None
    public: bool = False

    def describe(self) -> dict[str, Any]:
        """The policy as the OpenAPI document's `x-zamio-policy`."""
        return {
            "public": self.public,
            "roles": sorted(self.roles),
            "scope": self.scope,
            "owner": self.owner,
        }


def policy(
    roles_allowed: Iterable[str] = roles.ROLES, scope: str | None = None, owner: str | None = None
) -> Callable[[F], F]:
    """Declare who may call the view below it (put it under the route decorator)."""
    chosen = Policy(frozenset(roles_allowed), scope, owner)
    unknown = chosen.roles - set(roles.ROLES)
    if unknown or (scope is not None and scope not in roles.SCOPES):
        raise ValueError(f"policy: unknown roles {sorted(unknown)} or scope {scope!r}")

    def declare(view: F) -> F:
        setattr(view, ATTRIBUTE, chosen)
        return view

    return declare


def public(view: F) -> F:
    """Declare a view anyone may call without a token (it throttles itself)."""
    setattr(view, ATTRIBUTE, Policy(frozenset(roles.ROLES), None, None, public=True))
    return view


def policy_of(view: Callable[..., Any]) -> Policy | None:
    """The policy a view declared (through any decorators that kept its attributes)."""
    seen = view
    while seen is not None:
        found = getattr(seen, ATTRIBUTE, None)
        if found is not None:
            return found
        seen = getattr(seen, "__wrapped__", None)
    return None


def current_principal() -> Principal:
    """The principal of this request (set by `enforce`)."""
    return g.zamio_principal


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme in any case), or None."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def enforce(endpoint: str | None) -> None:
    """Authenticate and authorize this request to `endpoint` (None: no route matched, which
    is a 404 only for callers with a valid token); raise the HTTP error that ends it."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    declared = None if view is None else policy_of(view)
    if declared is not None and declared.public:
        return
    principal = authenticate()
    g.zamio_principal = principal
    if view is None:
        return  # routing's own 404 or 405, now that the caller is known
    if declared is None:
        logger.error("api: %s has no policy: refused", endpoint)
        raise InternalServerError("this route declares no policy: refused")
    authorize(principal, declared, request.view_args or {})


def authorize(principal: Principal, declared: Policy, view_args: dict[str, Any]) -> None:
    """403 for a role or scope the policy does not grant; 404 for another's object."""
    if principal.role not in declared.roles:
        raise Forbidden(f"not for the role {principal.role}")
    if declared.scope is not None and declared.scope not in principal.scopes:
        error = Forbidden(f"this needs a token with the scope {declared.scope}")
        error.zamio_challenge = (  # type: ignore[attr-defined]
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="{declared.scope}"'
        )
        raise error
    if declared.owner is not None and not ownership.owns(principal, declared.owner, view_args):
        raise NotFound("not found")


def authenticate() -> Principal:
    """The principal of the bearer token of this request, or Unauthorized (401)."""
    presented = bearer_token(request.headers.get("Authorization"))
    if presented is None:
        raise _unauthorized("send the header `Authorization: Bearer <token>`", None)
    bootstrap = current_app.config["ZAMIO"].api_token
    if bootstrap is not None and _bootstrap_matches(presented, bootstrap):
        return Principal(
            BOOTSTRAP_ACTOR, None, None, roles.ADMIN, frozenset(roles.SCOPES), None, None, None
        )
    found = tokens.resolve(db.session, presented, utc_now())
    if found.user is None or found.token is None:
        logger.info(
            "api: %s %s from %s refused: %s token",
            request.method,
            request.path,
            request.remote_addr,
            found.refusal,
        )
        raise _unauthorized(f"this token is {found.refusal}", "invalid_token")
    if db.session.dirty:
        db.session.commit()  # last_used_at, at most once a minute per token
    return principal_of(
        found.user, tokens.token_scopes(found.token, found.user.role), found.token.id
    )


def principal_of(user: User, scopes: frozenset[str], token_id: int | None) -> Principal:
    """The principal of `user` acting with `scopes` (the console passes the role's)."""
    stations = None
    parties = None
    if user.role == roles.STATION:
        stations = frozenset(s.station_id for s in user.stations)
    elif user.role in roles.PARTY_ROLES:
        parties = frozenset(p.party for p in user.parties)
    return Principal(
        f"user:{user.id}", user.id, user.email, user.role, scopes, stations, parties, token_id
    )


def _bootstrap_matches(presented: str, bootstrap: str) -> bool:
    """Whether the presented token is ZAMIO_API_TOKEN, in constant time."""
    return hmac.compare_digest(presented.encode("utf-8"), bootstrap.encode("utf-8"))


def _unauthorized(message: str, error_code: str | None) -> Unauthorized:
    """401 with the WWW-Authenticate challenge of RFC 6750."""
    challenge = f'Bearer realm="{REALM}"'
    if error_code is not None:
        challenge += f', error="{error_code}"'
    error = Unauthorized(message)
    error.zamio_challenge = challenge  # type: ignore[attr-defined]
    return error
