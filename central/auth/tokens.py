"""Personal access tokens: create (shown once), list, revoke, and resolve a presented one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import keys, roles
from central.auth.errors import UserError
from central.auth.models import ApiToken, User
from central.times import as_utc, iso_datetime

EXPIRES_DEFAULT = timedelta(days=90)
EXPIRES_MAX = timedelta(days=366)
LAST_USED_RESOLUTION = timedelta(minutes=1)  # no write per request, one per minute at most
_DURATION = re.compile(r"(?P<n>[1-9][0-9]{0,4})(?P<unit>[hdw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
NAME_CHARS_MAX = 100


@dataclass(frozen=True)
class Presented:
    """What a presented token turned out to be: the row and user, or why it is refused."""

    token: ApiToken | None
    user: User | None
    refusal: str | None  # malformed | unknown | revoked | expired | disabled


def parse_expires(text: str) -> timedelta:
    """`90d`, `12h`, `2w` as a timedelta, at most EXPIRES_MAX; UserError otherwise."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise UserError(f"expires {text[:40]!r}: a number and h, d or w, e.g. 90d")
    span = int(found["n"]) * _UNITS[found["unit"]]
    if span > EXPIRES_MAX:
        raise UserError(f"expires {text}: at most {EXPIRES_MAX.days} days")
    return span


def create_token(
    session: Session,
    user: User,
    name: str,
    scopes: Iterable[str] | None,
    expires_in: timedelta | None,
    now: datetime,
    within: frozenset[str] | None = None,
) -> tuple[ApiToken, str]:
    """(row, token) of a new token of `user`; no scopes: the role's read scopes. `within`: the
    scopes of the token asking, which a new one may not exceed."""
    chosen = roles.default_scopes(user.role) if scopes is None else frozenset(scopes)
    problems = roles.check_scopes(user.role, chosen)
    if within is not None and "admin" not in within:
        problems += [f"scope {s!r}: beyond the token asking" for s in sorted(chosen - within)]
    if not chosen:
        problems.append("a token needs at least one scope")
    name = name.strip()
    if not name or len(name) > NAME_CHARS_MAX or not name.isprintable():
        problems.append(f"name: 1-{NAME_CHARS_MAX} printable characters")
    if problems:
        raise UserError("; ".join(problems))
    span = EXPIRES_DEFAULT if expires_in is None else expires_in
    if span > EXPIRES_MAX or span <= timedelta(0):
        raise UserError(f"expires: more than 0 and at most {EXPIRES_MAX.days} days")
    key_id, token = keys.new_token()
    row = ApiToken(
        user_id=user.id,
        key_id=key_id,
        token_hash=keys.digest(token),
        name=name,
        scopes=" ".join(sorted(chosen)),
        created_at=now,
        expires_at=now + span,
    )
    session.add(row)
    session.flush()
    return row, token


def user_tokens(session: Session, user_id: int, include_revoked: bool = False) -> list[ApiToken]:
    """A user's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def find_token(session: Session, token_id: int, user_id: int | None = None) -> ApiToken | None:
    """The token with this id (and of this user, when given)."""
    token = session.get(ApiToken, token_id)
    if token is None or (user_id is not None and token.user_id != user_id):
        return None
    return token


def revoke(token: ApiToken, now: datetime) -> bool:
    """Revoke `token`; False if it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    return True


def resolve(session: Session, presented: str, now: datetime) -> Presented:
    """The token and user a presented token belongs to, or why it does not count."""
    key_id = keys.token_key_id(presented)
    if key_id is None:
        return Presented(None, None, "malformed")
    token = session.scalar(select(ApiToken).where(ApiToken.key_id == key_id))
    if token is None or not keys.digest_matches(presented, token.token_hash):
        return Presented(None, None, "unknown")
    if token.revoked_at is not None:
        return Presented(token, None, "revoked")
    if token.expires_at is not None and as_utc(token.expires_at) <= now:
        return Presented(token, None, "expired")
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return Presented(token, None, "disabled")
    if token.last_used_at is None or now - as_utc(token.last_used_at) >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return Presented(token, user, None)


def token_scopes(token: ApiToken, role: str) -> frozenset[str]:
    """The scopes a token grants now: those it was given that its user's role still allows."""
    return frozenset(token.scopes.split()) & roles.allowed_scopes(role)


def token_record(token: ApiToken) -> dict[str, object]:
    """A token as JSON: never the token or its hash."""
    return {
        "id": token.id,
        "name": token.name,
        "prefix": f"{keys.TOKEN_PREFIX}{token.key_id}",
        "scopes": token.scopes.split(),
        "created_at": iso_datetime(token.created_at),
        "expires_at": iso_datetime(token.expires_at),
        "last_used_at": iso_datetime(token.last_used_at),
        "revoked_at": iso_datetime(token.revoked_at),
    }
