"""The audited account actions the API, the console and the CLI share: each makes the change
through users.py or tokens.py, records its audit event with the actor and the door it came
through, and leaves committing to the caller, so no door keeps its own copy of a rule."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from central.auth import audit, tokens, users
from central.auth.models import ApiToken, User
from central.extensions import utc_now
from central.stations import store as station_store

ADDED_FIELDS = ("email", "role", "stations", "parties")


def invite_user(
    session: Session,
    actor: str,
    via: str,
    email: str,
    role: str,
    station_codes: Iterable[str],
    parties: Iterable[str],
    link_base: str,
) -> dict[str, object]:
    """Add a user and mail them an invite (the outbox) to choose their password, audited as
    user.add; the user's record. UserError (nothing added) when the user cannot be."""
    user = users.add_user(session, email, role, None, station_codes, parties)
    users.issue_one_time_token(session, user, "invite", link_base)
    record = users.user_record(user, station_store.codes_by_id(session))
    changes = {k: record[k] for k in ADDED_FIELDS}
    audit.record(session, actor, via, "user.add", "user", user.id, changes)
    return record


def set_user_active(session: Session, actor: str, via: str, user: User, active: bool) -> bool:
    """Enable or disable `user` (their tokens and sessions stop at once), audited as
    user.enable or user.disable; False when they already were."""
    if user.active == active:
        return False
    users.set_active(user, active, utc_now())
    action = "user.enable" if active else "user.disable"
    audit.record(session, actor, via, action, "user", user.id, {"active": [not active, active]})
    return True


def revoke_token(session: Session, actor: str, via: str, token: ApiToken) -> bool:
    """Revoke `token` (it stops working at once), audited as token.revoke; False when it
    already was."""
    if not tokens.revoke(token, utc_now()):
        return False
    audit.record(session, actor, via, "token.revoke", "token", token.id)
    return True
